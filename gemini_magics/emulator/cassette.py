"""Cassettes: Interactions API traffic recorded as JSON Lines, and how a replay finds an answer.

A cassette is a text file (``NAME.cassette.jsonl``), one JSON object per line, keys sorted, so a
re-recording diffs line by line. The first line is the header::

    {"cassette":"gemini_magics","created":"2026-09-14T10:02:03Z","version":1}

Every HTTP exchange the kernel made (``exchange`` numbers them; exchanges of background work may
interleave) is then written as it happened:

* ``{"type":"request","exchange":N,"t":SECONDS,"method":"POST","path":"/v1/interactions",
  "query":{},"body":{…}}``
  — ``t`` counts from the start of the recording; no headers are kept (so no ``x-goog-api-key`` or
  ``Authorization``), a ``key=`` query parameter is dropped, and the key is redacted in bodies;
* ``{"type":"response","exchange":N,"t":SECONDS,"status":200,"content_type":"application/json","body":{…}}``
  — ``t`` counts from the exchange's request; a stream's response line has no ``body``, and is followed by
* ``{"type":"event","exchange":N,"t":SECONDS,"data":{…}}`` — one line per server-sent event, as
  received, with its time since the request (this is the recorded pacing);
* ``{"type":"end","exchange":N,"t":SECONDS}`` — the stream closed (with ``"error": "…"`` if the
  connection failed).

Pictures stay inline: a base64 image is one (long) line, as it was on the wire. Pictures delivered by
URI are not fetched through the API, so they are not recorded.

Replay finds a recorded answer for a create request by its *key*: the turn's position in its thread
(how many interactions precede it along ``previous_interaction_id``, counted with the cassette's own
ids) and a hash of the request body without ``previous_interaction_id``. Replayed answers carry the
recorded ids, so the next turn's ``previous_interaction_id`` is a recorded id and its key is found the
same way: re-running a cell, reordering cells or *Run All* gives the answers the live session gave.
Several recordings with one key (a cell run twice live) are served in the order they were recorded,
and the last one again after that.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "gemini_magics"
VERSION = 1
SUFFIX = ".cassette.jsonl"
VOLATILE_FIELDS = ("previous_interaction_id",)
_PATH = re.compile(r"/interactions(?:/(?P<id>[^/?]+)(?P<cancel>/cancel)?)?/?$")


class CassetteError(ValueError):
    """A cassette that cannot be read: the message names the file and the line."""


def dump_line(record: dict[str, Any]) -> str:
    """One cassette line: compact JSON, keys sorted, non-ASCII text kept readable."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_digest(body: Any) -> str:
    """A short hash of a create request's body, without the fields that change between runs."""
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in VOLATILE_FIELDS}
        if isinstance(body.get("tools"), list):
            body["tools"] = [_without_headers(tool) for tool in body["tools"]]
    return hashlib.sha256(dump_line({"body": body}).encode()).hexdigest()[:16]


def _without_headers(tool: Any) -> Any:
    """An MCP server's headers hold credentials, redacted in the cassette; a recorded turn matches
    whatever headers (if any) the replaying kernel sends, as it does not have them."""
    if isinstance(tool, dict) and "headers" in tool:
        return {k: v for k, v in tool.items() if k != "headers"}
    return tool


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CassetteWriter:
    """Appends exchanges to a new cassette file as they happen; safe to call from several threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._started: dict[int, float] = {}
        self._count = 0
        self._file = self.path.open("w", encoding="utf-8")
        self._write({"cassette": FORMAT, "version": VERSION, "created": now_iso()})

    def _write(self, record: dict[str, Any]) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.write(dump_line(record) + "\n")
                self._file.flush()

    def _since(self, exchange: int) -> float:
        return round(time.monotonic() - self._started.get(exchange, self._start), 3)

    def request(self, method: str, path: str, query: dict[str, str], body: Any) -> int:
        with self._lock:
            self._count += 1
            exchange = self._count
            self._started[exchange] = time.monotonic()
        record = {"type": "request", "exchange": exchange, "t": round(time.monotonic() - self._start, 3)}
        self._write({**record, "method": method, "path": path, "query": query, "body": body})
        return exchange

    def response(self, exchange: int, status: int, content_type: str, body: Any = None) -> None:
        record: dict[str, Any] = {"type": "response", "exchange": exchange, "t": self._since(exchange)}
        record.update(status=status, content_type=content_type)
        if body is not None:
            record["body"] = body
        self._write(record)

    def event(self, exchange: int, data: Any) -> None:
        self._write({"type": "event", "exchange": exchange, "t": self._since(exchange), "data": data})

    def end(self, exchange: int, error: str | None = None) -> None:
        record: dict[str, Any] = {"type": "end", "exchange": exchange, "t": self._since(exchange)}
        if error:
            record["error"] = error
        self._write(record)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed


@dataclass
class Exchange:
    """One recorded request and what came back."""

    number: int
    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float  # seconds from the start of the recording
    status: int | None = None
    content_type: str = ""
    response: Any = None
    events: list[tuple[float, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def action(self) -> str:
        match = _PATH.search(self.path)
        if match is None:
            return "other"
        if match["id"] is None:
            return "create" if self.method == "POST" else "other"
        if match["cancel"]:
            return "cancel"
        return {"GET": "get", "DELETE": "delete"}.get(self.method, "other")

    @property
    def target(self) -> str | None:
        """The interaction id in the path (get, cancel, delete)."""
        match = _PATH.search(self.path)
        return match["id"] if match is not None else None

    @property
    def streamed(self) -> bool:
        return self.content_type.startswith("text/event-stream")

    @property
    def interaction_id(self) -> str | None:
        """The id of the interaction this exchange's response describes."""
        if isinstance(self.response, dict) and self.response.get("id"):
            return str(self.response["id"])
        for _, data in self.events:
            if isinstance(data, dict) and isinstance(data.get("interaction"), dict):
                found = data["interaction"].get("id")
                if found:
                    return str(found)
        return None


class Cassette:
    """A loaded cassette: its exchanges, the interactions they made, and the key of each."""

    def __init__(self, path: Path, header: dict[str, Any], exchanges: list[Exchange]) -> None:
        self.path = path
        self.header = header
        self.exchanges = exchanges
        self.creates: dict[str, Exchange] = {}  # interaction id -> the create that made it
        self._positions: dict[str, int] = {}
        self.by_key: dict[tuple[int, str], list[Exchange]] = {}
        for exchange in exchanges:
            if exchange.action != "create" or not isinstance(exchange.body, dict):
                continue
            position = self.position_after(exchange.body.get("previous_interaction_id"))
            if position is None:
                continue  # continues something made outside the recording: never matched
            key = (position, request_digest(exchange.body))
            self.by_key.setdefault(key, []).append(exchange)
            made = exchange.interaction_id if exchange.status == 200 else None
            if made:
                self.creates.setdefault(made, exchange)
                self._positions.setdefault(made, position)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def created(self) -> str:
        return str(self.header.get("created", ""))

    def position_after(self, parent: Any) -> int | None:
        """The thread position of a turn continuing ``parent`` (0 for a first turn); None when
        ``parent`` is not an interaction of this cassette."""
        if parent is None:
            return 0
        known = self._positions.get(str(parent))
        return None if known is None else known + 1

    def key(self, body: dict[str, Any]) -> tuple[int, str] | None:
        position = self.position_after(body.get("previous_interaction_id"))
        return None if position is None else (position, request_digest(body))

    def model_of(self, interaction_id: str) -> str:
        exchange = self.creates.get(interaction_id)
        body = exchange.body if exchange is not None else {}
        return str(body.get("model") or body.get("agent") or "an unknown model")

    def date_of(self, interaction_id: str) -> str:
        """The day the interaction was recorded (the header's date plus the exchange's offset)."""
        exchange = self.creates.get(interaction_id)
        try:
            created = dt.datetime.strptime(self.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return self.created or "an unknown date"
        offset = exchange.at if exchange is not None else 0.0
        return (created + dt.timedelta(seconds=offset)).date().isoformat()

    def exchanges_about(self, interaction_id: str, action: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.action == action and e.target == interaction_id]


def load(path: str | Path) -> Cassette:
    """Read a cassette; a missing, corrupt or foreign file raises :class:`CassetteError` naming the
    file and the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise CassetteError(f"{path}: no such cassette file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CassetteError(f"{path}: cannot be read ({exc})") from None
    records = [(number, _parse(path, number, line)) for number, line in enumerate(lines, 1) if line.strip()]
    if not records:
        raise CassetteError(f"{path}, line 1: empty file, not a gemini_magics cassette")
    header_line, header = records[0]
    if header.get("cassette") != FORMAT:
        raise CassetteError(f"{path}, line {header_line}: not a gemini_magics cassette (no header)")
    if header.get("version") != VERSION:
        raise CassetteError(
            f"{path}, line {header_line}: cassette format version {header.get('version')!r}; this "
            f"gemini_magics reads version {VERSION}: record it again"
        )
    exchanges: dict[int, Exchange] = {}
    for number, record in records[1:]:
        _apply(path, number, record, exchanges)
    return Cassette(path, header, list(exchanges.values()))


def _parse(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise CassetteError(f"{path}, line {number}: not JSON ({exc.args[0].split(':')[0]})") from None
    if not isinstance(record, dict):
        raise CassetteError(f"{path}, line {number}: expected a JSON object")
    return record


def _apply(path: Path, number: int, record: dict[str, Any], exchanges: dict[int, Exchange]) -> None:
    kind, exchange_number, offset = record.get("type"), record.get("exchange"), record.get("t")
    where = f"{path}, line {number}"
    if not isinstance(exchange_number, int) or not isinstance(offset, int | float):
        raise CassetteError(f"{where}: a {kind or 'record'} needs a whole-number exchange and a time t")
    if kind == "request":
        if not isinstance(record.get("method"), str) or not isinstance(record.get("path"), str):
            raise CassetteError(f"{where}: a request needs a method and a path")
        exchanges[exchange_number] = Exchange(
            exchange_number,
            record["method"],
            record["path"],
            dict(record.get("query") or {}),
            record.get("body"),
            float(offset),
        )
        return
    exchange = exchanges.get(exchange_number)
    if exchange is None:
        raise CassetteError(f"{where}: {kind} of exchange {exchange_number}, which has no request above it")
    if kind == "response":
        if not isinstance(record.get("status"), int):
            raise CassetteError(f"{where}: a response needs a status")
        exchange.status = record["status"]
        exchange.content_type = str(record.get("content_type", ""))
        exchange.response = record.get("body")
    elif kind == "event":
        exchange.events.append((float(offset), record.get("data")))
    elif kind == "end":
        exchange.error = record.get("error")
    else:
        raise CassetteError(f"{where}: unknown record type {kind!r}")

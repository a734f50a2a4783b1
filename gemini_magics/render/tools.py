"""Tool steps as short lines: "Searched: …", "Read: …", "Ran code", Maps places, MCP and function calls.

A :class:`ToolTimeline` takes the normalised ``ToolActivity`` events of a turn (a step announced,
then its fields as they stream) and keeps one :class:`ToolLine` per tool call, in step order, with its
result paired to it by ``call_id``. Each line renders as safe HTML (everything the server sent is
escaped, and the fragment passes the allowlist sanitiser last) and as plain text for terminals. Pure;
cells, terminals and chat panels share it.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..core.events import ToolActivity
from .markdown import sanitise
from .report import web_address

MAX_LIST = 5  # queries, pages or places named on one line
MAX_DETAIL_CHARS = 4000  # code, output or arguments shown in a collapsed block
TERMINAL_LINES = 12  # lines of code or output a terminal shows per block


def _family(kind: str) -> str:
    if kind in ("function_call", "function_result"):
        return "function"
    return kind.removesuffix("_call").removesuffix("_result")


def short_url(url: str, limit: int = 48) -> str:
    """``pandas.pydata.org/docs/whatsnew/…``: no scheme, no ``www.``, cut at ``limit`` characters."""
    parts = urlsplit(url)
    shown = (parts.netloc.removeprefix("www.") + parts.path).rstrip("/") if parts.netloc else url
    shown = " ".join(shown.split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _listing(items: list[str]) -> str:
    shown = items[:MAX_LIST]
    more = f" and {len(items) - MAX_LIST} more" if len(items) > MAX_LIST else ""
    return "; ".join(shown) + more


def _clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit:,} more characters)"


def _as_text(value: Any) -> str:
    """A tool result or arguments as text: strings as they are, content blocks by their text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, dict) and "type" in v for v in value):
        parts = []
        for block in value:
            if block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            else:
                parts.append(f"[{block.get('type')} {block.get('mime_type') or ''}]".replace(" ]", "]"))
        return "\n".join(parts)
    try:
        return json.dumps(value, indent=1, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)


@dataclass
class ToolLine:
    """One tool call and its result, as the line that shows it."""

    key: int
    kind: str  # google_search, url_context, code_execution, google_maps, mcp_server_tool, function, ...
    call: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None

    @property
    def arguments(self) -> dict[str, Any]:
        arguments = self.call.get("arguments")
        return arguments if isinstance(arguments, dict) else {}

    @property
    def failed(self) -> bool:
        return bool(self.result and self.result.get("is_error"))

    @property
    def ready(self) -> bool:
        """Whether there is something to say beyond "started" (terminals print only then)."""
        return bool(self.arguments or self.result is not None or self.kind in ("function", "mcp_server_tool"))

    def summary(self) -> str:
        """The one-line description, as plain text."""
        args, kind = self.arguments, self.kind
        if kind == "google_search":
            queries = [str(q) for q in args.get("queries") or []]
            line = f"Searched: {_listing(queries)}" if queries else "Searching…"
        elif kind == "url_context":
            urls = [str(u) for u in args.get("urls") or []]
            statuses = {
                str(r.get("url")): str(r.get("status"))
                for r in (self.result or {}).get("result") or []
                if isinstance(r, dict)
            }
            named = [
                short_url(u) + (f" ({statuses[u]})" if statuses.get(u, "success") != "success" else "")
                for u in urls
            ]
            line = f"Read: {_listing(named)}" if urls else "Reading…"
        elif kind == "code_execution":
            line = "Ran code" if self.result is not None else ("Running code…" if args else "Writing code…")
        elif kind == "google_maps":
            queries = [str(q) for q in args.get("queries") or []]
            places = [str(p.get("name")) for p in self._places() if p.get("name")]
            line = f"Searched Maps: {_listing(queries)}" if queries else "Searching Maps…"
            if places:
                line += f" → {_listing(places)}"
        elif kind == "mcp_server_tool":
            server = self.call.get("server_name") or (self.result or {}).get("server_name") or "MCP"
            name = self.call.get("name") or (self.result or {}).get("name") or "a tool"
            line = f"Called {name} on {server}"
        elif kind == "function":
            name = self.call.get("name") or (self.result or {}).get("name") or "a function"
            line = f"Called {name}"
        else:
            line = f"Used {kind.replace('_', ' ')}"
        return line + (" (failed)" if self.failed else "")

    def _places(self) -> list[dict[str, Any]]:
        places: list[dict[str, Any]] = []
        for item in (self.result or {}).get("result") or []:
            if isinstance(item, dict):
                places.extend(p for p in item.get("places") or [] if isinstance(p, dict))
        return places

    def details(self) -> list[tuple[str, str]]:
        """(label, text) blocks shown collapsed under the line: code, output, arguments, result."""
        blocks: list[tuple[str, str]] = []
        if self.kind == "code_execution":
            if self.arguments.get("code"):
                blocks.append(
                    (f"Code ({self.arguments.get('language') or 'python'})", self.arguments["code"])
                )
            if self.result is not None:
                blocks.append(("Output", _as_text(self.result.get("result")) or "(no output)"))
        elif self.kind in ("mcp_server_tool", "function"):
            if self.arguments:
                blocks.append(("Arguments", _as_text(self.arguments)))
            if self.result is not None:
                blocks.append(("Result", _as_text(self.result.get("result"))))
        return [(label, _clip(text)) for label, text in blocks]

    def html(self) -> str:
        """Safe HTML: escaped text, links only to http(s) places, details collapsed."""
        summary = html.escape(self.summary())
        links = ""
        if self.kind == "google_maps":
            anchors = []
            for place in self._places()[:MAX_LIST]:
                name = html.escape(str(place.get("name") or place.get("url") or "place"))
                target = web_address(str(place.get("url") or ""))
                anchors.append(f'<a href="{html.escape(target)}">{name}</a>' if target else name)
            if anchors:
                links = "<div>" + " · ".join(anchors) + "</div>"
        details = self.details()
        if not details:
            return sanitise(f"<div><em>{summary}</em>{links}</div>")
        body = "".join(
            f"<div><strong>{html.escape(label)}</strong></div><pre><code>{html.escape(text)}</code></pre>"
            for label, text in details
        )
        return sanitise(f"<details><summary><em>{summary}</em></summary>{links}{body}</details>")

    def text(self) -> list[str]:
        """Plain text lines for terminals: the summary, then each detail block indented and cut short."""
        lines = [f"[tool] {self.summary()}"]
        for label, text in self.details():
            rows = text.splitlines() or [""]
            cut = len(rows) - TERMINAL_LINES
            rows = rows[:TERMINAL_LINES] + ([f"… ({cut} more lines)"] if cut > 0 else [])
            lines.append(f"  {label}:")
            lines.extend(f"    {row}" for row in rows)
        return lines

    def plain(self) -> str:
        return "\n".join(self.text())


class ToolTimeline:
    """The tool lines of one turn, built from its ``ToolActivity`` events."""

    def __init__(self) -> None:
        self.lines: dict[int, ToolLine] = {}
        self._steps: dict[int, dict[str, Any]] = {}
        self._calls: dict[str, int] = {}  # call id -> the key of its line
        self._unnumbered = 0

    def feed(self, event: ToolActivity) -> ToolLine | None:
        """Take an event; the line it changed (None when it is not a tool step)."""
        index = event.index
        if index is None:
            self._unnumbered -= 1
            index = self._unnumbered
        step = self._steps.setdefault(index, {})
        step.update(event.detail)
        kind = str(step.get("type") or event.kind)
        if not (kind.endswith("_call") or kind.endswith("_result")):
            return None
        if kind in ("function_call", "function_result"):  # shown by FunctionCalled, with the result
            return None
        family = _family(kind)
        if kind.endswith("_result"):
            key = self._calls.get(str(step.get("call_id")), index)
            line = self.lines.setdefault(key, ToolLine(key, family))
            line.result = step
            return line
        line = self.lines.setdefault(index, ToolLine(index, family))
        line.call = step
        if step.get("id"):
            self._calls[str(step["id"])] = index
        return line

"""Server-sent events into the SDK's own event types, decoded with one cached model. No IPython imports.

SDK 3.4.0 decodes each event by building a new pydantic model class around it
(``_gaos/utils/serializers.py``: ``unmarshal`` calls ``create_model``), about a millisecond per event
and most of a long stream's CPU. Here the same bytes become the same types
(``google.genai.interactions.InteractionSSEEvent``: ``StepDelta``, ``InteractionCompletedEvent``, …)
through one ``TypeAdapter`` built on first use, in tens of microseconds.

Framing follows the SDK's parser (api-facts §4.2): events end at a blank line (``\\n``, ``\\r\\n`` or
``\\r`` line ends, mixed), a UTF-8 BOM at the start is dropped, ``:`` lines are comments, several
``data:`` lines are joined with ``\\n``, ``event:``, ``id:`` and ``retry:`` are ignored (the SDK never
surfaces them), events without data are skipped and ``data: [DONE]`` ends the stream. A payload the
cached model rejects is decoded the SDK's lenient way; one that is not JSON is passed on as text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from . import sdk

DONE = b"[DONE]"
BOM = b"\xef\xbb\xbf"


class SSEParser:
    """Incremental SSE framing: :meth:`feed` bytes as they arrive, get each event's data back."""

    __slots__ = ("_data", "_done", "_pending", "_started")

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []
        self._started = False
        self._done = False

    @property
    def done(self) -> bool:
        """True once ``data: [DONE]`` arrived: what follows it is discarded, as the SDK does."""
        return self._done

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of every event that ``chunk`` completed (several ``data:`` lines joined)."""
        if not self._started:
            if len(self._pending) + len(chunk) < len(BOM) and BOM.startswith(self._pending + chunk):
                self._pending += chunk
                return []
            chunk, self._pending, self._started = self._pending + chunk, b"", True
            if chunk.startswith(BOM):
                chunk = chunk[len(BOM) :]
        data = self._pending + chunk if self._pending else chunk
        end = len(data) - 1 if data.endswith(b"\r") else len(data)  # "\r" may be half of "\r\n"
        last = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end))
        if last < 0:
            self._pending = data
            return []
        self._pending = data[last + 1 :]
        return self._lines(data[: last + 1].splitlines())

    def finish(self) -> list[bytes]:
        """At the end of the stream: the last event, even without its blank line."""
        lines = self._pending.splitlines() + [b""]
        self._pending = b""
        return self._lines(lines)

    def _lines(self, lines: list[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for line in lines:
            if self._done:
                break
            if not line:
                if self._data:
                    payload = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
                    self._data = []
                    if payload == DONE:
                        self._done = True
                    else:
                        out.append(payload)
            elif line.startswith(b"data"):
                if line.startswith(b"data:"):
                    value = line[5:]
                    self._data.append(value[1:] if value.startswith(b" ") else value)
                elif line == b"data":
                    self._data.append(b"")
            # "event:", "id:", "retry:", comments and unknown fields: nothing the SDK uses
        return out


_ADAPTER: Any = None


def _adapter() -> Any:
    global _ADAPTER  # noqa: PLW0603 - one cached model per process, built on first use
    if _ADAPTER is None:
        import pydantic
        from google.genai.interactions import InteractionSSEEvent

        _ADAPTER = pydantic.TypeAdapter(InteractionSSEEvent)
    return _ADAPTER


def decode_event(payload: bytes) -> Any:
    """One event's data as the SDK would hand it over: an ``InteractionSSEEvent`` member (unknown
    ``event_type`` → ``UnknownInteractionSSEEvent``), or the text itself when it is not JSON."""
    import pydantic

    try:
        return _adapter().validate_json(payload, context=sdk.response_context())
    except pydantic.ValidationError:
        pass
    text = payload.decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return sdk.construct_unvalidated(value, sdk.sse_event_type())


def decode_stream(chunks: Iterator[bytes]) -> Iterator[Any]:
    """Decoded events from an iterator of body chunks (the sync driver's view of a response)."""
    parser = SSEParser()
    for chunk in chunks:
        for payload in parser.feed(chunk):
            yield decode_event(payload)
        if parser.done:
            return
    for payload in parser.finish():
        yield decode_event(payload)

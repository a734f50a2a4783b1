"""Rendering one streamed answer into a cell, in place, with bounded traffic to the browser.

The answer is shown as a sequence of display outputs. The last one (the tail) is updated through its
``display_id`` as text arrives; once enough closed Markdown blocks have piled up in it, it gets one
final update with just those blocks and a new tail starts after them, so finished blocks are never
sent again. A tail update is sent at most every ``interval`` seconds and only once the text received
since the last update is at least half the tail's size, so update bytes stay under twice the answer.
"""

from __future__ import annotations

import html
import sys
import time
from typing import Any, TextIO

from IPython.display import display, update_display

from .. import events as ev
from .blocks import BlockSplitter, neutralise_html

FREEZE_CHARS = 1500
MARKDOWN = "text/markdown"


def image_bundle(image: ev.ImageDelta) -> dict[str, Any]:
    """A mime bundle for a generated image: the wire's base64 text itself, or an <img> for a URI."""
    mime = image.mime_type or "image/png"
    if image.base64_data:
        size = len(image.base64_data) * 3 // 4
        return {mime: image.base64_data, "text/plain": f"[{mime} image, {size / 1024:,.0f} KB]"}
    uri = image.uri or ""
    if uri.lower().startswith(("https://", "http://")):
        source = html.escape(uri, quote=True)
        return {"text/html": f'<img src="{source}" alt="generated image">', "text/plain": f"[image: {uri}]"}
    return {"text/plain": f"[image: {uri}]"}


class _Display:
    """One display output, updated in place."""

    def __init__(self, bundle: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        handle = display(bundle, raw=True, metadata=metadata or {}, display_id=True)
        self.display_id = handle.display_id if handle is not None else None

    def update(self, bundle: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        update_display(bundle, raw=True, metadata=metadata or {}, display_id=self.display_id)


class NotebookRenderer:
    """Renders normalised events as Markdown display outputs in a notebook cell."""

    def __init__(self, *, interval: float, show_thoughts: bool) -> None:
        self.interval = interval
        self.show_thoughts = show_thoughts
        self.splitter = BlockSplitter()
        self._tail: _Display | None = None
        self._segment_start = 0
        self._sent_len = 0
        self._sent_at = 0.0
        self._thoughts: list[str] = []
        self._thought_display: _Display | None = None
        self._thoughts_sent_at = 0.0
        if show_thoughts:
            self._thought_display = _Display({MARKDOWN: ""})

    @property
    def text(self) -> str:
        return self.splitter.text

    @property
    def thoughts(self) -> str:
        return "".join(self._thoughts)

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.TextDelta):
            self._text(event.text)
        elif isinstance(event, ev.ThoughtDelta):
            self._thoughts.append(event.text)
            self._show_thoughts(final=False)
        elif isinstance(event, ev.ImageDelta):
            self.flush(final=False)
            display(image_bundle(event), raw=True, metadata={"gemini_magics": {"image": True}})
            self._begin_segment(len(self.text))

    def _text(self, delta: str) -> None:
        self.splitter.feed(delta)
        closed = self.splitter.closed_upto
        if closed - self._segment_start >= FREEZE_CHARS:
            self._send(self.text[self._segment_start : closed])
            self._begin_segment(closed)
        tail_len = len(self.text) - self._segment_start
        if self._tail is None or (
            time.monotonic() - self._sent_at >= self.interval and 2 * (tail_len - self._sent_len) >= tail_len
        ):
            self._send(self.text[self._segment_start :])

    def _begin_segment(self, start: int) -> None:
        self._tail = None
        self._segment_start = start
        self._sent_len = 0

    def _send(self, markdown: str) -> None:
        if not markdown:
            return
        bundle = {MARKDOWN: neutralise_html(markdown)}
        if self._tail is None:
            self._tail = _Display(bundle)
        else:
            self._tail.update(bundle)
        self._sent_len = len(markdown)
        self._sent_at = time.monotonic()

    def _show_thoughts(self, *, final: bool) -> None:
        if self._thought_display is None:
            return
        now = time.monotonic()
        if not final and now - self._thoughts_sent_at < self.interval:
            return
        self._thoughts_sent_at = now
        body = neutralise_html(self.thoughts)
        summary = "Thoughts" if final else "Thinking…"
        self._thought_display.update(
            {MARKDOWN: f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>\n"}
        )

    def flush(self, *, final: bool = True) -> None:
        """Send whatever has not been shown yet."""
        tail = self.text[self._segment_start :]
        if tail and len(tail) != self._sent_len:
            self._send(tail)
        if final:
            self._show_thoughts(final=True)

    def footer(self, info: dict[str, Any]) -> None:
        parts = [str(info[k]) for k in ("model", "thread") if info.get(k)]
        tokens = (info.get("usage") or {}).get("total_tokens")
        if tokens is not None:
            parts.append(f"{tokens} tokens")
        if info.get("status") and info["status"] != "completed":
            parts.append(str(info["status"]))
        if info.get("interaction_id"):
            parts.append(str(info["interaction_id"]))
        line = html.escape(" · ".join(parts))
        display(
            {MARKDOWN: f"<sub>{line}</sub>", "text/plain": " · ".join(parts)},
            raw=True,
            metadata={"gemini_magics": info},
        )

    def note(self, message: str) -> None:
        display({MARKDOWN: f"*{html.escape(message)}*", "text/plain": message}, raw=True)


class TextRenderer:
    """Plain text for terminals: deltas are written to stdout as they arrive."""

    def __init__(self, *, stream: TextIO | None = None, show_thoughts: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.show_thoughts = show_thoughts
        self._text: list[str] = []
        self._thoughts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def thoughts(self) -> str:
        return "".join(self._thoughts)

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.TextDelta):
            self._text.append(event.text)
            self.stream.write(event.text)
            self.stream.flush()
        elif isinstance(event, ev.ThoughtDelta):
            self._thoughts.append(event.text)
            if self.show_thoughts:
                self.stream.write(f"[thinking] {event.text}\n")
        elif isinstance(event, ev.ImageDelta):
            self.stream.write(f"\n{image_bundle(event)['text/plain']}\n")

    def flush(self, *, final: bool = True) -> None:
        if final and self._text and not self._text[-1].endswith("\n"):
            self.stream.write("\n")
        self.stream.flush()

    def footer(self, info: dict[str, Any]) -> None:
        parts = [str(info[k]) for k in ("model", "thread", "status", "interaction_id") if info.get(k)]
        self.stream.write("── " + " · ".join(parts) + "\n")

    def note(self, message: str) -> None:
        self.stream.write(f"{message}\n")

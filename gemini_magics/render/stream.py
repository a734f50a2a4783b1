"""Rendering one streamed answer into a cell, in place, with bounded traffic to the browser.

The answer is shown as a sequence of display outputs, one per segment (segments.py decides what
goes out and when); the tail is updated in place through its ``display_id``.
"""

from __future__ import annotations

import html
import sys
import time
from typing import Any, TextIO

from IPython.display import display, update_display

from .. import events as ev
from .blocks import neutralise_html
from .media import media_bundle
from .segments import SegmentedMarkdown

MARKDOWN = "text/markdown"


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
        self.segments = SegmentedMarkdown(interval=interval, publish=self._publish)
        self._tail: _Display | None = None
        self._thoughts: list[str] = []
        self._thought_display: _Display | None = None
        self._thoughts_sent_at = 0.0
        self._retry_note: _Display | None = None
        if show_thoughts:
            self._thought_display = _Display({MARKDOWN: ""})

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.TextDelta):
            self.segments.feed(event.text)
        elif isinstance(event, ev.ThoughtDelta):
            self._thoughts.append(event.text)
            self._show_thoughts(final=False)
        elif isinstance(event, ev.MediaDelta):
            self.segments.break_segment()
            display(media_bundle(event), raw=True, metadata={"gemini_magics": {event.kind: True}})
        elif isinstance(event, ev.Retrying):  # one line, updated in place by later retries
            bundle = {MARKDOWN: f"*{html.escape(event.note)}*", "text/plain": event.note}
            if self._retry_note is None:
                self._retry_note = _Display(bundle)
            else:
                self._retry_note.update(bundle)

    def _publish(self, markdown: str, new_segment: bool) -> None:
        if new_segment or self._tail is None:
            self._tail = _Display({MARKDOWN: markdown})
        else:
            self._tail.update({MARKDOWN: markdown})

    def _show_thoughts(self, *, final: bool) -> None:
        if self._thought_display is None:
            return
        now = time.monotonic()
        if not final and now - self._thoughts_sent_at < self.interval:
            return
        self._thoughts_sent_at = now
        body = neutralise_html("".join(self._thoughts))
        summary = "Thoughts" if final else "Thinking…"
        self._thought_display.update(
            {MARKDOWN: f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>\n"}
        )

    def flush(self, *, final: bool = True) -> None:
        """Send whatever has not been shown yet."""
        self.segments.flush()
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
        self._ends_with_newline = True

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.TextDelta) and event.text:
            self.stream.write(event.text)
            self.stream.flush()
            self._ends_with_newline = event.text.endswith("\n")
        elif isinstance(event, ev.ThoughtDelta):
            if self.show_thoughts:
                self.stream.write(f"[thinking] {event.text}\n")
        elif isinstance(event, ev.MediaDelta):
            self.stream.write(f"\n{media_bundle(event)['text/plain']}\n")
        elif isinstance(event, ev.Retrying):
            self.stream.write(f"{event.note}\n")
            self.stream.flush()

    def flush(self, *, final: bool = True) -> None:
        if final and not self._ends_with_newline:
            self.stream.write("\n")
            self._ends_with_newline = True
        self.stream.flush()

    def footer(self, info: dict[str, Any]) -> None:
        parts = [str(info[k]) for k in ("model", "thread", "status", "interaction_id") if info.get(k)]
        self.stream.write("── " + " · ".join(parts) + "\n")

    def note(self, message: str) -> None:
        self.stream.write(f"{message}\n")

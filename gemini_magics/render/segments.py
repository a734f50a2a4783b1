"""What to send, and when, for a growing Markdown answer: shared by cells and chat panels.

The answer is shown as a sequence of segments. Only the last one (the tail) is updated as text
arrives; once enough closed Markdown blocks have piled up in it, it gets one final update with just
those blocks and a new tail starts after them, so finished blocks are never sent again. A tail
update goes out at most every ``interval`` seconds and only once the text received since the last
one is at least half the tail's size, so update traffic stays under about twice the answer. The
first text is sent at once. Where the text goes (display outputs, Output widgets) is the caller's:
``publish(bundle, new_segment)`` receives a display bundle of safe HTML (render/markdown.py), with the
Markdown source as ``text/plain`` once a segment's text is final (frozen, broken off, or flushed at
the end), so in-between updates carry only the HTML. ``scrub`` (e.g. key redaction) sees every text
before it is rendered; a segment ends only at a blank line or around media, so nothing it looks for
can be split between two segments.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .blocks import BlockSplitter
from .markdown import markdown_bundle

FREEZE_CHARS = 1000  # measured: with HTML plus the text/plain source, 1,000 keeps traffic lowest

Publish = Callable[[dict[str, str], bool], None]


def _unchanged(text: str) -> str:
    return text


class SegmentedMarkdown:
    def __init__(
        self, *, interval: float, publish: Publish, scrub: Callable[[str], str] = _unchanged
    ) -> None:
        self.interval = interval
        self.publish = publish
        self.scrub = scrub
        self.splitter = BlockSplitter()
        self._has_tail = False
        self._segment_start = 0
        self._sent_len = 0
        self._sent_final = False
        self._sent_at = 0.0
        self.starts: list[int] = []  # where each published segment starts in the text

    @property
    def text(self) -> str:
        return self.splitter.text

    def feed(self, delta: str) -> bool:
        """Take a delta; True when text was held back by the throttle (a later flush shows it)."""
        self.splitter.feed(delta)
        closed = self.splitter.closed_upto
        if closed - self._segment_start >= FREEZE_CHARS:
            self._send(self.text[self._segment_start : closed], final=True)
            self._begin_segment(closed)
        tail_len = len(self.text) - self._segment_start
        if not self._has_tail or (
            time.monotonic() - self._sent_at >= self.interval and 2 * (tail_len - self._sent_len) >= tail_len
        ):
            self._send(self.text[self._segment_start :])
            return False
        return True

    def flush(self, *, final: bool = False) -> None:
        """Send whatever has not been shown yet (``final``: with its text/plain form too)."""
        tail = self.text[self._segment_start :]
        if tail and (len(tail) != self._sent_len or (final and not self._sent_final)):
            self._send(tail, final=final)

    def break_segment(self) -> None:
        """Close the tail (something else, like an image, goes after it); text continues in a new one."""
        self.flush(final=True)
        self._begin_segment(len(self.text))

    def settle(self) -> None:
        """The caller replaced the tail's display (a structured answer's value): none of the text
        so far is sent again; later text starts a new segment."""
        self._begin_segment(len(self.text))

    def _begin_segment(self, start: int) -> None:
        self._has_tail = False
        self._segment_start = start
        self._sent_len = 0
        self._sent_final = False

    def published(self) -> list[tuple[int, str]]:
        """(start, text) of every segment published so far, in order."""
        text, ends = self.text, [*self.starts[1:], len(self.text)]
        return [(start, text[start:end]) for start, end in zip(self.starts, ends, strict=True)]

    def _send(self, markdown: str, *, final: bool = False) -> None:
        if not markdown:
            return
        if not self._has_tail:
            self.starts.append(self._segment_start)
        self.publish(markdown_bundle(self.scrub(markdown), plain=final), not self._has_tail)
        self._has_tail = True
        self._sent_len = len(markdown)
        self._sent_final = final
        self._sent_at = time.monotonic()

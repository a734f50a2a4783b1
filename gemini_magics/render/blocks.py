"""Finding where streamed Markdown blocks close, so finished blocks are sent once.

Pure string code with no IPython imports, so it is cheap to test and to run on every delta.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


class BlockSplitter:
    """Tracks the text of one answer and the last position where a Markdown block is closed.

    A block is closed by a blank line outside fenced code or ``$$`` math, once the next non-blank
    line starts in column 0 (an indented line may still belong to the block above, as in a list
    item's second paragraph). Only new complete lines are scanned, so feeding is linear overall.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._text = ""
        self._dirty = False
        self.closed_upto = 0
        self._scan_from = 0
        self._fence: str | None = None
        self._pending: int | None = None

    @property
    def text(self) -> str:
        if self._dirty:
            self._text += "".join(self._parts)
            self._parts.clear()
            self._dirty = False
        return self._text

    def feed(self, delta: str) -> None:
        self._parts.append(delta)
        self._dirty = True
        if "\n" in delta:
            self._scan()
        if self._pending is not None and len(self.text) > self._scan_from:
            first = self.text[self._scan_from]
            if not first.isspace():
                # the next block has started in column 0, so the one above is closed
                self.closed_upto = self._pending

    def _scan(self) -> None:
        text = self.text
        start = self._scan_from
        while (end := text.find("\n", start)) != -1:
            self._line(text[start:end], start, end + 1)
            start = end + 1
        self._scan_from = start

    def _line(self, line: str, start: int, next_start: int) -> None:
        stripped = line.strip()
        if self._fence is not None:
            if stripped.startswith(self._fence) and stripped.strip(self._fence[0]) == "":
                self._fence = None
            return
        if not stripped:
            if self._pending is None:
                self._pending = next_start
            return
        if self._pending is not None and not line[0].isspace():
            self.closed_upto = max(self.closed_upto, self._pending)
        self._pending = None
        fence = _FENCE.match(line)
        if fence:
            self._fence = fence.group(1)
        elif stripped == "$$":
            self._fence = "$$"

"""Finding where streamed Markdown blocks close, and neutralising raw HTML in model text.

Pure string code with no IPython imports, so it is cheap to test and to run on every delta.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "ftp", "tel"})
_LINK_TARGET = re.compile(r"(\]\(\s*<?|^\s{0,3}\[[^\]]+\]:\s*<?)([^)\s>]*)", re.MULTILINE)
_AUTOLINK = re.compile(r"<(?:https?|mailto):[^\s<>]*>", re.IGNORECASE)


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


def neutralise_html(markdown: str) -> str:
    """Make model Markdown inert: raw HTML is shown as text and unsafe link schemes are blocked.

    JupyterLab renders Markdown produced in a live session as trusted, without sanitising, so raw
    HTML from the model would run. ``<`` becomes ``&lt;`` outside code and math (where the renderer
    already escapes it); link targets with a scheme other than http(s), mailto, ftp or tel get a
    ``#blocked:`` prefix, which makes them harmless fragment links.
    """
    out: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines(keepends=True):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence) and stripped.strip(fence[0]) == "":
                fence = None
            out.append(line)
            continue
        opening = _FENCE.match(line)
        if opening or stripped == "$$":
            fence = opening.group(1) if opening else "$$"
            out.append(line)
            continue
        out.append(_neutralise_inline(line))
    return _LINK_TARGET.sub(_block_unsafe_target, "".join(out))


def _block_unsafe_target(match: re.Match[str]) -> str:
    target = match.group(2)
    scheme, colon, _ = target.partition(":")
    if colon and not any(c in scheme for c in "/?#") and scheme.lower() not in _SAFE_SCHEMES:
        return f"{match.group(1)}#blocked:{target}"
    return match.group(0)


_INLINE_CODE_OR_MATH = re.compile(r"(`+)(?:.+?)\1|\$\$.+?\$\$|\$[^$\n]+\$")


def _neutralise_inline(line: str) -> str:
    if "<" not in line:
        return line
    pieces: list[str] = []
    position = 0
    for match in _INLINE_CODE_OR_MATH.finditer(line):
        pieces.append(_escape_angles(line[position : match.start()]))
        pieces.append(match.group(0))
        position = match.end()
    pieces.append(_escape_angles(line[position:]))
    return "".join(pieces)


def _escape_angles(text: str) -> str:
    if "<" not in text:
        return text
    kept = [(m.start(), m.end()) for m in _AUTOLINK.finditer(text)]
    if not kept:
        return text.replace("<", "&lt;")
    pieces, position = [], 0
    for start, end in kept:
        pieces.append(text[position:start].replace("<", "&lt;"))
        pieces.append(text[start:end])
        position = end
    pieces.append(text[position:].replace("<", "&lt;"))
    return "".join(pieces)

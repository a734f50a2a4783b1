"""A research report from its steps: text with numbered citations, images in order, a source list.

``url_citation`` annotations (byte offsets into a text block) become ``[[n]](url)`` links placed
where the cited passage ends; every source is listed once at the end. Nothing the model wrote is
dropped. Pure functions over wire-shaped dicts; no IPython imports.
"""

from __future__ import annotations

import re
from typing import Any

from ..core.events import Citation
from ..core.results import Source, source_of

Part = tuple[str, Any]  # ("markdown", text) or ("media", an image, audio or video content block)


def _char_offset(text: str, byte_offset: int) -> int:
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


_LINK_TEXT_SPECIALS = re.compile(r"[\[\]\\`*_<>&$~|!]")
_TARGET_SPECIALS = re.compile(r"[\x00-\x20\x7f()<>\\]")


def link_text(text: str) -> str:
    """Server text shown as a link's words: Markdown cannot read structure into it."""
    flat = " ".join(text.split())
    return _LINK_TEXT_SPECIALS.sub(lambda m: f"&#{ord(m.group(0))};", flat)


def web_address(url: str | None) -> str | None:
    """``url`` as a Markdown link target when it is an http(s) address (percent-encoded where Markdown
    would end it early); None for anything else, which is then shown as text, never linked."""
    if not url:
        return None
    compact = re.sub(r"[\x00-\x20\x7f]+", "", url)
    if not compact.lower().startswith(("https://", "http://")):
        return None
    return _TARGET_SPECIALS.sub(lambda m: f"%{ord(m.group(0)):02X}", url.strip())


class Citations:
    """Numbers sources by first appearance and places their markers in the text.

    Every citation kind in the SDK's annotation union that names a source (``url_citation``,
    ``place_citation``, ``file_citation``) gets a number; a marker links to the source only when it
    is an http(s) address, so a ``javascript:`` or ``data:`` citation stays inert text.
    """

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.sources: dict[str, Source] = {}

    def number_source(self, source: Source) -> int:
        if source.key not in self.numbers:
            self.numbers[source.key] = len(self.numbers) + 1
            self.sources[source.key] = source
        return self.numbers[source.key]

    def marks(self, text: str, annotations: list[dict[str, Any]]) -> list[tuple[int, str]]:
        """(character position in ``text``, Markdown marker) for each citation, in annotation order."""
        marks: list[tuple[int, str]] = []
        for note in annotations:
            source = source_of(note)
            if source is None:
                continue
            end = note.get("end_index")
            at = len(text) if end is None else _char_offset(text, int(end))
            while at > 0 and text[at - 1].isspace():  # "…in 2016.[1] Next", not "…in 2016. [1]Next"
                at -= 1
            n = self.number_source(source)
            target = web_address(source.url)
            marks.append((at, f"[[{n}]]({target})" if target else f"&#91;{n}&#93;"))
        return marks

    def cite(self, text: str, annotations: list[dict[str, Any]]) -> str:
        return insert_marks(text, self.marks(text, annotations))

    def source_list(self) -> str:
        if not self.numbers:
            return ""
        lines = []
        for key, n in self.numbers.items():
            source = self.sources[key]
            target = web_address(source.url)
            title = link_text(source.title)
            if target:
                lines.append(f"{n}. [{title}]({target})")
            elif source.url:  # shown, never linked
                lines.append(f"{n}. {title} ({link_text(source.url)})")
            else:
                lines.append(f"{n}. {title}")
        return "\n\n**Sources**\n\n" + "\n".join(lines) + "\n"


def insert_marks(text: str, marks: list[tuple[int, str]], start: int = 0) -> str:
    """``text`` (which starts at ``start`` of the answer) with the markers that fall inside it; a
    marker at ``start`` belongs to the text before it. Markers at one place keep their order."""
    end = start + len(text)
    by_place: dict[int, list[str]] = {}
    for at, mark in marks:
        if start < at <= end or (at == start == 0):
            by_place.setdefault(at, []).append(mark)
    for at in sorted(by_place, reverse=True):
        local = at - start
        text = text[:local] + "".join(by_place[at]) + text[local:]
    return text


class AnswerCitations:
    """The citations of a streamed answer, gathered as they arrive and placed once it is complete.

    Citation events name a text block by where it starts in the answer text and its length, with
    byte offsets inside it; :meth:`place` turns them into markers at character positions of the whole
    answer, plus the sources list to show after it.
    """

    def __init__(self) -> None:
        self._events: list[Citation] = []

    def add(self, event: Citation) -> None:
        self._events.append(event)

    def __bool__(self) -> bool:
        return bool(self._events)

    def place(self, text: str) -> tuple[list[tuple[int, str]], str]:
        """(markers at positions of ``text``, the sources list as Markdown) for the answer ``text``."""
        citations = Citations()
        marks: list[tuple[int, str]] = []
        for event in self._events:
            offset = event.offset or 0
            length = len(text) - offset if event.length is None else event.length
            block = text[offset : offset + length]
            marks.extend((offset + at, mark) for at, mark in citations.marks(block, event.annotations))
        return marks, citations.source_list()

    def plain_sources(self) -> list[str]:
        """The sources as plain lines for terminals: "[1] Title — https://…"."""
        citations = Citations()
        for event in self._events:
            for note in event.annotations:
                source = source_of(note)
                if source is not None:
                    citations.number_source(source)
        return [
            f"[{n}] {citations.sources[key].title}"
            + (f" — {citations.sources[key].url}" if citations.sources[key].url else "")
            for key, n in citations.numbers.items()
        ]


def report_parts(steps: list[dict[str, Any]]) -> list[Part]:
    """The answer of a turn (model output after the last user input) as ordered display parts."""
    last_input = max((i for i, s in enumerate(steps) if s.get("type") == "user_input"), default=-1)
    citations = Citations()
    parts: list[Part] = []
    for step in steps[last_input + 1 :]:
        if step.get("type") != "model_output":
            continue
        for block in step.get("content") or []:
            if block.get("type") == "text":
                text = citations.cite(block.get("text", ""), block.get("annotations") or [])
                if parts and parts[-1][0] == "markdown":
                    parts[-1] = ("markdown", parts[-1][1] + text)
                else:
                    parts.append(("markdown", text))
            elif block.get("type") in ("image", "audio", "video"):
                parts.append(("media", block))
    sources = citations.source_list()
    if sources:
        parts.append(("markdown", sources))
    return parts

"""A research report from its steps: text with numbered citations, images in order, a source list.

``url_citation`` annotations (byte offsets into a text block) become ``[[n]](url)`` links placed
where the cited passage ends; every source is listed once at the end. Nothing the model wrote is
dropped. Pure functions over wire-shaped dicts; no IPython imports.
"""

from __future__ import annotations

from typing import Any

Part = tuple[str, Any]  # ("markdown", text) or ("media", an image, audio or video content block)


def _char_offset(text: str, byte_offset: int) -> int:
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


class Citations:
    """Numbers sources by first appearance and places their markers in the text."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.titles: dict[str, str] = {}

    def number(self, url: str, title: str | None) -> int:
        if url not in self.numbers:
            self.numbers[url] = len(self.numbers) + 1
        if title and url not in self.titles:
            self.titles[url] = title
        return self.numbers[url]

    def cite(self, text: str, annotations: list[dict[str, Any]]) -> str:
        marks: list[tuple[int, str]] = []
        for note in annotations:
            url = note.get("url")
            if note.get("type") != "url_citation" or not url:
                continue
            end = note.get("end_index")
            at = len(text) if end is None else _char_offset(text, int(end))
            while at > 0 and text[at - 1].isspace():  # "…in 2016.[1] Next", not "…in 2016. [1]Next"
                at -= 1
            marks.append((at, f"[[{self.number(url, note.get('title'))}]]({url})"))
        for at, mark in sorted(marks, key=lambda m: m[0], reverse=True):
            text = text[:at] + mark + text[at:]
        return text

    def source_list(self) -> str:
        if not self.numbers:
            return ""
        lines = [f"{n}. [{self.titles.get(url, url)}]({url})" for url, n in self.numbers.items()]
        return "\n\n**Sources**\n\n" + "\n".join(lines) + "\n"


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

"""A transcript (``core/transcript.py``) as a Markdown file or a notebook. Pure: returns text and dicts.

Markdown: the prompts quoted, the answers as the model wrote them (it is the model's own Markdown),
pictures as files in a folder next to the file (``NAME_files/``: data URLs are dropped by many
viewers, GitHub among them, and make the text unreadable), sources as numbered links, ids and
tokens in a line under each answer.

Notebook: one ``%%gemini -t THREAD`` code cell per turn with the answer as its outputs, as a cell
shows it (safe HTML from ``render/markdown.py`` plus the Markdown source, pictures, sources, the
footer), each output carrying the turn's provenance in its metadata. A teacher hands out a notebook
that reads like the one they ran, renders the same everywhere (no model HTML reaches a front end),
and that a student can run again, offline too, to continue the conversation.
"""

from __future__ import annotations

import html
from typing import Any

from ..core.events import media_of
from ..core.transcript import Media, Transcript, TranscriptTurn, turn_record
from .markdown import escape_markdown, markdown_bundle
from .media import media_bundle

NBFORMAT_MINOR = 5


def media_file_name(turn: TranscriptTurn, index: int, media: Media) -> str:
    return f"turn-{turn.number:03d}-{index}.{media.extension}"


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines() or [""])


def _sources_markdown(turn: TranscriptTurn) -> str:
    lines = []
    for n, source in enumerate(turn.sources, 1):
        title = escape_markdown(source.title)
        lines.append(f"{n}. [{title}](<{source.url}>)" if source.url else f"{n}. {title}")
    return "**Sources**\n\n" + "\n".join(lines)


def footer_line(turn: TranscriptTurn) -> str:
    parts = [turn.model]
    if turn.total_tokens is not None:
        parts.append(f"{turn.total_tokens:,} tokens")
    if turn.origin and turn.origin != "live":
        parts.append(turn.origin)
    parts.append(f"interaction {turn.interaction_id}")
    return " · ".join(parts)


def markdown_transcript(transcript: Transcript, folder: str) -> tuple[str, list[tuple[str, Media]]]:
    """The Markdown text, and the media files to write into ``folder`` (name, media), in order."""
    files: list[tuple[str, Media]] = []
    parts = [
        f"# Thread {escape_markdown(transcript.thread)}",
        f"Exported from gemini_magics {transcript.version} on {transcript.exported}; "
        f"{len(transcript.turns)} turn(s).",
    ]
    for turn in transcript.turns:
        parts += [f"## Turn {turn.number}", "**Prompt**", _quoted(turn.prompt), "**Answer**"]
        if turn.answer.strip():
            parts.append(turn.answer.strip())
        for index, media in enumerate(turn.media, 1):
            if media.base64_data is None:
                label = f"{media.kind.capitalize()} {index}"
                parts.append(f"[{label}](<{media.uri}>)" if media.uri else label)
                continue
            name = f"{folder}/{media_file_name(turn, index, media)}"
            files.append((name, media))
            label = "Picture" if media.kind == "image" else media.kind.capitalize()
            mark = "!" if media.kind == "image" else ""
            parts.append(f"{mark}[{label} {index}](<{name}>)")
        if turn.sources:
            parts.append(_sources_markdown(turn))
        parts.append(f"<sub>{html.escape(footer_line(turn))}</sub>")
    return "\n\n".join(parts) + "\n", files


def _output(bundle: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    return {"output_type": "display_data", "data": bundle, "metadata": metadata}


def _magic_line(transcript: Transcript, turn: TranscriptTurn) -> str:
    words = ["%%gemini", "-t", _shell_word(transcript.thread)]
    if turn.number == 1:
        words.append("--new")
    if "{{" in turn.prompt:
        words.append("--raw")  # the prompt was filled in already: send it as it is
    return " ".join(words)


def _shell_word(word: str) -> str:
    return f'"{word}"' if " " in word else word


def notebook_transcript(transcript: Transcript) -> dict[str, Any]:
    """An nbformat 4 notebook: a title cell, ``%load_ext``, then a ``%%gemini`` cell per turn whose
    outputs carry the turn's provenance, as a live cell's do."""
    title = (
        f"# Thread {escape_markdown(transcript.thread)}\n\n"
        f"Exported from gemini_magics {transcript.version} on {transcript.exported}; "
        f"{len(transcript.turns)} turn(s). Each cell below is one turn, with the answer as it was "
        "shown; running a cell asks again."
    )
    cells: list[dict[str, Any]] = [
        {"cell_type": "markdown", "id": "title", "metadata": {}, "source": title},
        _code_cell("load", "%load_ext gemini_magics", []),
    ]
    for turn in transcript.turns:
        record = turn_record(transcript, turn)
        outputs = []

        def meta(part: str, record: dict[str, Any] = record) -> dict[str, Any]:
            return {"gemini_magics": {**record, "part": part}}

        if turn.answer.strip():
            outputs.append(_output(markdown_bundle(turn.answer), meta("answer")))
        for media in turn.media:
            outputs.append(_output(media_bundle(media_of(media.block)), meta(media.kind)))
        if turn.sources:
            outputs.append(_output(markdown_bundle(_sources_markdown(turn)), meta("sources")))
        line = footer_line(turn)
        footer = {"text/html": f"<sub>{html.escape(line)}</sub>", "text/plain": line}
        outputs.append(_output(footer, meta("footer")))
        source = f"{_magic_line(transcript, turn)}\n{turn.prompt}"
        cells.append(_code_cell(f"turn-{turn.number}", source, outputs))
    return {
        "nbformat": 4,
        "nbformat_minor": NBFORMAT_MINOR,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "gemini_magics": {"thread": transcript.thread, "exported": transcript.exported},
        },
        "cells": cells,
    }


def _code_cell(cell_id: str, source: str, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "id": cell_id,
        "metadata": {},
        "execution_count": None,
        "source": source,
        "outputs": outputs,
    }

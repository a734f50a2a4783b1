"""A thread as a transcript: its turns with prompts, answers, pictures, sources, ids. No display code.

``%gemini export`` writes it as Markdown, a notebook or JSON (``render/export.py`` formats the first
two). Everything comes from the thread's completed turns, whose answers and steps were scrubbed of the
key when they ended; :func:`transcript_json` is scrubbed again as a whole by the caller.
"""

from __future__ import annotations

import base64
import datetime
import re
from dataclasses import dataclass
from typing import Any

from .. import __version__
from .results import Source, answer_steps, sources_of, tool_calls_of
from .threads import Thread

FORMAT = "gemini_magics.transcript"
_EXTENSION = re.compile(r"[a-z0-9]{1,8}")


@dataclass(frozen=True)
class Media:
    """A picture (or sound, or video) of an answer, as the server sent it."""

    kind: str
    mime_type: str
    base64_data: str | None
    uri: str | None = None

    @property
    def extension(self) -> str:
        """A safe file extension for the MIME type (``bin`` when it gives none)."""
        subtype = self.mime_type.split(";")[0].split("/")[-1].strip().lower()
        subtype = {"jpeg": "jpg", "svg+xml": "svg", "x-wav": "wav", "mpeg": "mp3"}.get(subtype, subtype)
        return subtype if _EXTENSION.fullmatch(subtype) else "bin"

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.base64_data or "")

    @property
    def block(self) -> dict[str, Any]:
        """The wire content block it came from."""
        block = {"type": self.kind, "mime_type": self.mime_type}
        if self.base64_data is not None:
            block["data"] = self.base64_data
        if self.uri is not None:
            block["uri"] = self.uri
        return block


@dataclass(frozen=True)
class TranscriptTurn:
    number: int
    interaction_id: str
    parent_id: str | None
    model: str
    prompt: str
    answer: str
    thoughts: str
    media: tuple[Media, ...]
    sources: tuple[Source, ...]
    tools: tuple[str, ...]  # the tool steps' names, in order (search, a function's name, …)
    usage: dict[str, Any]
    settings: str  # what the turn was sent with, in the words of `%gemini history`
    origin: str
    cell_id: str | None

    @property
    def total_tokens(self) -> int | None:
        total = self.usage.get("total_tokens")
        return total if isinstance(total, int) else None


@dataclass(frozen=True)
class Transcript:
    thread: str
    turns: tuple[TranscriptTurn, ...]
    exported: str  # when, ISO 8601 in UTC
    version: str = __version__


def media_of(steps: list[dict[str, Any]]) -> tuple[Media, ...]:
    """Pictures, sounds and videos of an answer's steps, in order."""
    found = []
    for step in answer_steps(steps):
        if step.get("type") != "model_output":
            continue
        for block in step.get("content") or []:
            if block.get("type") in ("image", "audio", "video"):
                mime = str(block.get("mime_type") or "application/octet-stream")
                found.append(Media(str(block["type"]), mime, block.get("data"), block.get("uri")))
    return tuple(found)


def build_transcript(thread: Thread) -> Transcript:
    """The thread's turns as they stand now."""
    turns = tuple(
        TranscriptTurn(
            number=number,
            interaction_id=turn.interaction_id,
            parent_id=turn.parent_id,
            model=turn.model,
            prompt=turn.prompt,
            answer=turn.answer,
            thoughts=turn.thoughts,
            media=media_of(turn.steps),
            sources=tuple(sources_of(turn.steps)),
            tools=tuple(call.name for call in tool_calls_of(turn.steps)),
            usage=dict(turn.usage),
            settings=turn.settings.describe() if turn.settings is not None else "model defaults",
            origin=turn.origin,
            cell_id=turn.cell_id,
        )
        for number, turn in enumerate(thread.turns, 1)
    )
    exported = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return Transcript(thread.name, turns, exported)


def turn_record(transcript: Transcript, turn: TranscriptTurn) -> dict[str, Any]:
    """A turn's provenance, as a live cell's outputs carry it (``core/provenance.py``)."""
    return {
        "interaction_id": turn.interaction_id,
        "model": turn.model,
        "thread": transcript.thread,
        "status": "completed",
        "usage": turn.usage,
        "settings": turn.settings,
        "origin": turn.origin,
        "version": transcript.version,
    }


def transcript_json(transcript: Transcript) -> dict[str, Any]:
    """The transcript as plain JSON: turns with ids, model, prompt, answer, pictures (base64), sources."""
    return {
        "format": FORMAT,
        "version": transcript.version,
        "thread": transcript.thread,
        "exported": transcript.exported,
        "turns": [
            {
                "number": turn.number,
                "interaction_id": turn.interaction_id,
                "previous_interaction_id": turn.parent_id,
                "model": turn.model,
                "origin": turn.origin,
                "cell_id": turn.cell_id,
                "settings": turn.settings,
                "prompt": turn.prompt,
                "answer": turn.answer,
                "thoughts": turn.thoughts,
                "media": [
                    {"kind": m.kind, "mime_type": m.mime_type, "data": m.base64_data, "uri": m.uri}
                    for m in turn.media
                ],
                "sources": [{"title": s.title, "url": s.url, "kind": s.kind} for s in turn.sources],
                "tools": list(turn.tools),
                "usage": turn.usage,
            }
            for turn in transcript.turns
        ],
    }

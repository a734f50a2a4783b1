"""Scripted replies and faults, and how a reply's steps become stream events.

A :class:`Reply` is what the emulated model "generates" for one create request: a list of
steps in wire JSON plus delivery options (how many text deltas, pacing, injected faults).
A :class:`Fault` answers the next create request(s) with an HTTP error instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any, Literal

Json = dict[str, Any]

STEP_TYPES = frozenset(
    {
        "user_input",
        "model_output",
        "thought",
        "function_call",
        "function_result",
        "code_execution_call",
        "code_execution_result",
        "file_search_call",
        "file_search_result",
        "google_maps_call",
        "google_maps_result",
        "google_search_call",
        "google_search_result",
        "mcp_server_tool_call",
        "mcp_server_tool_result",
        "processing_call",
        "processing_result",
        "retrieval_call",
        "retrieval_result",
        "tool_search_call",
        "tool_search_result",
        "url_context_call",
        "url_context_result",
    }
)

# Fields of each tool step that travel in its step.delta (a delta of the same `type`);
# everything else (type, id, call_id, search_type, ...) is announced in step.start.
_TOOL_DELTA_FIELDS: dict[str, tuple[str, ...]] = {
    "function_result": ("result", "is_error", "name"),
    "code_execution_call": ("arguments", "signature"),
    "code_execution_result": ("result", "is_error", "signature"),
    "file_search_call": ("signature",),
    "file_search_result": ("result", "signature"),
    "google_maps_call": ("arguments", "signature"),
    "google_maps_result": ("result", "signature"),
    "google_search_call": ("arguments", "signature"),
    "google_search_result": ("result", "is_error", "signature"),
    "mcp_server_tool_call": ("arguments", "name", "server_name"),
    "mcp_server_tool_result": ("result", "name", "server_name"),
    "processing_call": ("signature",),
    "processing_result": ("signature",),
    "retrieval_call": ("arguments", "retrieval_type", "signature"),
    "retrieval_result": ("is_error", "signature"),
    "tool_search_call": ("arguments", "signature"),
    "tool_search_result": ("result", "signature"),
    "url_context_call": ("arguments", "signature"),
    "url_context_result": ("result", "is_error", "signature"),
}

TERMINAL_STATUSES = frozenset(
    {"completed", "requires_action", "failed", "cancelled", "incomplete", "budget_exceeded"}
)


class ApiError(Exception):
    """An error the emulator answers with a Gemini-shaped JSON body."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def body(self) -> Json:
        return {"error": {"code": self.code, "message": self.message}}


def fake_signature(*parts: object) -> str:
    """A deterministic base64 blob standing in for an opaque thought signature."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return base64.b64encode(b"emu-sig:" + digest).decode()


@dataclass
class Reply:
    """One scripted success: the generated ``steps`` (wire JSON) and how to deliver them.

    Delivery faults (``drop_after``, ``stall_after``: counted in events of one delivery) shape the
    *first* SSE delivery of the interaction only (a later resume replays the stored log normally),
    or every delivery with ``repeat_faults``. ``error_after`` makes the interaction itself fail:
    its log ends with an ``error`` event and its status becomes ``failed``. ``drop_mode`` picks
    how ``drop_after`` ends the stream: ``"eof"`` ends the HTTP body cleanly (the SDK iterator
    just stops), ``"reset"`` cuts it mid-body (the SDK raises ``APIConnectionError``). A
    ``drop_after`` equal to the number of events drops right after the last one.
    ``stall_seconds=None`` stalls until :meth:`Emulator.release_stalls` or the emulator stops.

    Shapes seen in real traffic, for every delivery:

    * ``event_ids=False``: no ``event_id`` in the JSON (recorded production streams carry none),
      so a resume has nothing to name and replays from the start;
    * ``start_content=True``: ``step.start`` carries the step's first delta (first text chunk or
      media block in ``content``, first thought in ``summary``, a function call complete);
    * ``resume_from``: where ``GET ?last_event_id=X&stream=true`` replays from: ``"after"`` X (as
      documented), ``"at"`` X (X again), ``"start"`` (ignores X);
    * ``repeat_events=True``: every event is sent twice in a row;
    * ``done_line=True``: a complete stream ends with ``event: done`` / ``data: [DONE]``;
    * ``hold_open=True``: after the last event the body stays open (no end of the stream) until
      :meth:`Emulator.release_stalls` or the emulator stops, as a server that never ends it;
    * ``malformed``: ``"null_text"`` sends an extra text delta with ``"text": null`` before each
      text step's first text delta; ``"no_index"`` leaves ``index`` out of every ``step.delta``.
      Both are sent only, never logged, so the emulator's schema check stays clean.
    """

    steps: list[Json]
    status: str = "completed"
    _: KW_ONLY
    deltas: int = 1
    delay: float = 0.0
    usage: Json | None = None
    drop_after: int | None = None
    drop_mode: Literal["eof", "reset"] = "eof"
    stall_after: int | None = None
    stall_seconds: float | None = 0.0
    repeat_faults: bool = False
    event_ids: bool = True
    start_content: bool = False
    resume_from: Literal["after", "at", "start"] = "after"
    repeat_events: bool = False
    done_line: bool = False
    hold_open: bool = False
    malformed: Literal["null_text", "no_index"] | None = None
    error_after: int | None = None
    error_code: str = "internal"
    error_message: str = "Model overloaded"

    def __post_init__(self) -> None:
        if self.status == "requires_continuation":
            raise ValueError("the emulator never emits requires_continuation")
        if self.deltas < 1:
            raise ValueError("deltas must be at least 1")
        if self.drop_mode not in ("eof", "reset"):
            raise ValueError("drop_mode must be 'eof' or 'reset'")
        if self.resume_from not in ("after", "at", "start"):
            raise ValueError("resume_from must be 'after', 'at' or 'start'")
        if self.malformed not in (None, "null_text", "no_index"):
            raise ValueError("malformed must be None, 'null_text' or 'no_index'")
        self.steps = [_complete_step(step, position) for position, step in enumerate(self.steps)]

    @property
    def has_delivery_faults(self) -> bool:
        return self.drop_after is not None or self.stall_after is not None

    @classmethod
    def text(
        cls, text: str, *, thoughts: Sequence[str] = (), status: str = "completed", **delivery: Any
    ) -> Reply:
        """A ``model_output`` text reply, optionally preceded by a thought step."""
        steps = [*_thought_steps(thoughts), _text_output(text)]
        return cls(steps, status, **delivery)

    @classmethod
    def function_call(
        cls,
        name: str,
        arguments: Json,
        *,
        thoughts: Sequence[str] = (),
        status: str = "requires_action",
        **delivery: Any,
    ) -> Reply:
        """A ``function_call`` step; the interaction ends ``requires_action``."""
        call = {
            "type": "function_call",
            "id": f"fc_{secrets.token_hex(4)}",
            "name": name,
            "arguments": dict(arguments),
            "signature": fake_signature("function_call", name, arguments),
        }
        return cls([*_thought_steps(thoughts), call], status, **delivery)

    @classmethod
    def function_calls(
        cls,
        calls: Sequence[tuple[str, Json]],
        *,
        text: str | None = None,
        thoughts: Sequence[str] = (),
        status: str = "requires_action",
        **delivery: Any,
    ) -> Reply:
        """Several ``function_call`` steps in one round (after an optional text); ends ``requires_action``."""
        steps: list[Json] = [*_thought_steps(thoughts)]
        if text is not None:
            steps.append(_text_output(text))
        steps += [
            {
                "type": "function_call",
                "id": f"fc_{secrets.token_hex(4)}",
                "name": name,
                "arguments": dict(arguments),
                "signature": fake_signature("function_call", name, arguments, position),
            }
            for position, (name, arguments) in enumerate(calls)
        ]
        return cls(steps, status, **delivery)

    @classmethod
    def media(
        cls,
        kind: Literal["image", "audio", "video"],
        data: bytes,
        mime_type: str,
        *,
        text: str | None = None,
        thoughts: Sequence[str] = (),
        status: str = "completed",
        **delivery: Any,
    ) -> Reply:
        """A ``model_output`` with an inline picture, sound or video (and an optional leading text)."""
        content: list[Json] = [] if text is None else [{"type": "text", "text": text}]
        content.append({"type": kind, "data": base64.b64encode(data).decode(), "mime_type": mime_type})
        steps = [*_thought_steps(thoughts), {"type": "model_output", "content": content}]
        return cls(steps, status, **delivery)

    @classmethod
    def audio(cls, data: bytes, mime_type: str = "audio/wav", **options: Any) -> Reply:
        """A ``model_output`` with inline audio; see :meth:`media`."""
        return cls.media("audio", data, mime_type, **options)

    @classmethod
    def video(cls, data: bytes, mime_type: str = "video/mp4", **options: Any) -> Reply:
        """A ``model_output`` with an inline video; see :meth:`media`."""
        return cls.media("video", data, mime_type, **options)

    @classmethod
    def image(
        cls,
        data: bytes,
        mime_type: str = "image/png",
        *,
        text: str | None = None,
        thoughts: Sequence[str] = (),
        status: str = "completed",
        **delivery: Any,
    ) -> Reply:
        """A ``model_output`` with an inline image (and an optional leading text block)."""
        content: list[Json] = [] if text is None else [{"type": "text", "text": text}]
        encoded = base64.b64encode(data).decode()
        content.append({"type": "image", "data": encoded, "mime_type": mime_type})
        steps = [*_thought_steps(thoughts), {"type": "model_output", "content": content}]
        return cls(steps, status, **delivery)

    def step_events(self) -> list[Json]:
        """``step.start`` / ``step.delta`` / ``step.stop`` events for every generated step."""
        events: list[Json] = []
        for index, step in enumerate(self.steps):
            start, deltas = _split_step(step, self.deltas)
            if self.start_content:
                start, deltas = _content_in_start(step, start, deltas)
            events.append({"event_type": "step.start", "index": index, "step": start})
            events.extend({"event_type": "step.delta", "index": index, "delta": delta} for delta in deltas)
            events.append({"event_type": "step.stop", "index": index})
        return events


@dataclass(frozen=True)
class Fault:
    """A scripted HTTP failure answering the next ``times`` create requests."""

    status: int
    code: str = "internal"
    message: str = "Server error"
    retry_after: float | None = None
    times: int = 1

    @classmethod
    def http(
        cls,
        status: int,
        code: str = "internal",
        message: str = "Server error",
        *,
        retry_after: float | None = None,
        times: int = 1,
    ) -> Fault:
        if not 400 <= status <= 599:
            raise ValueError("a Fault needs a 4xx or 5xx status")
        if times < 1:
            raise ValueError("times must be at least 1")
        return cls(status, code, message, retry_after, times)

    def error(self) -> ApiError:
        return ApiError(self.status, self.code, self.message, retry_after=self.retry_after)


def split_text(text: str, pieces: int) -> list[str]:
    """Split ``text`` into ``pieces`` roughly equal, non-empty chunks (one slice each)."""
    pieces = max(1, min(pieces, len(text)))
    bounds = [len(text) * i // pieces for i in range(pieces + 1)]
    return [text[bounds[i] : bounds[i + 1]] for i in range(pieces)]


def _text_output(text: str) -> Json:
    return {"type": "model_output", "content": [{"type": "text", "text": text}]}


def _thought_steps(thoughts: Sequence[str]) -> list[Json]:
    if not thoughts:
        return []
    summary = [{"type": "text", "text": thought} for thought in thoughts]
    return [{"type": "thought", "summary": summary}]


def _complete_step(step: Json, position: int) -> Json:
    """Fill in what the wire always carries: thought signatures, call ids, call arguments."""
    if not isinstance(step, dict) or step.get("type") not in STEP_TYPES - {"user_input"}:
        raise ValueError(f"not a generated step: {step!r:.120}")
    step = dict(step)
    if step["type"] == "thought":
        step.setdefault("signature", fake_signature("thought", position, step.get("summary")))
    elif step["type"] == "function_call":
        step.setdefault("id", f"fc_{secrets.token_hex(4)}")
        step.setdefault("arguments", {})
    return step


def _split_step(step: Json, deltas: int) -> tuple[Json, list[Json]]:
    """The partial step announced by step.start and the deltas that complete it."""
    kind = step["type"]
    if kind == "model_output":
        return {"type": kind}, list(_content_deltas(step.get("content") or [], deltas))
    if kind == "thought":
        out: list[Json] = [{"type": "thought_summary", "content": item} for item in step.get("summary") or []]
        out.append({"type": "thought_signature", "signature": step["signature"]})
        return {"type": kind}, out
    if kind == "function_call":
        start = {key: value for key, value in step.items() if key != "arguments"}
        fragments = split_text(json.dumps(step["arguments"]), deltas)
        return start, [{"type": "arguments_delta", "arguments": part} for part in fragments]
    payload_keys = _TOOL_DELTA_FIELDS.get(kind, ())
    if kind == "code_execution_result" and not isinstance(step.get("result"), str):
        # the delta carries text only: content blocks (a chart the code drew) come in step.start
        payload_keys = tuple(key for key in payload_keys if key != "result")
    start = {key: value for key, value in step.items() if key not in payload_keys}
    payload = {key: step[key] for key in payload_keys if key in step}
    return start, [{"type": kind, **payload}] if payload else []


def _content_in_start(step: Json, start: Json, deltas: list[Json]) -> tuple[Json, list[Json]]:
    """Move a step's first delta into its ``step.start``, as real streams sometimes do."""
    kind = step["type"]
    if kind == "function_call":
        return dict(step), []
    if not deltas:
        return start, deltas
    first = deltas[0]
    if kind == "model_output" and first["type"] in ("text", "image", "audio", "video", "document"):
        return {**start, "content": [first]}, deltas[1:]
    if kind == "thought" and first["type"] == "thought_summary":
        return {**start, "summary": [first["content"]]}, deltas[1:]
    return start, deltas


def _content_deltas(content: list[Json], deltas: int) -> list[Json]:
    out: list[Json] = []
    for block in content:
        if block.get("type") == "text":
            out.extend({"type": "text", "text": part} for part in split_text(block["text"], deltas))
            if block.get("annotations"):
                out.append({"type": "text_annotation_delta", "annotations": block["annotations"]})
        else:
            out.append(dict(block))
    return out

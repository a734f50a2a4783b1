"""The only module that knows the wire shapes of Interactions responses and stream events.

It turns the SDK's ``InteractionSSEEvent`` stream (or a unary ``Interaction``) into a handful of
normalised events that renderers consume, rebuilds the steps timeline as plain dicts, and resumes a
dropped stream from the last ``event_id``. Unknown event, step and delta types are skipped (logged at
debug level): the API keeps adding them. No IPython imports.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import GeminiAPIError, GeminiConnectionError

log = logging.getLogger(__name__)
TERMINAL_STATUSES = frozenset(
    {"completed", "failed", "cancelled", "incomplete", "requires_action", "budget_exceeded"}
)


@dataclass(frozen=True)
class Started:
    interaction_id: str


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ThoughtDelta:
    text: str


MEDIA_KINDS = ("image", "audio", "video")


@dataclass(frozen=True)
class MediaDelta:
    """A picture, sound or video, inline as the base64 text the wire carried (shared, not copied).

    ``kind`` is ``"image"``, ``"audio"`` or ``"video"``; ``mime_type`` is the server's word and is
    not trusted: renderers check it against their own allowlists.
    """

    kind: str
    base64_data: str | None
    mime_type: str | None
    uri: str | None = None


@dataclass(frozen=True)
class ToolActivity:
    """A tool step (search, URL context, code execution, ...) started (``stage="start"``) or grew."""

    kind: str
    detail: dict[str, Any]
    stage: str = "start"
    index: int | None = None


@dataclass(frozen=True)
class Citation:
    annotations: list[dict[str, Any]]


@dataclass(frozen=True)
class StatusChanged:
    status: str


@dataclass(frozen=True)
class Finished:
    interaction_id: str
    status: str
    usage: dict[str, Any]
    steps: list[dict[str, Any]]
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Retrying:
    """A call failed with ``status`` and will be tried again (attempt ``attempt`` of ``attempts``)
    after ``seconds``; ``message`` is the server's own word, with the key already scrubbed out."""

    seconds: float
    status: int
    message: str = ""
    attempt: int = 2
    attempts: int = 5

    @property
    def note(self) -> str:
        """One line for people: "rate limited; retrying in 3 s (attempt 2 of 5)"."""
        what = {429: "rate limited", 408: "request timed out", 409: "conflict"}.get(
            self.status, f"server error {self.status}"
        )
        wait = f"{self.seconds:.0f} s" if self.seconds >= 1 else f"{self.seconds:.1f} s"
        return f"{what}; retrying in {wait} (attempt {self.attempt} of {self.attempts})"


Event = (
    Started
    | TextDelta
    | ThoughtDelta
    | MediaDelta
    | ToolActivity
    | Citation
    | StatusChanged
    | Finished
    | Retrying
)


def media_of(block: dict[str, Any]) -> MediaDelta:
    """The media event for a wire content block of type image, audio or video."""
    return MediaDelta(block["type"], block.get("data"), block.get("mime_type"), block.get("uri"))


def _dump(model: Any) -> Any:
    if model is None:
        return None
    if hasattr(model, "to_dict"):
        return model.to_dict(mode="json", exclude_none=True)
    return model


class StepLog:
    """Rebuilds the generated steps (wire-shaped dicts) from start/delta/stop events."""

    def __init__(self) -> None:
        self.steps: dict[int, dict[str, Any]] = {}
        self._arguments: dict[int, list[str]] = {}

    def start(self, index: int, step: dict[str, Any]) -> None:
        self.steps[index] = dict(step)

    def add_text(self, index: int, text: str) -> None:
        content = self.steps.setdefault(index, {"type": "model_output"}).setdefault("content", [])
        if (
            content
            and content[-1].get("type") == "text"
            and "_parts" in content[-1]
            and not content[-1].get("annotations")
        ):
            content[-1]["_parts"].append(text)
        else:
            content.append({"type": "text", "_parts": [text]})

    def add_annotations(self, index: int, annotations: list[dict[str, Any]]) -> None:
        """Citations follow their block's text, so text after them starts a new block."""
        content = self.steps.setdefault(index, {"type": "model_output"}).setdefault("content", [])
        texts = [block for block in content if block.get("type") == "text"]
        if texts:
            texts[-1].setdefault("annotations", []).extend(annotations)

    def add_block(self, index: int, block: dict[str, Any]) -> None:
        self.steps.setdefault(index, {"type": "model_output"}).setdefault("content", []).append(block)

    def add_thought(self, index: int, block: dict[str, Any]) -> None:
        self.steps.setdefault(index, {"type": "thought"}).setdefault("summary", []).append(block)

    def add_arguments(self, index: int, fragment: str) -> None:
        self._arguments.setdefault(index, []).append(fragment)

    def merge(self, index: int, fields: dict[str, Any]) -> None:
        self.steps.setdefault(index, {}).update(fields)

    def finished(self) -> list[dict[str, Any]]:
        for index, fragments in self._arguments.items():
            try:
                self.steps.setdefault(index, {})["arguments"] = json.loads("".join(fragments))
            except json.JSONDecodeError:
                self.steps[index]["arguments"] = "".join(fragments)
        for step in self.steps.values():
            for block in step.get("content", []):
                if "_parts" in block:
                    block["text"] = "".join(block.pop("_parts"))
        return [self.steps[i] for i in sorted(self.steps)]


class StreamNormaliser:
    """Feeds on SDK stream events, yields normalised ones, and remembers where the stream got to."""

    def __init__(self) -> None:
        self.interaction_id: str | None = None
        self.last_event_id: str | None = None
        self.terminal = False
        self._announced = False
        self.log = StepLog()
        self._step_types: dict[int, str] = {}

    def feed(self, event: Any) -> Iterator[Event]:
        event_id = getattr(event, "event_id", None)
        if event_id:
            self.last_event_id = event_id
        kind = getattr(event, "event_type", None)
        if kind == "interaction.created":
            if not self._announced:  # a resumed stream may replay it
                self._announced = True
                self.interaction_id = self.interaction_id or event.interaction.id
                yield Started(self.interaction_id)
        elif kind == "interaction.status_update":
            yield StatusChanged(str(event.status))
        elif kind == "step.start":
            step = _dump(event.step) or {}
            self._step_types[event.index] = step.get("type", "")
            self.log.start(event.index, step)
            if step.get("type") not in ("model_output", "thought", "user_input"):
                yield ToolActivity(step.get("type", "unknown"), step, "start", event.index)
        elif kind == "step.delta":
            yield from self._delta(event.index, event.delta)
        elif kind == "interaction.completed":
            self.terminal = True
            interaction = event.interaction
            yield Finished(
                interaction_id=interaction.id or self.interaction_id or "",
                status=str(interaction.status),
                usage=_dump(interaction.usage) or {},
                steps=self.log.finished(),
                errors=[_dump(e) for e in (getattr(interaction, "errors", None) or [])],
            )
        elif kind == "error":
            self.terminal = True
            error = getattr(event, "error", None)
            raise GeminiAPIError(
                getattr(error, "message", None) or "the stream reported an error",
                code=getattr(error, "code", None),
                hint="the model stopped with an error; run the cell again",
            )
        elif kind != "step.stop":
            log.debug("skipping unknown stream event %r", kind or event)

    def _delta(self, index: int, delta: Any) -> Iterator[Event]:
        kind = getattr(delta, "type", None)
        if kind == "text":
            self.log.add_text(index, delta.text)
            yield TextDelta(delta.text)
        elif kind == "thought_summary":
            content = _dump(delta.content) or {}
            self.log.add_thought(index, content)
            if content.get("type") == "text":
                yield ThoughtDelta(content.get("text", ""))
        elif kind == "thought_signature":
            self.log.merge(index, {"signature": delta.signature})
        elif kind in MEDIA_KINDS:
            block = {"type": kind, "mime_type": delta.mime_type and str(delta.mime_type)}
            block.update({"data": delta.data} if delta.data else {"uri": delta.uri})
            self.log.add_block(index, block)
            yield MediaDelta(kind, delta.data, block["mime_type"], delta.uri)
        elif kind == "text_annotation_delta":
            annotations = [_dump(a) for a in (delta.annotations or [])]
            self.log.add_annotations(index, annotations)
            yield Citation(annotations)
        elif kind == "arguments_delta":
            self.log.add_arguments(index, delta.arguments or "")
        elif kind in (None, "UNKNOWN") or type(delta).__name__.startswith("Unknown"):
            log.debug("skipping unknown delta %r", delta)
        else:
            fields = {k: v for k, v in (_dump(delta) or {}).items() if k != "type"}
            self.log.merge(index, fields)
            yield ToolActivity(str(kind), fields, "delta", index)


def _resume_arguments(
    state: StreamNormaliser, resumes: int, max_resumes: int, dropped_by: BaseException | None
) -> dict[str, Any]:
    """The ``get`` arguments that resume a dropped stream, or the error once resuming is pointless."""
    if state.interaction_id is None or resumes >= max_resumes:
        why = f" ({dropped_by})" if dropped_by else ""
        raise GeminiConnectionError(
            f"the stream ended before the answer was complete{why}",
            hint=f"gave up after {resumes} resume(s); run it again",
        )
    log.info("stream dropped; resuming %s after %s", state.interaction_id, state.last_event_id)
    resume: dict[str, Any] = {"stream": True}
    if state.last_event_id:
        resume["last_event_id"] = state.last_event_id
    return resume


def stream_events(
    interactions: Any,
    request: dict[str, Any],
    *,
    max_resumes: int,
    translate: Callable[[BaseException], Exception],
) -> Iterator[Event]:
    """Create a streamed interaction and yield normalised events, resuming after drops.

    A drop is an ``APIConnectionError`` from the iterator or an end of stream with no terminal event;
    each is followed by ``get(id, stream=True, last_event_id=…)``, at most ``max_resumes`` times.
    """
    from google.genai import _interactions as sdk_errors

    state = StreamNormaliser()
    resumes = 0
    try:
        stream = interactions.create(**request, stream=True)
    except Exception as exc:
        raise translate(exc) from None
    while True:
        dropped_by: BaseException | None = None
        try:
            for raw in stream:
                yield from state.feed(raw)
                if state.terminal:
                    return
        except sdk_errors.APIConnectionError as exc:
            dropped_by = exc
        finally:
            stream.close()
        resume = _resume_arguments(state, resumes, max_resumes, dropped_by)
        resumes += 1
        try:
            stream = interactions.get(state.interaction_id, **resume)
        except Exception as exc:
            raise translate(exc) from None


def interaction_events(interaction: Any) -> Iterator[Event]:
    """Normalised events for a unary ``Interaction`` (``--no-stream``)."""
    yield Started(interaction.id)
    steps = [_dump(step) for step in (interaction.steps or [])]
    for step in steps:
        kind = step.get("type")
        if kind == "thought":
            for block in step.get("summary", []):
                if block.get("type") == "text":
                    yield ThoughtDelta(block.get("text", ""))
        elif kind == "model_output":
            for block in step.get("content", []):
                if block.get("type") == "text":
                    yield TextDelta(block.get("text", ""))
                    if block.get("annotations"):
                        yield Citation(block["annotations"])
                elif block.get("type") in MEDIA_KINDS:
                    yield media_of(block)
        elif kind != "user_input":
            yield ToolActivity(str(kind), step)
    yield Finished(
        interaction_id=interaction.id,
        status=str(interaction.status),
        usage=_dump(interaction.usage) or {},
        steps=steps,
        errors=[_dump(e) for e in (getattr(interaction, "errors", None) or [])],
    )


async def astream_events(
    interactions: Any,
    request: dict[str, Any] | None,
    *,
    max_resumes: int,
    translate: Callable[[BaseException], Exception],
    state: StreamNormaliser | None = None,
    existing_id: str | None = None,
) -> AsyncIterator[Event]:
    """:func:`stream_events` for the async client: cancelling the task stops a blocked read at once.

    With ``existing_id`` instead of a request, it streams an interaction that already runs (or ran)
    from its first event, as after a kernel restart. Pass ``state`` to read where the stream got to.
    """
    from google.genai import _interactions as sdk_errors

    state = state or StreamNormaliser()
    resumes = 0
    try:
        if existing_id is not None:
            state.interaction_id = existing_id
            stream = await interactions.get(existing_id, stream=True)
        else:
            stream = await interactions.create(**(request or {}), stream=True)
    except Exception as exc:
        raise translate(exc) from None
    while True:
        dropped_by: BaseException | None = None
        try:
            async for raw in stream:
                for event in state.feed(raw):
                    yield event
                if state.terminal:
                    return
        except sdk_errors.APIConnectionError as exc:
            dropped_by = exc
        finally:
            await stream.close()
        resume = _resume_arguments(state, resumes, max_resumes, dropped_by)
        resumes += 1
        try:
            stream = await interactions.get(state.interaction_id, **resume)
        except Exception as exc:
            raise translate(exc) from None

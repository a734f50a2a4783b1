"""The only module that knows the wire shapes of Interactions responses and stream events.

It turns the SDK's ``InteractionSSEEvent`` stream (or a unary ``Interaction``) into a handful of
normalised events that renderers consume, rebuilds the steps timeline as plain dicts, and resumes a
dropped stream exactly: what was already received is skipped, whatever the server replays. Unknown
event, step and delta types are skipped (logged at debug level): the API keeps adding them. No
IPython imports.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import decode, sdk
from .errors import GeminiAPIError, GeminiConnectionError

log = logging.getLogger(__name__)


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
class FunctionCalled:
    """One of the user's Python functions ran for the model (or was refused: ``is_error``).

    Not a wire event: the turn's function loop (``core/turns.py``) makes it after the call, with the
    arguments as the model sent them and the result as it goes back; renderers show it collapsed.
    """

    name: str
    arguments: Any
    result: Any
    is_error: bool = False
    call_id: str = ""
    declined: bool = False


@dataclass(frozen=True)
class Citation:
    """Annotations (citations) of one text block, whose offsets are UTF-8 bytes into that block.

    ``offset`` is where the block starts in the turn's answer text (all ``TextDelta`` s joined), in
    characters, and ``length`` its length then, so renderers can place markers in text already shown.
    """

    annotations: list[dict[str, Any]]
    offset: int | None = None
    length: int | None = None


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
    | FunctionCalled
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
    """Rebuilds the generated steps (wire-shaped dicts) from start/delta/stop events.

    :meth:`snapshot` can be read at any time (a failed turn keeps what arrived); it never changes
    the log.
    """

    def __init__(self) -> None:
        self.steps: dict[int, dict[str, Any]] = {}
        self._arguments: dict[int, list[str]] = {}

    def start(self, index: int, step: dict[str, Any]) -> None:
        self.steps[index] = dict(step)

    def add_text(self, index: int, text: str, at: int = 0) -> None:
        """Add text to the step's last text block, or start one at answer position ``at``."""
        content = self.steps.setdefault(index, {"type": "model_output"}).setdefault("content", [])
        if (
            content
            and content[-1].get("type") == "text"
            and "_parts" in content[-1]
            and not content[-1].get("annotations")
        ):
            content[-1]["_parts"].append(text)
        else:
            content.append({"type": "text", "_parts": [text], "_at": at})

    def text_block(self, index: int) -> tuple[int, int] | None:
        """Where the step's last text block starts in the answer, and its length so far."""
        content = self.steps.get(index, {}).get("content") or []
        texts = [block for block in content if block.get("type") == "text" and "_parts" in block]
        if not texts:
            return None
        return texts[-1].get("_at", 0), sum(map(len, texts[-1]["_parts"]))

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

    def snapshot(self) -> list[dict[str, Any]]:
        """The steps so far, text joined and streamed arguments parsed; the log is left as it is."""
        steps = []
        for index in sorted(self.steps.keys() | self._arguments.keys()):
            step = dict(self.steps.get(index, {"type": "function_call"}))
            if "content" in step:
                step["content"] = [_settled(block) for block in step["content"]]
            if "summary" in step:
                step["summary"] = list(step["summary"])
            fragments = self._arguments.get(index)
            if fragments:
                joined = "".join(fragments)
                try:
                    step["arguments"] = json.loads(joined)
                except json.JSONDecodeError:
                    step["arguments"] = joined
            steps.append(step)
        return steps

    finished = snapshot


def _settled(block: dict[str, Any]) -> dict[str, Any]:
    if "_parts" not in block:
        return dict(block)
    settled = {"type": block.get("type", "text"), "text": "".join(block["_parts"])}
    settled.update(
        (k, list(v) if k == "annotations" else v) for k, v in block.items() if k not in ("_parts", "_at")
    )
    return settled


class StreamNormaliser:
    """Feeds on SDK stream events, yields normalised ones, and remembers where the stream got to.

    Resuming is exact whatever the server replays (after the named event, from it, from the very
    start, or an event twice), because what was already received is skipped rather than trusted
    to be absent. Each step event has a *position* within its step: ``step.start`` is 0 (what it
    carries counts as the step's first delta), its deltas 1, 2, ... A replayed event is recognised

    * by its ``event_id`` when the server sends ids: a known id is skipped, and anchors its step's
      position, so the deltas after it are counted from there;
    * else by its step: a ``step.start`` for a step already started anchors that step at 0 (it is
      not announced again), and the deltas of an anchored step at positions already received are
      skipped. A delta of a step with no anchor in this delivery (the server resumed after it) is new.

    Call :meth:`new_delivery` before reading each (re)connection. ``progress`` counts the events that
    brought something new, so callers can tell a resume that helped from one that did not.
    """

    def __init__(self) -> None:
        self.interaction_id: str | None = None
        self.resume_id: str | None = None  # the hop to resume (automatic continuation adds hops)
        self.last_event_id: str | None = None
        self.terminal = False
        self.progress = 0
        self.log = StepLog()
        self.text_chars = 0  # characters of answer text yielded so far (where citations are placed)
        self._announced = False
        self._status: str | None = None
        self._seen: dict[str, tuple[int, int] | None] = {}  # event id -> (step, position) or None
        self._received: dict[int, int] = {}  # step -> positions received (start included)
        self._cursor: dict[int, int] = {}  # step -> next position, for steps anchored in this delivery
        self._hop_offset = 0  # log index of this hop's step 0
        self._latest: int | None = None  # the step most recently started
        self._delivery_latest: int | None = None
        # (token, hop id) when a hop ended with requires_continuation: the next hop continues it
        self.continuation: tuple[str, str | None] | None = None

    def new_delivery(self) -> None:
        """A (re)connection starts: no step is anchored in it yet."""
        self._cursor.clear()
        self._delivery_latest = None

    def feed(self, event: Any) -> Iterator[Event]:
        event_id = getattr(event, "event_id", None) or None
        kind = getattr(event, "event_type", None)
        if event_id is not None:
            self.last_event_id = event_id
            if event_id in self._seen:  # a replay: skip it, but know where the stream is now
                anchor = self._seen[event_id]
                if anchor is not None:
                    self._cursor[anchor[0]] = anchor[1] + 1
                return
            self._seen[event_id] = None
        if kind == "interaction.created":
            yield from self._created(event)
        elif kind == "interaction.status_update":
            token = getattr(event, "continuation_token", None)
            if token and getattr(event, "status", None) == "requires_continuation":
                self.continuation = (token, getattr(event, "interaction_id", None) or self.resume_id)
            status = str(getattr(event, "status", "") or "")
            if status and status != self._status:
                self._status = status
                yield StatusChanged(status)
        elif kind == "step.start":
            yield from self._start(event, event_id)
        elif kind == "step.delta":
            yield from self._step_delta(event, event_id)
        elif kind == "interaction.completed":
            yield from self._completed(event)
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

    # -- events ------------------------------------------------------------------------------------
    def _created(self, event: Any) -> Iterator[Event]:
        interaction_id = getattr(getattr(event, "interaction", None), "id", None) or None
        if interaction_id and self.resume_id and interaction_id != self.resume_id:
            # Automatic continuation: a new hop whose step indexes start again at 0.
            self._hop_offset = max(self.log.steps, default=-1) + 1
            self._received, self._cursor = {}, {}
            self._latest = self._delivery_latest = None
        self.resume_id = interaction_id or self.resume_id
        if not self._announced and (interaction_id or self.interaction_id):
            self._announced = True
            self.interaction_id = self.interaction_id or interaction_id
            self.progress += 1
            yield Started(self.interaction_id or "")

    def _start(self, event: Any, event_id: str | None) -> Iterator[Event]:
        index = getattr(event, "index", None)
        if not isinstance(index, int):
            latest = self._delivery_latest if self._delivery_latest is not None else self._latest
            index = 0 if latest is None else latest + 1
        self._latest = self._delivery_latest = index
        if event_id is not None:
            self._seen[event_id] = (index, 0)
        self._cursor[index] = 1
        if index in self._received:  # replayed: already announced, its content already kept
            return
        self._received[index] = 1
        self.progress += 1
        step = _dump(getattr(event, "step", None)) or {}
        yield from self._start_content(self._hop_offset + index, step)

    def _start_content(self, at: int, step: dict[str, Any]) -> Iterator[Event]:
        """Announce a step; text, thoughts or media inside ``step.start`` are its first delta."""
        kind = step.get("type", "")
        if kind == "model_output":
            self.log.start(at, {k: v for k, v in step.items() if k != "content"})
            for block in step.get("content") or []:
                yield from self._content_block(at, block)
        elif kind == "thought":
            self.log.start(at, {k: v for k, v in step.items() if k != "summary"})
            for block in step.get("summary") or []:
                self.log.add_thought(at, block)
                if block.get("type") == "text" and block.get("text"):
                    yield ThoughtDelta(block["text"])
        else:
            self.log.start(at, step)
            if kind != "user_input":
                yield ToolActivity(kind or "unknown", step, "start", at)
                yield from result_media(step)

    def _text(self, at: int, text: str) -> TextDelta:
        self.log.add_text(at, text, self.text_chars)
        self.text_chars += len(text)
        return TextDelta(text)

    def _citation(self, at: int, annotations: list[dict[str, Any]]) -> Citation:
        block = self.log.text_block(at)
        self.log.add_annotations(at, annotations)
        return Citation(annotations, *(block or (None, None)))

    def _content_block(self, at: int, block: dict[str, Any]) -> Iterator[Event]:
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            if isinstance(text, str) and text:
                yield self._text(at, text)
            if block.get("annotations"):
                yield self._citation(at, block["annotations"])
        elif kind in MEDIA_KINDS:
            self.log.add_block(at, dict(block))
            yield media_of(block)
        elif kind is not None:
            self.log.add_block(at, dict(block))

    def _step_delta(self, event: Any, event_id: str | None) -> Iterator[Event]:
        index = getattr(event, "index", None)
        if not isinstance(index, int):
            latest = self._delivery_latest if self._delivery_latest is not None else self._latest
            index = 0 if latest is None else latest
        received = self._received.setdefault(index, 1)  # a delta with no start: its start was 0
        position = self._cursor.get(index, received)
        self._cursor[index] = position + 1
        if event_id is not None:
            self._seen[event_id] = (index, position)
        if position < received:
            return  # replayed
        self._received[index] = position + 1
        self.progress += 1
        yield from self._delta(self._hop_offset + index, getattr(event, "delta", None))

    def _completed(self, event: Any) -> Iterator[Event]:
        interaction = getattr(event, "interaction", None)
        status = str(getattr(interaction, "status", None) or "completed")
        if status == "requires_continuation":  # a new hop continues it (as the SDK does)
            token = getattr(interaction, "continuation_token", None)
            if token:
                self.continuation = (token, getattr(interaction, "id", None) or self.resume_id)
            return
        self.terminal = True
        self.progress += 1
        yield Finished(
            interaction_id=getattr(interaction, "id", None) or self.resume_id or self.interaction_id or "",
            status=status,
            usage=_dump(getattr(interaction, "usage", None)) or {},
            steps=self.log.snapshot(),
            errors=[_dump(e) for e in (getattr(interaction, "errors", None) or [])],
        )

    def _delta(self, index: int, delta: Any) -> Iterator[Event]:
        kind = getattr(delta, "type", None)
        if kind == "text":
            text = getattr(delta, "text", None)
            if isinstance(text, str) and text:  # a null or empty text is nothing
                yield self._text(index, text)
        elif kind == "thought_summary":
            content = _dump(getattr(delta, "content", None)) or {}
            if not content:
                return
            self.log.add_thought(index, content)
            if content.get("type") == "text" and content.get("text"):
                yield ThoughtDelta(content["text"])
        elif kind == "thought_signature":
            if getattr(delta, "signature", None):
                self.log.merge(index, {"signature": delta.signature})
        elif kind in MEDIA_KINDS:
            data, uri = getattr(delta, "data", None), getattr(delta, "uri", None)
            mime = getattr(delta, "mime_type", None)
            block = {"type": kind, "mime_type": mime and str(mime)}
            block.update({"data": data} if data else {"uri": uri})
            self.log.add_block(index, block)
            yield MediaDelta(kind, data, block["mime_type"], uri)
        elif kind == "text_annotation_delta":
            annotations = [_dump(a) for a in (getattr(delta, "annotations", None) or [])]
            if annotations:
                yield self._citation(index, annotations)
        elif kind == "arguments_delta":
            self.log.add_arguments(index, getattr(delta, "arguments", None) or "")
        elif kind in (None, "UNKNOWN") or type(delta).__name__.startswith("Unknown"):
            log.debug("skipping unknown delta %r", delta)
        else:
            fields = {k: v for k, v in (_dump(delta) or {}).items() if k != "type"}
            self.log.merge(index, fields)
            yield ToolActivity(str(kind), fields, "delta", index)
            yield from result_media(fields)


def result_media(step: dict[str, Any]) -> Iterator[MediaDelta]:
    """Pictures (and sound, video) inside a tool's result, e.g. a chart a code run drew."""
    result = step.get("result")
    if isinstance(result, list):
        for block in result:
            if isinstance(block, dict) and block.get("type") in MEDIA_KINDS:
                yield media_of(block)


def stall_options(stall_timeout: float | None) -> dict[str, Any]:
    """The per-call ``timeout=`` that makes a read waiting over ``stall_timeout`` s raise
    ``APITimeoutError`` (the SDK's own timeout is unset: a silent stream would block forever)."""
    if not stall_timeout:
        return {}
    import httpx

    return {"timeout": httpx.Timeout(stall_timeout)}


class Resumer:
    """Decides whether a dropped stream is resumed, and with which ``get`` arguments.

    Resumes are counted as *consecutive failures without progress*: a delivery that brought
    something new resets the count, so a long run survives many drops while a server that keeps
    failing (or keeps replaying what we have) is given up on after ``max_resumes`` tries.
    """

    def __init__(self, state: StreamNormaliser, max_resumes: int, stall_timeout: float | None) -> None:
        self.state = state
        self.max_resumes = max_resumes
        self.stall_timeout = stall_timeout
        self.failures = 0
        self.resumes = 0
        self._progress_mark = state.progress

    def call_options(self) -> dict[str, Any]:
        return stall_options(self.stall_timeout)

    def delivery_started(self) -> None:
        self.state.new_delivery()
        self._progress_mark = self.state.progress

    def after_drop(self, dropped_by: BaseException | None) -> tuple[str, dict[str, Any]]:
        """The id and ``get`` arguments that resume, or the error once resuming is pointless."""
        sdk_errors = sdk.errors()

        state = self.state
        if state.progress > self._progress_mark:
            self.failures = 0
        stalled = isinstance(dropped_by, sdk_errors.APITimeoutError)
        target = state.resume_id or state.interaction_id
        if target is None or self.failures >= self.max_resumes:
            tries = f"gave up after {self.resumes} resume(s)"
            if stalled and self.stall_timeout:
                raise GeminiConnectionError(
                    f"the stream stalled: no data for {self.stall_timeout:g} s",
                    hint=f"{tries}; raise GeminiMagics.stall_timeout or check the network",
                )
            why = f" ({dropped_by})" if dropped_by else ""
            raise GeminiConnectionError(
                f"the stream ended before the answer was complete{why}",
                hint=f"{tries}; run it again",
            )
        self.failures += 1
        self.resumes += 1
        log.info(
            "stream %s; resuming %s after %s",
            "stalled" if stalled else "dropped",
            target,
            state.last_event_id,
        )
        resume: dict[str, Any] = {"stream": True, **self.call_options()}
        if state.last_event_id:
            resume["last_event_id"] = state.last_event_id
        return target, resume


class _Open:
    """Ask the driver to send ``method`` (``create`` or ``get``) and hand back its raw response."""

    __slots__ = ("args", "kwargs", "method")

    def __init__(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.method, self.args, self.kwargs = method, args, kwargs


class _Read:
    """Ask the driver for the next chunk of the open body (``None`` at its end)."""

    __slots__ = ()


class _Close:
    """Ask the driver to close the open response."""

    __slots__ = ()


class _Parse:
    """Ask the driver to parse a response that is not an event stream, the SDK's way."""

    __slots__ = ()


class _Headers:
    """Ask the driver for the open response (to read its content type)."""

    __slots__ = ()


class _Drain:
    """The stream is over: read what is left of the body if it comes at once (see ``DRAIN_SECONDS``)."""

    __slots__ = ()


READ, CLOSE, PARSE, READ_HEADERS, DRAIN = _Read(), _Close(), _Parse(), _Headers(), _Drain()
Step = Any  # _Open, READ, CLOSE, PARSE, READ_HEADERS, DRAIN, or a list of events to pass on

# After the terminal event the rest of the body (the chunked terminator, a ``[DONE]`` line) usually
# comes in the same packet. Reading it lets the connection go back to the pool, so the next request
# of a batch skips a new connection (a TLS handshake, on the real API); a server that keeps the
# stream open instead costs at most this long, then the connection is closed as before.
DRAIN_SECONDS = 0.025


class ResumeLoop:
    """The resume loop, once, for the sync and the async client (as ``llm``'s ``_BaseResponse``
    holds what its sync and async responses share): :meth:`run` is a generator that says what to
    do next (open a response, read a chunk, close, or pass on a list of events) and is told what
    happened; :func:`stream_events` and :func:`astream_events` only carry its requests out.

    It frames and decodes the body itself (:mod:`.decode`: one cached model, not the SDK's model
    class per event), normalises events into ``state``, follows automatic continuation hops as the
    SDK does for model calls, and after a drop or a stall asks for ``get(id, stream=True,
    last_event_id=…)`` while resuming makes progress (see :class:`Resumer`).
    """

    def __init__(
        self,
        request: dict[str, Any] | None,
        *,
        max_resumes: int,
        translate: Callable[[BaseException], Exception],
        state: StreamNormaliser | None = None,
        existing_id: str | None = None,
        stall_timeout: float | None = None,
    ) -> None:
        self.request = request or {}
        self.translate = translate
        self.state = state if state is not None else StreamNormaliser()
        self.resumer = Resumer(self.state, max_resumes, stall_timeout)
        self.existing_id = existing_id
        self.continues = (
            existing_id is None
            and not self.request.get("background")
            and not self.request.get("agent")
            and not self.request.get("agent_config")
        )

    def first(self) -> _Open:
        options = self.resumer.call_options()
        if self.existing_id is not None:
            self.state.interaction_id = self.state.resume_id = self.existing_id
            return _Open("get", (self.existing_id,), {"stream": True, **options})
        return _Open("create", (), {**self.request, "stream": True, **options})

    def run(self) -> Generator[Step, Any, None]:
        sdk_errors = sdk.errors()

        state = self.state
        call = self.first()
        while True:
            try:
                yield call
            except Exception as exc:
                raise self.translate(exc) from None
            dropped_by: BaseException | None = None
            self.resumer.delivery_started()
            try:
                if not _is_event_stream((yield READ_HEADERS)):
                    yield from self._not_a_stream()
                    return
                yield from self._read_body()
                if state.terminal:
                    yield DRAIN
                    return
            except sdk_errors.APIConnectionError as exc:
                dropped_by = exc
            yield CLOSE  # on any other way out, the driver closes what is open
            call = self._next(dropped_by)

    def _read_body(self) -> Generator[Step, Any, None]:
        state, parser = self.state, decode.SSEParser()
        while True:
            try:
                chunk = yield READ
            except sdk.transport_errors() as exc:
                raise sdk.transport_error(exc) from exc
            payloads = parser.feed(chunk) if chunk is not None else parser.finish()
            events: list[Event] = []
            try:
                for payload in payloads:
                    events.extend(state.feed(decode.decode_event(payload)))
                    if state.terminal:
                        break
            finally:
                if events:
                    yield events
            if chunk is None or parser.done or state.terminal:
                return

    def _not_a_stream(self) -> Generator[Step, Any, None]:
        """A 200 that is not an event stream: the SDK's parse decides (an ``Interaction``, or its
        ``APIError`` for a body it cannot read)."""
        try:
            interaction = yield PARSE
        except Exception as exc:
            raise self.translate(exc) from None
        self.state.terminal = True
        yield list(interaction_events(interaction))

    def _next(self, dropped_by: BaseException | None) -> _Open:
        """The call after a delivery ended without a terminal event: the next continuation hop, or
        a resume (or the error once resuming is pointless)."""
        hop = self.state.continuation
        if hop is not None and dropped_by is None and self.continues:
            self.state.continuation = None
            token, owner = hop
            body = {**self.request, "continuation_token": token}
            if owner and self.request.get("store") is not False:
                body["previous_interaction_id"] = owner
                body.pop("input", None)
            return _Open("create", (), {**body, "stream": True, **self.resumer.call_options()})
        target, resume = self.resumer.after_drop(dropped_by)
        return _Open("get", (target,), resume)


def _is_event_stream(response: Any) -> bool:
    content_type = str(response.headers.get("content-type", ""))
    return content_type.partition(";")[0].strip().lower() == "text/event-stream"


def stream_events(
    interactions: Any,
    request: dict[str, Any],
    *,
    max_resumes: int,
    translate: Callable[[BaseException], Exception],
    state: StreamNormaliser | None = None,
    stall_timeout: float | None = None,
) -> Iterator[Event]:
    """Create a streamed interaction and yield normalised events, resuming after drops (the
    :class:`ResumeLoop` driven by the sync client). Pass ``state`` to read what arrived when the
    stream fails."""
    opener = getattr(interactions, "open_stream", None) or functools.partial(sdk.open_stream, interactions)
    loop = ResumeLoop(
        request, max_resumes=max_resumes, translate=translate, state=state, stall_timeout=stall_timeout
    )
    machine = loop.run()
    response: Any = None
    chunks: Iterator[bytes] = iter(())
    reply: Any = None
    failed: BaseException | None = None
    try:
        while True:
            try:
                step = machine.throw(failed) if failed is not None else machine.send(reply)
            except StopIteration:
                return
            reply = failed = None
            try:
                if step is READ:
                    reply = next(chunks, None)
                elif type(step) is list:
                    yield from step
                elif step is DRAIN:
                    draining, response = response, None  # the helper thread closes it
                    _drain_aside(draining, chunks)
                elif step is READ_HEADERS:
                    reply = response
                elif isinstance(step, _Open):
                    response = opener(step.method, *step.args, **step.kwargs)
                    chunks = response.http_response.iter_bytes()
                elif step is CLOSE:
                    closing, response = response, None
                    closing.close()
                elif step is PARSE:
                    reply = response.parse()
            except Exception as exc:  # noqa: BLE001 - the loop decides what a failure means
                failed = exc
    finally:
        machine.close()
        if response is not None:
            response.close()


def interaction_events(interaction: Any) -> Iterator[Event]:
    """Normalised events for a unary ``Interaction`` (``--no-stream``)."""
    yield Started(interaction.id)
    steps = [_dump(step) for step in (interaction.steps or [])]
    chars = 0
    for index, step in enumerate(steps):
        kind = step.get("type")
        if kind == "thought":
            for block in step.get("summary") or []:
                if block.get("type") == "text" and block.get("text"):
                    yield ThoughtDelta(block["text"])
        elif kind == "model_output":
            for block in step.get("content") or []:
                if block.get("type") == "text":
                    text = block.get("text") or ""
                    if text:
                        yield TextDelta(text)
                    if block.get("annotations"):
                        yield Citation(block["annotations"], chars, len(text))
                    chars += len(text)
                elif block.get("type") in MEDIA_KINDS:
                    yield media_of(block)
        elif kind != "user_input":
            yield ToolActivity(str(kind), step, "start", index)
            yield from result_media(step)
    yield Finished(
        interaction_id=interaction.id,
        status=str(interaction.status),
        usage=_dump(interaction.usage) or {},
        steps=steps,
        errors=[_dump(e) for e in (getattr(interaction, "errors", None) or [])],
    )


def _drain_aside(response: Any, chunks: Iterator[bytes]) -> None:
    """:func:`_drain` for the sync client, whose reads have no deadline of their own: a helper thread
    reads the rest of the body and closes the response. The turn waits ``DRAIN_SECONDS`` for it (so
    the connection is back in the pool for its next request), then goes on; a server that keeps the
    stream open holds only the helper, until the stream's own read timeout."""
    import threading

    def drain() -> None:
        # the stream is over: whatever goes wrong now only costs the connection
        with contextlib.suppress(Exception):
            for _ in chunks:
                pass
        with contextlib.suppress(Exception):
            response.close()

    helper = threading.Thread(target=drain, name="gemini-drain", daemon=True)
    helper.start()
    helper.join(DRAIN_SECONDS)


async def _drain(chunks: AsyncIterator[bytes] | None) -> None:
    import asyncio

    if chunks is None:
        return
    gave_up: tuple[type[BaseException], ...] = (TimeoutError, *sdk.transport_errors())
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in chunks:
                pass
    except gave_up:
        pass  # the response is closed next, and its connection with it


async def astream_events(
    interactions: Any,
    request: dict[str, Any] | None,
    *,
    max_resumes: int,
    translate: Callable[[BaseException], Exception],
    state: StreamNormaliser | None = None,
    existing_id: str | None = None,
    stall_timeout: float | None = None,
) -> AsyncIterator[Event]:
    """:func:`stream_events` for the async client: cancelling the task stops a blocked read at once.

    With ``existing_id`` instead of a request, it streams an interaction that already runs (or ran)
    from its first event, as after a kernel restart. Pass ``state`` to read where the stream got to.
    """
    opener = getattr(interactions, "open_stream", None) or functools.partial(sdk.aopen_stream, interactions)
    loop = ResumeLoop(
        request,
        max_resumes=max_resumes,
        translate=translate,
        state=state,
        existing_id=existing_id,
        stall_timeout=stall_timeout,
    )
    machine = loop.run()
    response: Any = None
    chunks: AsyncIterator[bytes] | None = None
    reply: Any = None
    failed: BaseException | None = None
    try:
        while True:
            try:
                step = machine.throw(failed) if failed is not None else machine.send(reply)
            except StopIteration:
                return
            reply = failed = None
            try:
                if step is READ:
                    reply = await anext(chunks, None) if chunks is not None else None
                elif type(step) is list:
                    for event in step:
                        yield event
                elif step is DRAIN:
                    await _drain(chunks)
                elif step is READ_HEADERS:
                    reply = response
                elif isinstance(step, _Open):
                    response = await opener(step.method, *step.args, **step.kwargs)
                    chunks = response.http_response.aiter_bytes()
                elif step is CLOSE:
                    closing, response = response, None
                    await closing.close()
                elif step is PARSE:
                    reply = await response.parse()
            except Exception as exc:  # noqa: BLE001 - the loop decides what a failure means
                failed = exc
    finally:
        machine.close()
        if response is not None:
            await response.close()

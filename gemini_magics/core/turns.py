"""Running one turn of a thread, with no display: the cell magic, chat panels and research share it.

A turn's result is built from the normalised events, and the turn joins its thread only when the
interaction completed. A turn that offers the user's Python functions may be several interactions:
while one ends ``requires_action``, the calls it asks for run in the kernel (:class:`FunctionRounds`)
and their results continue the chain, up to ``max_tool_rounds`` rounds; the turn joins its thread
once, at the end, with the last interaction as the thread's head.

Cells run turns synchronously (a kernel interrupt stops them). Background
turns are :class:`~.background.BackgroundStream` s: the async client on a worker thread with its own
event loop, so ``stop()`` cancels the task and interrupts even a read that is waiting on the network.
No IPython imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from . import events as ev
from .background import BackgroundStream
from .client import Connection
from .errors import FunctionRoundsExceeded, GeminiError, GeminiSchemaError, is_cancellation
from .functions import CallOutcome, Confirm, FunctionTools, function_calls
from .request import TurnOptions, build_request
from .results import GeminiResult, GeneratedImage, GeneratedMedia
from .threads import Slot, Thread, Turn

EventSink = Callable[[ev.Event], None]


def _unchanged(value: Any) -> Any:
    return value


class TurnRecorder:
    """Builds a :class:`GeminiResult` from a turn's events.

    :meth:`add` records an event and returns it unchanged, for the renderers: nothing is copied per
    delta. The key is scrubbed where server text is joined or shown: :meth:`close` scrubs the whole
    answer, thoughts, steps and errors (``scrub`` is the connection's), which also catches a key that
    arrived split across deltas; renderers scrub what they display; an in-stream error's message is
    redacted where it is raised.
    """

    def __init__(
        self,
        result: GeminiResult,
        scrub: Callable[[Any], Any] = _unchanged,
        origin_of: Callable[[str | None], str] | None = None,
    ) -> None:
        self.result = result
        self.scrub = scrub
        self.origin_of = origin_of  # live, offline or replayed, once the interaction has an id
        self._text: list[str] = []
        self._thoughts: list[str] = []
        self._earlier_steps: list[dict[str, Any]] = []  # rounds before this one, and results sent
        self._earlier_usage: dict[str, Any] = {}
        self._round_start = 0  # where the last round's text starts in _text

    def add(self, event: ev.Event) -> ev.Event:
        """Record ``event``; returns it, for the renderers."""
        result = self.result
        if type(event) is ev.TextDelta:  # the common case first
            self._text.append(event.text)
        elif isinstance(event, ev.ThoughtDelta):
            self._thoughts.append(event.text)
        elif isinstance(event, ev.Started):
            result.interaction_id = event.interaction_id
            if self.origin_of is not None:
                result.origin = self.origin_of(event.interaction_id)
        elif isinstance(event, ev.MediaDelta):
            self._add_media(event)
        elif isinstance(event, ev.Finished):
            result.interaction_id = event.interaction_id or result.interaction_id
            result.status = event.status
            result.usage = _summed(self._earlier_usage, event.usage)
            result.steps = self._earlier_steps + event.steps
            result.errors = event.errors
        return event

    def next_round(self, sent: list[dict[str, Any]]) -> None:
        """A round of function calls ended: its steps and the results ``sent`` stay in the result's
        timeline, its usage is added to the next round's."""
        self._earlier_steps = [*self.result.steps, *sent]
        self._earlier_usage = dict(self.result.usage)
        self._round_start = len(self._text)

    def parse(self, options: TurnOptions, secrets: list[str]) -> None:
        """A completed turn that asked for JSON: its last round's text (earlier rounds asked for
        function calls) validated into ``result.parsed``; raises GeminiSchemaError, key redacted."""
        schema = options.output_schema
        if schema is None or self.result.status != "completed":
            return
        try:
            self.result.parsed = schema.parse(self.scrub("".join(self._text[self._round_start :])))
        except GeminiSchemaError as exc:
            raise exc.redacted(secrets) from None

    def _add_media(self, event: ev.MediaDelta) -> None:
        mime = event.mime_type or ""
        if event.kind == "image":
            images = self.result.images
            images.append(GeneratedImage(event.base64_data, mime or "image/png", event.uri, len(images) + 1))
            return
        kept = self.result.audio if event.kind == "audio" else self.result.videos
        kept.append(GeneratedMedia(event.base64_data, mime, event.uri, len(kept) + 1, event.kind))

    def close(
        self, *, failed: BaseException | None = None, state: ev.StreamNormaliser | None = None
    ) -> GeminiResult:
        """Settle the text and the status, also when the turn ended early (``state``: its steps)."""
        result = self.result
        result.text, result.thoughts = self.scrub("".join(self._text)), self.scrub("".join(self._thoughts))
        if failed is not None and state is not None and not result.steps:
            result.steps = state.log.snapshot()
        result.steps, result.errors = self.scrub(result.steps), self.scrub(result.errors)
        if failed is not None and result.status in ("in_progress", "completed", "requires_action"):
            if isinstance(failed, FunctionRoundsExceeded):
                return result
            stopped = isinstance(failed, KeyboardInterrupt) or is_cancellation(failed)
            result.status = "incomplete" if stopped else "failed"
        elif result.status == "in_progress":
            result.status = "incomplete"
        return result


def _summed(earlier: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    """Usage over the rounds of a turn: the counts added up (as the SDK merges continuation hops)."""
    if not earlier:
        return usage
    total = dict(usage)
    for key, value in earlier.items():
        if isinstance(value, int) and isinstance(total.get(key, 0), int):
            total[key] = total.get(key, 0) + value
    return total


class FunctionRounds:
    """The function loop of one turn: after an interaction ends ``requires_action``, run the calls it
    asks for (only the turn's own functions, see :class:`~.functions.FunctionTools`), show each one,
    and give the options that send the results back on the chain; ``None`` when the turn is over.

    The cap counts rounds of calls: once ``options.max_tool_rounds`` rounds have run and the model
    still asks for more, :class:`~.errors.FunctionRoundsExceeded` ends the turn without calling them.
    """

    def __init__(self, options: TurnOptions, confirm: Confirm | None = None) -> None:
        self.options = options
        self.tools = FunctionTools(options.functions)
        self.confirm = confirm if options.confirm else None
        self.rounds = 0

    def calls(self, finished: ev.Finished | None) -> list[dict[str, Any]]:
        """The calls to run after ``finished`` (none: the turn is over); raises at the cap."""
        if finished is None or finished.status != "requires_action" or not self.tools:
            return []
        calls = function_calls(finished.steps)
        if calls and self.rounds >= self.options.max_tool_rounds:
            raise FunctionRoundsExceeded(self.rounds)
        return calls

    def next_options(
        self, finished: ev.Finished, outcomes: list[CallOutcome], recorder: TurnRecorder
    ) -> TurnOptions:
        """The options of the next round: the results, sent after the interaction that asked."""
        self.rounds += 1
        sent = [outcome.step for outcome in outcomes]
        recorder.next_round(sent)
        return replace(
            self.options,
            previous_interaction_id=finished.interaction_id,
            input_steps=tuple(sent),
            attachments=(),
        )

    def run(
        self, finished: ev.Finished | None, recorder: TurnRecorder, on_event: EventSink
    ) -> TurnOptions | None:
        """Run the round's calls here, in order (a cell: the kernel's own thread)."""
        calls = self.calls(finished)
        if not calls or finished is None:
            return None
        outcomes = []
        for step in calls:
            outcome = self.tools.call(step, self.confirm)
            on_event(recorder.add(called(outcome)))
            outcomes.append(outcome)
        return self.next_options(finished, outcomes, recorder)

    async def arun(
        self, finished: ev.Finished | None, recorder: TurnRecorder, on_event: EventSink
    ) -> TurnOptions | None:
        """:meth:`run` on a worker's event loop (a panel): sync functions run in a helper thread."""
        calls = self.calls(finished)
        if not calls or finished is None:
            return None
        outcomes = []
        for step in calls:
            outcome = await self.tools.acall(step, self.confirm)
            on_event(recorder.add(called(outcome)))
            outcomes.append(outcome)
        return self.next_options(finished, outcomes, recorder)


def called(outcome: CallOutcome) -> ev.FunctionCalled:
    call = outcome.call
    return ev.FunctionCalled(
        call.name, call.arguments, outcome.result, outcome.is_error, call.call_id, outcome.declined
    )


class TurnRunner:
    """Sends turns for one kernel's connection and keeps their threads consistent."""

    def __init__(
        self,
        connection: Connection,
        max_resumes: Callable[[], int],
        stall_timeout: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.connection = connection
        self.max_resumes = max_resumes
        self.stall_timeout = stall_timeout

    def events(
        self,
        options: TurnOptions,
        *,
        unary: bool = False,
        state: ev.StreamNormaliser | None = None,
        on_retry: EventSink | None = None,
    ) -> Iterator[ev.Event]:
        """The turn's normalised events; a unary call waits for the whole answer (no stall timeout:
        the server sends nothing until it is done, so silence is not a stall)."""
        interactions = self._interactions(on_retry)
        request = build_request(options)
        if unary:
            try:
                interaction = interactions.create(**request)
            except Exception as exc:
                raise self.connection.translate(exc) from None
            return ev.interaction_events(interaction)
        return ev.stream_events(
            interactions,
            request,
            max_resumes=self.max_resumes(),
            translate=self.connection.translate,
            state=state,
            stall_timeout=self.stall_timeout(),
        )

    def _interactions(self, on_retry: EventSink | None) -> Any:
        try:
            return self.connection.interactions(on_retry)
        except Exception as exc:  # building the client can fail on a malformed base URL
            raise self.connection.translate(exc) from None

    def run(
        self,
        thread: Thread,
        options: TurnOptions,
        result: GeminiResult,
        *,
        on_event: EventSink,
        slot: Slot | None = None,
        unary: bool = False,
        confirm: Confirm | None = None,
    ) -> GeminiResult:
        """One turn in the calling thread; raises ThreadBusy when the thread has a turn running.

        ``slot`` is where the turn joins (taken when its options were built); without one it
        continues from ``options.previous_interaction_id`` in the thread's current generation.
        The turn's functions run here too; ``confirm(call)`` is asked first when ``options.confirm``.
        """
        slot = slot or Slot(options.previous_interaction_id, thread.generation)
        with thread.acquire():
            recorder = TurnRecorder(result, self.connection.scrub, self.connection.answer_origin)
            rounds = FunctionRounds(options, confirm)
            state = ev.StreamNormaliser()
            current: TurnOptions | None = options
            try:
                while current is not None:
                    state, finished = ev.StreamNormaliser(), None
                    for event in self.events(current, unary=unary, state=state, on_retry=on_event):
                        if isinstance(event, ev.Finished):
                            finished = event
                        on_event(recorder.add(event))
                    current = rounds.run(finished, recorder, on_event)
            except BaseException as exc:
                recorder.close(failed=exc, state=state)
                if isinstance(exc, GeminiError):  # e.g. an in-stream error event quoting the key
                    exc.redacted(self.connection.secrets())
                raise
            recorder.close()
            commit(thread, options, result, slot)
            recorder.parse(options, self.connection.secrets())
        return result

    def start(
        self,
        thread: Thread,
        options: TurnOptions,
        result: GeminiResult,
        *,
        on_event: EventSink,
        on_done: Callable[[GeminiResult, BaseException | None], None],
        slot: Slot | None = None,
    ) -> BackgroundTurn:
        """One streamed turn on a worker thread; raises ThreadBusy at once when the thread is busy."""
        slot = slot or Slot(options.previous_interaction_id, thread.generation)
        turn = BackgroundTurn(self, thread, options, result, on_event, on_done, slot)
        turn.start()
        return turn


def commit(thread: Thread, options: TurnOptions, result: GeminiResult, slot: Slot) -> bool:
    """A completed turn joins its thread (True), unless the thread was reset since it started;
    anything but a completed turn leaves the thread as it was."""
    if result.status != "completed":
        return False
    turn = Turn(
        result.prompt,
        result.interaction_id or "",
        slot.parent_id,
        options.model or options.agent or "",
        cell_id=slot.cell_id,
        usage=result.usage,
        status=result.status,
        image_output=options.image_output,
        images=len(result.images),
        answer=result.text,
        execution=slot.execution,
        settings=options.settings,
        steps=result.steps,
        thoughts=result.thoughts,
        origin=result.origin,
    )
    return thread.commit(turn, slot.generation)


class AsyncTurn:
    """One streamed turn on an event loop, with its function-call rounds (no questions: ``--confirm``
    is for cells); a background turn runs one, a batch runs one per row. ``state`` is the current
    round's normaliser, for :meth:`TurnRecorder.close` when the turn ends early."""

    def __init__(
        self, runner: TurnRunner, options: TurnOptions, recorder: TurnRecorder, on_event: EventSink
    ) -> None:
        self.runner = runner
        self.options = options
        self.recorder = recorder
        self.on_event = on_event
        self.state = ev.StreamNormaliser()

    async def run(self, interactions: Any) -> None:
        """Stream the turn through ``interactions`` (the async client's, retried) until it is over."""
        recorder, on_event, runner = self.recorder, self.on_event, self.runner
        rounds = FunctionRounds(self.options)
        current: TurnOptions | None = self.options
        while current is not None:
            events = ev.astream_events(
                interactions,
                build_request(current),
                max_resumes=runner.max_resumes(),
                translate=runner.connection.translate,
                state=self.state,
                stall_timeout=runner.stall_timeout(),
            )
            finished = None
            async for event in events:
                if isinstance(event, ev.Finished):
                    finished = event
                on_event(recorder.add(event))
            current = await rounds.arun(finished, recorder, on_event)
            if current is not None:
                self.state = ev.StreamNormaliser()


class BackgroundTurn(BackgroundStream):
    """A streamed turn on its own worker thread and event loop, stoppable from any thread;
    ``on_done(result, error)`` is told on the worker once the turn has settled."""

    def __init__(
        self,
        runner: TurnRunner,
        thread: Thread,
        options: TurnOptions,
        result: GeminiResult,
        on_event: EventSink,
        on_done: Callable[[GeminiResult, BaseException | None], None],
        slot: Slot,
    ) -> None:
        super().__init__(thread, name=f"gemini-turn-{thread.name}")
        self.runner = runner
        self.slot = slot
        self.committed = False  # True once the completed turn joined its thread
        self.thread = thread
        self.options = options
        self.result = result
        self.error: BaseException | None = None
        self._on_event = on_event
        self._recorder = TurnRecorder(result, runner.connection.scrub, runner.connection.answer_origin)
        self._turn = AsyncTurn(runner, options, self._recorder, on_event)
        self.subscribe(lambda turn: on_done(turn.result, turn.error))

    @property
    def stopped(self) -> bool:
        return self.interrupted

    def stop(self) -> None:
        """Stop streaming now; the partial result is kept and the thread is left as it was."""
        self.interrupt()

    async def _run(self) -> None:
        async with self.runner.connection.async_interactions(on_retry=self._on_event) as interactions:
            await self._turn.run(interactions)

    def _settle(self, error: BaseException | None) -> None:
        if error is None:
            self._recorder.close()
            self.committed = commit(self.thread, self.options, self.result, self.slot)
            try:
                self._recorder.parse(self.options, self.runner.connection.secrets())
            except GeminiSchemaError as exc:
                self.error = exc
            return
        self._recorder.close(failed=error, state=self._turn.state)
        if not is_cancellation(error):
            self.error = self.runner.connection.translate(error)

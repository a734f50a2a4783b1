"""Deep Research runs in the background: progress from the event stream, cancel, resume, reattach.

A :class:`ResearchRun` is a :class:`~.background.BackgroundStream`: a background agent interaction
streamed on a worker thread with its own event loop (so Cancel is handled at once, even while a read
waits on the network). Dropped or stalled
streams resume exactly (what arrived is never added twice); when resuming keeps failing it falls back
to polling. Its progress is a small :class:`ResearchProgress` snapshot handed to a listener after each
change. No IPython imports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from . import events as ev
from .background import BackgroundStream
from .client import Connection
from .errors import GeminiConnectionError, GeminiError, is_cancellation
from .request import TurnOptions, build_request
from .results import GeminiResult
from .threads import Slot, Thread
from .turns import TurnRecorder, commit

PHASES = ("queued", "planning", "searching", "reading", "writing", "done")
_PHASE_FLOOR = {"queued": 0.02, "planning": 0.08, "searching": 0.2, "reading": 0.45, "writing": 0.75}


def default_agent(*, thorough: bool = False) -> str:
    """The current Deep Research agent from the SDK's list (the Max one with ``thorough``)."""
    from .models import known_agents

    research = [a for a in known_agents() if a.startswith("deep-research") and "12-2025" not in a]
    wanted = [a for a in research if ("max" in a) == thorough]
    return (wanted or research or ["deep-research-preview-04-2026"])[-1]


@dataclass(frozen=True)
class ResearchProgress:
    """What a person watching the run wants to know, at one moment."""

    phase: str = "queued"
    status: str = "queued"
    started_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    searches: int = 0
    pages: int = 0
    code_runs: int = 0
    latest_thought: str = ""
    message: str = ""

    @property
    def elapsed(self) -> float:
        return (self.finished_at or time.monotonic()) - self.started_at

    @property
    def fraction(self) -> float:
        """A rough position on the progress bar: phases move it forward, tool calls nudge it."""
        if self.phase == "done":
            return 1.0
        nudge = min(0.2, 0.02 * (self.searches + self.pages + self.code_runs))
        return min(0.95, _PHASE_FLOOR.get(self.phase, 0.0) + nudge)


class ProgressTracker:
    """Folds normalised events into :class:`ResearchProgress` snapshots; ``scrub`` cleans the
    latest thought, which panels show as it is."""

    def __init__(self, scrub: Callable[[str], str] = lambda text: text) -> None:
        self.progress = ResearchProgress()
        self.scrub = scrub
        self._urls_seen: set[str] = set()

    def update(self, event: ev.Event) -> bool:
        """Apply one event; True when the snapshot changed."""
        before = self.progress
        p = before
        if isinstance(event, ev.Started) and p.status == "queued":
            p = replace(p, status="in_progress")
        elif isinstance(event, ev.StatusChanged):
            p = replace(p, status=event.status, phase="planning" if p.phase == "queued" else p.phase)
        elif isinstance(event, ev.ThoughtDelta) and event.text.strip():
            line = self.scrub(" ".join(event.text.split()))
            p = replace(p, latest_thought=line[:240], phase=_advance(p.phase, "planning"))
        elif isinstance(event, ev.ToolActivity):
            p = self._tool(p, event)
        elif isinstance(event, ev.TextDelta):
            p = replace(p, phase=_advance(p.phase, "writing"))
        elif isinstance(event, ev.Finished):
            p = replace(p, status=event.status, phase="done", finished_at=time.monotonic())
        self.progress = p
        return p != before

    def _tool(self, p: ResearchProgress, event: ev.ToolActivity) -> ResearchProgress:
        if event.kind == "google_search_call" and event.stage == "start":
            return replace(p, searches=p.searches + 1, phase=_advance(p.phase, "searching"))
        if event.kind == "code_execution_call" and event.stage == "start":
            return replace(p, code_runs=p.code_runs + 1)
        if event.kind == "url_context_call":
            urls = (event.detail.get("arguments") or {}).get("urls") or []
            new = [u for u in urls if u not in self._urls_seen]
            self._urls_seen.update(new)
            return replace(p, pages=p.pages + len(new), phase=_advance(p.phase, "reading"))
        return p


def _advance(current: str, wanted: str) -> str:
    """Phases only move forward (a late thought does not send "writing" back to "planning")."""
    return wanted if PHASES.index(wanted) > PHASES.index(current) else current


Listener = Callable[["ResearchRun"], None]


class ResearchRun(BackgroundStream):
    """A Deep Research interaction running in the background; also the user's handle on it.

    A :class:`~.background.BackgroundStream` that adds progress snapshots (listeners are told after
    each change) and, when resuming the stream keeps failing, polling for the outcome.
    """

    def __init__(
        self,
        connection: Connection,
        thread: Thread | None,
        options: TurnOptions | None,
        result: GeminiResult,
        *,
        max_resumes: int = 3,
        poll_interval: float = 5.0,
        stall_timeout: float | None = None,
        existing_id: str | None = None,
        slot: Slot | None = None,
    ) -> None:
        super().__init__(thread, name="gemini-research")
        self.connection = connection
        self.thread = thread
        self.options = options
        self.result = result
        self.max_resumes = max_resumes
        self.poll_interval = poll_interval
        self.stall_timeout = stall_timeout
        self._state = ev.StreamNormaliser()
        self.existing_id = existing_id
        self.slot = slot
        self.joined = False  # True once the completed run joined its thread
        self.thread_note = ""  # what happened to the thread, for the outcome message
        self.tracker = ProgressTracker(connection.redact)
        self.error: GeminiError | None = None
        self.polling = False
        self._recorder = TurnRecorder(result, connection.scrub, connection.answer_origin)

    # -- the handle ----------------------------------------------------------------------------
    @property
    def interaction_id(self) -> str | None:
        return self.result.interaction_id or self.existing_id

    @property
    def status(self) -> str:
        return self.result.status if self.done else self.tracker.progress.status

    @property
    def progress(self) -> ResearchProgress:
        return self.tracker.progress

    @property
    def cancel_requested(self) -> bool:
        return self.interrupted

    def wait(self, timeout: float | None = None) -> GeminiResult:
        """Block until the research ends; return its result (raise its error if it failed to run)."""
        if not self.wait_settled(timeout):
            raise TimeoutError(f"research {self.interaction_id} is still {self.status} after {timeout} s")
        if self.error is not None:
            raise self.error
        return self.result

    def cancel(self) -> None:
        """Ask the server to cancel, and stop streaming; the outcome becomes ``cancelled``."""
        self.interrupted = True  # so a cancel before the worker runs still counts
        interaction_id = self.interaction_id
        if self.done:
            return
        if interaction_id:
            try:
                self.connection.interactions().cancel(interaction_id)
            except Exception as exc:
                raise self.connection.translate(exc) from None
        self.interrupt()  # stop streaming now, rather than when the server's last events arrive

    def __repr__(self) -> str:
        p = self.progress
        counts = f"{p.searches} searches, {p.pages} pages, {p.code_runs} code runs"
        return (
            f"<ResearchRun {self.status} phase={p.phase} {p.elapsed:.0f}s {counts} "
            f"id={self.interaction_id!r}>"
        )

    # -- the worker ------------------------------------------------------------------------------
    def _settle(self, error: BaseException | None) -> None:
        try:
            if error is None:
                self._recorder.close()
            else:
                self._recorder.close(failed=error, state=self._state)
                if is_cancellation(error) and self.interrupted:
                    self.result.status = "cancelled"
                else:
                    self.error = self.connection.translate(error)
        finally:
            if self.thread is not None and self.options is not None:
                self._join(self.thread, self.options)
        progress = self.tracker.progress
        self.tracker.progress = replace(
            progress, phase="done", status=self.result.status, finished_at=time.monotonic()
        )

    def _join(self, thread: Thread, options: TurnOptions) -> None:
        slot = self.slot or Slot(options.previous_interaction_id, thread.generation)
        self.joined = commit(thread, options, self.result, slot)
        if self.result.status == "completed" and not self.joined:
            self.thread_note = (
                f"Thread {thread.name!r} was reset while this research ran, so the report was not added "
                "to it; the handle's .result still holds it."
            )
        elif self.joined and self.existing_id:
            self.thread_note = f"The report is now the head of thread {thread.name!r}."

    def _feed(self, event: ev.Event) -> None:
        if self.tracker.update(self._recorder.add(event)):
            self._notify()

    def _retrying(self, retry: ev.Retrying) -> None:
        self.tracker.progress = replace(self.tracker.progress, message=retry.note)
        self._notify()

    async def _run(self) -> None:
        async with self.connection.async_interactions(on_retry=self._retrying) as interactions:
            await self._follow(interactions)

    async def _follow(self, interactions: Any) -> None:
        state = self._state
        request = None if self.existing_id or self.options is None else build_request(self.options)
        try:
            async for event in ev.astream_events(
                interactions,
                request,
                max_resumes=self.max_resumes,
                translate=self.connection.translate,
                state=state,
                existing_id=self.existing_id,
                stall_timeout=self.stall_timeout,
            ):
                self._feed(event)
            return
        except GeminiConnectionError:
            if state.interaction_id is None:
                raise
        await self._poll(interactions, state.interaction_id)

    async def _poll(self, interactions: Any, interaction_id: str) -> None:
        """The stream keeps failing: ask for the status now and then, then read the outcome."""
        self.polling = True
        self.tracker.progress = replace(
            self.tracker.progress, message="stream lost; checking every few seconds"
        )
        self._notify()
        while True:
            try:
                interaction = await interactions.get(interaction_id, **ev.stall_options(self.stall_timeout))
            except Exception as exc:
                raise self.connection.translate(exc) from None
            if str(interaction.status) not in ("in_progress", "queued"):
                break
            import asyncio

            await asyncio.sleep(self.poll_interval)
        self.result.images.clear()  # the full timeline replaces what the stream had delivered
        self._recorder = TurnRecorder(self.result, self.connection.scrub, self.connection.answer_origin)
        for event in ev.interaction_events(interaction):
            self._feed(event)

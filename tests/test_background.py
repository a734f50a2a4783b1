"""Background turns: they stream on a worker thread, stop promptly, and keep threads consistent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time

import pytest
from IPython.core.error import UsageError

from gemini_magics.core import events as ev
from gemini_magics.core.background import BackgroundStream
from gemini_magics.core.client import Connection
from gemini_magics.core.errors import GeminiAPIError
from gemini_magics.core.request import TurnOptions
from gemini_magics.core.results import GeminiResult
from gemini_magics.core.threads import Thread, ThreadBusy
from gemini_magics.core.turns import TurnRunner
from gemini_magics.emulator import Fault, Reply, StepClock

from .support import TEST_KEY, wait_for


@pytest.fixture
def runner(emulator, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    connection = Connection(base_url=emulator.base_url)
    return TurnRunner(connection, lambda: 2)


class Done:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.outcome: tuple[GeminiResult, BaseException | None] | None = None

    def __call__(self, result: GeminiResult, error: BaseException | None) -> None:
        self.outcome = (result, error)
        self.event.set()


def _start(runner, thread, prompt="Q", on_event=lambda e: None):
    options = TurnOptions(model="gemini-3.5-flash", prompt=prompt, previous_interaction_id=thread.head)
    done = Done()
    turn = runner.start(thread, options, GeminiResult(prompt=prompt), on_event=on_event, on_done=done)
    return turn, done


def test_a_background_turn_streams_on_a_worker_and_joins_its_thread(runner, emulator):
    emulator.enqueue(Reply.text("one two three", deltas=3, delay=0.05))
    seen: list[tuple[str, str]] = []
    thread = Thread("t")
    turn, done = _start(runner, thread, on_event=lambda e: seen.append((threading.current_thread().name, e)))
    assert turn.running  # the caller got control back at once
    assert done.event.wait(10)
    result, error = done.outcome
    assert error is None and result.status == "completed" and result.text == "one two three"
    assert thread.head == result.interaction_id and not thread.busy
    assert {name for name, _ in seen} == {"gemini-turn-t"}
    assert any(isinstance(e, ev.TextDelta) for _, e in seen)


def test_stop_interrupts_a_stalled_stream_within_a_second(runner, emulator):
    emulator.clock = StepClock()  # the stall lasts until the test ends
    emulator.enqueue(Reply.text("a b c d e f", deltas=6, stall_after=5, stall_seconds=20))
    thread = Thread("t")
    texts: list[str] = []
    turn, done = _start(runner, thread, on_event=lambda e: texts.append(getattr(e, "text", "")))
    wait_for(lambda: "".join(texts), 5, "the first words")
    wait_for(lambda: emulator.clock.waiting == 1, 5, "the server to stall mid-answer")
    stopped_at = time.monotonic()
    turn.stop()
    assert done.event.wait(1.0), "stop took longer than a second"
    assert time.monotonic() - stopped_at < 1.0
    result, error = done.outcome
    assert error is None and result.status == "incomplete"
    assert result.text and result.text != "a b c d e f"
    assert thread.head is None and not thread.busy


def test_a_busy_thread_refuses_a_second_turn(runner, emulator):
    emulator.enqueue(Reply.text("slow " * 20, deltas=20, delay=0.05), Reply.text("next"))
    thread = Thread("t")
    turn, done = _start(runner, thread)
    with pytest.raises(ThreadBusy):
        _start(runner, thread)
    assert done.event.wait(10)
    _, second = _start(runner, thread, prompt="again")
    assert second.event.wait(10)
    assert second.outcome[0].text == "next"
    assert [t.prompt for t in thread.turns] == ["Q", "again"]


def test_errors_are_reported_to_on_done(runner, emulator):
    emulator.enqueue(Fault.http(400, "invalid_request", "Bad thing"))
    thread = Thread("t")
    _, done = _start(runner, thread)
    assert done.event.wait(10)
    result, error = done.outcome
    assert isinstance(error, GeminiAPIError) and "Bad thing" in str(error)
    assert result.status == "failed" and thread.head is None and not thread.busy


def test_a_cell_on_a_thread_busy_in_the_background_is_refused(ip, emulator):
    emulator.enqueue(Reply.text("slow " * 20, deltas=20, delay=0.05))
    magics = ip.magics
    thread = magics.threads["default"]
    turn, done = _start(magics.turns, thread)
    with pytest.raises(UsageError, match="thread 'default' is busy"):
        ip.run("%gemini hello")
    assert done.event.wait(10)


# -- the base every background stream shares ------------------------------------------------------


class Sleeper(BackgroundStream):
    """Waits on its loop until interrupted, as a stalled read does; records how it settled."""

    def __init__(self, thread: Thread | None) -> None:
        super().__init__(thread, name="gemini-test-sleeper")
        self.outcome: BaseException | None | str = "unsettled"
        self.running_now = threading.Event()

    async def _run(self) -> None:
        self.running_now.set()
        await asyncio.sleep(60)

    def _settle(self, error: BaseException | None) -> None:
        self.outcome = error


def test_a_background_stream_is_interrupted_from_another_thread_and_tells_its_listeners():
    thread = Thread("t")
    told: list[tuple[bool, bool]] = []
    run = Sleeper(thread)
    run.subscribe(lambda r: told.append((r.done, thread.busy)))
    run.start()
    assert thread.busy and run.running_now.wait(5)
    started = time.monotonic()
    run.interrupt()
    assert run.wait_settled(5), "the interrupted stream did not settle"
    assert time.monotonic() - started < 1.0
    assert isinstance(run.outcome, asyncio.CancelledError)
    assert told == [(True, False)]  # told once, after the end, with the lease already released
    assert run.join(5) and not run.running


def test_a_background_stream_interrupted_before_its_loop_runs_still_settles():
    run = Sleeper(None)
    run.interrupt()
    run.start()
    assert run.wait_settled(5)
    assert isinstance(run.outcome, asyncio.CancelledError) and not run.running_now.is_set()
    assert run.join(5)


def test_a_busy_thread_refuses_a_second_background_stream():
    thread = Thread("t")
    first = Sleeper(thread).start()
    with pytest.raises(ThreadBusy):
        Sleeper(thread).start()
    first.interrupt()
    assert first.wait_settled(5) and first.join(5) and not thread.busy


# -- the resume loop follows continuation hops as the SDK does -----------------------------------


class Response:
    """What the resume loop reads from a response: its headers (the body is handed over as chunks)."""

    headers = {"content-type": "text/event-stream"}


def _sse(*events: dict) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


def _hop(iid: str, text: str, status: str, token: str | None = None) -> bytes:
    completed = {"id": iid, "status": status, **({"continuation_token": token} if token else {})}
    return _sse(
        {"event_type": "interaction.created", "interaction": {"id": iid, "status": "in_progress"}},
        {"event_type": "step.start", "index": 0, "step": {"type": "model_output"}},
        {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": text}},
        {"event_type": "interaction.completed", "interaction": completed},
    )


def test_a_continuation_hop_is_requested_like_the_sdk_does_and_its_text_follows():
    """The emulator never emits requires_continuation, so the loop is driven here by hand: after a hop
    ends with a token, it asks for create(token, previous id, no input), then reads that hop."""
    request = {"model": "gemini-3.5-flash", "input": "Q", "system_instruction": "terse"}
    machine = ev.ResumeLoop(request, max_resumes=0, translate=lambda e: e).run()
    calls, events = [], []
    first = _hop("v1_a", "first ", "requires_continuation", "tok1")
    bodies = iter([first, _hop("v1_b", "second", "completed")])
    step = next(machine)
    reply = None
    with contextlib.suppress(StopIteration):
        while True:
            if isinstance(step, ev._Open):
                calls.append((step.method, step.args, step.kwargs))
                chunks = iter([next(bodies)])
            elif step is ev.READ_HEADERS:
                reply = Response()
            elif step is ev.READ:
                reply = next(chunks, None)
            elif isinstance(step, list):
                events.extend(step)
            step = machine.send(reply)
            reply = None
    assert [c[0] for c in calls] == ["create", "create"]
    assert calls[1][2] == {
        "model": "gemini-3.5-flash",
        "system_instruction": "terse",
        "continuation_token": "tok1",
        "previous_interaction_id": "v1_a",
        "stream": True,
    }
    assert "".join(e.text for e in events if isinstance(e, ev.TextDelta)) == "first second"
    (finished,) = [e for e in events if isinstance(e, ev.Finished)]
    assert finished.interaction_id == "v1_b" and finished.status == "completed"


def test_interrupting_a_stream_that_just_ended_is_harmless(emulator, monkeypatch):
    """Cancel pressed as a run ends: the worker's loop is closing, and interrupt() must not reach it
    (it used to raise "Event loop is closed" into the research panel)."""
    from gemini_magics.core.background import BackgroundStream

    class Quick(BackgroundStream):
        async def _run(self) -> None:
            return None

    stream = Quick(None, name="quick")
    stream.start()
    assert stream.wait_for_end(5)
    stream.interrupt()  # after the end: nothing to cancel, nothing raised
    assert stream._loop is None and stream._task is None

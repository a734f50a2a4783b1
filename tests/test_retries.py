"""Our retry policy: visible waits, Retry-After honoured up to a cap, interruptible, five attempts."""

from __future__ import annotations

import _thread
import datetime as dt
import threading
import time
from typing import Any

import httpx
import pytest

from gemini_magics.core import events as ev
from gemini_magics.core.errors import GeminiAPIError
from gemini_magics.core.request import TurnOptions
from gemini_magics.core.results import GeminiResult
from gemini_magics.core.retry import RetryPolicy, server_wait, try_again_at
from gemini_magics.emulator import Fault, Reply
from gemini_magics.emulator.research import research_reply

from .support import creates, html_of, wait_for


def panel_text(widget: Any) -> str:
    """Every output and label text under a widget."""
    parts = [str(getattr(widget, "value", ""))]
    for output in getattr(widget, "outputs", ()):
        parts.extend(str(v) for v in output.get("data", {}).values())
    parts.extend(panel_text(child) for child in getattr(widget, "children", ()))
    return "\n".join(parts)


# -- the policy on its own ---------------------------------------------------------------------
def test_backoff_doubles_from_half_a_second_with_jitter_and_a_cap():
    no_jitter = RetryPolicy(random=lambda: 0.0)
    assert [no_jitter.backoff(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    most_jitter = RetryPolicy(random=lambda: 1.0)
    assert most_jitter.backoff(0) == pytest.approx(0.375) and most_jitter.backoff(5) == 8.0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"Retry-After": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"Retry-After": "Wed, 21 Oct 2026 07:28:30 GMT"}, 30.0),
        ({"Retry-After": "Wed, 21 Oct 2026 07:27:00 GMT"}, 0.0),  # in the past: at once
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_server_wait_reads_seconds_dates_and_milliseconds(headers, seconds):
    now = dt.datetime(2026, 10, 21, 7, 28, 0, tzinfo=dt.UTC)
    assert server_wait(httpx.Headers(headers), now) == seconds


def test_try_again_at_is_local_clock_time_rounded_up():
    now = dt.datetime(2026, 10, 21, 14, 4, 10).astimezone()
    assert try_again_at(30, now) == "14:05"
    assert try_again_at(50, now) == "14:05"  # exactly 14:05:00
    assert try_again_at(51, now) == "14:06"
    assert try_again_at(86_400, now) == "2026-10-22 14:05"


# -- cells -------------------------------------------------------------------------------------
def test_rate_limit_is_retried_with_a_visible_note_and_the_answer_follows(ip, emulator):
    emulator.enqueue(
        Fault.http(429, "rate_limit_exceeded", "Slow down", retry_after=0.2, times=2), Reply.text("Hello!")
    )
    started = time.monotonic()
    cell = ip.run("%%gemini\nHi")
    assert time.monotonic() - started >= 0.4  # both waits were waited
    assert ip.user_ns["_gemini"].text == "Hello!" and len(creates(emulator)) == 3
    notes = [o["data"]["text/plain"] for o in cell.outputs if "retrying" in o["data"].get("text/plain", "")]
    # one line, updated in place: the SDK itself no longer retries (else we would see no note)
    assert notes == [
        "rate limited; retrying in 0.2 s (attempt 2 of 5)",
        "rate limited; retrying in 0.2 s (attempt 3 of 5)",
    ]
    assert "<em>rate limited; retrying in 0.2 s (attempt 3 of 5)</em>" in html_of(cell)
    assert ip.magics.threads["default"].head == ip.user_ns["_gemini"].interaction_id


def test_server_errors_without_retry_after_back_off_like_the_sdk(ip, emulator):
    emulator.enqueue(Fault.http(503, "unavailable", "Overloaded"), Reply.text("Back."))
    cell = ip.run("%%gemini\nHi")
    (note,) = [o["data"]["text/plain"] for o in cell.outputs if "retrying" in o["data"].get("text/plain", "")]
    assert note in (
        "server error 503; retrying in 0.4 s (attempt 2 of 5)",
        "server error 503; retrying in 0.5 s (attempt 2 of 5)",
    )
    assert ip.user_ns["_gemini"].text == "Back."


def test_terminal_prints_the_retry_note(ip, emulator, monkeypatch):
    from IPython.core.displaypub import DisplayPublisher

    ip.shell.display_pub = DisplayPublisher(shell=ip.shell)
    emulator.enqueue(Fault.http(500, retry_after=0.05), Reply.text("Fine."))
    out = ip.run("%gemini hi").stdout
    assert "server error 500; retrying in 0.1 s (attempt 2 of 5)\nFine." in out


def test_a_wait_longer_than_the_cap_fails_at_once_saying_when_to_try_again(ip, emulator):
    emulator.enqueue(Fault.http(429, "rate_limit_exceeded", "Quota exceeded", retry_after=3600))
    started = time.monotonic()
    with pytest.raises(GeminiAPIError) as caught:
        ip.run("%%gemini\nHi")
    assert time.monotonic() - started < 3
    assert len(creates(emulator)) == 1
    error = caught.value
    assert error.status == 429 and error.code == "rate_limit_exceeded"
    expected = try_again_at(3600)
    assert "the server asked to wait 60 min before trying again" in error.message
    assert f"longer than max_retry_wait (60 s): try again after {expected}" in error.message
    assert "%config GeminiMagics.max_retry_wait = 3600" in error.hint
    assert ip.magics.threads["default"].head is None


def test_the_cap_is_configurable(ip, emulator):
    ip.run("%config GeminiMagics.max_retry_wait = 0.1")
    emulator.enqueue(Fault.http(503, retry_after=0.5))
    with pytest.raises(GeminiAPIError, match=r"asked to wait 0.5 s .*max_retry_wait \(0.1 s\)"):
        ip.run("%gemini hi")
    ip.run("%config GeminiMagics.max_retry_wait = 1")
    emulator.enqueue(Fault.http(503, retry_after=0.5), Reply.text("Waited."))
    ip.run("%gemini hi")
    assert ip.user_ns["_gemini"].text == "Waited." and len(creates(emulator)) == 3


def test_after_five_attempts_the_last_error_is_raised(ip, emulator):
    emulator.enqueue(Fault.http(429, "rate_limit_exceeded", "Slow down", retry_after=0.01, times=6))
    with pytest.raises(GeminiAPIError, match="429 rate_limit_exceeded: Slow down") as caught:
        ip.run("%%gemini\nHi")
    assert (
        caught.value.hint
        == "rate limit or quota reached; wait a little and run the cell again (gave up after 5 attempts)"
    )
    assert len(creates(emulator)) == 5


@pytest.mark.parametrize(("status", "hint"), [(400, "check the options"), (413, "(`--attach`)")])
def test_client_errors_are_not_retried(ip, emulator, status, hint):
    emulator.enqueue(
        Fault.http(status, "too_large" if status == 413 else "invalid_request", "No", retry_after=0.01)
    )
    with pytest.raises(GeminiAPIError, match=f"{status}") as caught:
        ip.run("%gemini hi")
    assert hint in caught.value.hint and len(creates(emulator)) == 1


def test_a_kernel_interrupt_ends_a_retry_wait_at_once(ip, emulator):
    emulator.enqueue(Fault.http(429, "rate_limit_exceeded", "Slow down", retry_after=30))

    def interrupt_while_waiting() -> None:
        shown = lambda: any("retrying in 30 s" in str(o["data"]) for o in list(ip.publisher.outputs))  # noqa: E731
        wait_for(shown, 20, "the retry wait to be shown")
        _thread.interrupt_main()

    threading.Thread(target=interrupt_while_waiting, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        ip.run("%%gemini\nHi")
    assert time.monotonic() - started < 10  # not the 30 s the server asked for
    assert ip.user_ns["_gemini"].status == "incomplete" and len(creates(emulator)) == 1


# -- background turns and research -------------------------------------------------------------
def test_background_turn_reports_retries_and_stop_ends_a_wait(ip, emulator):
    emulator.enqueue(Fault.http(503, "unavailable", "Busy", retry_after=30))
    seen: list[ev.Event] = []
    waiting = threading.Event()

    def on_event(event: ev.Event) -> None:
        seen.append(event)
        if isinstance(event, ev.Retrying):
            waiting.set()

    done = threading.Event()
    thread = ip.magics.threads["default"]
    options = TurnOptions(model="gemini-3.5-flash", prompt="Hi", previous_interaction_id=None)
    turn = ip.magics.turns.start(
        thread, options, GeminiResult(prompt="Hi"), on_event=on_event, on_done=lambda r, e: done.set()
    )
    assert waiting.wait(10)
    assert seen == [ev.Retrying(30.0, 503, "Busy", 2, 5)]
    started = time.monotonic()
    turn.stop()
    assert turn.join(5) and done.wait(5)
    assert time.monotonic() - started < 5
    assert turn.error is None and turn.result.status == "incomplete" and not thread.busy


def test_chat_panel_status_line_shows_the_wait(ip, emulator):
    from gemini_magics.widgets.chat import ChatPanel

    emulator.enqueue(Fault.http(429, "rate_limit_exceeded", "Slow down", retry_after=0.2), Reply.text("Hi!"))
    panel = ChatPanel(session=ip.magics.session)
    statuses: list[str] = []
    panel.status.observe(lambda change: statuses.append(change["new"]), "value")
    try:
        assert panel.send("Hello")
        assert panel.wait(10)
    finally:
        panel.close()
    assert any(s.endswith("· rate limited; retrying in 0.2 s (attempt 2 of 5)") for s in statuses), statuses
    assert "retrying" not in panel.status.value
    assert panel.last_result is not None and panel.last_result.text == "Hi!"


def test_chat_panel_explains_a_wait_over_the_cap(ip, emulator):
    from gemini_magics.widgets.chat import ChatPanel

    emulator.enqueue(Fault.http(429, "rate_limit_exceeded", "Slow down", retry_after=7200))
    panel = ChatPanel(session=ip.magics.session)
    try:
        assert panel.send("Hello")
        assert panel.wait(10)
        text = panel_text(panel.view)
    finally:
        panel.close()
    assert f"try again after {try_again_at(7200)}" in text and "max_retry_wait" in text
    assert len(creates(emulator)) == 1


def test_research_shows_the_wait_in_its_progress(ip, emulator):
    emulator.enqueue(
        Fault.http(503, "unavailable", "Busy", retry_after=0.1), research_reply("TPUs", duration=0.3)
    )
    cell = ip.run("%%gemini --research --wait -o report\nTPUs")
    assert ip.user_ns["report"].status == "completed" and len(creates(emulator)) == 2
    assert "[research] server error 503; retrying in 0.1 s (attempt 2 of 5)\n" in cell.stdout
    assert "Research complete." in cell.stdout

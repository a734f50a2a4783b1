"""Bad input is a one-line UsageError; API failures fail the cell with our own short traceback."""

from __future__ import annotations

import _thread
import threading
import time

import pytest
from IPython.core.error import UsageError

from gemini_magics.core.errors import GeminiAPIError, GeminiConnectionError, GeminiError
from gemini_magics.emulator import Fault, Reply

from .support import TEST_KEY, creates, wait_for


def test_missing_key_says_how_to_set_it(bare_shell):
    bare_shell.run("%load_ext gemini_magics")
    with pytest.raises(UsageError, match="set GEMINI_API_KEY, or run `%gemini login`"):
        bare_shell.run("%%gemini\nHello")


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%gemini --bogus\nHi", "unrecognized arguments: --bogus"),
        ("%%gemini\n   \n", "empty prompt"),
        ("%gemini", "empty prompt"),
        ("%%gemini -m gemini-3.5-flsh\nHi", "did you mean gemini-3.5-flash"),
        ("%%gemini -m gpt-4\nHi", "unknown model 'gpt-4'"),
        ("%%gemini --thinking huge\nHi", "invalid choice: 'huge'"),
        ("%%gemini stray words\nHi", "put the prompt in the cell body"),
        ("%%gemini -o 2x\nHi", "-o needs a variable name"),
        ("%gemini history nope", "no thread named 'nope'"),
        ("%gemini status extra", "takes no arguments"),
    ],
)
def test_user_mistakes_are_usage_errors(ip, emulator, cell, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        ip.run(cell)
    assert creates(emulator) == []


def _shown_traceback(ip, exc: BaseException) -> str:
    return "\n".join(exc._render_traceback_())


def test_auth_failure_fails_the_cell_without_leaking_the_key(ip, emulator, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "wrong-" + TEST_KEY)
    with pytest.raises(GeminiAPIError) as caught:
        ip.run("%%gemini\nHello")
    rendered = _shown_traceback(ip, caught.value)
    assert "401" in rendered and "%gemini login" in rendered
    assert len(caught.value._render_traceback_()) <= 2
    for text in (rendered, str(caught.value), repr(caught.value), repr(ip.magics.connection)):
        assert TEST_KEY not in text
    assert ip.magics.threads["default"].head is None


def test_server_error_after_retries_is_our_exception(ip, emulator):
    emulator.enqueue(Fault.http(503, "unavailable", "Model overloaded", retry_after=0.01, times=5))
    with pytest.raises(GeminiAPIError, match="503 unavailable: Model overloaded") as caught:
        ip.run("%%gemini\nHello")
    assert "run the cell again in a moment (gave up after 5 attempts)" in _shown_traceback(ip, caught.value)
    assert len(creates(emulator)) == 5  # our retries (the SDK's are off), honouring Retry-After
    notes = [o["data"]["text/plain"] for o in ip.publisher.outputs if "retrying" in str(o["data"])]
    assert notes[-1] == "server error 503; retrying in 0.0 s (attempt 5 of 5)" and len(notes) == 4


def test_unreachable_server_is_a_connection_error(ip, emulator, monkeypatch):
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(GeminiConnectionError, match="127.0.0.1:9"):
        ip.run("%gemini hello")


def test_dropped_stream_resumes_from_the_last_event(ip, emulator):
    text = "".join(f"Sentence number {n}. " for n in range(30))
    emulator.enqueue(Reply.text(text, deltas=30, drop_after=12))
    ip.run("%%gemini\nLong answer please")
    result = ip.user_ns["_gemini"]
    assert result.text == text and result.status == "completed"
    resumes = [r for r in emulator.requests if r.method == "GET"]
    assert len(resumes) == 1
    assert resumes[0].query["stream"] == "true"
    assert resumes[0].query["last_event_id"].startswith(result.interaction_id)
    assert ip.magics.threads["default"].head == result.interaction_id


def test_stream_that_keeps_dropping_fails_and_keeps_the_partial_answer(ip, emulator):
    emulator.enqueue(Reply.text("Before. " * 10 + "After.", deltas=11, drop_after=6))
    ip.run("%config GeminiMagics.max_resumes = 0")
    with pytest.raises(GeminiConnectionError, match="gave up after 0 resume"):
        ip.run("%%gemini\nQ")
    partial = ip.user_ns["_gemini"]
    assert partial.status == "failed"
    assert partial.text.startswith("Before.") and "After." not in partial.text
    assert ip.magics.threads["default"].head is None


def test_error_event_mid_stream_fails_the_cell_and_keeps_partial_output(ip, emulator):
    emulator.enqueue(Reply.text("Hello "), Reply.text("one two three four", deltas=4, error_after=5))
    ip.run("%gemini first")
    head = ip.magics.threads["default"].head
    with pytest.raises(GeminiAPIError, match="Model overloaded"):
        ip.run("%gemini second")
    partial = ip.user_ns["_gemini"]
    assert partial.status == "failed" and partial.text
    assert partial.text.startswith("one") and "four" not in partial.text
    assert ip.magics.threads["default"].head == head


def test_interrupt_stops_promptly_and_keeps_partial_answer(ip, emulator):
    emulator.enqueue(Reply.text("word " * 100, deltas=100, delay=0.05))

    def interrupt_mid_stream() -> None:
        words = lambda: max((str(o["data"]).count("word") for o in list(ip.publisher.outputs)), default=0)  # noqa: E731
        wait_for(lambda: words() >= 5, 20, "a few words to be shown")
        _thread.interrupt_main()

    threading.Thread(target=interrupt_mid_stream, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        ip.run("%%gemini\nTalk slowly")
    assert time.monotonic() - started < 4  # promptly, long before the 5 s answer would end
    partial = ip.user_ns["_gemini"]
    assert partial.status == "incomplete"
    assert 0 < len(partial.text) < len("word " * 100)
    assert ip.magics.threads["default"].head is None


def test_failed_interaction_status_fails_the_cell(ip, emulator):
    emulator.enqueue(Reply.text("partial", status="failed"))
    with pytest.raises(GeminiError, match="ended failed"):
        ip.run("%gemini hi")
    assert ip.magics.threads["default"].head is None

"""A server that echoes the API key: it reaches no output, traceback, result, panel or log."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from gemini_magics.core.errors import GeminiError
from gemini_magics.emulator import Reply, WallClock
from gemini_magics.emulator.research import research_reply
from gemini_magics.widgets.chat import ChatPanel

from .support import TEST_KEY, Cell, StrictShell


@pytest.fixture
def emulator_options():
    """Research runs here play ten times faster than their emulated duration."""
    return {"clock": WallClock(speed=10)}


ECHO = f"API key {TEST_KEY} is over its quota"


def everything_shown(ip: StrictShell, cell: Cell | None, error: BaseException | None) -> str:
    """All a user could see or inspect after the cell: outputs, stdout, traceback, result."""
    parts = [ip.last_stdout]
    outputs = cell.outputs if cell is not None else ip.publisher.outputs
    parts.extend(str(output) for output in outputs)
    if error is not None:
        parts += [str(error), repr(error), *getattr(error, "_render_traceback_", list)()]
        parts += [str(arg) for arg in error.args]
    result = ip.user_ns.get("_gemini")
    result = getattr(result, "result", result)  # a research run holds its result
    if result is not None:
        parts += [repr(result), result.text, result.thoughts, str(result.steps), str(result.errors)]
        parts.append(ip.shell.display_formatter.format(result)[0]["text/html"])
    return "\n".join(parts)


def run_failing(ip: StrictShell, code: str) -> tuple[str, BaseException]:
    with pytest.raises(GeminiError) as caught:
        ip.run(code)
    return everything_shown(ip, None, caught.value), caught.value


def test_error_event_quoting_the_key(ip, emulator):
    emulator.enqueue(Reply.text("one two three", deltas=3, error_after=4, error_message=ECHO))
    shown, error = run_failing(ip, "%%gemini\nHi")
    assert "is over its quota" in shown and "<redacted>" in error.message
    assert TEST_KEY not in shown


def test_failed_interaction_errors_quoting_the_key(ip, emulator):
    emulator.enqueue(Reply.text("partial", error_after=3, error_message=ECHO))
    shown, error = run_failing(ip, "%%gemini --no-stream\nHi")
    assert "ended failed: API key <redacted> is over its quota" in error.message
    assert ip.user_ns["_gemini"].errors == [
        {"code": "internal", "message": "API key <redacted> is over its quota"}
    ]
    assert TEST_KEY not in shown


def test_key_typed_in_with_login_is_redacted_too(ip, emulator, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    ip.magics.connection.login(TEST_KEY)
    emulator.enqueue(Reply.text("one two", deltas=2, error_after=3, error_message=ECHO))
    shown, _ = run_failing(ip, "%%gemini\nHi")
    assert "is over its quota" in shown and TEST_KEY not in shown


@pytest.mark.parametrize("deltas", [1, 9])
def test_model_text_quoting_the_key_is_scrubbed_from_the_result(ip, emulator, deltas):
    text = f"Your key is {TEST_KEY}, keep it safe."
    emulator.enqueue(Reply.text(text, thoughts=[f"The user's key: {TEST_KEY}"], deltas=deltas))
    cell = ip.run("%%gemini --show-thoughts -o answer\nWhat is my key?")
    result = ip.user_ns["answer"]
    assert result.text == "Your key is <redacted>, keep it safe."
    assert result.thoughts == "The user's key: <redacted>"
    assert TEST_KEY not in everything_shown(ip, Cell([], cell.stdout), None)


def test_unsplit_key_in_streamed_text_is_not_displayed(ip, emulator):
    emulator.enqueue(Reply.text(f"Your key is {TEST_KEY}.", deltas=1))
    cell = ip.run("%%gemini\nWhat is my key?")
    assert TEST_KEY not in everything_shown(ip, cell, None)


def test_key_split_across_deltas_is_not_displayed(ip, emulator):
    emulator.enqueue(Reply.text(f"Your key is {TEST_KEY}.", deltas=9))
    cell = ip.run("%%gemini\nWhat is my key?")
    assert TEST_KEY not in everything_shown(ip, cell, None)


def test_research_failure_quoting_the_key(ip, emulator):
    emulator.enqueue(research_reply("TPUs", duration=0.3, error_after=8, error_message=ECHO))
    shown, error = run_failing(ip, "%%gemini --research --wait\nTPUs")
    assert "Research failed" in shown and "is over its quota" in shown
    assert TEST_KEY not in shown + repr(ip.user_ns["_gemini"])


def test_research_failure_seen_by_polling_quoting_the_key(ip, emulator):
    ip.run("%config GeminiMagics.max_resumes = 0")
    ip.run("%config GeminiMagics.research_poll_interval = 0.05")
    emulator.enqueue(research_reply("TPUs", duration=0.3, drop_after=4, error_after=8, error_message=ECHO))
    shown, error = run_failing(ip, "%%gemini --research --wait\nTPUs")
    assert ip.user_ns["_gemini"].polling
    assert "Research failed. API key <redacted> is over its quota" in shown
    assert TEST_KEY not in shown


def panel_text(widget: Any) -> str:
    parts = [str(getattr(widget, "value", ""))]
    for output in getattr(widget, "outputs", ()):
        parts.extend(str(v) for v in output.get("data", {}).values())
    parts.extend(panel_text(child) for child in getattr(widget, "children", ()))
    return "\n".join(parts)


@pytest.mark.parametrize("where", ["error event", "model text"])
def test_chat_panel_never_shows_the_key(ip, emulator, where):
    if where == "error event":
        emulator.enqueue(Reply.text("one two", deltas=2, error_after=3, error_message=ECHO))
    else:
        emulator.enqueue(Reply.text(f"Your key is {TEST_KEY}.", deltas=1))
    panel = ChatPanel(session=ip.magics.session)
    try:
        assert panel.send("Hi")
        assert panel.wait(10)
        shown = panel_text(panel.view)
    finally:
        panel.close()
    assert ("over its quota" if where == "error event" else "Your key is") in shown
    assert TEST_KEY not in shown
    assert panel.last_result is not None and TEST_KEY not in repr(panel.last_result) + panel.last_result.text


def test_package_logs_are_scrubbed(ip, caplog):
    with caplog.at_level(logging.DEBUG, logger="gemini_magics"):
        logging.getLogger("gemini_magics.core.events").debug(
            "skipping unknown stream event %r", {"echo": TEST_KEY}
        )
    assert "<redacted>" in caplog.text and TEST_KEY not in caplog.text

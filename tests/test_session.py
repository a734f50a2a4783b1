"""The Session: one way to prepare a turn for cells, panels and research; settings from the traits;
background work stopped when the extension is unloaded."""

from __future__ import annotations

import re
import threading

import pytest
from IPython.core.error import UsageError
from traitlets import TraitError

from gemini_magics.core.errors import InputError
from gemini_magics.core.session import NO_KEY, Session, Settings, TurnRequest
from gemini_magics.emulator import Reply
from gemini_magics.emulator.research import research_reply
from gemini_magics.ipython import current_session

from .support import TEST_KEY, creates
from .test_chat import _upload, notice, panels, wait_for  # noqa: F401 (panels is a fixture)


def _refusals(ip, panel, cell: str, *, research: str | None = None) -> tuple[str, str, str | None]:
    """What a cell, the panel and (optionally) a research cell say to the same mistake."""
    with pytest.raises(UsageError) as from_cell:
        ip.run(cell)
    assert panel.send("Q") is False
    from_research = None
    if research is not None:
        with pytest.raises(UsageError) as caught:
            ip.run(research)
        from_research = str(caught.value)
    return str(from_cell.value), notice(panel), from_research


def _same_everywhere(ip, panel, emulator, cell: str, research: str | None = None) -> str:
    from_cell, from_panel, from_research = _refusals(ip, panel, cell, research=research)
    assert from_panel == f"**{from_cell}**"  # the panel shows the same line, in bold
    if research is not None:
        assert from_research == from_cell
    assert creates(emulator) == []
    return from_cell


def test_a_missing_key_is_worded_alike_everywhere(ip, panels, emulator, monkeypatch):  # noqa: F811
    monkeypatch.delenv("GEMINI_API_KEY")
    said = _same_everywhere(ip, panels(), emulator, "%%gemini\nQ", "%%gemini --research\nQ")
    assert said == NO_KEY


def test_a_busy_thread_is_worded_alike_everywhere(ip, panels, emulator):  # noqa: F811
    panel = panels()
    with ip.magics.threads["default"].acquire():  # a turn is running on it
        said = _same_everywhere(ip, panel, emulator, "%%gemini\nQ", "%%gemini --research\nQ")
    assert said.startswith("thread 'default' is busy with another turn") and "wait for it" in said


def test_an_unknown_model_is_worded_alike_in_cells_and_panels(ip, panels, emulator):  # noqa: F811
    ip.run("%config GeminiMagics.model = 'gemini-3.5-flsh'")
    said = _same_everywhere(ip, panels(), emulator, "%%gemini\nQ")
    assert said == "unknown model 'gemini-3.5-flsh'; did you mean gemini-3.5-flash?"


def test_a_bad_attachment_is_worded_alike_in_cells_panels_and_research(ip, panels, emulator):  # noqa: F811
    panel = panels()
    ip.user_ns["notes"] = b"just some words"
    panel.attach.value = (_upload("notes", b"just some words"),)
    said = _same_everywhere(
        ip, panel, emulator, "%%gemini --attach notes\nQ", "%%gemini --research --attach notes\nQ"
    )
    assert "notes" in said


def test_a_bad_thread_name_is_worded_alike_everywhere(ip, emulator):
    from gemini_magics.widgets.chat import ChatPanel

    messages = []
    for attempt in (
        lambda: ip.run("%%gemini -t a/b\nQ"),
        lambda: ip.run("%%gemini --research -t a/b\nQ"),
        lambda: ChatPanel("a/b", session=ip.magics.session),
    ):
        with pytest.raises(UsageError) as caught:
            attempt()
        messages.append(str(caught.value))
    assert len(set(messages)) == 1 and "thread name 'a/b' is not allowed" in messages[0]


# -- the session without IPython -----------------------------------------------------------------
def test_a_session_prepares_and_runs_turns_without_ipython(emulator, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    emulator.enqueue(Reply.text("First."), Reply.text("Second."))
    session = Session(Settings(base_url=emulator.base_url, model="gemini-1.5-pro"))
    try:
        prepared = session.prepare(
            TurnRequest("Hi {{name}}", system="Be {{mood}}."), {"name": "Ada", "mood": "brief"}
        )
        assert prepared.notes == ["gemini-1.5-pro is retired; using gemini-3.5-flash instead."]
        events: list[object] = []
        result = session.run(prepared, on_event=events.append)
        assert result.text == "First." and events
        second = session.prepare(TurnRequest("Again", origin="panel", raw=True))
        session.run(second, on_event=lambda event: None)
        bodies = [r.body for r in creates(emulator)]
        assert bodies[0]["input"] == "Hi Ada" and bodies[1]["system_instruction"] == "Be brief."
        assert bodies[1]["previous_interaction_id"] == result.interaction_id
        with pytest.raises(
            InputError, match=re.escape("no variable named 'who' in {{who}}; define it first")
        ):
            session.prepare(TurnRequest("Hi {{who}}"))
        with pytest.raises(InputError, match="^empty prompt: type a question first$"):
            session.prepare(TurnRequest("  \n", origin="panel"))
    finally:
        session.close()


def test_current_session_loads_the_extension(bare_shell):
    session = current_session(bare_shell.shell)
    assert bare_shell.magics.session is session
    assert current_session(bare_shell.shell) is session


def test_traits_feed_the_session(ip, emulator):
    session = ip.magics.session
    assert session.settings.stream_interval == 0.0  # set in the config before loading
    ip.run("%config GeminiMagics.stream_interval = 0.25")
    ip.run("%config GeminiMagics.max_retry_wait = 7")
    ip.run("%config GeminiMagics.base_url = 'http://127.0.0.1:9/'")
    ip.run("%config GeminiMagics.thread = 'lab'")
    assert session.settings.stream_interval == 0.25 and session.settings.thread == "lab"
    assert session.connection.max_retry_wait == 7 and session.connection.base_url == "http://127.0.0.1:9/"


def test_the_widgets_trait_decides_between_panel_and_text(ip, emulator):
    magics = ip.magics
    assert magics.widgets == "auto" and magics.widget_frontend is False  # no kernel: a terminal
    ip.run("%config GeminiMagics.widgets = 'on'")
    assert magics.widget_frontend is True
    ip.run("%config GeminiMagics.widgets = 'off'")
    emulator.enqueue(research_reply("q", duration=0.2))
    cell = ip.run("%%gemini --research\nQ")  # blocks with text progress instead of a panel
    assert "Research complete." in cell.stdout
    with pytest.raises(TraitError):
        magics.widgets = "sometimes"


# -- closing ---------------------------------------------------------------------------------------
def _workers() -> list[threading.Thread]:
    names = ("gemini-turn", "gemini-research")
    return [
        t for t in threading.enumerate() if t.name.startswith(names) and t.name != "gemini-research-clock"
    ]


def test_unloading_stops_panel_turns_and_research_runs(ip, panels, emulator):  # noqa: F811
    emulator.enqueue(
        research_reply("TPUs", duration=30.0),
        Reply.text("one two three four", deltas=4, stall_after=2, stall_seconds=30),
    )
    ip.run("%config GeminiMagics.widgets = 'on'")
    ip.run("%%gemini --research -t lab -o report\nTPUs")
    panel = panels()
    assert panel.send("A long answer")
    report, session = ip.user_ns["report"], ip.magics.session
    wait_for(lambda: len(creates(emulator)) == 2 and report.interaction_id is not None)
    assert len(session.running) == 2 and len(_workers()) >= 2

    ip.run("%unload_ext gemini_magics")

    assert _workers() == [] and session.running == []  # close() waited for them
    wait_for(lambda: not [t for t in threading.enumerate() if t.name == "gemini-research-clock"])
    assert report.done and report.status == "cancelled"
    assert any(r.path.endswith("/cancel") for r in emulator.requests)
    assert not panel.running and panel.last_result.status == "incomplete"
    assert panel.send("After unloading") is False
    assert "gemini_magics was unloaded" in notice(panel)

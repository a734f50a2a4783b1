"""%gemini sub-commands: status, models, threads, history, reset, login, offline/online."""

from __future__ import annotations

import getpass

import pytest

from gemini_magics.core import models
from gemini_magics.emulator import Reply

from .support import TEST_KEY, creates, html_of, markdown_of, refused, text_of


def test_status_shows_only_the_last_four_characters_of_the_key(ip, emulator):
    out = ip.run("%gemini status").stdout
    assert f"…{TEST_KEY[-4:]} from $GEMINI_API_KEY" in out
    assert TEST_KEY not in out
    assert f"server:  {emulator.base_url}" in out
    assert "model:   gemini-3.5-flash" in out


def test_models_come_from_the_sdk(ip):
    out = ip.run("%gemini models").stdout
    assert "gemini-3.5-flash (default)" in out
    assert len(models.known_models()) > 10
    assert all(model in out for model in models.known_models())
    assert "deep-research-preview-04-2026" in out


def test_threads_history_and_reset(ip, emulator):
    emulator.enqueue(*(Reply.text(f"r{n}", usage=None) for n in range(3)))
    ip.run("%%gemini\nFirst question about lists | pipes", cell_id="c1")
    ip.run("%%gemini\nSecond question", cell_id="c2")
    ip.run("%%gemini -t side\nAside")
    listing = ip.run("%gemini threads").stdout
    assert "default: 2 turn(s)" in listing and "side: 1 turn(s)" in listing
    table = html_of(ip.run("%gemini history"))
    assert "<td>First question about lists | pipes</td>" in table
    head = ip.magics.threads["default"].head
    assert head in table and "gemini-3.5-flash" in table and "c1" in table
    ip.run("%gemini reset")
    assert ip.magics.threads["default"].head is None
    assert ip.magics.threads["side"].head is not None
    ip.run("%gemini reset --all")
    assert ip.magics.threads["side"].head is None


def test_double_dash_forces_a_prompt_that_starts_with_a_command_word(ip, emulator):
    emulator.enqueue(Reply.text("ok"))
    ip.run("%gemini -- status of the Roman empire in 200 AD?")
    assert creates(emulator)[0].body["input"] == "status of the Roman empire in 200 AD?"


def test_login_asks_without_echo_and_keeps_the_key_in_memory(ip, emulator, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setattr(getpass, "getpass", lambda prompt: TEST_KEY)  # the terminal's typing
    out = ip.run("%gemini login").stdout
    assert TEST_KEY not in out and TEST_KEY[-4:] in out
    emulator.enqueue(Reply.text("logged in"))
    ip.run("%gemini hi")
    assert ip.user_ns["_gemini"].text == "logged in"
    assert "%gemini login" in ip.run("%gemini status").stdout


def test_offline_and_online(bare_shell):
    bare_shell.run("%load_ext gemini_magics")
    out = bare_shell.run("%gemini offline").stdout
    assert "built-in emulator" in out
    cell = bare_shell.run("%%gemini\nWhat is a closure?")
    shown = markdown_of(cell)
    assert "Offline" in shown and "not Gemini" in shown
    result = bare_shell.user_ns["_gemini"]
    assert result.status == "completed" and "closure" in result.text
    assert "offline" in result.text.lower()
    bare_shell.run("%%gemini\nAnd a second turn")
    assert bare_shell.user_ns["_gemini"].status == "completed"
    assert len(bare_shell.magics.threads["default"].turns) == 2
    assert "no key set" in bare_shell.run("%gemini online").stdout
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="no API key"):
        bare_shell.run("%gemini hi")


def shown(cell) -> str:
    return "\n".join(text_of(output["data"]) for output in cell.outputs if "data" in output)


def test_a_thread_moved_to_another_server_starts_over_on_its_next_turn(ip, emulator):
    ip.run("%gemini -t lesson first question")
    ip.run("%gemini -t lesson second question")
    ip.run("%gemini offline")
    assert len(ip.magics.threads["lesson"].turns) == 2  # kept until the thread goes on, e.g. for export
    cell = ip.run("%gemini -t lesson third question")
    assert "Thread 'lesson' starts over" in shown(cell)  # the emulator would not know its ids
    assert ip.user_ns["_gemini"].status == "completed"
    assert len(ip.magics.threads["lesson"].turns) == 1
    ip.run("%gemini offline")  # the same server: the thread goes on
    assert "starts over" not in shown(ip.run("%gemini -t lesson fourth question"))
    assert len(ip.magics.threads["lesson"].turns) == 2
    ip.run("%gemini online")
    assert "Thread 'lesson' starts over" in shown(ip.run("%gemini -t lesson back with the key"))
    assert "previous_interaction_id" not in creates(emulator)[-1].body


def test_a_refused_turn_leaves_a_moved_thread_as_it_was(ip, emulator):
    ip.run("%gemini -t lesson first question")
    ip.run("%gemini -t lesson second question")
    ip.run("%gemini offline")
    assert "--code" in refused(ip, "%gemini -t lesson --code --image a diagram")
    assert "--code" in refused(ip, "%gemini -t lesson --new --code --image a diagram")
    assert len(ip.magics.threads["lesson"].turns) == 2, "nothing was sent: nothing starts over"
    assert "Thread 'lesson' starts over" in shown(ip.run("%gemini -t lesson third question"))


def test_offline_from_the_environment_on_load(bare_shell, monkeypatch):
    monkeypatch.setenv("GEMINI_MAGICS_OFFLINE", "1")
    bare_shell.run("%load_ext gemini_magics")
    assert "offline" in bare_shell.run("%gemini status").stdout
    bare_shell.run("%gemini hello")
    assert (
        "Offline emulator" in bare_shell.user_ns["_gemini"].text
        or "offline" in bare_shell.user_ns["_gemini"].text.lower()
    )

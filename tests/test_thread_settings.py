"""Thread settings: -s, --thinking, --temperature and --max-output-tokens stick to the thread.

The API scopes them to one interaction; the thread re-sends them on every later turn, from cells and
panels alike, until they are changed, cleared (-s '', --temperature default), or the thread starts
over (--new, reset). They change only when the turn that set them completes.
"""

from __future__ import annotations

import pytest

from gemini_magics.core.threads import ThreadSettings
from gemini_magics.emulator import Fault, Reply

from .support import creates
from .test_chat import panels  # noqa: F401 (a fixture)

PIRATE = "Answer like a pirate."


def _sent(emulator, n: int = -1) -> dict:
    """What turn ``n`` was sent with: its system instruction and generation config."""
    body = creates(emulator)[n].body
    return {"system": body.get("system_instruction"), **body.get("generation_config", {})}


def test_settings_given_once_are_sent_on_every_later_turn(ip, emulator):
    emulator.enqueue(*(Reply.text(f"Arr {n}.") for n in range(3)))
    ip.run(f"%%gemini -s '{PIRATE}' --thinking low --temperature 0.3 --max-output-tokens 200\nHello")
    ip.run("%%gemini\nWhat is a generator?")
    ip.run("%gemini And a list?")
    expected = {"system": PIRATE, "thinking_level": "low", "temperature": 0.3, "max_output_tokens": 200}
    assert [_sent(emulator, n) for n in range(3)] == [expected] * 3


def test_a_setting_can_be_changed_and_cleared(ip, emulator):
    emulator.enqueue(*(Reply.text(f"r{n}") for n in range(5)))
    ip.run(f"%%gemini -s '{PIRATE}' --temperature 0.3 --thinking high\nHello")
    ip.run("%%gemini --temperature 1.5\nAgain")  # changed; the rest stays
    assert _sent(emulator) == {"system": PIRATE, "temperature": 1.5, "thinking_level": "high"}
    ip.run("%%gemini -s ''\nPlainly now")  # cleared
    assert _sent(emulator) == {"system": None, "temperature": 1.5, "thinking_level": "high"}
    ip.run("%%gemini --temperature default --thinking default\nDefaults")
    assert _sent(emulator) == {"system": None}
    ip.run("%%gemini\nStill default")
    assert _sent(emulator) == {"system": None}


def test_settings_belong_to_their_thread(ip, emulator):
    emulator.enqueue(*(Reply.text(f"r{n}") for n in range(3)))
    ip.run(f"%%gemini -t pirate -s '{PIRATE}'\nHello")
    ip.run("%%gemini -t plain\nHello")
    ip.run("%%gemini -t pirate\nAgain")
    assert [_sent(emulator, n)["system"] for n in range(3)] == [PIRATE, None, PIRATE]


def test_new_and_reset_clear_the_settings(ip, emulator):
    emulator.enqueue(*(Reply.text(f"r{n}") for n in range(5)))
    ip.run(f"%%gemini -s '{PIRATE}' --temperature 0.3\nHello")
    ip.run("%%gemini --new\nFresh start")
    assert _sent(emulator) == {"system": None}
    ip.run(f"%%gemini -s '{PIRATE}'\nHello again")
    ip.run("%gemini reset")
    assert ip.magics.threads["default"].settings == ThreadSettings()
    ip.run("%%gemini\nAfter the reset")
    assert _sent(emulator) == {"system": None}
    ip.run("%%gemini --new -s 'Be terse.'\nA new start with its own setting")
    assert _sent(emulator)["system"] == "Be terse."


def test_a_failed_turn_does_not_change_the_settings(ip, emulator):
    emulator.enqueue(Reply.text("ok"), Fault.http(400, "invalid_request", "Bad thing"), Reply.text("ok"))
    ip.run(f"%%gemini -s '{PIRATE}'\nHello")
    with pytest.raises(Exception, match="Bad thing"):
        ip.run("%%gemini -s 'Be terse.'\nThis one fails")
    ip.run("%%gemini\nAgain")
    assert _sent(emulator)["system"] == PIRATE


def test_rerunning_a_cell_uses_the_settings_as_they_were_for_it(ip, emulator):
    emulator.enqueue(*(Reply.text(f"r{n}") for n in range(4)))
    ip.run(f"%%gemini -s '{PIRATE}'\nFirst", cell_id="a")
    ip.run("%%gemini -s 'Be terse.'\nSecond", cell_id="b")
    ip.run("%%gemini\nThird", cell_id="c")
    assert _sent(emulator)["system"] == "Be terse."
    ip.run("%%gemini\nSecond, without -s now", cell_id="b")  # rewinds to after cell a
    assert _sent(emulator)["system"] == PIRATE
    assert ip.magics.threads["default"].settings.system == PIRATE


def test_system_instruction_fills_variables(ip, emulator):
    emulator.enqueue(Reply.text("ok"), Reply.text("ok"))
    ip.user_ns["persona"] = "a pirate"
    ip.run("%%gemini -s 'Answer like {{persona}}.'\nHello")
    ip.user_ns["persona"] = "a poet"
    ip.run("%%gemini\nAgain")  # the thread keeps the text as it was sent
    assert [_sent(emulator, n)["system"] for n in range(2)] == ["Answer like a pirate."] * 2


def test_a_panel_sends_the_threads_settings_and_keeps_them(ip, panels, emulator):  # noqa: F811
    emulator.enqueue(*(Reply.text(f"r{n}") for n in range(3)))
    ip.run(f"%%gemini -s '{PIRATE}' --temperature 0.4\nHello")
    panel = panels()
    assert panel.send("Ahoy from the panel")
    assert panel.wait(10)
    assert _sent(emulator) == {"system": PIRATE, "temperature": 0.4}
    ip.run("%%gemini\nAnd from a cell after the panel")
    assert _sent(emulator) == {"system": PIRATE, "temperature": 0.4}
    thread = ip.magics.threads["default"]
    assert len(thread.turns) == 3 and all(t.settings == thread.settings for t in thread.turns)


def test_a_reset_during_a_panel_turn_wins_over_its_settings(ip, panels, emulator):  # noqa: F811
    emulator.enqueue(Reply.text("ok"), Reply.text("slow " * 10, deltas=10, delay=0.05), Reply.text("ok"))
    ip.run(f"%%gemini -s '{PIRATE}'\nHello")
    panel = panels()
    assert panel.send("A slow one")
    ip.run("%gemini reset")
    assert panel.wait(10)
    assert ip.magics.threads["default"].settings == ThreadSettings()
    ip.run("%%gemini\nAfter")
    assert _sent(emulator)["system"] is None


def test_history_and_status_show_the_settings(ip, emulator):
    emulator.enqueue(Reply.text("ok"))
    ip.run(f"%%gemini -t lab -s '{PIRATE}' --temperature 0.3\nHello")
    history = ip.run("%gemini history lab")
    plain = history.outputs[-1]["data"]["text/plain"]
    html = history.outputs[-1]["data"]["text/html"]
    expected = f"system '{PIRATE}' · temperature 0.3"
    assert f"settings: {expected}" in plain and "Answer like a pirate." in html
    status = ip.run("%gemini status").stdout
    assert f"settings: {expected}" in status
    ip.run("%gemini reset lab")
    assert "settings" not in ip.run("%gemini status").stdout


def test_bad_values_are_one_line_usage_errors(ip, emulator):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="use a number from 0 to 2, or 'default' to clear it"):
        ip.run("%%gemini --temperature hot\nQ")
    with pytest.raises(UsageError, match="use a positive whole number, or 'default'"):
        ip.run("%%gemini --max-output-tokens many\nQ")
    with pytest.raises(UsageError, match="--max-output-tokens must be a positive number of tokens, not 0"):
        ip.run("%%gemini --max-output-tokens 0\nQ")
    assert creates(emulator) == []


def test_describe_and_update_rules():
    settings = ThreadSettings().updated(system="Be terse.", temperature=0.2, thinking=None)
    assert settings.describe() == "system 'Be terse.' · temperature 0.2"
    assert settings.updated(system="").describe() == "temperature 0.2"
    assert settings.updated(temperature="default") == ThreadSettings(system="Be terse.")
    assert ThreadSettings().describe() == "model defaults" and not ThreadSettings()


def test_a_research_turn_keeps_the_threads_settings_for_later_cells(ip, emulator):
    from gemini_magics.emulator.research import research_reply

    emulator.enqueue(Reply.text("ok"), research_reply("q", duration=0.2), Reply.text("ok"))
    ip.run(f"%%gemini -s '{PIRATE}'\nHello")
    ip.run("%%gemini --research\nHistory of TPUs")
    assert "system_instruction" not in creates(emulator)[1].body  # agents take none
    ip.run("%%gemini\nSummarise it")
    assert _sent(emulator)["system"] == PIRATE

"""`%gemini usage` and the token budget: counted in the Session for cells, lines, panels and research."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from gemini_magics.emulator import Reply, WallClock
from gemini_magics.emulator.research import research_reply
from gemini_magics.widgets.chat import ChatPanel

from .support import TEST_KEY, creates, wait_for


@pytest.fixture
def emulator_options():
    return {"clock": WallClock(speed=10)}  # research runs below play ten times faster


def _usage(input_tokens: int, output_tokens: int, thought_tokens: int = 0) -> dict[str, int]:
    return {
        "total_input_tokens": input_tokens,
        "total_output_tokens": output_tokens,
        "total_thought_tokens": thought_tokens,
        "total_tokens": input_tokens + output_tokens + thought_tokens,
    }


def _table(ip) -> tuple[dict[tuple[str, str], list[str]], str, str]:
    cell = ip.run("%gemini usage")
    (output,) = cell.outputs
    lines = output["data"]["text/plain"].splitlines()
    rows = {}
    for line in lines[1:-1]:
        words = line.split()
        rows[(words[0], words[1] if words[0] != "all" else "")] = words[-5:]
    return rows, lines[-1], output["data"]["text/html"]


def test_usage_table_adds_up_what_the_server_reported_by_thread_and_model(ip, emulator):
    emulator.enqueue(
        Reply.text("one", usage=_usage(10, 20, 5)),
        Reply.text("two", usage=_usage(100, 200)),
        Reply.text("three", usage=_usage(1000, 2000, 300)),
        Reply.text("four", usage=_usage(7, 8)),
    )
    ip.run("%%gemini\nfirst")
    ip.run("%gemini second")
    ip.run("%%gemini -t lab -m gemini-3.8-flash\nthird")
    ip.run("%%gemini -t lab\nfourth")
    rows, footer, page = _table(ip)
    assert rows[("default", "gemini-3.5-flash")] == ["2", "110", "220", "5", "335"]
    assert rows[("lab", "gemini-3.8-flash")] == ["1", "1,000", "2,000", "300", "3,300"]
    assert rows[("lab", "gemini-3.5-flash")] == ["1", "7", "8", "0", "15"]
    assert rows[("all", "")] == ["4", "1,117", "2,228", "305", "3,650"]
    assert footer == "no token budget set"
    assert "<th>thread</th>" in page and "<td>3,300</td>" in page
    assert ip.magics.session.usage.used() == 3650


def test_usage_counts_the_emulators_own_numbers(ip, emulator):
    ip.run("%%gemini -t notes\nHello")
    ip.run("%%gemini -t notes\nAnd again")
    turns = ip.magics.threads["notes"].turns
    first, second = (emulator.interaction(turn.interaction_id)["usage"] for turn in turns)
    rows, _, _ = _table(ip)
    total = first["total_tokens"] + second["total_tokens"]
    assert total > 0 and rows[("notes", "gemini-3.5-flash")][-1] == f"{total:,}"


def test_usage_before_any_turn_and_help(ip):
    assert "no tokens used yet" in ip.run("%gemini usage").stdout
    assert "usage: %gemini usage" in ip.run("%gemini usage --help").stdout
    with pytest.raises(UsageError, match="takes no arguments"):
        ip.run("%gemini usage now")


BUDGET_MESSAGE = r"token budget of 100 reached \(120 used in this kernel\); raise it with %config"


def test_the_budget_refuses_cells_and_lines_once_used_and_config_raises_it(ip, emulator):
    ip.run("%config GeminiMagics.token_budget = 100")
    emulator.enqueue(Reply.text("spent", usage=_usage(50, 70)), Reply.text("again", usage=_usage(1, 1)))
    ip.run("%%gemini\nfirst")  # under the budget when it starts; it finishes past it
    with pytest.raises(UsageError, match=BUDGET_MESSAGE):
        ip.run("%%gemini\nsecond")
    with pytest.raises(UsageError, match=BUDGET_MESSAGE):
        ip.run("%gemini second")
    assert len(creates(emulator)) == 1  # nothing was sent
    assert (
        ip.run("%gemini usage")
        .outputs[0]["data"]["text/plain"]
        .endswith("budget 100 tokens: 120 used, 0 left")
    )
    ip.run("%config GeminiMagics.token_budget = 1000")
    ip.run("%%gemini\nsecond")
    assert len(creates(emulator)) == 2
    ip.run("%config GeminiMagics.token_budget = None")
    ip.run("%gemini third")
    assert len(creates(emulator)) == 3


def test_the_budget_refuses_a_panel_turn_with_the_message_in_the_panel(ip, emulator):
    ip.run("%config GeminiMagics.token_budget = 100")
    emulator.enqueue(Reply.text("spent", usage=_usage(50, 70)))
    panel = ChatPanel("side", session=ip.magics.session)
    try:
        assert panel.send("first")
        assert panel.wait(10)
        assert ip.magics.session.usage.used() == 120  # a panel's turn is counted too
        assert not panel.send("second")
        assert "token budget of 100 reached" in str(panel.notice.outputs)
        with pytest.raises(UsageError, match=BUDGET_MESSAGE):
            ip.run("%%gemini -t other\nfrom a cell")
    finally:
        panel.close()
        panel.wait(5)
    assert len(creates(emulator)) == 1


def test_research_is_counted_and_refused_past_the_budget(ip, emulator):
    emulator.enqueue(research_reply("q", duration=0.3, usage=_usage(400, 600, 50)))
    ip.run("%%gemini --research -t study\nHistory of TPUs")
    run = ip.user_ns["_gemini"]
    wait_for(lambda: run.done, 10, "the research run to end")
    rows, _, _ = _table(ip)
    assert rows[("study", "deep-research-preview-04-2026")] == ["1", "400", "600", "50", "1,050"]
    ip.run("%config GeminiMagics.token_budget = 1000")
    with pytest.raises(UsageError, match=r"token budget of 1,000 reached \(1,050 used"):
        ip.run("%%gemini --research\nAgain")
    assert len(creates(emulator)) == 1


def test_the_environment_sets_the_budget_for_everyone(bare_shell, emulator, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    monkeypatch.setenv("GEMINI_MAGICS_TOKEN_BUDGET", "20_000")
    bare_shell.run("%load_ext gemini_magics")
    assert bare_shell.magics.token_budget == 20000
    assert bare_shell.magics.session.settings.token_budget == 20000
    emulator.enqueue(Reply.text("big", usage=_usage(15_000, 5_431)))
    bare_shell.run("%%gemini\nfirst")
    message = r"token budget of 20,000 reached \(20,431 used in this kernel\); raise it with %config " + (
        r"GeminiMagics.token_budget = N"
    )
    with pytest.raises(UsageError, match=message):
        bare_shell.run("%%gemini\nsecond")


def test_config_wins_over_the_environment(bare_shell, monkeypatch):
    monkeypatch.setenv("GEMINI_MAGICS_TOKEN_BUDGET", "20000")
    bare_shell.shell.config.GeminiMagics.token_budget = 5
    bare_shell.run("%load_ext gemini_magics")
    assert bare_shell.magics.session.settings.token_budget == 5


@pytest.mark.parametrize("value", ["20k", "-5", "1.5e4"])
def test_an_unreadable_environment_budget_fails_loading_with_one_line(bare_shell, monkeypatch, value):
    monkeypatch.setenv("GEMINI_MAGICS_TOKEN_BUDGET", value)
    with pytest.raises(UsageError, match=f"GEMINI_MAGICS_TOKEN_BUDGET='{value}' is not a whole number"):
        bare_shell.run("%load_ext gemini_magics")


def test_batch_rows_count_under_their_own_line(ip, emulator):
    emulator.enqueue(
        Reply.text("cell", usage=_usage(1, 2)),
        Reply.text("row", usage=_usage(10, 20)),
        Reply.text("row", usage=_usage(10, 20)),
    )
    ip.run("%gemini a cell first")
    ip.user_ns["words"] = ["alpha", "beta"]
    ip.run("%%gemini --map words --concurrency 1\nSay {{item}}")
    rows, _, _ = _table(ip)
    assert rows[("default", "gemini-3.5-flash")] == ["1", "1", "2", "0", "3"]
    assert rows[("(batch)", "gemini-3.5-flash")] == ["2", "20", "40", "0", "60"]
    assert rows[("all", "")][-1] == "63"

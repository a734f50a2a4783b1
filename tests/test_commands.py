"""The sub-command router and the shared option spec: usage and help for every sub-command, bad flags
as one line, only router words as commands, and one spec for %%gemini, %gemini and %gemini research."""

from __future__ import annotations

import getpass

import pytest
from IPython.core.error import UsageError

from gemini_magics.emulator import Reply
from gemini_magics.emulator.research import research_reply
from gemini_magics.ipython.args import ARGUMENTS
from gemini_magics.ipython.commands import COMMANDS
from gemini_magics.ipython.commands.parser import CommandParser, HelpShown

from .support import creates, refused

DOCUMENTED = {
    "status",
    "models",
    "threads",
    "history",
    "reset",
    "chat",
    "research",
    "login",
    "offline",
    "online",
    "usage",
    "export",
    "record",
    "replay",
    "fix",
}


def test_the_router_holds_exactly_the_documented_sub_commands():
    assert set(COMMANDS) == DOCUMENTED


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_help_of_every_sub_command_prints_its_usage_and_does_nothing_else(
    ip, emulator, monkeypatch, name, flag
):
    def no_prompt(prompt: str) -> str:
        raise AssertionError("--help must not ask for a key")

    monkeypatch.setattr(getpass, "getpass", no_prompt)
    emulator.enqueue(Reply.text("kept"))
    ip.run("%gemini hello")
    head = ip.magics.threads["default"].head
    out = ip.run(f"%gemini {name} {flag}").stdout  # no UsageError, no SystemExit
    assert out.startswith(f"usage: %gemini {name}"), out
    summary = (COMMANDS[name].__doc__ or "").strip().splitlines()[0]
    assert summary in " ".join(out.split())
    assert "-h, --help" in out
    assert len(creates(emulator)) == 1  # nothing started, nothing cancelled
    assert ip.magics.threads["default"].head == head  # reset --help resets nothing
    assert not ip.magics.connection.offline  # offline --help switches nothing


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_a_bad_flag_is_one_usage_line_for_every_sub_command(ip, emulator, name):
    message = refused(ip, f"%gemini {name} --bogus")
    assert f"%gemini {name}" in message
    assert "--bogus" in message
    assert "unrecognized arguments" in message or "takes no arguments" in message
    assert creates(emulator) == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%gemini status extra", "%gemini status takes no arguments (got 'extra')"),
        ("%gemini history a b", "unrecognized arguments: b; usage: %gemini history [THREAD]"),
        ("%gemini reset a b", "unrecognized arguments: b; usage: %gemini reset [THREAD|--all]"),
        ("%gemini reset side --all", "give a thread or --all, not both (got 'side' and --all)"),
        ("%gemini chat a b", "unrecognized arguments: b; usage: %gemini chat [THREAD]"),
        ("%gemini research", "no prompt: write the question after the options; usage: %gemini research"),
        ("%gemini research --wait", "no prompt"),
        ("%gemini research -m gemini-3.5-flash Q", "unrecognized arguments: -m"),
        ("%gemini research --temperature 1 Q", "unrecognized arguments: --temperature"),
        ("%gemini research --image Q", "unrecognized arguments: --image"),
        (
            "%gemini research --cancel",
            "argument --cancel: expected one argument; usage: %gemini research --cancel",
        ),
        ("%gemini research --cancel v1_x --wait", "--cancel takes only the run, not --wait"),
        ("%gemini research --cancel v1_x Q", "--cancel takes only the run, not PROMPT"),
        ("%gemini research --resume v1_x --max", "--resume takes -t, -o and --wait, not --max"),
        ("%gemini research --resume v1_x more words", "--resume takes -t, -o and --wait, not PROMPT"),
        ("%gemini research --resume a --cancel b", "not allowed with argument"),
        ("%gemini research --thinking high Q", "unrecognized arguments: --thinking"),
    ],
)
def test_sub_command_mistakes_name_the_problem_and_the_usage(ip, emulator, line, expected):
    assert expected in refused(ip, line)
    assert creates(emulator) == []


def test_a_usage_of_several_lines_is_quoted_on_one_line_in_errors():
    parser = CommandParser("demo", "A\n       %gemini demo --other B", "A demo with two forms.")
    parser.add_argument("x", nargs="?")
    with pytest.raises(UsageError) as caught:
        parser.parse("--bogus")
    assert (
        str(caught.value) == "unrecognized arguments: --bogus; usage: %gemini demo A %gemini demo --other B"
    )
    parser.error_usage = "%gemini demo --other B"  # the form the user was typing
    with pytest.raises(UsageError, match=r"--bogus; usage: %gemini demo --other B$"):
        parser.parse("--bogus")


def test_the_parser_raises_on_help_and_errors_instead_of_exiting():
    parser = CommandParser("demo", "[X]", "A demo.")
    parser.add_argument("x", nargs="?")
    with pytest.raises(HelpShown):
        parser.parse("--help")
    with pytest.raises(UsageError, match=r"unrecognized arguments: y; usage: %gemini demo \[X\]"):
        parser.parse("a y")
    assert parser.parse("'two words'").x == "two words"


def test_help_lists_the_sub_commands_and_the_options(ip, emulator):
    out = ip.run("%gemini --help").stdout
    for name, command in COMMANDS.items():
        summary = (command.__doc__ or "").strip().splitlines()[0]
        assert any(line.split() == [name, *summary.split()] for line in out.splitlines()), name
    assert "%gemini -- PROMPT" in out
    for definition in ARGUMENTS:
        assert definition.args[-1] in out or definition.args[-1] == "prompt"
    assert ip.run("%gemini -h").stdout == out
    assert ip.run("%%gemini --help\nthis body is not sent").stdout == out
    assert creates(emulator) == []


@pytest.mark.parametrize(
    "line",
    [
        "what is 2+2",
        "help me write a haiku",
        "statuses of the planets",
        "-- history of Rome",
        "-- reset --all",
    ],
)
def test_only_router_words_are_commands_everything_else_is_a_prompt(ip, emulator, line):
    emulator.enqueue(Reply.text("ok"))
    ip.run(f"%gemini {line}")
    assert creates(emulator)[0].body["input"] == line.removeprefix("-- ")


def test_the_cell_magic_help_is_generated_from_the_shared_spec(ip):
    doc = ip.shell.find_cell_magic("gemini").__doc__
    for definition in ARGUMENTS:
        assert definition.args[-1] in doc
        assert " ".join(definition.kwds.get("help", "").split()[:3]) in " ".join(doc.split())
    assert "Send a prompt to Gemini" in doc


def test_research_options_come_from_the_shared_spec(ip):
    research_help = " ".join(ip.run("%gemini research --help").stdout.split())
    for definition in ARGUMENTS:
        if definition.args[-1] in (
            "--thread",
            "--out",
            "--new",
            "--raw",
            "--attach",
            "--agent",
            "--max",
            "--wait",
        ):
            assert " ".join(definition.kwds["help"].split()) in research_help


def test_research_takes_the_spec_options_in_any_order(ip, emulator):
    emulator.enqueue(research_reply("q", duration=0.2))
    ip.run("%gemini research --agent 'deep-research-preview-04-2026' --wait -t lab -o rep Deep question")
    run = ip.user_ns["rep"]
    assert run is ip.user_ns["_gemini"] and run.done and run.status == "completed"
    body = creates(emulator)[0].body
    assert body["agent"] == "deep-research-preview-04-2026"
    assert body["input"] == "Deep question"
    assert [t.interaction_id for t in ip.magics.threads["lab"].turns] == [run.interaction_id]
    emulator.enqueue(research_reply("q", duration=0.2))
    ip.run("%gemini research --max --new -t lab --wait Again")
    assert creates(emulator)[1].body["agent"] == "deep-research-max-preview-04-2026"
    assert "previous_interaction_id" not in creates(emulator)[1].body  # --new started the thread over


def test_research_prompt_words_keep_their_quotes_as_a_line_prompt_does(ip, emulator):
    emulator.enqueue(research_reply("q", duration=0.2), Reply.text("ok"))
    ip.run("""%gemini research --wait -o 'rep' what is "new" in TPUs""")
    ip.run("""%gemini what is "new" in TPUs""")
    assert [r.body["input"] for r in creates(emulator)] == ["""what is "new" in TPUs"""] * 2
    assert ip.user_ns["rep"].done  # an option value loses its quotes


def test_commands_never_import_the_magics_module():
    from .test_layout import PACKAGE, _imports

    files = sorted((PACKAGE / "ipython" / "commands").glob("*.py"))
    assert len(files) >= len(set(COMMANDS.values())) // 3  # the package was found
    offenders = [
        f"{path.name} imports {name}"
        for path in files
        for name in _imports(path)
        if name.startswith("gemini_magics.ipython.magics")
    ]
    assert offenders == []

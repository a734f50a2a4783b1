"""``%gemini WORD …``: one router from a sub-command's name to its function.

Each sub-command is a function ``(ctx, rest)`` in a module of this package: ``ctx`` is a
:class:`CommandContext` (the shell and the state, never the magics class), ``rest`` the line after the
name. Each builds its own :class:`CommandParser`, so ``%gemini NAME --help`` prints its usage and a bad
flag is one ``UsageError`` line. Adding a sub-command is a function here and a line in ``COMMANDS``.

Only the words in ``COMMANDS`` are commands: ``%gemini what is 2+2`` is a prompt, and
``%gemini -- status of …`` sends a prompt that starts with a command word.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from ..args import spec_parser
from .chat import chat
from .connection import login, offline, online
from .context import CommandContext
from .export import export
from .fix import fix, is_fix
from .info import list_models, status
from .parser import CommandParser, HelpShown
from .record import record
from .replay import replay
from .research import research
from .threads import history, list_threads, reset
from .usage import usage

__all__ = ["COMMANDS", "CommandContext", "CommandParser", "dispatch", "is_fix", "overview"]

Command = Callable[[CommandContext, str], None]

COMMANDS: dict[str, Command] = {
    "status": status,
    "models": list_models,
    "threads": list_threads,
    "history": history,
    "reset": reset,
    "chat": chat,
    "research": research,
    "fix": fix,
    "login": login,
    "offline": offline,
    "online": online,
    "usage": usage,
    "export": export,
    "record": record,
    "replay": replay,
}

HELP_WORDS = ("-h", "--help")


def dispatch(ctx: CommandContext, line: str, *, cell: bool = False) -> bool:
    """Run the sub-command ``line`` names, or print the overview for ``--help``; False when ``line``
    is not a command (a prompt, or options for one)."""
    name, rest = (line.split(None, 1) + ["", ""])[:2]
    if name in HELP_WORDS and not rest.strip():
        print(overview())
        return True
    command = COMMANDS.get(name)
    if cell or command is None:
        return False
    with contextlib.suppress(HelpShown):  # -h/--help printed the command's help
        command(ctx, rest)
    return True


def overview() -> str:
    """``%gemini --help``: how to send a prompt, the sub-commands with one line each, the options."""
    width = max(map(len, COMMANDS))
    lines = [
        "%gemini PROMPT…            send one line; %%gemini sends the cell below it",
        "%gemini SUB-COMMAND …      one of:",
        "",
        *(f"  {name:<{width}}  {_summary(command)}" for name, command in COMMANDS.items()),
        "",
        "`%gemini SUB-COMMAND --help` shows its usage; `%gemini -- PROMPT` sends a prompt that starts",
        "with one of these words.",
        "",
        spec_parser().format_help().rstrip(),
    ]
    return "\n".join(lines)


def _summary(command: Command) -> str:
    return (command.__doc__ or "").strip().splitlines()[0]

"""``%gemini fix``: explain the latest failed cell, or (``--code``) put a corrected cell below it.

The failed cell's source and traceback (recorded by the magics when it failed, as redacted plain
text) are sent as an ordinary turn. It goes to its own thread, ``fix``, started over each time: a
traceback is long and says nothing about the user's own conversation, and a fresh thread keeps an
earlier error out of this answer. ``%%gemini -t fix`` asks a follow-up; ``-t NAME`` sends the fix
to another thread instead, continuing it.
"""

from __future__ import annotations

import re

from IPython.core.error import UsageError

from ...core.fix import FIX_THREAD, fix_prompt, redacted
from ..args import add_options, parse_line, with_defaults
from .context import CommandContext
from .parser import CommandParser

USAGE = "[--code] [-t THREAD] [-m MODEL] [WORDS…]"
_FIX_LINE = re.compile(r"\A\s*%gemini\s+fix(?:\s|\Z)")


def fix(ctx: CommandContext, rest: str) -> None:
    """Explain the last failed cell's error; --code puts a corrected cell below (not run)."""
    parser = CommandParser(
        "fix",
        USAGE,
        fix.__doc__ or "",
        epilog="The cell and its traceback are sent with the key redacted, to the thread 'fix' (started "
        "over each time) unless -t names one. Extra words go along, e.g. %gemini fix keep it in pandas",
    )
    add_options(parser, "--code", "-t", "-m", "--show-thoughts", "prompt")
    args = with_defaults(parse_line(parser, rest))
    failure = ctx.host.last_failure
    if failure is None:
        raise UsageError("no failed cell to fix yet: run the cell that fails, then %gemini fix")
    failure = redacted(failure, ctx.connection.secrets())
    if args.thread is None:
        args.thread, args.new = FIX_THREAD, True
    args.raw = True  # the source and traceback go as they are: no {{name}} filling in them
    where = f"cell [{failure.execution_count}]" if failure.execution_count else "the last failed cell"
    note = f"{'Correcting' if args.code else 'Explaining'} {where}: {failure.headline}"
    ctx.host.run_turn(args, fix_prompt(failure, " ".join(args.prompt), code=args.code), notes=(note,))


def is_fix(source: str) -> bool:
    """Whether a cell's source is a ``%gemini fix`` line."""
    return _FIX_LINE.match(source) is not None

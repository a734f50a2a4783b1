"""``%gemini research``: start a Deep Research run, reattach to one, or cancel one.

Its options come from the shared spec (``ipython/args.py``), so ``-t``, ``-o``, ``--agent`` … mean
here what they mean on ``%%gemini --research``; its line is split as the magic's is, so prompt
words keep their quotes.
"""

from __future__ import annotations

import argparse

from .. import research as research_magic
from ..args import add_options, parse_line, with_defaults
from .context import CommandContext
from .parser import CommandParser

START = "[-t THREAD] [-o VAR] [--new] [--raw] [--agent ID] [--max] [--wait] PROMPT… [--attach NAME…]"
RESUME = "--resume ID|VAR [-t THREAD] [-o VAR] [--wait]"
CANCEL = "--cancel ID|VAR"
# what --resume takes besides the run; everything else given with it is refused
RESUME_TAKES = {"thread", "out", "wait"}


def research(ctx: CommandContext, rest: str) -> None:
    """Run Deep Research in the background; or reattach to (--resume) or cancel (--cancel) a run."""
    parser = _parser()
    words = rest.split()
    form = RESUME if "--resume" in words else CANCEL if "--cancel" in words else START
    parser.error_usage = f"{parser.prog} {form}"
    args = parse_line(parser, rest)
    given = _given(args)
    if args.cancel is not None:
        if given - {"cancel"}:
            parser.error(f"--cancel takes only the run, not {_flags(given - {'cancel'})}")
        research_magic.cancel(ctx.host, _interaction_id(ctx, args.cancel))
    elif args.resume is not None:
        if given - RESUME_TAKES - {"resume"}:
            parser.error(f"--resume takes -t, -o and --wait, not {_flags(given - RESUME_TAKES - {'resume'})}")
        research_magic.resume(
            ctx.host, _interaction_id(ctx, args.resume), wait=args.wait, out=args.out, thread=args.thread
        )
    else:
        text = " ".join(args.prompt)
        if not text.strip():
            parser.error("no prompt: write the question after the options")
        options = with_defaults(args)
        options.research = True
        research_magic.start(ctx.host, options, text)


def _parser() -> CommandParser:
    parser = CommandParser(
        "research",
        f"{START}\n       %gemini research {RESUME}\n       %gemini research {CANCEL}",
        research.__doc__ or "",
        epilog="ID|VAR is an interaction id, or a variable holding a run (e.g. the -o VAR of its start).",
    )
    add_options(parser, "--thread", "--out", "--new", "--raw", "--agent", "--max", "--wait", "--attach")
    runs = parser.add_mutually_exclusive_group()
    runs.add_argument(
        "--resume", metavar="ID|VAR", help="Reattach to a run; with -t, its report joins THREAD."
    )
    runs.add_argument("--cancel", metavar="ID|VAR", help="Cancel a run.")
    parser.add_argument("prompt", nargs="*", metavar="PROMPT", help="The research question.")
    return parser


def _given(args: argparse.Namespace) -> set[str]:
    """The options the line set (those that differ from their default)."""
    defaults = {"prompt": [], "new": False, "raw": False, "max": False, "wait": False}
    return {
        name
        for name, value in vars(args).items()
        if name != "cell" and value != defaults.get(name) and value is not None
    }


def _flags(names: set[str]) -> str:
    return ", ".join("PROMPT" if name == "prompt" else f"--{name}" for name in sorted(names))


def _interaction_id(ctx: CommandContext, word: str) -> str:
    held = ctx.user_ns.get(word)  # a variable holding a run, e.g. `report`
    return getattr(held, "interaction_id", None) or word

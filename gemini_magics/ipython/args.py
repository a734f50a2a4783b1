"""The one option spec of ``%%gemini``, ``%gemini PROMPT`` and ``%gemini research``, and its line parser.

``ARGUMENTS`` is a list of ``magic_arguments.argument`` definitions, applied to the magic by
:func:`gemini_arguments` (as IPython's ``script.py`` shares ``script_args``), so ``%%gemini?`` shows the
generated help. Sub-commands that take some of the same options build their parser from the same
definitions with :func:`add_options`, so a flag is spelled, typed and explained in one place.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser, argument

from ..core.request import THINKING_LEVELS
from ..core.threads import DEFAULT

F = TypeVar("F", bound=Callable[..., Any])


def _number_or_default(kind: type, what: str, word: str) -> Any:
    """``--temperature 0.2`` or ``--temperature default`` (back to the model's default)."""
    if word == DEFAULT:
        return DEFAULT
    try:
        return kind(word)
    except ValueError:
        raise argparse.ArgumentTypeError(f"use {what}, or '{DEFAULT}' to clear it; not {word!r}") from None


ARGUMENTS: tuple[argument, ...] = (
    argument("-m", "--model", help="Model id for this turn (see `%%gemini models`)."),
    argument("-t", "--thread", help="Conversation thread name (default: 'default')."),
    argument("--new", action="store_true", help="Start the thread over before this turn."),
    argument(
        "-s",
        "--system",
        help="System instruction for this thread from now on, e.g. -s 'Be terse.'; -s '' clears it.",
    ),
    argument("-o", "--out", metavar="VAR", help="Also store the result in this variable."),
    argument("--no-stream", action="store_true", help="Wait for the whole answer, then show it."),
    argument(
        "--thinking",
        choices=(*THINKING_LEVELS, DEFAULT),
        help="How hard the model thinks, for this thread from now on ('default' clears it).",
    ),
    argument("--show-thoughts", action="store_true", help="Show thought summaries, collapsed."),
    argument(
        "--temperature",
        type=functools.partial(_number_or_default, float, "a number from 0 to 2"),
        metavar="T",
        help="Sampling temperature for this thread from now on ('default' clears it).",
    ),
    argument(
        "--max-output-tokens",
        type=functools.partial(_number_or_default, int, "a positive whole number"),
        metavar="N",
        help="Cap on the answers' length for this thread from now on ('default' clears it).",
    ),
    argument("--raw", action="store_true", help="Send the text as is: no {{variable}} filling."),
    argument("--image", action="store_true", help="Ask for a picture (uses an image model)."),
    argument("--aspect", metavar="RATIO", help="Picture aspect ratio, e.g. 16:9."),
    argument("--size", metavar="SIZE", help="Picture size: 512, 1K, 2K or 4K."),
    argument(
        "--attach",
        nargs="+",
        metavar="NAME",
        help="Send these variables too: figures, PIL images, image arrays, bytes, file paths.",
    ),
    argument(
        "--tools",
        nargs="+",
        metavar="NAME",
        help="Tools for this thread from now on: search, url, code, maps, or the name of a Python "
        "function; 'none' turns them off, 'default' goes back to GeminiMagics.tools.",
    ),
    argument(
        "--mcp",
        nargs="+",
        metavar="NAME=URL",
        help="Add a remote MCP server to the thread's tools (headers: GeminiMagics.mcp_headers[NAME]).",
    ),
    argument(
        "--max-tool-rounds",
        type=int,
        metavar="N",
        help="Stop after N rounds of calls to your Python functions (default: GeminiMagics.max_tool_rounds).",
    ),
    argument("--confirm", action="store_true", help="Ask before each call to one of your Python functions."),
    argument(
        "--schema",
        metavar="TYPE",
        help="Answer in JSON that fits TYPE, this turn: a pydantic model, dataclass, TypedDict or Enum, "
        "list[...] of one, or a JSON Schema dict (a name or expression); the value is in .parsed.",
    ),
    argument(
        "--json", action="store_true", help="Answer in JSON, this turn (no schema); the value is in .parsed."
    ),
    argument("--save", metavar="DIR", help="Write the pictures of this turn to files in DIR."),
    argument(
        "--code",
        action="store_true",
        help="Ask for code only and put the answer's code block in a new cell below (not run).",
    ),
    argument("--research", action="store_true", help="Run the Deep Research agent in the background."),
    argument("--agent", metavar="ID", help="Research agent id (default: the current Deep Research)."),
    argument("--max", action="store_true", help="The most thorough (Max) research agent."),
    argument("--wait", action="store_true", help="Block until the research is done, with text progress."),
    argument(
        "--map",
        metavar="EXPR",
        help="Send the prompt once per item of EXPR (a list, tuple, dict, pandas Series or DataFrame, "
        "or a glob of files such as 'data/*.pdf'), {{item}} filled per row; -o keeps the table.",
    ),
    argument(
        "--as", dest="as_name", metavar="NAME", help="With --map: the row's name in {{NAME}} (default: item)."
    ),
    argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="With --map: rows sent at once (default: GeminiMagics.concurrency).",
    ),
    argument(
        "--thread-per-item",
        action="store_true",
        help="With --map: each row continues its own thread, <thread>-<row> (default: rows join no thread).",
    ),
    argument("--refresh", action="store_true", help="With --map: send every row again, answered or not."),
    argument("prompt", nargs="*", help="(line magic) the prompt, or a sub-command."),
)


def gemini_arguments(func: F) -> F:
    """Decorate a magic with ``ARGUMENTS``, in order; put ``@magic_arguments()`` above it."""
    for definition in reversed(ARGUMENTS):  # decorators apply bottom-up: the last one first
        func = definition(func)
    return func


def add_options(parser: argparse.ArgumentParser, *flags: str) -> None:
    """Add the spec's definitions named by ``flags`` (any of their spellings, or a positional's name)."""
    wanted = set(flags)
    unknown = wanted - {name for definition in ARGUMENTS for name in definition.args}
    if unknown:
        raise ValueError(f"not in the option spec: {', '.join(sorted(unknown))}")
    for definition in ARGUMENTS:
        if wanted & set(definition.args):
            definition.add_to_parser(parser, None)


@functools.cache
def spec_parser() -> MagicArgumentParser:
    """A parser made of the whole spec: its defaults fill what a narrower parser leaves out, and its
    help lists the options (``%gemini --help``)."""
    parser = MagicArgumentParser(prog="%%gemini", formatter_class=argparse.RawDescriptionHelpFormatter)
    for definition in ARGUMENTS:
        definition.add_to_parser(parser, None)
    return parser


def with_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with every option of the spec present: a narrower parser's result reads like the
    magic's."""
    full = spec_parser().parse_args([])
    for name, value in vars(args).items():
        setattr(full, name, value)
    return full


def parse_line(parser: MagicArgumentParser, line: str, *, cell: bool = False) -> Any:
    """Parse a magic line; quoted option values lose their quotes, prompt words keep theirs.

    A line with an unbalanced quote and no options (``%gemini what's new?``) is all prompt;
    with options it is refused with one line.
    """
    try:
        args = parser.parse_argstring(line)
    except ValueError as exc:  # shlex: "No closing quotation"
        if not cell and line.strip() and not line.lstrip().startswith("-"):
            args = parser.parse_argstring("")
            args.prompt, args.cell = [line.strip()], cell
            return args
        where = "%%gemini" if cell else "%gemini"
        raise UsageError(
            f"the {where} line has an unbalanced quote ({exc}): close it, e.g. -s 'Be terse.', "
            "or put the prompt in the cell body"
        ) from None
    args.cell = cell
    for name, value in vars(args).items():
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            setattr(args, name, value[1:-1])
    return args

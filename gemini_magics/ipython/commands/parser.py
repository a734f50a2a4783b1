"""The parser every sub-command owns: usage and ``--help`` for free, mistakes as one ``UsageError`` line."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser


class HelpShown(Exception):
    """``-h``/``--help`` printed a sub-command's help: the router stops there, quietly."""


class _Help(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> NoReturn:
        print(parser.format_help().rstrip())
        raise HelpShown


class CommandParser(MagicArgumentParser):
    """``%gemini NAME``'s parser. ``-h``/``--help`` prints the help (no ``SystemExit``); a bad flag or a
    missing value raises ``UsageError`` with the reason and the usage, on one line.

    ``usage`` is written without the program name (``"[THREAD|--all]"``); ``error_usage`` may narrow
    the usage quoted in errors to the form the user was typing.
    """

    def __init__(self, name: str, usage: str, description: str, epilog: str | None = None) -> None:
        prog = f"%gemini {name}"
        super().__init__(
            prog=prog,
            usage=f"%(prog)s {usage.replace('%', '%%')}".rstrip(),
            description=description,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            add_help=False,
        )
        self.add_argument("-h", "--help", action=_Help, help="Show this help.")
        self.error_usage: str | None = None

    def add_thread(self) -> None:
        """An optional THREAD word; commands read ``args.thread`` (None: the default thread)."""
        self.add_argument(
            "thread", nargs="?", metavar="THREAD", help="The thread (default: the default one)."
        )

    @property
    def one_line_usage(self) -> str:
        return " ".join((self.error_usage or self.format_usage().removeprefix("usage:")).split())

    def error(self, message: str) -> NoReturn:
        takes_nothing = all(isinstance(action, _Help) for action in self._actions)
        if takes_nothing and message.startswith("unrecognized arguments: "):
            got = message.removeprefix("unrecognized arguments: ")
            raise UsageError(f"{self.prog} takes no arguments (got {got!r})")
        raise UsageError(f"{message}; usage: {self.one_line_usage}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status:
            self.error(message or "failed")
        raise HelpShown

    def parse(self, rest: str) -> argparse.Namespace:
        """Split the words after the sub-command's name as a shell would, then parse them.

        Quotes group words (``%gemini reset "my thread"``); an unbalanced one (``what's``) is kept
        as a plain character rather than refused.
        """
        return self.parse_args(split_words(rest))


def split_words(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()

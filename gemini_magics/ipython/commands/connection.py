"""``%gemini login``, ``offline`` and ``online``: where answers come from, and with which key."""

from __future__ import annotations

import getpass

from IPython.core.error import StdinNotImplementedError, UsageError

from .context import CommandContext
from .parser import CommandParser


def login(ctx: CommandContext, rest: str) -> None:
    """Ask for an API key without echoing it; it is kept in this kernel's memory only."""
    CommandParser("login", "", login.__doc__ or "").parse(rest)
    try:
        key = getpass.getpass("Gemini API key (kept in this kernel's memory only): ")
    except StdinNotImplementedError:
        raise UsageError(
            "this frontend cannot ask for input; set GEMINI_API_KEY in the environment instead"
        ) from None
    if not key.strip():
        raise UsageError("no key entered; run `%gemini login` again")
    ctx.connection.go_online()
    ctx.connection.login(key)
    print(f"key {ctx.connection.api_key().masked} stored for this kernel")  # type: ignore[union-attr]


def offline(ctx: CommandContext, rest: str) -> None:
    """Answer from the built-in emulator: no key needed, nothing leaves this machine."""
    CommandParser("offline", "", offline.__doc__ or "").parse(rest)
    url = ctx.connection.go_offline()
    print(f"offline: answers now come from the built-in emulator at {url}, not from Gemini")


def online(ctx: CommandContext, rest: str) -> None:
    """Talk to Gemini again (after `%gemini offline`)."""
    CommandParser("online", "", online.__doc__ or "").parse(rest)
    ctx.connection.go_online()
    key = ctx.connection.api_key()
    where = f"key {key.masked} from {key.origin}" if key else "no key set yet (`%gemini login`)"
    print(f"online: talking to Gemini; {where}")

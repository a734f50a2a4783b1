"""``%gemini chat [THREAD]``: a chat panel on a thread."""

from __future__ import annotations

from ..args import add_options
from .context import CommandContext
from .parser import CommandParser


def chat(ctx: CommandContext, rest: str) -> None:
    """Open a chat panel on a thread; cells and panels on one thread share the conversation."""
    parser = CommandParser("chat", "[THREAD] [--tools NAME …] [--mcp NAME=URL …]", chat.__doc__ or "")
    parser.add_thread()
    add_options(parser, "--tools", "--mcp")
    args = parser.parse(rest)
    name = ctx.thread_named(args.thread).name
    from ...widgets.chat import show_chat  # ipywidgets is imported only when a panel is asked for

    show_chat(ctx.shell, name, tools=args.tools, mcp=args.mcp or ())

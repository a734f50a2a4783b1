"""``%gemini chat [THREAD]``: a chat panel on a thread."""

from __future__ import annotations

from .context import CommandContext
from .parser import CommandParser


def chat(ctx: CommandContext, rest: str) -> None:
    """Open a chat panel on a thread; cells and panels on one thread share the conversation."""
    parser = CommandParser("chat", "[THREAD]", chat.__doc__ or "")
    parser.add_thread()
    name = ctx.thread_named(parser.parse(rest).thread).name
    from ...widgets.chat import show_chat  # ipywidgets is imported only when a panel is asked for

    show_chat(ctx.shell, name)

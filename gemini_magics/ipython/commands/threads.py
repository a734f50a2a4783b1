"""``%gemini threads``, ``history`` and ``reset``: look at conversation threads and start them over."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.display import display

from ...render.markdown import escape_markdown, to_html
from .context import CommandContext
from .parser import CommandParser


def list_threads(ctx: CommandContext, rest: str) -> None:
    """List the threads: turns and head interaction of each."""
    CommandParser("threads", "", list_threads.__doc__ or "").parse(rest)
    if not len(ctx.threads):
        print("no threads yet; a %%gemini cell starts 'default'")
    for thread in ctx.threads:
        print(f"{thread.name}: {len(thread.turns)} turn(s), head {thread.head}")


def history(ctx: CommandContext, rest: str) -> None:
    """Show a thread's turns as a table: cell, prompt, model, images, tokens, interaction."""
    parser = CommandParser("history", "[THREAD]", history.__doc__ or "")
    parser.add_thread()
    name = parser.parse(rest).thread or ctx.default_thread
    if name not in ctx.threads:
        raise UsageError(f"no thread named {name!r}; {_existing(ctx)}")
    thread = ctx.threads[name]
    turns = thread.turns
    rows = [
        (
            str(i),
            (t.cell_id or "-")[:8],
            t.snippet,
            t.model,
            str(t.images or "-"),
            str(t.total_tokens or "-"),
            t.interaction_id,
        )
        for i, t in enumerate(turns, 1)
    ]
    header = ("#", "cell", "prompt", "model", "images", "tokens", "interaction")
    plain = "\n".join("  ".join(row) for row in [header, *rows])
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += ["| " + " | ".join(escape_markdown(cell) for cell in row) + " |" for row in rows]
    settings = f"settings: {thread.settings.describe()}"
    title = f"**Thread {escape_markdown(name)}**: {len(turns)} turn(s); {escape_markdown(settings)}\n\n"
    plain = f"{settings}\n{plain}"
    display({"text/html": to_html(title + "\n".join(table)), "text/plain": plain}, raw=True)


def reset(ctx: CommandContext, rest: str) -> None:
    """Start a thread (or all of them) over; a turn still running on it finishes but is not added."""
    parser = CommandParser("reset", "[THREAD|--all]", reset.__doc__ or "")
    parser.add_thread()
    parser.add_argument("--all", action="store_true", help="Start every thread over.")
    args = parser.parse(rest)
    if args.all:
        if args.thread is not None:
            parser.error(f"give a thread or --all, not both (got {args.thread!r} and --all)")
        busy = [thread.name for thread in ctx.threads if thread.busy]
        ctx.threads.reset_all()
        print("all threads start over" + _still_running(busy))
        return
    name = args.thread or ctx.default_thread
    thread = ctx.threads.get(name)
    if thread is None:
        if args.thread is not None:
            raise UsageError(f"no thread named {name!r}; {_existing(ctx)}")
        print(f"thread {name!r} has no turns yet")
        return
    busy = [name] if thread.busy else []
    thread.reset()
    print(f"thread {name!r} starts over" + _still_running(busy))


def _existing(ctx: CommandContext) -> str:
    names = ctx.threads.names
    return "existing threads: " + ", ".join(map(repr, names)) if names else "there are no threads yet"


def _still_running(busy: list[str]) -> str:
    if not busy:
        return ""
    names = ", ".join(map(repr, busy))
    return (
        f"; the turn still running on {names} (a chat panel or a research run) will finish but not be added"
    )

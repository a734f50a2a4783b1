"""``%gemini usage``: tokens used in this kernel, by thread and model, and the token budget."""

from __future__ import annotations

import html

from IPython.display import display

from ...core.usage import COUNTS, UsageRow
from .context import CommandContext
from .parser import CommandParser

HEADER = ("thread", "model", "turns", "input", "output", "thought", "total")


def usage(ctx: CommandContext, rest: str) -> None:
    """Show tokens used in this kernel by thread and model (cells, panels, research), and the budget."""
    CommandParser("usage", "", usage.__doc__ or "").parse(rest)
    session = ctx.session
    rows = session.usage.rows()
    budget = session.settings.token_budget
    if not rows:
        limit = "" if budget is None else f"; {budget_line(budget, 0)}"
        print(f"no tokens used yet in this kernel{limit}")
        return
    table = [_cells(row) for row in rows]
    totals = UsageRow("all", "", sum(row.turns for row in rows))
    for name in COUNTS:
        totals.counts[name] = sum(row.counts[name] for row in rows)
    table.append(_cells(totals))
    footer = "no token budget set" if budget is None else budget_line(budget, totals.total)
    plain = "\n".join(_plain_line(line) for line in [HEADER, *table]) + f"\n{footer}"
    display({"text/html": _html(table, footer), "text/plain": plain}, raw=True)


def budget_line(budget: int, used: int) -> str:
    left = max(0, budget - used)
    return f"budget {budget:,} tokens: {used:,} used, {left:,} left"


def _cells(row: UsageRow) -> tuple[str, ...]:
    thread = row.thread or "(batch)"  # batch rows (--map) are the turns off every thread
    return (thread, row.model, f"{row.turns:,}", *(f"{row.counts[name]:,}" for name in COUNTS))


def _plain_line(cells: tuple[str, ...]) -> str:
    widths = (12, 28, 6, 10, 10, 10, 10)
    return "  ".join(
        cell.ljust(width) if n < 2 else cell.rjust(width)
        for n, (cell, width) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()


def _html(table: list[tuple[str, ...]], footer: str) -> str:
    def row(cells: tuple[str, ...], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(cell)}</{tag}>" for cell in cells) + "</tr>"

    body = "".join(row(cells, "td") for cells in table[:-1]) + row(table[-1], "th")
    return (
        f"<table><thead>{row(HEADER, 'th')}</thead><tbody>{body}</tbody></table>"
        f"<p><sub>{html.escape(footer)}</sub></p>"
    )

"""A batch's table preview as HTML: every cell escaped (inputs and answers are untrusted). Pure."""

from __future__ import annotations

from html import escape

from ..core.batch import PREVIEW_ROWS, BatchResult

_STATUS_COLOURS = {"completed": "#1a7f37", "failed": "#cf222e", "cancelled": "#9a6700", "pending": "#57606a"}


def batch_table(result: BatchResult, limit: int = PREVIEW_ROWS) -> str:
    """The summary line and the first ``limit`` rows: row, input, status, then the answer's fields
    (or the answer, or the error)."""
    header, rows = result.preview_table(limit)
    status = header.index("status")
    body = []
    for row in rows:
        cells = []
        for position, value in enumerate(row):
            colour = _STATUS_COLOURS.get(value, "inherit") if position == status else None
            style = f' style="color:{colour}"' if colour else ""
            cells.append(f"<td{style}>{escape(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = len(result) - limit
    if more > 0:
        body.append(f'<tr><td colspan="{len(header)}">… {more} more</td></tr>')
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    return (
        f'<div class="gemini-batch"><p>{escape(result.summary())}</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )

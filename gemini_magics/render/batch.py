"""A batch's table preview as HTML: every cell escaped (inputs and answers are untrusted). Pure."""

from __future__ import annotations

from html import escape

from ..core.batch import PREVIEW_ROWS, BatchResult

_STATUS_COLOURS = {"completed": "#1a7f37", "failed": "#cf222e", "cancelled": "#9a6700", "pending": "#57606a"}


def batch_table(result: BatchResult, limit: int = PREVIEW_ROWS) -> str:
    """The summary line and the first ``limit`` rows: row, input, status, answer (or error)."""
    rows = []
    for index, item, status, answer in result.preview(limit):
        colour = _STATUS_COLOURS.get(status, "inherit")
        rows.append(
            f"<tr><td>{index}</td><td>{escape(item)}</td>"
            f'<td style="color:{colour}">{escape(status)}</td><td>{escape(answer)}</td></tr>'
        )
    more = len(result) - limit
    if more > 0:
        rows.append(f'<tr><td colspan="4">… {more} more</td></tr>')
    return (
        f'<div class="gemini-batch"><p>{escape(result.summary())}</p>'
        "<table><thead><tr><th>row</th><th>input</th><th>status</th><th>answer</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )

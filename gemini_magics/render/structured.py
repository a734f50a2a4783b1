"""How a structured answer looks: the growing JSON block, then the validated value. Pure.

While the answer streams it is shown as a fenced ``json`` code block (through render/markdown.py, like
all model text). At the end the validated value replaces it: a table for a list of records (pydantic
models, dataclasses, dicts), otherwise the value as pretty-printed JSON. The table is built here from
escaped text and passes the same sanitiser as everything else.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from ..core.structured import jsonable
from .markdown import PROSE_CLASSES, markdown_bundle, sanitise

STREAM_FENCE = "````json\n"  # four backticks: a ``` inside a JSON string does not end the block early
MAX_ROWS = 200
MAX_CELL_CHARS = 200


def json_block(text: str) -> str:
    """``text`` as a fenced json code block, with a fence longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}json\n{text}\n{fence}"


def records(value: Any) -> list[dict[str, Any]] | None:
    """The rows of ``value`` when it is a non-empty list of records, else None."""
    if not isinstance(value, list) or not value:
        return None
    rows = jsonable(value)
    if not all(isinstance(row, dict) for row in rows):
        return None
    return list(rows)


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _cell(value: Any) -> str:
    if value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def table_html(rows: list[dict[str, Any]]) -> str:
    columns = _columns(rows)
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(column)))}</td>" for column in columns) + "</tr>"
        for row in rows[:MAX_ROWS]
    )
    more = f"<p><em>… {len(rows) - MAX_ROWS} more rows</em></p>" if len(rows) > MAX_ROWS else ""
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"
    return sanitise(f'<div class="{PROSE_CLASSES}">{table}</div>')


def table_text(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned plain-text table (terminals, text/plain)."""
    columns = _columns(rows)
    cells = [[_cell(row.get(column)) for column in columns] for row in rows[:MAX_ROWS]]
    widths = [max([len(column), *(len(line[n]) for line in cells)]) for n, column in enumerate(columns)]
    lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    for line in cells:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    if len(rows) > MAX_ROWS:
        lines.append(f"… {len(rows) - MAX_ROWS} more rows")
    return "\n".join(line.rstrip() for line in lines)


def pretty_json(value: Any) -> str:
    return json.dumps(jsonable(value), indent=2, ensure_ascii=False)


def value_bundle(value: Any) -> dict[str, str]:
    """The display bundle of a validated value: a table for records, else a JSON code block."""
    rows = records(value)
    if rows is not None:
        return {"text/html": table_html(rows), "text/plain": table_text(rows)}
    return markdown_bundle(json_block(pretty_json(value)))


def value_text(value: Any) -> str:
    """A validated value for a terminal: an aligned table for records, else pretty JSON."""
    rows = records(value)
    return table_text(rows) if rows is not None else pretty_json(value)

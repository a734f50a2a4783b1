"""A call of the user's Python function, shown collapsed: name and arguments in the summary line, the
arguments and the result in full inside. Pure; every string is escaped (the arguments come from the
model, the result from the user's code), and the fragment goes through the allowlist sanitiser too.
"""

from __future__ import annotations

import html
import json
from typing import Any

from ..core.events import FunctionCalled
from ..core.functions import describe_arguments
from .markdown import PROSE_CLASSES, sanitise

RESULT_LIMIT = 4000  # characters of a result shown; the model gets all of it


def _json(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2, default=repr)
    return text if len(text) <= RESULT_LIMIT else text[:RESULT_LIMIT] + f"\n… ({len(text):,} characters)"


def summary_line(event: FunctionCalled) -> str:
    """``convert(amount=42.195, unit="km") → 26.2`` (or ``failed``, or ``declined``)."""
    call = f"{event.name}({describe_arguments(event.arguments)})"
    if event.declined:
        return f"{call} — declined"
    if event.is_error:
        error = event.result.get("error") if isinstance(event.result, dict) else event.result
        return f"{call} — failed: {str(error)[:120]}"
    result = event.result.get("result") if isinstance(event.result, dict) and len(event.result) == 1 else None
    shown = _json(result if result is not None else event.result).replace("\n", " ")
    return f"{call} → {shown if len(shown) <= 60 else shown[:59] + '…'}"


def function_call_html(event: FunctionCalled, scrub: Any = None) -> str:
    """A collapsed ``<details>`` block for one call; ``scrub`` removes secrets from the text first."""
    clean = scrub or (lambda text: text)
    label = "Function error" if event.is_error else "Function"
    outcome = "Error" if event.is_error else "Result"
    parts = [
        f'<div class="{PROSE_CLASSES}"><details><summary>{html.escape(label)}: ',
        f"<code>{html.escape(clean(summary_line(event)))}</code></summary>",
        f"<p>Arguments</p><pre>{html.escape(clean(_json(event.arguments)))}</pre>",
        f"<p>{outcome}</p><pre>{html.escape(clean(_json(event.result)))}</pre>",
        "</details></div>",
    ]
    return sanitise("".join(parts))


def function_call_text(event: FunctionCalled) -> str:
    """One line for terminals and ``text/plain``."""
    return f"[function] {summary_line(event)}"

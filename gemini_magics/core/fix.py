"""``%gemini fix`` and ``--code``: a failed cell as a prompt, and code-only answers. No IPython imports.

A front end records a cell that failed as a :class:`Failure` (its source and its traceback as plain
text, ANSI colours stripped, the key redacted, both capped in length) the moment it fails, so no
frame or exception object is kept alive; :func:`fix_prompt` turns the latest one into the prompt.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

from .errors import redact

FIX_THREAD = "fix"
MAX_SOURCE_CHARS = 6_000
MAX_TRACEBACK_CHARS = 6_000
CODE_INSTRUCTION = (
    "Reply with exactly one fenced Python code block (```python … ```) and nothing else: no prose "
    "before or after it. Explain only in short comments inside the code."
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


@dataclass(frozen=True)
class Failure:
    """A cell that failed: what it said, and how it failed (plain text, redacted, capped)."""

    source: str
    error: str
    execution_count: int | None = None

    @property
    def headline(self) -> str:
        """The last line of the traceback, e.g. ``ZeroDivisionError: division by zero``."""
        lines = [line for line in self.error.splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""


def record_failure(
    source: str, error: BaseException, secrets: Iterable[str | None], execution_count: int | None = None
) -> Failure:
    """The failure of a cell whose code was ``source``; the frame that ran the cell is left out."""
    failure = Failure(
        source=_cap(strip_ansi(source).rstrip(), MAX_SOURCE_CHARS, keep="head"),
        error=_cap(strip_ansi(format_error(error)), MAX_TRACEBACK_CHARS, keep="tail"),
        execution_count=execution_count,
    )
    return redacted(failure, secrets)


def redacted(failure: Failure, secrets: Iterable[str | None]) -> Failure:
    keys = list(secrets)
    return Failure(redact(failure.source, keys), redact(failure.error, keys), failure.execution_count)


def format_error(error: BaseException) -> str:
    """The traceback as Python prints it, without the shell's own frame that executed the cell."""
    tb: TracebackType | None = error.__traceback__
    if tb is not None and tb.tb_next is not None and not _is_cell_code(tb):
        tb = tb.tb_next  # IPython's run_code frame: noise to the model and to the user
    return "".join(traceback.format_exception(type(error), error, tb)).rstrip()


def _is_cell_code(tb: TracebackType) -> bool:
    name = tb.tb_frame.f_code.co_filename
    return name.startswith("<ipython-input") or "ipykernel_" in name


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _cap(text: str, limit: int, *, keep: str) -> str:
    if len(text) <= limit:
        return text
    cut = len(text) - limit
    if keep == "tail":  # a traceback's end says what went wrong
        return f"[… {cut:,} characters left out …]\n" + text[-limit:]
    return text[:limit] + f"\n[… {cut:,} characters left out …]"


def fix_prompt(failure: Failure, extra: str = "", *, code: bool = False) -> str:
    """The prompt asking why ``failure`` happened and how to fix it (with ``code``: the whole cell,
    corrected)."""
    ask = (
        "Give the corrected cell: the whole cell's code, fixed, ready to run."
        if code
        else "Explain briefly what went wrong and why, then show how to fix it."
    )
    fence = _fence(failure.source + failure.error)
    parts = [
        "This Jupyter notebook cell failed.",
        "",
        "The cell:",
        f"{fence}python\n{failure.source}\n{fence}",
        "",
        "The error:",
        f"{fence}text\n{failure.error}\n{fence}",
        "",
        ask,
    ]
    if extra.strip():
        parts += ["", extra.strip()]
    return "\n".join(parts)


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks in ``text``, so the code cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def with_code_instruction(system: str | None) -> str:
    """The system instruction for a ``--code`` turn: the thread's own, then the code-only rule."""
    return f"{system}\n\n{CODE_INSTRUCTION}" if system else CODE_INSTRUCTION

"""Tokens used in this kernel, by thread and model, and the token budget. No IPython imports.

Every turn a front end starts (a cell, a line, a chat panel, a research run, a batch row) is prepared
by :meth:`Session.prepare <.session.Session.prepare>`, which hands its result to the session's
:class:`UsageLedger`. The ledger reads each result's ``usage`` when asked (the server reports it when
the interaction ends; rounds of function calls add up), so a turn is counted whichever front end ran
it and on whichever Python thread it finished. A result that has ended is folded into the totals and
forgotten; a turn stopped before the server reported usage counts nothing (its tokens are unknown).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .results import GeminiResult

BUDGET_ENV = "GEMINI_MAGICS_TOKEN_BUDGET"
COUNTS = ("input", "output", "thought", "total")
_WIRE = {"input": "total_input_tokens", "output": "total_output_tokens", "thought": "total_thought_tokens"}
_ENDED = frozenset({"completed", "failed", "cancelled", "incomplete", "budget_exceeded"})
_WHOLE_NUMBER = re.compile(r"\d+(?:[_,]\d{3})*")


def token_counts(usage: dict[str, Any]) -> dict[str, int]:
    """Input, output, thought and total tokens of one ``usage`` (the total added up when missing)."""
    counts = {name: _number(usage.get(wire)) for name, wire in _WIRE.items()}
    total = usage.get("total_tokens")
    if total is None:
        total = sum(counts.values()) + _number(usage.get("total_tool_use_tokens"))
    counts["total"] = _number(total)
    return counts


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass
class UsageRow:
    """Tokens one model used on one thread (``turns``: how many reported usage)."""

    thread: str
    model: str
    turns: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))

    @property
    def total(self) -> int:
        return self.counts["total"]


@dataclass
class _Tracked:
    result: GeminiResult
    counted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    reported: bool = False


class UsageLedger:
    """The tokens of every prepared turn of one kernel; safe to use from any Python thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], UsageRow] = {}
        self._pending: list[_Tracked] = []

    def track(self, result: GeminiResult) -> None:
        """Count ``result``'s usage (under its thread and model) once the server reports it."""
        with self._lock:
            self._pending.append(_Tracked(result))

    def rows(self) -> list[UsageRow]:
        """Tokens by thread and model, in the order they were first used."""
        with self._lock:
            self._fold()
            return [
                UsageRow(row.thread, row.model, row.turns, dict(row.counts))
                for row in self._rows.values()
                if row.turns
            ]

    def used(self) -> int:
        """Total tokens used in this kernel so far."""
        return sum(row.total for row in self.rows())

    def _fold(self) -> None:
        pending = []
        for tracked in self._pending:
            result = tracked.result
            if result.usage:
                counts = token_counts(result.usage)
                key = (result.thread, result.model)
                row = self._rows.setdefault(key, UsageRow(*key))
                for name in COUNTS:
                    row.counts[name] += counts[name] - tracked.counted[name]
                if not tracked.reported:
                    row.turns += 1
                tracked.counted, tracked.reported = counts, True
            if result.status not in _ENDED:  # still running, or between rounds of function calls
                pending.append(tracked)
        self._pending = pending


def parse_budget(value: str) -> int | None:
    """A token budget as written in ``GEMINI_MAGICS_TOKEN_BUDGET``: ``20000``, ``20_000`` or
    ``20,000``; empty or ``none`` for no budget. Anything else is an InputError naming the variable."""
    text = value.strip()
    if text.lower() in ("", "none"):
        return None
    if not _WHOLE_NUMBER.fullmatch(text):
        raise InputError(
            f"{BUDGET_ENV}={value!r} is not a whole number of tokens; set it to e.g. 20000 (or unset it), "
            "or set %config GeminiMagics.token_budget = N"
        )
    return int(re.sub(r"[_,]", "", text))


def budget_problem(budget: int | None, used: int) -> str | None:
    """Why no new turn may start (None: it may)."""
    if budget is None or used < budget:
        return None
    return (
        f"token budget of {budget:,} reached ({used:,} used in this kernel); "
        "raise it with %config GeminiMagics.token_budget = N"
    )

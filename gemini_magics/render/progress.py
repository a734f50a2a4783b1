"""Showing a research run as text: summary lines, the outcome, the report's bundles. Pure.

The text form (terminals, nbclient, ``--wait``) prints a line when the phase changes and at most one
every ``TEXT_EVERY`` seconds otherwise. The live widget panel over the same pieces is
``widgets/research.py``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TextIO

from .markdown import markdown_bundle
from .report import report_parts

if TYPE_CHECKING:
    from ..core.research import ResearchProgress, ResearchRun

TEXT_EVERY = 10.0
OUTCOME_STYLES = {"completed": "success", "cancelled": "warning", "incomplete": "warning"}
OUTCOME_MESSAGES = {
    "completed": "Research complete.",
    "cancelled": "Research cancelled; nothing more will be written.",
    "incomplete": "Research stopped before finishing; the report below is partial.",
    "budget_exceeded": "Research hit its budget before finishing; the report below is partial.",
    "failed": "Research failed.",
}


def summary_line(progress: ResearchProgress) -> str:
    minutes, seconds = divmod(int(progress.elapsed), 60)
    ended_otherwise = progress.phase == "done" and progress.status not in ("completed", "done")
    label = progress.status if ended_otherwise else progress.phase
    return (
        f"{label} · {minutes}:{seconds:02d} · {progress.searches} searches · "
        f"{progress.pages} pages read · {progress.code_runs} code runs"
    )


def outcome_message(run: ResearchRun) -> str:
    message = OUTCOME_MESSAGES.get(run.result.status, f"Research ended: {run.result.status}.")
    details = "; ".join(e.get("message", "") for e in run.result.errors if e)
    if run.error is not None:
        details = str(run.error)
    return " ".join(part for part in (message, details, run.thread_note) if part)


def report_bundles(run: ResearchRun) -> list[dict[str, Any]]:
    """The report as display bundles: safe HTML (with the Markdown as text) and media, in order."""
    from ..core.events import media_of
    from .media import media_bundle

    bundles = []
    for kind, value in report_parts(run.result.steps):
        if kind == "markdown":
            bundles.append(markdown_bundle(value))
        else:
            bundles.append(media_bundle(media_of(value)))
    return bundles


class TextProgress:
    """Short text progress: a line per phase change, otherwise at most one every TEXT_EVERY seconds."""

    def __init__(self, run: ResearchRun, stream: TextIO) -> None:
        self.run = run
        self.stream = stream
        self._phase = ""
        self._printed_at = 0.0
        self._last_line = ""
        self._message = ""

    def tick(self) -> None:
        progress = self.run.progress
        now = time.monotonic()
        line = summary_line(progress)
        changed_phase = progress.phase != self._phase
        if progress.message and progress.message != self._message:  # e.g. "rate limited; retrying…"
            self._message = progress.message
            self.stream.write(f"[research] {progress.message}\n")
        if changed_phase or (now - self._printed_at >= TEXT_EVERY and line != self._last_line):
            self.stream.write(f"[research] {line}\n")
            self.stream.flush()
            self._phase, self._printed_at, self._last_line = progress.phase, now, line

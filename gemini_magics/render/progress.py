"""Showing a research run: a live widget panel that turns into the report, or sparse text lines.

The widget front end (like ``tqdm.notebook``) updates from the run's worker thread; a one-second
ticker keeps the elapsed time moving while the agent is quiet, and sleeps otherwise. The text form
(terminals, nbclient, ``--wait``) prints a line when the phase changes and at most one every
``TEXT_EVERY`` seconds otherwise. Importing this module does not import ipywidgets.
"""

from __future__ import annotations

import html
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

from IPython.display import display

from ..report import report_parts
from .markdown import markdown_bundle

if TYPE_CHECKING:
    from ..research import ResearchProgress, ResearchRun

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
    return f"{message} {details}".strip()


def report_bundles(run: ResearchRun) -> list[dict[str, Any]]:
    """The report as display bundles: safe HTML (with the Markdown as text) and media, in order."""
    from ..events import media_of
    from .media import media_bundle

    bundles = []
    for kind, value in report_parts(run.result.steps):
        if kind == "markdown":
            bundles.append(markdown_bundle(value))
        else:
            bundles.append(media_bundle(media_of(value)))
    return bundles


class ResearchPanel:
    """A progress bar, phase, elapsed time, tool counts, latest thought and Cancel; then the report."""

    def __init__(self, run: ResearchRun, *, title: str = "") -> None:
        import ipywidgets as widgets

        self.run = run
        self.bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="Research")
        self.summary = widgets.HTML()
        self.thought = widgets.HTML()
        self.cancel_button = widgets.Button(description="Cancel", icon="stop", button_style="warning")
        self.message = widgets.HTML()
        self.report = widgets.Output()
        heading = widgets.HTML(f"<b>Deep Research</b> — {html.escape(title[:120])}")
        self.box = widgets.VBox(
            [heading, widgets.HBox([self.bar, self.cancel_button]), self.summary, self.thought, self.message]
        )
        self.box.add_class("gemini-research")
        self.cancel_button.on_click(self._cancel_clicked)
        self._shown_done = False
        self._lock = threading.Lock()
        self._refresh()
        run.subscribe(lambda _run: self._refresh())
        threading.Thread(target=self._tick, name="gemini-research-clock", daemon=True).start()

    def _ipython_display_(self) -> None:
        display(self.box)

    def _tick(self) -> None:
        while not self.run.done:
            self.run.wait_for_end(1.0)
            self._refresh()

    def _cancel_clicked(self, _button: Any) -> None:
        self.cancel_button.disabled = True
        self.message.value = "Cancelling…"
        try:
            self.run.cancel()
        except Exception as exc:  # shown in the panel: ipywidgets would send it elsewhere
            self.message.value = f"<span style='color:var(--jp-error-color1)'>{html.escape(str(exc))}</span>"
            self.cancel_button.disabled = False

    def _refresh(self) -> None:
        with self._lock:
            progress = self.run.progress
            with self.box.hold_sync():
                self.bar.value = progress.fraction
                self.summary.value = html.escape(summary_line(progress))
                if progress.latest_thought:
                    self.thought.value = f"<i>{html.escape(progress.latest_thought)}</i>"
                if progress.message and not self.run.done:
                    self.message.value = html.escape(progress.message)
            if self.run.done and not self._shown_done:
                self._shown_done = True
                self._finish()

    def _finish(self) -> None:
        status = self.run.result.status if self.run.error is None else "failed"
        with self.box.hold_sync():
            self.bar.value = 1.0
            self.bar.bar_style = OUTCOME_STYLES.get(status, "danger")
            self.bar.description = status
            self.cancel_button.layout.display = "none"
            self.thought.value = ""
            self.message.value = html.escape(outcome_message(self.run))
        for bundle in report_bundles(self.run):
            self.report.append_display_data(_RawBundle(bundle))
        self.box.children = [*self.box.children, self.report]


class _RawBundle:
    """Lets ``Output.append_display_data`` publish a ready-made mime bundle."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return self.bundle


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

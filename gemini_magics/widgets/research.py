"""The live research panel: a progress bar, phase, counts, latest thought and Cancel; then the report.

Like ``tqdm.notebook`` over ``tqdm.std``, it is a thin widget front over the display-neutral pieces in
``render/progress.py``. It updates from the run's worker thread; a one-second ticker keeps the elapsed
time moving while the agent is quiet, and sleeps otherwise.
"""

from __future__ import annotations

import html
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from IPython.display import display

from ..render.progress import OUTCOME_STYLES, outcome_message, report_bundles, summary_line

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..core.research import ResearchRun
    from ..core.results import GeminiResult


class ResearchPanel:
    """A progress bar, phase, elapsed time, tool counts, latest thought and Cancel; then the report."""

    def __init__(
        self,
        run: ResearchRun,
        *,
        title: str = "",
        origin: Callable[[GeminiResult], str | None] | None = None,
    ) -> None:
        self.run = run
        self.origin = origin  # the line saying where a replayed report comes from
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
            origin = self.origin(self.run.result) if self.origin is not None else None
            if origin:
                self.message.value += f"<br><em>{html.escape(origin)}</em>"
        for bundle in report_bundles(self.run):
            self.report.append_display_data(_RawBundle(bundle))
        self.box.children = [*self.box.children, self.report]


class _RawBundle:
    """Lets ``Output.append_display_data`` publish a ready-made mime bundle."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return self.bundle

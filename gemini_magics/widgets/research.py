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
        self.title = title[:120]
        self._handle: Any = None
        heading = widgets.HTML(f"<b>Deep Research</b> — {html.escape(self.title)}")
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
        self._handle = display(self._bundle(), raw=True, display_id=True)

    def _bundle(self) -> dict[str, Any]:
        """The widget, with a text/plain that front ends without widgets show (GitHub, nbconvert):
        what is running, then, once it is done, the outcome and the report's Markdown."""
        bundle: dict[str, Any] = self.box._repr_mimebundle_()
        lines = [f"Deep Research — {self.title}"]
        if self.run.done:
            lines.append(outcome_message(self.run))
            lines += [str(part["text/plain"]) for part in report_bundles(self.run) if "text/plain" in part]
        else:
            lines.append(f"{summary_line(self.run.progress)} (the live panel needs a widget front end)")
        bundle["text/plain"] = "\n\n".join(lines)
        return bundle

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
        if self._handle is not None:  # the text form gets the outcome and the report too
            self._handle.update(self._bundle(), raw=True)


class _RawBundle:
    """Lets ``Output.append_display_data`` publish a ready-made mime bundle."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return self.bundle

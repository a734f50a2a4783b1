"""The chat panel's messages: Output widgets holding Markdown that the frontend renders.

Every piece of user or model text is rendered to safe HTML in the kernel (render/markdown.py) before
it is shown: JupyterLab renders outputs from a live kernel as trusted and does not sanitise them. A
finished message is one Output widget. A reply that is still streaming is a VBox of Output
segments, kept bounded exactly as cells are (render/segments.py decides what goes out and when);
text the throttle held back is sent shortly after if nothing more arrives.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w

from ..core import events as ev
from ..core.threads import Turn
from ..render.functions import function_call_html, function_call_text
from ..render.markdown import disclosure, markdown_bundle
from ..render.media import media_bundle
from ..render.report import AnswerCitations, insert_marks
from ..render.segments import SegmentedMarkdown, _unchanged
from ..render.tools import ToolLine, ToolTimeline

USER_CLASS = "gm-chat-user"
REPLY_CLASS = "gm-chat-reply"
STOPPED_CLASS = "gm-chat-stopped"
FAILED_CLASS = "gm-chat-failed"
MIN_FLUSH_DELAY = 0.05  # seconds before held-back text is sent when no more arrives


def output_of(data: dict[str, Any]) -> dict[str, Any]:
    """One display output in the shape the Output widget's ``outputs`` trait holds."""
    return {"output_type": "display_data", "data": data, "metadata": {}}


def markdown_output(markdown: str) -> dict[str, Any]:
    """Model or user Markdown, rendered to safe HTML here, as one output."""
    return output_of(markdown_bundle(markdown))


def _ours(html_text: str, plain: str) -> dict[str, Any]:
    """Text of the panel's own (labels, notices), escaped by its builder; Markdown-like as plain text."""
    return output_of({"text/html": html_text, "text/plain": plain})


def _model_label(model: str) -> dict[str, Any]:
    plain = f"**Gemini** · {model}" if model else "**Gemini**"
    suffix = f" · {html.escape(model)}" if model else ""
    return _ours(f"<strong>Gemini</strong>{suffix}", plain)


def user_message(prompt: str, attachments: Sequence[str] = ()) -> w.Output:
    outputs = [_ours("<strong>You</strong>", "**You**"), markdown_output(prompt)]
    if attachments:
        names = ", ".join(attachments)
        outputs.append(_ours(f"<em>Attached:</em> {html.escape(names)}", f"*Attached:* {names}"))
    view = w.Output(outputs=tuple(outputs))
    view.add_class(USER_CLASS)
    return view


def history_reply(turn: Turn) -> w.Output:
    """A reply from the thread's record: its text when kept, else a pointer to where it was shown."""
    body = turn.answer or "*(answer shown in the cell)*"
    if turn.images:
        body += f"\n\n*({turn.images} picture(s), shown where this turn was made)*"
    view = w.Output(outputs=(_model_label(turn.model), markdown_output(body)))
    view.add_class(REPLY_CLASS)
    return view


def notice_output(message: str, hint: str = "") -> dict[str, Any]:
    """A problem for the user: what happened, then what to do, shown exactly as written."""
    html_text = f"<p><strong>{html.escape(message)}</strong></p>"
    plain = f"**{message}**"
    if hint:
        html_text += f"<p>→ {html.escape(hint)}</p>"
        plain += f"\n\n→ {hint}"
    return _ours(html_text, plain)


class StreamingReply:
    """A model answer growing in the message list, with bounded work per delta (a ``Renderer``).

    Events arrive on the turn's worker thread. Text held back by the throttle is sent by a timer
    soon after, so a stream that pauses (a slow or stalled server) still shows all it has.
    """

    def __init__(self, model: str, *, interval: float, scrub: Callable[[str], str] = _unchanged) -> None:
        self.interval = interval
        self.scrub = scrub
        self.segments = SegmentedMarkdown(interval=interval, publish=self._publish, scrub=scrub)
        self.view = w.VBox([w.Output(outputs=(_model_label(model),))])
        self.view.add_class(REPLY_CLASS)
        self._lock = threading.RLock()
        self._timer: threading.Timer | None = None
        self._tail: w.Output | None = None
        self._thoughts: list[str] = []
        self._thoughts_shown = 0
        self._thought_view: w.Output | None = None
        self._thoughts_sent_at = 0.0
        self._closed = False
        self._segment_views: list[w.Output] = []
        self.tools = ToolTimeline()
        self._tool_views: dict[int, w.Output] = {}
        self.citations = AnswerCitations()

    @property
    def text(self) -> str:
        return self.segments.text

    def handle(self, event: ev.Event) -> None:
        with self._lock:
            if self._closed:
                return
            if isinstance(event, ev.TextDelta):
                if self.segments.feed(event.text):
                    self._flush_later()
            elif isinstance(event, ev.ThoughtDelta):
                self._thoughts.append(event.text)
                self._show_thoughts(force=False)
            elif isinstance(event, ev.MediaDelta):
                self.segments.break_segment()
                self._append(w.Output(outputs=(output_of(media_bundle(event)),)))
            elif isinstance(event, ev.ToolActivity):
                line = self.tools.feed(event)
                if line is not None:
                    self._show_tool(line)
            elif isinstance(event, ev.Citation):
                self.citations.add(event)

            elif isinstance(event, ev.FunctionCalled):
                self.segments.break_segment()
                bundle = {
                    "text/html": function_call_html(event, self.scrub),
                    "text/plain": self.scrub(function_call_text(event)),
                }
                self._append(w.Output(outputs=(output_of(bundle),)))

    def _show_tool(self, line: ToolLine) -> None:
        outputs = (output_of({"text/html": self.scrub(line.html()), "text/plain": self.scrub(line.plain())}),)
        view = self._tool_views.get(line.key)
        if view is None:
            self.segments.break_segment()
            self._tool_views[line.key] = view = w.Output(outputs=outputs)
            self._append(view)
        elif view.outputs != outputs:
            view.outputs = outputs

    def _show_citations(self) -> None:
        """Numbered links in the answer's text, then the sources list; once, when the turn ends."""
        if not self.citations:
            return
        marks, sources = self.citations.place(self.segments.text)
        self.citations = AnswerCitations()
        for (start, text), view in zip(self.segments.published(), self._segment_views, strict=False):
            marked = insert_marks(text, marks, start)
            if marked != text:
                view.outputs = (output_of(markdown_bundle(self.scrub(marked))),)
        if sources:
            self._append(w.Output(outputs=(output_of(markdown_bundle(self.scrub(sources.lstrip()))),)))

    def _flush_later(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(max(self.interval, MIN_FLUSH_DELAY), self._timed_flush)
            self._timer.daemon = True
            self._timer.start()

    def _timed_flush(self) -> None:
        with self._lock:
            if self._timer is None or self._closed:  # finished or closed meanwhile
                return
            self._timer = None
            self.flush()
            self._show_thoughts(force=True)

    def _publish(self, bundle: dict[str, str], new_segment: bool) -> None:
        outputs = (output_of(bundle),)
        if new_segment or self._tail is None:
            self._tail = w.Output(outputs=outputs)
            self._segment_views.append(self._tail)
            self._append(self._tail)
        else:
            self._tail.outputs = outputs

    def _append(self, child: w.Widget) -> None:
        self.view.children = (*self.view.children, child)

    def _show_thoughts(self, *, force: bool) -> None:
        if len(self._thoughts) == self._thoughts_shown:
            return
        if not force and time.monotonic() - self._thoughts_sent_at < self.interval:
            self._flush_later()
            return
        self._render_thoughts("Thinking…")

    def _render_thoughts(self, summary: str) -> None:
        self._thoughts_sent_at = time.monotonic()
        self._thoughts_shown = len(self._thoughts)
        text = self.scrub("".join(self._thoughts))
        outputs = (output_of({"text/html": disclosure(summary, text), "text/plain": f"{summary}:\n{text}"}),)
        if self._thought_view is None:
            self._thought_view = w.Output(outputs=outputs)
            header, *rest = self.view.children
            self.view.children = (header, self._thought_view, *rest)
        else:
            self._thought_view.outputs = outputs

    def flush(self, *, final: bool = False) -> None:
        """Show whatever text has not been shown yet (``final``: with its plain-text form too)."""
        with self._lock:
            self.segments.flush(final=final)

    def note(self, message: str) -> None:
        """A line of the panel's own under the answer (a retry, an offline notice)."""
        with self._lock:
            self._append(w.Output(outputs=(_ours(f"<em>{html.escape(message)}</em>", message),)))

    def close(self) -> None:
        """The panel is closing: cancel the flush timer and show nothing more."""
        with self._lock:
            self._closed = True
            self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def finish(self, *notes: dict[str, Any] | None, css_class: str | None = None) -> None:
        """The turn ended: show everything, then the notes given (stopped, failed, tokens)."""
        with self._lock:
            self._cancel_timer()
            if self._closed:
                return
            self.segments.flush(final=True)
            self._show_citations()
            if self._thoughts:
                self._render_thoughts("Thoughts")
            shown = tuple(note for note in notes if note)
            if shown:
                self._append(w.Output(outputs=shown))
            if css_class:
                self.view.add_class(css_class)


def close_tree(widget: w.Widget) -> None:
    """Close a widget and everything inside it, so their comms do not outlive the panel."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()

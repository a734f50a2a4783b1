"""Rendering one streamed answer into a cell, in place, with bounded traffic to the browser.

The answer is shown as a sequence of display outputs, one per segment (segments.py decides what
goes out and when); the tail is updated in place through its ``display_id``.

Provenance: the last message of each of the answer's outputs (a segment's final update, the
thoughts' final update, each tool line, picture, function call, the sources and the footer) carries
``metadata={"gemini_magics": {...}}`` from ``Session.provenance`` (interaction id, model, thread,
options, usage, origin, version) plus ``part``, so a saved notebook keeps it; the in-between updates
carry none (they are replaced). The usage is known once the interaction ends, so it is on the outputs
sent after that: the final segment, thoughts, sources and footer.
"""

from __future__ import annotations

import contextvars
import html
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from IPython.display import display, update_display

from ..core import events as ev
from ..render.functions import function_call_html, function_call_text
from ..render.markdown import disclosure, markdown_bundle, note_html
from ..render.media import media_bundle
from ..render.report import AnswerCitations, insert_marks
from ..render.segments import SegmentedMarkdown, _unchanged
from ..render.structured import STREAM_FENCE, value_bundle, value_text
from ..render.tools import ToolLine, ToolTimeline

HTML = "text/html"
_TERMINAL_CONTROLS = {c: None for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]}
MIN_FLUSH_DELAY = 0.05  # seconds before held-back text is sent when no more arrives


def register_formatters(shell: Any) -> None:
    """Teach IPython to show results as safe HTML and media by allowlist (core has no display code)."""
    from ..core.results import GeminiResult, GeneratedMedia
    from ..render.markdown import to_html

    formatter = shell.display_formatter
    formatter.formatters["text/html"].for_type(GeminiResult, lambda result: to_html(result.text))
    formatter.mimebundle_formatter.for_type(
        GeneratedMedia, lambda media, include=None, exclude=None: media_bundle(media)
    )
    # by name: the batch module is imported on the first --map, not at load time
    formatter.formatters["text/html"].for_type_by_name("gemini_magics.core.batch", "BatchResult", _batch_html)


def _batch_html(result: Any) -> str:
    from ..render.batch import batch_table

    return batch_table(result)


class _Display:
    """One display output, updated in place."""

    def __init__(self, bundle: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        handle = display(bundle, raw=True, metadata=metadata or {}, display_id=True)
        self.display_id = handle.display_id if handle is not None else None

    def update(self, bundle: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        update_display(bundle, raw=True, metadata=metadata or {}, display_id=self.display_id)


class NotebookRenderer:
    """Renders normalised events as safe HTML display outputs in a notebook cell.

    Events arrive on the cell's thread. Text held back by the throttle is shown by a timer soon
    after when nothing more arrives (a slow or stalled server), from a thread that carries the
    cell's context so the output lands in this cell.
    """

    def __init__(
        self,
        *,
        interval: float,
        show_thoughts: bool,
        scrub: Callable[[str], str] = _unchanged,
        structured: bool = False,
        provenance: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.interval = interval
        self.structured = structured  # a JSON answer: text streams as a json code block
        self._open_fence = structured
        self.provenance = provenance
        self.show_thoughts = show_thoughts
        self.scrub = scrub
        self.segments = SegmentedMarkdown(interval=interval, publish=self._publish, scrub=scrub)
        self._lock = threading.RLock()
        self._timer: threading.Timer | None = None
        self._tail: _Display | None = None
        self._thoughts: list[str] = []
        self._thoughts_shown = 0
        self._thought_display: _Display | None = None
        self._thoughts_sent_at = 0.0
        self._retry_note: _Display | None = None
        self._segment_displays: list[_Display] = []
        self.tools = ToolTimeline()
        self._tool_displays: dict[int, tuple[_Display, str]] = {}
        self.citations = AnswerCitations()
        self._cited = False
        if show_thoughts:  # reserved above the answer; stays empty when no thoughts arrive
            self._thought_display = _Display({HTML: "", "text/plain": ""}, self._metadata("thoughts"))

    def _metadata(self, part: str, **extra: Any) -> dict[str, Any]:
        """The provenance of the answer as it stands, for an output's last message."""
        return {"gemini_magics": {**self.provenance(), "part": part, **extra}}

    def handle(self, event: ev.Event) -> None:
        with self._lock:
            if isinstance(event, ev.TextDelta):
                text = event.text
                if self._open_fence and text:
                    text, self._open_fence = STREAM_FENCE + text, False
                if self.segments.feed(text):
                    self._flush_later()
            elif isinstance(event, ev.ThoughtDelta):
                self._thoughts.append(event.text)
                self._show_thoughts(final=False)
            elif isinstance(event, ev.MediaDelta):
                self._break_segment()
                metadata = self._metadata(event.kind, **{event.kind: True})
                display(media_bundle(event), raw=True, metadata=metadata)
            elif isinstance(event, ev.ToolActivity):
                line = self.tools.feed(event)
                if line is not None:
                    self._show_tool(line)
            elif isinstance(event, ev.Citation):
                self.citations.add(event)
            elif isinstance(event, ev.FunctionCalled):
                self._break_segment()
                text = self.scrub(function_call_text(event))
                bundle = {HTML: function_call_html(event, self.scrub), "text/plain": text}
                display(bundle, raw=True, metadata=self._metadata("function", function=event.name))
            elif isinstance(event, ev.Retrying):  # one line, updated in place by later retries
                bundle = {HTML: note_html(event.note), "text/plain": event.note}
                if self._retry_note is None:
                    self._retry_note = _Display(bundle)
                else:
                    self._retry_note.update(bundle)

    def _break_segment(self) -> None:
        self.segments.break_segment()
        self._open_fence = self.structured  # text after this starts a new code block

    def show_value(self, value: Any) -> None:
        """Replace the streamed JSON (the last text segment) with the validated value; the JSON
        is not sent again (its final text/plain copy is not needed under the value)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.segments.settle()
            bundle = {mime: self.scrub(data) for mime, data in value_bundle(value).items()}
            metadata = self._metadata("answer")
            if self._tail is None:
                self._tail = _Display(bundle, metadata)
            else:
                self._tail.update(bundle, metadata)

    def _publish(self, bundle: dict[str, str], new_segment: bool) -> None:
        # a segment's final message carries its Markdown source (text/plain) and the provenance
        metadata = self._metadata("answer") if "text/plain" in bundle else None
        if new_segment or self._tail is None:
            self._tail = _Display(bundle, metadata)
            self._segment_displays.append(self._tail)
        else:
            self._tail.update(bundle, metadata)

    def _show_tool(self, line: ToolLine) -> None:
        """One line per tool call, where the answer has got to; updated in place as it completes."""
        bundle = {HTML: line.html(), "text/plain": self.scrub(line.plain())}
        bundle[HTML] = self.scrub(bundle[HTML])
        shown = self._tool_displays.get(line.key)
        if shown is None:
            self._break_segment()
            self._tool_displays[line.key] = (
                _Display(bundle, self._metadata("tool", tool=line.kind)),
                bundle[HTML],
            )
        elif shown[1] != bundle[HTML]:
            shown[0].update(bundle, self._metadata("tool", tool=line.kind))
            self._tool_displays[line.key] = (shown[0], bundle[HTML])

    def _show_citations(self) -> None:
        """Numbered links in the text already shown, then the sources list (once, at the end)."""
        if not self.citations or self._cited:
            return
        self._cited = True
        marks, sources = self.citations.place(self.segments.text)
        published = [] if self.structured else self.segments.published()  # no marks inside JSON
        for (start, text), shown in zip(published, self._segment_displays, strict=False):
            marked = insert_marks(text, marks, start)
            if marked != text:
                shown.update(markdown_bundle(self.scrub(marked)), self._metadata("answer"))
        if sources:
            bundle = markdown_bundle(self.scrub(sources.lstrip("\n")))
            display(bundle, raw=True, metadata=self._metadata("sources"))

    def _flush_later(self) -> None:
        if self._timer is None:
            context = contextvars.copy_context()  # ipykernel keeps the cell's parent header there
            self._timer = threading.Timer(
                max(self.interval, MIN_FLUSH_DELAY), context.run, (self._timed_flush,)
            )
            self._timer.daemon = True
            self._timer.start()

    def _timed_flush(self) -> None:
        with self._lock:
            if self._timer is None:  # the turn finished meanwhile
                return
            self._timer = None
            self.segments.flush()
            self._show_thoughts(final=False, force=True)

    def _show_thoughts(self, *, final: bool, force: bool = False) -> None:
        if self._thought_display is None or not self._thoughts:
            return
        if not final and len(self._thoughts) == self._thoughts_shown:
            return
        if not (final or force) and time.monotonic() - self._thoughts_sent_at < self.interval:
            self._flush_later()
            return
        self._thoughts_sent_at = time.monotonic()
        self._thoughts_shown = len(self._thoughts)
        text = self.scrub("".join(self._thoughts))
        summary = "Thoughts" if final else "Thinking…"
        self._thought_display.update(
            {HTML: disclosure(summary, text), "text/plain": f"{summary}:\n{text}"},
            self._metadata("thoughts") if final else None,
        )

    def flush(self, *, final: bool = True) -> None:
        """Send whatever has not been shown yet."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.segments.flush(final=final)
            if final:
                self._show_thoughts(final=True)
                self._show_citations()

    def footer(self, info: dict[str, Any]) -> None:
        parts = [str(info[k]) for k in ("model", "thread") if info.get(k)]
        tokens = (info.get("usage") or {}).get("total_tokens")
        if tokens is not None:
            parts.append(f"{tokens} tokens")
        if info.get("status") and info["status"] != "completed":
            parts.append(str(info["status"]))
        if info.get("interaction_id"):
            parts.append(str(info["interaction_id"]))
        line = self.scrub(" · ".join(parts))
        display(
            {HTML: f"<sub>{html.escape(line)}</sub>", "text/plain": line},
            raw=True,
            metadata={"gemini_magics": {**info, "part": "footer"}},
        )

    def note(self, message: str) -> None:
        message = self.scrub(message)
        display({HTML: note_html(message), "text/plain": message}, raw=True)


class TextRenderer:
    """Plain text for terminals: deltas are written to stdout as they arrive.

    Control characters other than newline and tab are dropped (escape sequences from the model could
    retitle the terminal or write to its clipboard), and ``scrub`` runs over the text with the last
    ``holdback`` characters kept back until more arrives, so a secret split across deltas is caught.
    """

    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        show_thoughts: bool = False,
        scrub: Callable[[str], str] = _unchanged,
        holdback: int = 0,
        structured: bool = False,
    ) -> None:
        self.stream = stream or sys.stdout
        self.structured = structured
        self._answer: list[str] = []  # a structured answer's text as shown, to compare at the end
        self.show_thoughts = show_thoughts
        self.scrub = scrub
        self.holdback = holdback
        self._pending = ""
        self._ends_with_newline = True
        self.tools = ToolTimeline()
        self._tool_lines: dict[int, int] = {}  # line key -> text lines already printed
        self.citations = AnswerCitations()

    def _clean(self, text: str) -> str:
        return self.scrub(text.translate(_TERMINAL_CONTROLS))

    def _write(self, text: str) -> None:
        if text:
            self.stream.write(text)
            self._ends_with_newline = text.endswith("\n")

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.TextDelta) and event.text:
            if self.structured:
                self._answer.append(event.text)
            text = self._clean(self._pending + event.text)
            cut = max(0, len(text) - self.holdback)
            self._write(text[:cut])
            self._pending = text[cut:]
            self.stream.flush()
        elif isinstance(event, ev.ThoughtDelta):
            if self.show_thoughts:
                self.stream.write(f"[thinking] {self._clean(event.text)}\n")
        elif isinstance(event, ev.MediaDelta):
            self._write(self._pending)
            self._pending = ""
            self._write(f"\n{media_bundle(event)['text/plain']}\n")
        elif isinstance(event, ev.ToolActivity):
            line = self.tools.feed(event)
            if line is not None and line.ready:
                self._print_tool(line)
        elif isinstance(event, ev.Citation):
            self.citations.add(event)
        elif isinstance(event, ev.FunctionCalled):
            self._write(self._pending)
            self._pending = ""
            self._write(
                ("" if self._ends_with_newline else "\n") + self._clean(function_call_text(event)) + "\n"
            )
        elif isinstance(event, ev.Retrying):
            self.stream.write(f"{self._clean(event.note)}\n")
            self.stream.flush()

    def _print_tool(self, line: ToolLine) -> None:
        """The tool line's text lines not printed yet (a terminal cannot update in place)."""
        lines = line.text()
        printed = self._tool_lines.get(line.key, 0)
        if len(lines) <= printed:
            return
        self._write(self._pending)
        self._pending = ""
        if not self._ends_with_newline:
            self._write("\n")
        self._write("".join(f"{self._clean(text)}\n" for text in lines[printed:]))
        self._tool_lines[line.key] = len(lines)
        self.stream.flush()

    def flush(self, *, final: bool = True) -> None:
        if final:
            self._write(self._pending)
            self._pending = ""
            if not self._ends_with_newline:
                self._write("\n")
            if self.citations:
                sources = self.citations.plain_sources()
                self._write("Sources:\n" + "".join(f"{self._clean(s)}\n" for s in sources))
                self.citations = AnswerCitations()
        self.stream.flush()

    def show_value(self, value: Any) -> None:
        """A terminal cannot replace what it printed: a table for records, or the pretty JSON when
        the streamed text was not already that, goes below it."""
        self._write(self._pending)
        self._pending = ""
        text = value_text(value)
        if text.strip() != "".join(self._answer).strip():
            self._write(("" if self._ends_with_newline else "\n") + self._clean(text) + "\n")
        self.stream.flush()

    def footer(self, info: dict[str, Any]) -> None:
        parts = [str(info[k]) for k in ("model", "thread", "status", "interaction_id") if info.get(k)]
        self.stream.write("── " + self._clean(" · ".join(parts)) + "\n")

    def note(self, message: str) -> None:
        self.stream.write(f"{self._clean(message)}\n")

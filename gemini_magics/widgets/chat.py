"""A chat panel over one of the magics' threads: stock ipywidgets plus two small anywidget parts.

The panel and the ``%%gemini`` cells are one conversation: both send the thread's head as
``previous_interaction_id`` and both move it only when a turn completes. Answers stream on a worker
thread (``TurnRunner.start``) so the kernel stays free and Stop is handled at once. The panel
subscribes to its thread, so a turn committed anywhere (a cell, another panel, a research run), a
reset, and another front end answering on the thread show up at once, from whichever Python thread
made them. Every callback is wrapped: a failure becomes a readable message in the panel, never a
traceback somewhere else. The composer (Enter sends) and the scroll follower are in ``composer.py``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import ipywidgets as w
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.display import display

from ..core import events as ev
from ..core import models
from ..core.errors import GeminiError, InputError, redact
from ..core.results import GeminiResult
from ..core.session import Session, TurnRequest
from ..core.threads import Thread
from ..core.tools import mcp_server, resolve_tools
from ..ipython import current_session, usage_errors
from .composer import Composer, ScrollFollower
from .messages import (
    FAILED_CLASS,
    STOPPED_CLASS,
    StreamingReply,
    close_tree,
    history_reply,
    markdown_output,
    notice_output,
    user_message,
)

if TYPE_CHECKING:
    from ..core.turns import BackgroundTurn

NO_WIDGETS = (
    "the chat panel needs a widget frontend: open this notebook in JupyterLab or Jupyter Notebook "
    "(in a terminal, use %%gemini cells)"
)
STYLE = """<style>
.gm-chat { border: 1px solid var(--jp-border-color2); border-radius: 6px; padding: 4px 8px; }
.gm-chat-user { background: var(--jp-layout-color2); border-radius: 8px; margin: 4px 0 4px 12%;
  padding: 0 8px; }
.gm-chat-reply { border-left: 3px solid var(--jp-brand-color1); margin: 4px 12% 4px 0; padding: 0 8px; }
.gm-chat-reply.gm-chat-stopped { border-left-color: var(--jp-warn-color1); }
.gm-chat-reply.gm-chat-failed { border-left-color: var(--jp-error-color1); }
.gm-chat-notice { color: var(--jp-error-color1); }
</style>"""
STOPPED_NOTE = "**Stopped.** The partial answer stays here; the thread was left as it was."
RESET_NOTE = (
    "The thread was started over (New chat or `%gemini reset`) while this answer streamed, "
    "so it was not added to the thread."
)
ELSEWHERE = "answering elsewhere (a cell, another panel or a research run)…"
OWN_BUSY_HINT = "Answering… Enter sends again once the answer is in"
ELSEWHERE_BUSY_HINT = "Another front end is answering on this thread; Enter sends once it is done"

Method = TypeVar("Method", bound=Callable[..., Any])


def _guarded(method: Method) -> Method:
    """Run a callback; anything it raises is shown in the panel instead of escaping (and gives False)."""

    @functools.wraps(method)
    def guarded(self: ChatPanel, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            self._show_problem(exc)
            return False

    return guarded  # type: ignore[return-value]


@dataclass
class _Entry:
    """Widgets in the message list for one turn (or one problem), and which turn it shows."""

    widgets: tuple[w.Widget, ...]
    interaction_id: str | None = None
    live: bool = False
    turn: BackgroundTurn | None = None  # the turn streaming into it, while it is live


class ChatPanel:
    """A chat over a thread of the ``%%gemini`` magics: history, streaming answers, Stop, New chat.

    ``thread`` defaults to the session's default thread (the one cells use without ``-t``);
    ``session`` defaults to the running kernel's (:func:`gemini_magics.ipython.current_session`).
    """

    def __init__(
        self,
        thread: str | None = None,
        *,
        session: Session | None = None,
        show_thoughts: bool = False,
        tools: Sequence[str | Callable[..., Any]] | None = None,
        mcp: Sequence[str] = (),
        namespace: Mapping[str, Any] | None = None,
    ) -> None:
        self.session = session if session is not None else current_session()
        with usage_errors():
            self.thread_name = self.session.thread(thread).name
            if tools is not None:  # refused here, not at the first Enter
                resolve_tools(tools, namespace)
            for spec in mcp:
                mcp_server(spec)
        self.show_thoughts = show_thoughts
        self.tools = tuple(tools) if tools is not None else None  # sent with every turn from the panel
        self.mcp = tuple(mcp)
        self.namespace = namespace  # where tool names that are not built-in are looked up
        self.last_result: GeminiResult | None = None
        self._turn: BackgroundTurn | None = None
        self._reply: StreamingReply | None = None
        self._starting = False  # set while send() starts a turn: the thread is busy with ours
        self._closed = False
        self._stop_requested = False
        self._retry_note = ""
        self._lock = threading.RLock()
        self._status_lock = threading.Lock()
        self._entries: list[_Entry] = []
        self._build()
        self._render(self._history())
        self._unsubscribe = self.thread.subscribe(self._on_thread_change)
        self._unhook_close = self.session.on_close(self._stop_streaming)  # unload stops our answer

    # -- widgets -------------------------------------------------------------------------------
    def _build(self) -> None:
        # flex "none": inside the height-capped scroller the list must scroll, not shrink its messages
        self.messages = w.VBox(layout=w.Layout(flex="none"))
        self.messages.add_class("gm-chat-messages")
        self.scroller = w.Box(
            [self.messages], layout=w.Layout(flex_flow="column", overflow="auto", max_height="520px")
        )
        self.scroller.add_class("gm-chat-scroller")  # the follower finds it by this class
        self.follower = ScrollFollower()  # keeps the scroller at the newest message (see composer.py)
        self.status = w.Label()
        self.notice = w.Output()
        self.notice.add_class("gm-chat-notice")
        self.input = Composer(placeholder="Ask Gemini…", rows=3, layout=w.Layout(width="100%"))
        self.send_button = w.Button(description="Send", button_style="primary", icon="paper-plane")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.new_button = w.Button(description="New chat", icon="plus", tooltip="Start the thread over")
        choices = models.known_models()
        model = self.session.settings.model
        self.model_picker = w.Dropdown(
            options=choices if model in choices else (model, *choices),
            value=model,
            description="Model",
            layout=w.Layout(width="auto"),
        )
        self.attach = w.FileUpload(accept="image/*,application/pdf", multiple=True, description="Attach")
        for name in ("input", "send_button", "stop_button", "new_button", "model_picker", "attach", "status"):
            getattr(self, name).add_class("gm-chat-" + name.replace("_button", "").replace("_", "-"))
        self.input.on_submit(self._on_submit)
        self.send_button.on_click(self._on_send)
        self.stop_button.on_click(self._on_stop)
        self.new_button.on_click(self._on_new)
        buttons = [self.send_button, self.stop_button, self.new_button, self.attach, self.model_picker]
        controls = w.HBox(buttons)
        parts = [w.HTML(STYLE), self.status, self.scroller, self.follower, self.notice, self.input, controls]
        self.view = w.VBox(parts)
        self.view.add_class("gm-chat")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"Gemini chat panel (thread {self.thread_name!r}): {NO_WIDGETS}"
        return bundle

    def close(self) -> None:
        """Stop following the thread, stop any answer and its timer, and close every widget."""
        self._closed = True
        self._unsubscribe()
        self._unhook_close()
        turn, reply = self._turn, self._reply
        if turn is not None:
            turn.stop()
            with contextlib.suppress(RuntimeError):  # called from the turn's own worker: no join
                turn.join(5)
        if reply is not None:
            reply.close()
        close_tree(self.view)

    def _stop_streaming(self) -> None:
        turn = self._turn
        if turn is not None:
            turn.stop()

    # -- the thread ----------------------------------------------------------------------------
    @property
    def thread(self) -> Thread:
        return self.session.threads[self.thread_name]

    @property
    def running(self) -> bool:
        turn = self._turn
        return turn is not None and turn.running

    def _history(self, skip: frozenset[str] = frozenset()) -> list[_Entry]:
        return [
            _Entry((user_message(turn.prompt), history_reply(turn)), turn.interaction_id)
            for turn in list(self.thread.turns)
            if turn.interaction_id not in skip
        ]

    def _render(self, entries: list[_Entry]) -> None:
        with self._lock:
            self._entries = entries
            self.messages.children = tuple(widget for entry in entries for widget in entry.widgets)
        self._show_status()

    def _add(self, entry: _Entry) -> None:
        with self._lock:
            self._entries.append(entry)
            self.messages.children = (*self.messages.children, *entry.widgets)

    @_guarded
    def sync(self) -> None:
        """Catch up with turns made elsewhere (cells, other panels) and with rewinds and resets.

        Called by the thread's listener; a live answer of this panel that has just been committed
        (its own ``on_done`` has not run yet) is already on screen and is not added twice.
        """
        with self._lock:
            if self._closed:
                return
            turns = list(self.thread.turns)
            live = [entry for entry in self._entries if entry.live]
            own = frozenset(e.turn.result.interaction_id or "" for e in live if e.turn is not None)
            shown = [entry.interaction_id for entry in self._entries if entry.interaction_id]
            ids = [turn.interaction_id for turn in turns]
            if ids[: len(shown)] == shown:
                for turn in turns[len(shown) :]:
                    if turn.interaction_id not in own:
                        entry = _Entry((user_message(turn.prompt), history_reply(turn)), turn.interaction_id)
                        self._add(entry)
            else:
                for entry in self._entries:
                    if not entry.live:
                        for widget in entry.widgets:
                            close_tree(widget)
                self._render(self._history(own) + live)
        self._show_status()

    @_guarded
    def _on_thread_change(self, _thread: Thread, change: str) -> None:
        """The thread's listener, on whichever Python thread changed it (see core/threads.py)."""
        if self._closed:
            return
        if change in ("commit", "reset"):
            self.sync()
        else:  # busy or idle: another front end may be answering on this thread
            self._show_status(self._retry_note)

    # -- actions -------------------------------------------------------------------------------
    @_guarded
    def _on_send(self, _button: Any = None) -> None:
        if self.send(self.input.value):
            self.input.value = ""

    @_guarded
    def _on_submit(self, text: str) -> None:  # Enter in the composer
        if self.send(text):
            self.input.value = ""

    @_guarded
    def _on_stop(self, _button: Any = None) -> None:
        self.stop()

    @_guarded
    def _on_new(self, _button: Any = None) -> None:
        self.new_chat()

    @_guarded
    def send(self, text: str) -> bool:
        """Ask ``text`` on the panel's thread; False (with a message in the panel) when it cannot start."""
        self._clear_notice()
        if self.running:
            return self._refuse("An answer is still streaming.", "press Stop, or wait for it to finish")
        names, files = self._uploads()
        self.sync()
        request = TurnRequest(
            text,
            origin="panel",
            thread=self.thread_name,
            model=self.model_picker.value,
            show_thoughts=self.show_thoughts,
            raw=True,  # a panel sends the text as typed: no {{variables}}
            files=files,
            tools=self.tools,
            mcp=self.mcp,
        )
        try:
            prepared = self.session.prepare(request, self.namespace)
        except InputError as exc:
            return self._refuse(str(exc))
        model = prepared.result.model
        secrets = [secret for secret in self._secrets() if secret]
        reply = StreamingReply(
            model, interval=self.session.settings.stream_interval, scrub=lambda t: redact(t, secrets)
        )
        entry = _Entry((user_message(prepared.result.prompt, names), reply.view), live=True)
        with self._lock:  # on_done waits for this block, so it always sees self._turn set
            self._stop_requested = False
            self._starting = True
            try:
                self._turn = self.session.start(
                    prepared, on_event=self._relay(reply), on_done=self._done(reply, entry)
                )
            except InputError as exc:  # the thread became busy since it was prepared
                close_tree(entry.widgets[0])
                close_tree(reply.view)
                return self._refuse(str(exc))
            finally:
                self._starting = False
            entry.turn = self._turn
            self._reply = reply
            self._add(entry)
            self.follower.to_bottom()  # Send always brings the newest message into view
            self._show_status()
        self.attach.value = ()
        return True

    def _uploads(self) -> tuple[list[str], dict[str, bytes]]:
        values: dict[str, bytes] = {}
        for upload in self.attach.value:
            name = str(upload["name"])
            while name in values:  # attachments are keyed by name; keep two files of one name apart
                name += "′"
            values[name] = bytes(upload["content"])
        return list(values), values

    @_guarded
    def stop(self) -> None:
        """Stop the answer that is streaming; its partial text stays, marked as stopped."""
        turn = self._turn
        if turn is not None and turn.running:
            self._stop_requested = True
            turn.stop()
            self.status.value = f"Thread {self.thread_name!r} · stopping…"

    @_guarded
    def new_chat(self) -> None:
        """Start the thread over (for the cells too) and clear the panel.

        The panel's own answer is stopped first. A turn running elsewhere on the thread (a research
        run, another panel) goes on, but the reset wins: it will not be added when it completes.
        """
        self._clear_notice()
        turn = self._turn
        if turn is not None and turn.running:
            self._stop_requested = True
            turn.stop()
            turn.join(5)
        busy = self.thread.busy
        self.thread.reset()
        with self._lock:
            for entry in self._entries:
                for widget in entry.widgets:
                    close_tree(widget)
            self._render([])
        if busy:
            self._refuse(
                "Started over. A turn still running on this thread (a research run or another panel) "
                "will finish but not be added to it."
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the streaming answer (if any) has finished; False on timeout."""
        turn = self._turn
        return turn is None or turn.join(timeout)

    # -- the turn's callbacks (worker thread) --------------------------------------------------
    def _relay(self, reply: StreamingReply) -> Callable[[Any], None]:
        @_guarded
        def on_event(self: ChatPanel, event: Any) -> None:
            if isinstance(event, ev.Retrying):  # the status line says so until the answer starts
                self._retry_note = event.note
                self._show_status(event.note)
                return
            if self._retry_note:
                self._retry_note = ""
                self._show_status()
            reply.handle(event)

        return functools.partial(on_event, self)

    def _done(self, reply: StreamingReply, entry: _Entry) -> Callable[[GeminiResult, Any], None]:
        @_guarded
        def on_done(self: ChatPanel, result: GeminiResult, error: BaseException | None) -> None:
            with self._lock:
                self.last_result = result
                self._turn = None
                if self._reply is reply:
                    self._reply = None
                entry.live = False
                entry.turn, turn = None, entry.turn
                if self._closed:  # the panel's widgets are gone; nothing to show it in
                    return
                if error is not None:
                    reply.finish(notice_output(*_explain(error, self._secrets())), css_class=FAILED_CLASS)
                elif result.status == "completed":
                    committed = turn is not None and turn.committed
                    entry.interaction_id = result.interaction_id if committed else None
                    footer = _footer(result)
                    origin = self.session.origin_note(result)
                    if origin:
                        reply.note(origin)
                    if committed:
                        reply.finish(footer)
                    else:
                        reply.finish(notice_output(RESET_NOTE), footer, css_class=STOPPED_CLASS)
                elif self._stop_requested:
                    reply.finish(markdown_output(STOPPED_NOTE), css_class=STOPPED_CLASS)
                else:
                    note = f"The answer ended {result.status}; the thread was left as it was. Send it again."
                    reply.finish(notice_output(note), css_class=FAILED_CLASS)
            self.sync()

        return functools.partial(on_done, self)

    # -- status and problems -------------------------------------------------------------------
    def _show_status(self, note: str = "") -> None:
        """The status line, and whether Send, Stop and Enter work: this panel answering, another
        front end answering on the thread (a cell, a panel, a research run), or free."""
        if self._closed:
            return
        with self._status_lock:  # a leaf lock: hold_sync is not safe from two threads at once
            own = self._starting or self.running
            elsewhere = not own and self.thread.busy
            with self.send_button.hold_sync():
                self.send_button.disabled = own or elsewhere
                self.send_button.description = "Answering…" if own else "Busy…" if elsewhere else "Send"
            self.stop_button.disabled = not own
            with self.input.hold_sync():
                self.input.busy = own or elsewhere
                self.input.busy_hint = OWN_BUSY_HINT if own else ELSEWHERE_BUSY_HINT
            turns = len(self.thread.turns)
            state = note or ("answering…" if own else ELSEWHERE if elsewhere else "")
            state = f" · {state}" if state else ""
            self.status.value = f"Gemini chat · thread {self.thread_name!r} · {turns} turn(s){state}"

    def _refuse(self, message: str, hint: str = "") -> bool:
        self.notice.outputs = (notice_output(message, hint),)
        return False

    def _clear_notice(self) -> None:
        if self.notice.outputs:
            self.notice.outputs = ()

    def _show_problem(self, exc: BaseException) -> None:
        with contextlib.suppress(Exception):  # the panel itself is broken: nothing is left to show it in
            self._refuse(*_explain(exc, self._secrets()))

    def _secrets(self) -> list[str]:
        return self.session.connection.secrets()


def _explain(error: BaseException, secrets: list[str]) -> tuple[str, str]:
    """What went wrong and what to do, worded for the panel and free of the key."""
    if isinstance(error, GeminiError):
        message, hint = error.message, error.hint
    elif isinstance(error, UsageError | InputError):
        message, hint = str(error), ""
    else:
        message, hint = f"{type(error).__name__}: {error}", "the panel is still usable; try again"
    hint = hint.replace("run the cell again", "send it again").replace("this cell", "this message")
    return redact(message, secrets), redact(hint, secrets)


def _footer(result: GeminiResult) -> dict[str, Any] | None:
    tokens = (result.usage or {}).get("total_tokens")
    return markdown_output(f"*{tokens} tokens*") if tokens is not None else None


def show_chat(
    shell: Any, thread: str, *, tools: Sequence[str] | None = None, mcp: Sequence[str] = ()
) -> ChatPanel:
    """``%gemini chat [THREAD]``: display a panel, or say plainly that this frontend cannot."""
    if shell is None or type(shell.display_pub) is DisplayPublisher:
        raise UsageError(NO_WIDGETS)
    panel = ChatPanel(thread, session=current_session(shell), tools=tools, mcp=mcp, namespace=shell.user_ns)
    display(panel)
    return panel

"""The chat panel in plain pytest: real widgets (no frontend), the real SDK, the emulator."""

from __future__ import annotations

import base64
import datetime
import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets
import pytest
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError

from gemini_magics.core import events as ev
from gemini_magics.core.threads import Thread, Turn
from gemini_magics.emulator import Fault, Reply, StepClock
from gemini_magics.render.segments import FREEZE_CHARS
from gemini_magics.widgets.chat import ChatPanel
from gemini_magics.widgets.messages import StreamingReply

from .support import TEST_KEY, creates, text_of, wait_for

ANSWER = "## Generators\n\nA generator *yields* values lazily.\n\n```python\ndef count():\n    yield 1\n```\n"


@pytest.fixture
def panels(ip) -> Iterator[Callable[..., ChatPanel]]:
    """Makes panels over the test shell's magics and closes them afterwards."""
    made: list[ChatPanel] = []

    def make(thread: str | None = None, **kwargs: Any) -> ChatPanel:
        panel = ChatPanel(thread, session=ip.magics.session, **kwargs)
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.close()
        panel.wait(5)


class WidgetTraffic:
    """Every state update the kernel side sends to the frontend, by widget."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        original = ipywidgets.Widget._send

        def record(widget: ipywidgets.Widget, msg: dict[str, Any], buffers: Any = None) -> None:
            if widget.comm is not None:  # anywidget adds its traits before it has a comm
                self.sent.append((widget.model_id, msg.get("state", {})))
            original(widget, msg, buffers)

        monkeypatch.setattr(ipywidgets.Widget, "_send", record)

    def markdown_states(self) -> list[str]:
        """The text of every answer-text output sent to the front end (rendered HTML, as text)."""
        return [
            text_of(output["data"])
            for _, state in self.sent
            for output in state.get("outputs", ())
            if "text/html" in output.get("data", {})
        ]


def shown(panel: ChatPanel) -> str:
    """All the Markdown and plain text the message list holds now, in order."""
    parts: list[str] = []

    def walk(widget: Any) -> None:
        for child in getattr(widget, "children", ()):
            walk(child)
        for output in getattr(widget, "outputs", ()):
            data = output.get("data", {})
            parts.append(text_of(data))

    walk(panel.messages)
    return "\n".join(parts)


def notice(panel: ChatPanel) -> str:
    return "\n".join(text_of(o["data"]) for o in panel.notice.outputs)


def _upload(name: str, content: bytes) -> dict[str, Any]:
    """A file as FileUpload's value holds it after the browser sent it."""
    when = datetime.datetime.now(datetime.UTC)
    return {
        "name": name,
        "type": "",
        "size": len(content),
        "content": memoryview(content),
        "last_modified": when,
    }


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


# -- streaming and the shared thread -------------------------------------------------------------
def test_send_streams_the_answer_into_the_message_list(panels, emulator, monkeypatch):
    traffic = WidgetTraffic(monkeypatch)
    emulator.enqueue(Reply.text(ANSWER, deltas=12, delay=0.01))
    panel = panels()
    assert panel.send("Explain generators")
    assert panel.running and panel.stop_button.disabled is False and panel.send_button.disabled
    assert panel.wait(10)
    text = shown(panel)
    assert "**You**\nExplain generators" in text
    assert "A generator *yields* values lazily." in text and "def count():" in text
    partial = {md for md in traffic.markdown_states() if "Generators" in md and "def count" not in md}
    assert len(partial) >= 3  # the answer was seen growing, not only in its final form
    assert panel.last_result.status == "completed" and panel.last_result.text == ANSWER
    assert not panel.running and panel.send_button.disabled is False and panel.stop_button.disabled
    assert "1 turn(s)" in panel.status.value
    assert creates(emulator)[0].body["stream"] is True


def test_a_cell_continues_the_panels_turn(ip, panels, emulator):
    emulator.enqueue(Reply.text("Panel answer."), Reply.text("Cell answer."))
    panel = panels()
    panel.send("From the panel")
    assert panel.wait(10)
    panel_id = panel.last_result.interaction_id
    ip.run("%%gemini\nFrom a cell", cell_id="cell-1")
    bodies = [r.body for r in creates(emulator)]
    assert "previous_interaction_id" not in bodies[0]
    assert bodies[1]["previous_interaction_id"] == panel_id
    thread = ip.magics.threads["default"]
    assert [t.prompt for t in thread.turns] == ["From the panel", "From a cell"]
    # the panel catches up after the cell ran: the cell's turn is in its message list
    assert "From a cell" in shown(panel) and "Cell answer." in shown(panel)


def test_the_panel_continues_a_cells_turn_and_shows_it_as_history(ip, panels, emulator):
    emulator.enqueue(Reply.text("Cell answer with <b>bold</b>."), Reply.text("Panel answer."))
    ip.run("%%gemini\nFrom a cell", cell_id="cell-1")
    cell_id = ip.user_ns["_gemini"].interaction_id
    panel = panels()
    history = shown(panel)
    assert "From a cell" in history and "Cell answer with <b>bold</b>." in history  # as text
    panel.send("From the panel")
    assert panel.wait(10)
    assert creates(emulator)[1].body["previous_interaction_id"] == cell_id
    assert ip.magics.threads["default"].head == panel.last_result.interaction_id


def test_panels_on_other_threads_do_not_share(ip, panels, emulator):
    emulator.enqueue(Reply.text("one"), Reply.text("two"))
    ip.run("%%gemini\nDefault thread", cell_id="c")
    panel = panels("side")
    assert "Default thread" not in shown(panel)
    panel.send("On the side")
    assert panel.wait(10)
    assert "previous_interaction_id" not in creates(emulator)[1].body
    assert len(ip.magics.threads["side"].turns) == 1


# -- stop, new chat, busy ------------------------------------------------------------------------
def test_stop_mid_stream_keeps_the_partial_answer_marked_stopped(ip, panels, emulator):
    emulator.enqueue(Reply.text("Before."))
    stalling = Reply.text("alpha beta gamma delta epsilon zeta", deltas=6, stall_after=4, stall_seconds=30)
    emulator.enqueue(stalling)
    emulator.clock = StepClock()  # the stall lasts until the test ends
    panel = panels()
    panel.send("First")
    assert panel.wait(10)
    head = ip.magics.threads["default"].head
    panel.send("Second")
    wait_for(lambda: "alpha" in shown(panel))
    wait_for(lambda: emulator.clock.waiting == 1, 5, "the server to stall mid-answer")
    stopped_at = time.monotonic()
    panel.stop_button.click()
    assert panel.wait(1.0), "Stop took longer than a second"
    assert time.monotonic() - stopped_at < 1.0
    text = shown(panel)
    assert "alpha" in text and "zeta" not in text
    assert "Stopped." in text
    assert "gm-chat-stopped" in panel.messages.children[-1]._dom_classes
    assert panel.last_result.status == "incomplete"
    assert ip.magics.threads["default"].head == head and len(ip.magics.threads["default"].turns) == 1
    assert panel.send_button.disabled is False and panel.stop_button.disabled
    emulator.enqueue(Reply.text("After."))
    panel.send("Third")  # still usable, and the chain skips the stopped turn
    assert panel.wait(10)
    assert creates(emulator)[2].body["previous_interaction_id"] == head


def test_new_chat_starts_the_thread_over_for_cells_too(ip, panels, emulator):
    emulator.enqueue(Reply.text("one"), Reply.text("two"), Reply.text("three"))
    panel = panels()
    panel.send("Hello")
    assert panel.wait(10)
    panel.new_button.click()
    assert ip.magics.threads["default"].turns == [] and panel.messages.children == ()
    assert "0 turn(s)" in panel.status.value
    panel.send("Fresh start")
    assert panel.wait(10)
    assert "previous_interaction_id" not in creates(emulator)[1].body
    ip.run("%%gemini\nAnd a cell", cell_id="c")
    assert creates(emulator)[2].body["previous_interaction_id"] == panel.last_result.interaction_id


def test_new_chat_while_streaming_stops_the_answer_first(ip, panels, emulator):
    emulator.enqueue(Reply.text("slow slow slow more more more", deltas=6, stall_after=5, stall_seconds=30))
    panel = panels()
    panel.send("Q")
    wait_for(lambda: "slow" in shown(panel))
    started = time.monotonic()
    panel.new_chat()
    assert time.monotonic() - started < 2 and not panel.running
    assert ip.magics.threads["default"].turns == [] and not ip.magics.threads["default"].busy


def test_a_busy_thread_refuses_a_second_panel_and_a_cell(ip, panels, emulator):
    emulator.enqueue(Reply.text("one two three four five six", deltas=6, stall_after=5, stall_seconds=30))
    first, second = panels(), panels()
    first.send("Long one")
    wait_for(lambda: "two" in shown(first))
    assert second.send("Me too") is False
    assert "busy with another turn" in notice(second)
    with pytest.raises(UsageError, match="busy"):
        ip.run("%%gemini\nAnd me", cell_id="c")
    assert len(creates(emulator)) == 1  # nothing else was sent
    first.stop()
    assert first.wait(1.0)
    emulator.enqueue(Reply.text("now"))
    assert second.send("Me now")
    assert second.wait(10)
    assert "previous_interaction_id" not in creates(emulator)[1].body  # the stopped turn never joined
    assert "Me now" in shown(second) and "busy" not in notice(second)


# -- problems are shown in the panel -------------------------------------------------------------
def test_missing_key_is_explained_and_the_panel_stays_usable(ip, panels, emulator, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    panel = panels()
    panel.input.value = "Hello?"
    panel.send_button.click()
    assert "no API key" in notice(panel) and "GEMINI_API_KEY" in notice(panel)
    assert "%gemini login" in notice(panel)
    assert panel.input.value == "Hello?"  # kept, to send again
    assert creates(emulator) == []
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    emulator.enqueue(Reply.text("Now it works."))
    panel.send_button.click()
    assert panel.wait(10)
    assert "Now it works." in shown(panel) and notice(panel) == "" and panel.input.value == ""


def test_quota_error_is_shown_in_the_reply_with_what_to_do(ip, panels, emulator):
    emulator.enqueue(Fault.http(429, "RESOURCE_EXHAUSTED", "Quota exceeded", retry_after=0.01, times=5))
    panel = panels()
    panel.send("Hi")
    assert panel.wait(10)
    text = shown(panel)
    assert "429 RESOURCE_EXHAUSTED: Quota exceeded" in text
    assert "rate limit or quota reached; wait a little and send it again" in text
    assert "gm-chat-failed" in panel.messages.children[-1]._dom_classes
    assert TEST_KEY not in text and ip.magics.threads["default"].head is None
    emulator.enqueue(Reply.text("Recovered."))
    panel.send("Again")
    assert panel.wait(10) and "Recovered." in shown(panel)


def test_unreachable_server_is_a_readable_message(ip, panels, monkeypatch):
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")
    panel = panels()
    panel.send("Hi")
    assert panel.wait(20)
    assert "connection to http://127.0.0.1:9 failed" in shown(panel)
    assert "check your network" in shown(panel)


def test_an_exception_in_a_callback_is_shown_in_the_panel(ip, panels, emulator, monkeypatch):
    panel = panels()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"wires crossed with {TEST_KEY}")

    monkeypatch.setattr(ip.magics.turns, "start", broken)
    panel.input.value = "Hi"
    panel.send_button.click()  # nothing escapes the callback
    assert "RuntimeError: wires crossed" in notice(panel) and TEST_KEY not in notice(panel)
    assert panel.send_button.disabled is False


def test_empty_prompt_and_bad_attachment_are_refused(panels, emulator):
    panel = panels()
    assert panel.send("   ") is False and "empty prompt: type a question first" in notice(panel)
    panel.attach.value = (_upload("notes.txt", b"hello"),)
    assert panel.send("Read this") is False
    assert "notes.txt" in notice(panel) and creates(emulator) == []


# -- content: attachments, images, thoughts, untrusted text --------------------------------------
def test_attached_files_go_through_the_attach_machinery(panels, emulator):
    png, pdf = _png(), b"%PDF-1.4 tiny"
    panel = panels()
    panel.attach.value = (
        _upload("plot.png", png),
        _upload("paper.pdf", pdf),
    )
    emulator.enqueue(Reply.text("Nice plot."))
    panel.send("What do you see?")
    assert panel.wait(10)
    blocks = creates(emulator)[0].body["input"][0]["content"]
    assert [b["type"] for b in blocks] == ["text", "image", "document"]
    assert base64.b64decode(blocks[1]["data"]) == png and blocks[2]["mime_type"] == "application/pdf"
    assert "*Attached:* plot.png, paper.pdf" in shown(panel)
    assert panel.attach.value == ()  # cleared for the next message


def test_images_are_inline_and_thoughts_collapsed(panels, emulator):
    png = _png()
    emulator.enqueue(Reply.image(png, text="Here it is.", thoughts=["Choosing colours."]))
    panel = panels()
    panel.model_picker.value = "gemini-3.1-flash-image"
    panel.send("Draw a red box")
    assert panel.wait(10)
    body = creates(emulator)[0].body
    assert body["model"] == "gemini-3.1-flash-image" and body["response_format"][1]["type"] == "image"
    images = [
        o["data"]["image/png"]
        for child in panel.messages.children[-1].children
        for o in child.outputs
        if "image/png" in o["data"]
    ]
    assert [base64.b64decode(i) for i in images] == [png]
    assert "Thoughts:\nChoosing colours." in shown(panel)
    html_shown = [
        o["data"].get("text/html", "") for c in panel.messages.children[-1].children for o in c.outputs
    ]
    assert any("<details><summary>Thoughts</summary>" in h for h in html_shown)


def test_html_and_script_links_are_made_inert(panels, emulator):
    evil = '<script>alert(1)</script> <img src=x onerror="alert(2)"> [click](javascript:alert(3))'
    emulator.enqueue(Reply.text(evil))
    panel = panels()
    panel.send("<b>hi</b> " + evil)
    assert panel.wait(10)
    assert "<script>alert(1)</script>" in shown(panel)  # as text: the plain-text form is the source
    rendered = "\n".join(
        o["data"].get("text/html", "")
        for widget in panel.messages.children
        for part in [widget, *getattr(widget, "children", ())]
        for o in getattr(part, "outputs", ())
    )
    assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert "&lt;script&gt;" in rendered and "&lt;b&gt;hi&lt;/b&gt;" in rendered and "href" not in rendered


def test_model_picker_offers_the_sdk_models_and_defaults_to_the_magics_model(ip, panels, emulator):
    ip.run("%config GeminiMagics.model = 'gemini-3.6-flash'")
    panel = panels()
    assert panel.model_picker.value == "gemini-3.6-flash"
    assert "gemini-3.5-flash" in panel.model_picker.options
    emulator.enqueue(Reply.text("ok"))
    panel.send("Hi")
    assert panel.wait(10)
    assert creates(emulator)[0].body["model"] == "gemini-3.6-flash"


# -- following the thread ------------------------------------------------------------------------
def test_a_reset_or_rewind_elsewhere_is_reflected(ip, panels, emulator):
    emulator.enqueue(*(Reply.text(f"answer {n}") for n in range(3)))
    ip.run("%%gemini\nOne", cell_id="a")
    ip.run("%%gemini\nTwo", cell_id="b")
    panel = panels()
    assert "Two" in shown(panel)
    ip.run("%%gemini\nOne again", cell_id="a")  # re-running an earlier cell rewinds the thread
    assert "One again" in shown(panel) and "**You**\nTwo" not in shown(panel)
    ip.run("%gemini reset")
    assert panel.messages.children == ()


# -- the composer: Enter sends (what the front end sends, simulated) -----------------------------
def from_browser(widget: ipywidgets.Widget, method: str, **data: Any) -> None:
    """Deliver a message to ``widget`` exactly as the kernel receives it from its front-end view."""
    widget._handle_msg({"content": {"data": {"method": method, **data}}, "buffers": []})


def test_enter_in_the_composer_sends_what_was_typed_and_clears_it(ip, panels, emulator):
    emulator.enqueue(Reply.text("First answer."))
    panel = panels()
    from_browser(panel.input, "update", state={"value": "Two lines,\nthe second after Shift+Enter"})
    assert panel.input.value == "Two lines,\nthe second after Shift+Enter"  # synced as typed
    from_browser(panel.input, "custom", content={"type": "submit", "value": panel.input.value})
    assert panel.running and panel.input.busy and panel.send_button.disabled
    assert panel.wait(10)
    assert creates(emulator)[0].body["input"] == "Two lines,\nthe second after Shift+Enter"
    assert panel.input.value == "" and not panel.input.busy and "First answer." in shown(panel)


def test_the_composer_acts_on_the_text_sent_with_enter_and_ignores_other_messages(ip, panels, emulator):
    emulator.enqueue(Reply.text("ok"))
    panel = panels()
    panel.input.value = "stale text the kernel had"
    from_browser(panel.input, "custom", content={"type": "something-else"})
    from_browser(panel.input, "custom", content="not even a dict")
    assert creates(emulator) == [] and not panel.running
    from_browser(panel.input, "custom", content={"type": "submit", "value": "what the box held"})
    assert panel.wait(10)
    assert creates(emulator)[0].body["input"] == "what the box held"


def test_enter_while_answering_is_refused_and_keeps_the_text(ip, panels, emulator):
    emulator.enqueue(Reply.text("one two three four five six", deltas=6, stall_after=5, stall_seconds=30))
    panel = panels()
    panel.send("Long one")
    wait_for(lambda: "two" in shown(panel))
    assert panel.input.busy and "Enter sends again once the answer is in" in panel.input.busy_hint
    from_browser(panel.input, "custom", content={"type": "submit", "value": "Too soon"})
    assert "still streaming" in notice(panel) and panel.input.value == "Too soon"
    panel.stop()
    assert panel.wait(1.0) and not panel.input.busy
    assert len(creates(emulator)) == 1


def test_an_empty_enter_is_refused_with_a_message(panels, emulator):
    panel = panels()
    from_browser(panel.input, "custom", content={"type": "submit", "value": "  \n "})
    assert "type a question first" in notice(panel) and creates(emulator) == []


# -- two front ends on one thread ----------------------------------------------------------------
def test_thread_listeners_hear_every_change_outside_the_lock(caplog):
    thread = Thread("t")
    heard: list[str] = []

    def listener(changed: Thread, change: str) -> None:
        # another Python thread can read the thread meanwhile: no lock of the thread is held
        reader = threading.Thread(target=changed.slot)
        reader.start()
        reader.join(1.0)
        assert not reader.is_alive(), "the listener was called with the thread's lock held"
        heard.append(change)

    def broken(changed: Thread, change: str) -> None:
        raise RuntimeError("a broken panel")

    unsubscribe = thread.subscribe(listener)
    thread.subscribe(broken)
    with thread.acquire():
        assert thread.commit(Turn("Q", "v1_a", None, "m"))
    thread.reset()
    assert heard == ["busy", "commit", "idle", "reset"]
    assert thread.turns == [] and not thread.busy  # the broken listener changed nothing
    assert "a broken panel" in caplog.text
    unsubscribe()
    thread.reset()
    assert heard == ["busy", "commit", "idle", "reset"]


def test_a_panel_turn_appears_live_in_another_panel_on_the_thread(ip, panels, emulator):
    emulator.enqueue(Reply.text("one two three four five six", deltas=6, stall_after=5, stall_seconds=30))
    first, second = panels(), panels()
    first.send("Asked in the first panel")
    wait_for(lambda: "two" in shown(first))
    # the second panel shows, without any action, that another front end is answering
    assert "answering elsewhere" in second.status.value
    assert second.send_button.disabled and second.send_button.description == "Busy…"
    assert second.input.busy and "Another front end is answering" in second.input.busy_hint
    assert second.stop_button.disabled  # Stop belongs to the panel that asked
    first.stop()
    assert first.wait(1.0)
    wait_for(lambda: "answering" not in second.status.value)
    assert not second.send_button.disabled and not second.input.busy
    assert "Asked in the first panel" not in shown(second)  # a stopped turn never joined the thread

    emulator.enqueue(Reply.text("Committed answer. LIVE-MARKER", deltas=4, delay=0.01))
    first.send("Asked again")
    assert first.wait(10)
    wait_for(lambda: "LIVE-MARKER" in shown(second))  # no cell ran, nothing was sent in the second
    assert "Asked again" in shown(second) and "1 turn(s)" in second.status.value
    assert shown(first).count("LIVE-MARKER") == 1  # the asking panel did not add its turn twice
    assert len(first.messages.children) == 4  # the stopped exchange, then the committed one


def test_a_cell_turn_shows_in_the_panel_while_and_after_it_runs(ip, panels, emulator):
    emulator.enqueue(Reply.text("From the cell. CELL-MARKER", deltas=5, delay=0.01))
    panel = panels()
    statuses: list[str] = []
    panel.status.observe(lambda change: statuses.append(change["new"]), "value")
    ip.run("%%gemini\nAsked in a cell", cell_id="c1")
    assert any("answering elsewhere" in status for status in statuses)  # while the cell streamed
    assert "CELL-MARKER" in shown(panel) and "Asked in a cell" in shown(panel)
    assert "answering" not in panel.status.value and "1 turn(s)" in panel.status.value


def test_a_reset_elsewhere_empties_every_panel_on_the_thread(ip, panels, emulator):
    emulator.enqueue(Reply.text("one"))
    first, second = panels(), panels()
    first.send("Hello")
    assert first.wait(10)
    wait_for(lambda: "Hello" in shown(second))
    first.new_chat()
    assert second.messages.children == () and "0 turn(s)" in second.status.value


def test_close_stops_the_answer_its_timer_and_following_the_thread(ip, panels, emulator):
    from ipywidgets.widgets.widget import _instances

    words = "alpha beta gamma delta epsilon zeta eta theta"
    emulator.enqueue(Reply.text(words, deltas=8, stall_after=7, stall_seconds=30))
    ip.magics.stream_interval = 5.0  # long: text waits for the reply's flush timer
    panel = panels()
    panel.send("Q")
    wait_for(lambda: any(t.name.startswith("gemini-turn") for t in threading.enumerate()))
    wait_for(lambda: any(isinstance(t, threading.Timer) for t in threading.enumerate()))
    panel.close()
    wait_for(lambda: not [t for t in threading.enumerate() if t.name.startswith("gemini-turn")], 1.0)
    wait_for(lambda: not [t for t in threading.enumerate() if isinstance(t, threading.Timer)], 1.0)
    assert not panel.running and not ip.magics.threads["default"].busy
    assert all(w.comm is None for w in (panel.view, panel.input, panel.follower, panel.messages))
    widgets = len(_instances)
    ip.magics.stream_interval = 0.0
    emulator.enqueue(Reply.text("After the panel closed."))
    ip.run("%%gemini\nA cell after close", cell_id="c")
    assert len(_instances) == widgets  # the closed panel did not follow the thread any more


# -- long conversations --------------------------------------------------------------------------
def test_a_200_message_thread_opens_fast_and_streaming_touches_only_the_new_reply(
    ip, panels, emulator, monkeypatch
):
    emulator.enqueue(Reply.text("The real first answer."))
    ip.run("%%gemini\nFirst", cell_id="first")
    thread = ip.magics.threads["default"]
    real = thread.turns[0]
    filler = "Some words about generators and iterators, with `code`. " * 12
    thread.turns[:0] = [
        Turn(f"Question {n}", f"v1_fake{n}", None, "gemini-3.5-flash", answer=f"Answer {n}. {filler}")
        for n in range(99)
    ]
    started = time.perf_counter()
    panel = panels()
    opened = time.perf_counter() - started
    assert len(panel.messages.children) == 200
    assert opened < 1.0, f"opening a 200-message thread took {opened:.2f}s"
    history = {child.model_id for child in panel.messages.children}

    traffic = WidgetTraffic(monkeypatch)
    long_answer = "".join(f"Paragraph {n}: " + "word " * 60 + "\n\n" for n in range(40))  # ~13 KB
    deltas = 400
    emulator.enqueue(Reply.text(long_answer, deltas=deltas))
    panel.send("A long one")
    assert panel.wait(20)
    assert panel.last_result.text == long_answer
    touched = {model_id for model_id, _ in traffic.sent}
    assert not touched & history, "streaming re-sent messages of the history"
    assert len(traffic.sent) <= 2 * deltas  # bounded work per delta, whatever the thread's length
    # the list itself changes once per new message (its children are ids); everything else is the reply
    the_list = panel.messages.model_id
    assert len([state for model_id, state in traffic.sent if model_id == the_list]) == 1
    largest = max(len(json.dumps(state)) for model_id, state in traffic.sent if model_id != the_list)
    assert largest < 3 * FREEZE_CHARS, f"an update carried {largest} bytes: finished blocks were re-sent"
    assert creates(emulator)[-1].body["previous_interaction_id"] == real.interaction_id


def test_streaming_reply_freezes_blocks_and_throttles(monkeypatch):
    traffic = WidgetTraffic(monkeypatch)
    reply = StreamingReply("gemini-3.5-flash", interval=10.0)  # so long that only freezing sends text
    for n in range(200):
        reply.handle(ev.TextDelta(f"word {n} " * 5 + ("\n\n" if n % 5 == 4 else "")))
    segments = reply.view.children[1:]
    assert len(segments) >= 3  # finished blocks went to outputs of their own, frozen
    assert len(traffic.markdown_states()) < 20  # 200 deltas, a handful of updates
    reply.finish()
    assert "".join(s.outputs[0]["data"]["text/plain"] for s in segments) == reply.text


def test_text_held_back_by_the_throttle_is_shown_when_the_stream_pauses():
    reply = StreamingReply("gemini-3.5-flash", interval=0.2)
    reply.handle(ev.TextDelta("Hello"))
    reply.handle(ev.TextDelta(" world, and more"))  # within the interval: held back
    tail = reply.view.children[-1]
    assert text_of(tail.outputs[0]["data"]).strip() == "Hello"
    wait_for(lambda: text_of(tail.outputs[0]["data"]).strip() == "Hello world, and more", timeout=1.0)
    reply.finish()


# -- where the panel can be shown ----------------------------------------------------------------
def test_chat_subcommand_displays_a_panel_with_a_text_fallback(ip, emulator):
    cell = ip.run("%gemini chat")
    bundle = cell.outputs[-1]["data"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "needs a widget frontend" in bundle["text/plain"] and "JupyterLab" in bundle["text/plain"]


def test_chat_in_a_terminal_says_it_needs_a_widget_frontend(ip):
    ip.shell.display_pub = DisplayPublisher(shell=ip.shell)
    with pytest.raises(UsageError, match="needs a widget frontend.*JupyterLab"):
        ip.run("%gemini chat")


def test_importing_the_package_does_not_import_ipywidgets():
    code = (
        "import sys, gemini_magics, gemini_magics.ipython.magics, gemini_magics.widgets\n"
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

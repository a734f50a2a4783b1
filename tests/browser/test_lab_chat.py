"""The chat panel in JupyterLab, driven like a person would: type, Send, watch, Stop, New chat.

Screenshots land in ``test-artifacts/browser/test_<name>-<step>.png``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

END_MARKER = "PANEL-END-MARKER"
PANEL_ANSWER = (
    "## Generators in the panel\n\n"
    + "".join(
        f"- Point {n}: a generator hands out one value at a time and pauses at `yield`.\n" for n in range(12)
    )
    + "\n```python\ndef countdown(n):\n    while n > 0:\n        yield n\n        n -= 1\n```\n\n"
    + f"That is the whole idea. {END_MARKER}.\n"
)
STALLING_ANSWER = "Partial words arrive slowly here and then the server stalls for a long time " * 2
EVIL = (
    "EVIL-START <script>window.__xss1=1</script> and "
    '<img src=x onerror="window.__xss2=1"> then [click me](javascript:window.__xss3=1) EVIL-END'
)


def _creates(emulator: Any) -> list[dict[str, Any]]:
    bodies = []
    for request in emulator.requests:
        if request.method == "POST" and request.path.split("?", 1)[0].rstrip("/").endswith("/interactions"):
            body = request.body
            bodies.append(json.loads(body) if isinstance(body, str | bytes | bytearray) else body)
    return bodies


def _stored_input(emulator: Any, interaction_id: str) -> str:
    return json.dumps(emulator.interaction(interaction_id).get("input"))


FROM_BOTTOM = "(el) => el.scrollHeight - el.scrollTop - el.clientHeight"


class ChatUI:
    """The chat panel inside one cell's output."""

    def __init__(self, nb: Any, index: int) -> None:
        self.nb = nb
        self.page = nb.page
        self.root = nb.output_area(index).locator(".gm-chat")
        self.messages = self.root.locator(".gm-chat-messages")
        self.scroller = self.root.locator(".gm-chat-scroller")
        self.box = self.root.locator(".gm-chat-input textarea")
        self.status = self.root.locator(".gm-chat-status")
        self.send = self.root.locator("button.gm-chat-send")

    def ask(self, question: str) -> None:
        self.root.locator(".gm-chat-input textarea").fill(question)
        self.root.locator("button.gm-chat-send").click()

    def from_bottom(self) -> float:
        """How far (px) the message list is scrolled up from its newest message."""
        return float(self.scroller.evaluate(FROM_BOTTOM))

    def expect_at_bottom(self, timeout_ms: int = 5_000) -> None:
        self.page.wait_for_function(
            f"el => ({FROM_BOTTOM})(el) <= 2", arg=self.scroller.element_handle(), timeout=timeout_ms
        )

    def text(self) -> str:
        return self.messages.inner_text()

    def wait_for_text(self, text: str, timeout_s: float = 30.0) -> None:
        expect(self.messages).to_contain_text(text, timeout=timeout_s * 1000)

    def start_recorder(self) -> None:
        """Record the message list's rendered text every 100 ms inside the page."""
        self.messages.evaluate(
            """(list) => {
                 window.__chatSnaps = [];
                 window.__chatRecorder = setInterval(() => window.__chatSnaps.push(list.innerText), 100);
               }"""
        )

    def stop_recorder(self) -> list[str]:
        return self.page.evaluate(
            "() => { clearInterval(window.__chatRecorder); return window.__chatSnaps || []; }"
        )


def test_chat_panel_streams_stops_starts_over_and_shares_its_thread(notebook, emulator):
    from gemini_magics.emulator import Reply

    emulator.reset()
    emulator.enqueue(
        Reply.text("Hello from the cell. CELL-MARKER."),
        Reply.text(PANEL_ANSWER, deltas=50, delay=0.08),
        Reply.text(STALLING_ANSWER, deltas=30, stall_after=8, stall_seconds=60),
        Reply.text("A fresh start. FRESH-MARKER."),
        Reply.text("The cell carries on. FOLLOW-UP-MARKER."),
    )
    nb = notebook(
        [
            "%load_ext gemini_magics",
            "%%gemini\nSay hello from a cell",
            "%gemini chat",
            "print(6 * 7)",
            "%%gemini\nFollow up from a cell",
        ]
    )
    for index in range(3):
        nb.run_cell_and_wait(index)
    chat = ChatUI(nb, 2)
    expect(chat.root).to_be_visible()
    chat.wait_for_text("CELL-MARKER")  # the cell's turn is the panel's history
    expect(chat.messages).to_contain_text("Say hello from a cell")
    nb.screenshot("opened")

    # Send: the answer streams in, rendered as Markdown
    chat.start_recorder()
    chat.ask("Explain generators, please")
    streaming_shot = None
    deadline = time.monotonic() + 30
    while END_MARKER not in chat.text() and time.monotonic() < deadline:
        if streaming_shot is None and "Point 3" in chat.text():
            streaming_shot = nb.screenshot("streaming")
        time.sleep(0.1)
    chat.wait_for_text(END_MARKER)
    snaps = chat.stop_recorder()
    partial = {s for s in snaps if "Generators in the panel" in s and END_MARKER not in s}
    assert len(partial) >= 3, f"{len(snaps)} snapshots, {len(partial)} distinct partial states"
    assert streaming_shot is not None
    reply = chat.messages.locator(".gm-chat-reply").last
    expect(reply.locator("h2")).to_contain_text("Generators in the panel")
    expect(reply.locator("pre").first).to_contain_text("def countdown")
    assert reply.locator("li").count() == 12
    assert "## Generators" not in chat.text()
    nb.screenshot("answered")

    # Stop mid-stream: the partial answer stays, marked stopped, within a second of the click
    chat.ask("Now a long one")
    chat.wait_for_text("Partial words")
    time.sleep(0.3)  # the server is stalling mid-answer now
    nb.run_cell_and_wait(3)  # meanwhile the kernel runs other cells
    expect(nb.output_area(3)).to_contain_text("42")
    clicked = time.monotonic()
    chat.root.locator("button.gm-chat-stop").click()
    stopped = chat.messages.locator(".gm-chat-reply.gm-chat-stopped")
    expect(stopped).to_have_count(1, timeout=2_000)
    assert time.monotonic() - clicked < 1.5  # 1 s for the kernel, plus the browser's round trip
    expect(stopped).to_contain_text("Stopped.")
    expect(stopped).to_contain_text("Partial words")
    expect(chat.root.locator("button.gm-chat-send")).to_be_enabled()
    stopped.scroll_into_view_if_needed()
    nb.screenshot("stopped")

    # New chat: the panel empties and the thread starts over
    chat.root.locator("button.gm-chat-new").click()
    expect(chat.messages.locator(".gm-chat-user")).to_have_count(0)
    expect(chat.root.locator(".gm-chat-status")).to_contain_text("0 turn(s)")
    nb.cell(2).scroll_into_view_if_needed()
    nb.screenshot("new-chat")
    chat.ask("Fresh question from the panel")
    chat.wait_for_text("FRESH-MARKER")
    nb.screenshot("fresh-answer")

    # A %%gemini cell continues the panel's thread, and the panel shows it
    nb.run_cell_and_wait(4)
    expect(nb.output_area(4)).to_contain_text("FOLLOW-UP-MARKER")
    chat.wait_for_text("FOLLOW-UP-MARKER")  # the panel caught up with the cell
    nb.output_area(4).scroll_into_view_if_needed()
    nb.screenshot("follow-up")

    bodies = _creates(emulator)
    assert [b["input"] for b in bodies] == [
        "Say hello from a cell",
        "Explain generators, please",
        "Now a long one",
        "Fresh question from the panel",
        "Follow up from a cell",
    ]
    assert "Say hello from a cell" in _stored_input(emulator, bodies[1]["previous_interaction_id"])
    assert "Explain generators" in _stored_input(emulator, bodies[2]["previous_interaction_id"])
    assert "previous_interaction_id" not in bodies[3]  # after New chat
    assert "Fresh question" in _stored_input(emulator, bodies[4]["previous_interaction_id"])


def test_untrusted_html_in_replies_runs_nothing(notebook, emulator):
    from gemini_magics.emulator import Reply

    emulator.reset()
    emulator.enqueue(Reply.text(EVIL), Reply.text(EVIL, deltas=8))
    nb = notebook(["%load_ext gemini_magics", "%%gemini\nShow me some HTML", "%gemini chat"])
    for index in range(3):
        nb.run_cell_and_wait(index)
    chat = ChatUI(nb, 2)
    chat.ask('And again, in the panel <img src=y onerror="window.__xss4=1">')
    expect(chat.messages.locator(".gm-chat-reply")).to_have_count(2)
    expect(chat.messages.locator(".gm-chat-reply").last).to_contain_text("EVIL-END")

    cell_output = nb.output_area(1)
    for where in (cell_output, chat.messages):
        expect(where).to_contain_text("<script>window.__xss1=1</script>")  # shown as text
        expect(where).to_contain_text('<img src=x onerror="window.__xss2=1">')
        assert where.locator("script, img").count() == 0
        expect(where).to_contain_text("[click me](javascript:window.__xss3=1)")  # not a link: text
        assert where.locator("a", has_text="click me").count() == 0
    expect(chat.messages).to_contain_text('<img src=y onerror="window.__xss4=1">')
    nb.page.wait_for_timeout(500)
    ran = nb.page.evaluate("() => [window.__xss1, window.__xss2, window.__xss3, window.__xss4]")
    assert ran == [None, None, None, None], ran
    cell_output.scroll_into_view_if_needed()
    nb.screenshot("cell-and-panel")


LONG_THREAD = """\
from gemini_magics.core.threads import Turn

thread = get_ipython().magics_manager.registry["GeminiMagics"].threads["default"]
filler = "A generator hands out values lazily; `yield` pauses the function until asked again. " * 4
thread.turns[:0] = [
    Turn(f"Question {n}", f"v1_fake{n}", None, "gemini-3.5-flash",
         answer=f"### Answer {n}\\n\\n{filler}\\n\\n- first point\\n- second point\\n")
    for n in range(99)
]
len(thread.turns)
"""

SCROLL_THROUGH = """async (scroller) => {
  const frames = [];
  let last = performance.now();
  const bottom = scroller.scrollHeight - scroller.clientHeight;
  const top = 0;
  for (let step = 1; step <= 60; step++) {
    scroller.scrollTop = bottom - (bottom * step) / 60;
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const now = performance.now();
    frames.push(now - last);
    last = now;
  }
  return {frames, reachedTop: Math.abs(scroller.scrollTop - top) < 2, height: scroller.scrollHeight};
}"""


def test_a_200_message_thread_renders_and_scrolls_smoothly(notebook, emulator):
    from gemini_magics.emulator import Reply

    emulator.reset()
    emulator.enqueue(Reply.text("The real turn. REAL-MARKER."), Reply.text("Still quick. QUICK-MARKER."))
    nb = notebook(["%load_ext gemini_magics", "%%gemini\nA real question", LONG_THREAD, "%gemini chat"])
    for index in range(3):
        nb.run_cell_and_wait(index)
    assert "100" in nb.output_text(2)
    started = time.monotonic()
    nb.run_cell_and_wait(3)
    chat = ChatUI(nb, 3)
    expect(chat.messages.locator(".gm-chat-reply")).to_have_count(100, timeout=15_000)
    expect(chat.messages.locator("h3")).to_have_count(99)  # rendered Markdown, not raw text
    rendered = time.monotonic() - started
    assert rendered < 8, f"200 messages took {rendered:.1f}s to appear"

    scroller = chat.scroller
    chat.expect_at_bottom()  # it opens at the newest message
    scrolled = scroller.evaluate(SCROLL_THROUGH)
    frames = sorted(scrolled["frames"])
    assert scrolled["reachedTop"] and scrolled["height"] > 10_000, scrolled["height"]
    assert frames[len(frames) // 2] < 50, f"median frame {frames[len(frames) // 2]:.0f} ms while scrolling"
    expect(chat.messages).to_contain_text("Question 0")
    nb.screenshot("scrolled-to-top")

    chat.ask("One more")  # Send scrolls back to the newest message; the answer stays in view
    chat.wait_for_text("QUICK-MARKER", timeout_s=10)
    expect(chat.messages.locator(".gm-chat-reply").last).to_be_in_viewport()
    print(f"200 messages shown in {rendered:.2f}s; median scroll frame {frames[len(frames) // 2]:.1f} ms")
    assert "A real question" in _stored_input(emulator, _creates(emulator)[-1]["previous_interaction_id"])
    nb.screenshot("answered")


# -- behaving like a chat: Enter, following the newest message, live panels --------------------------
def _seed(turns: int) -> str:
    """A cell that puts ``turns`` finished turns on the default thread (as if made earlier)."""
    return LONG_THREAD.replace("range(99)", f"range({turns})")


def test_enter_sends_and_shift_enter_makes_a_new_line(notebook, emulator):
    from gemini_magics.emulator import Reply

    emulator.reset()
    emulator.enqueue(Reply.text("Got both lines. ENTER-MARKER.", deltas=20, delay=0.1))
    nb = notebook(["%load_ext gemini_magics", "%gemini chat"])
    for index in range(2):
        nb.run_cell_and_wait(index)
    chat = ChatUI(nb, 1)
    expect(chat.root.locator(".gm-composer-hint")).to_contain_text("Enter sends")
    prompt_before = nb.prompt_text(1)
    chat.box.click()
    nb.page.keyboard.type("First line")
    nb.page.keyboard.press("Shift+Enter")  # a new line, not a send, and not JupyterLab's run-cell
    nb.page.keyboard.type("second line")
    expect(chat.box).to_have_value("First line\nsecond line")
    nb.screenshot("typed")
    assert _creates(emulator) == [] and nb.prompt_text(1) == prompt_before

    nb.page.keyboard.press("Enter")
    expect(chat.messages.locator(".gm-chat-user")).to_contain_text("second line")
    expect(chat.box).to_have_value("")  # cleared once the kernel took it
    busy = chat.root.locator(".gm-composer.gm-composer-busy")
    expect(busy).to_be_visible()  # answering: visibly busy, and Send says so
    expect(busy.locator(".gm-composer-hint")).to_contain_text("Answering")
    expect(chat.send).to_be_disabled()
    expect(chat.send).to_contain_text("Answering")
    nb.page.keyboard.type("typed ahead")
    nb.page.keyboard.press("Enter")  # while answering, Enter does not send (nor add a line)
    nb.screenshot("answering")
    chat.wait_for_text("ENTER-MARKER")
    expect(busy).to_have_count(0)
    expect(chat.box).to_have_value("typed ahead")
    assert [body["input"] for body in _creates(emulator)] == ["First line\nsecond line"]
    nb.screenshot("answered")


FOLLOW_ANSWER = "".join(f"- Line {n} of a long streamed answer about generators.\n" for n in range(60))


def test_the_view_follows_the_newest_message_unless_scrolled_up(notebook, emulator):
    from gemini_magics.emulator import Reply

    emulator.reset()
    emulator.enqueue(
        Reply.text("The real turn."),
        Reply.text(FOLLOW_ANSWER + "FOLLOW-END-MARKER", deltas=120, delay=0.05),
        Reply.text("Back at the bottom. NEXT-MARKER."),
    )
    nb = notebook(["%load_ext gemini_magics", "%%gemini\nA real question", _seed(8), "%gemini chat"])
    for index in range(4):
        nb.run_cell_and_wait(index)
    chat = ChatUI(nb, 3)
    expect(chat.messages.locator(".gm-chat-reply")).to_have_count(9)
    chat.expect_at_bottom()  # opens at the newest message

    # at the bottom, the view keeps up with the streaming answer
    chat.scroller.evaluate(
        """(el) => { window.__gaps = []; window.__heights = [];
             window.__follow = setInterval(() => {
               window.__gaps.push(el.scrollHeight - el.scrollTop - el.clientHeight);
               window.__heights.push(el.scrollHeight); }, 50); }"""
    )
    chat.ask("Stream a long answer")
    chat.wait_for_text("Line 25")
    gaps, heights = nb.page.evaluate(
        "() => { clearInterval(window.__follow); return [window.__gaps, window.__heights]; }"
    )
    grew = heights[-1] - heights[0]
    assert grew > 500, f"the list grew only {grew}px"
    assert max(gaps[4:]) <= 2, f"the view fell behind the newest message: {max(gaps)}px"
    nb.screenshot("following")

    # scrolled up by the reader, the stream does not move the view
    chat.scroller.hover()
    nb.page.mouse.wheel(0, -400)
    nb.page.wait_for_function(
        "el => el.scrollHeight - el.scrollTop - el.clientHeight > 300",
        arg=chat.scroller.element_handle(),
        timeout=5_000,
    )
    nb.page.wait_for_timeout(300)  # let the wheel's smooth scroll settle: measured, not decided on
    top = chat.scroller.evaluate("el => el.scrollTop")
    height = chat.scroller.evaluate("el => el.scrollHeight")
    nb.page.wait_for_function(
        "([el, h]) => el.scrollHeight > h + 300", arg=[chat.scroller.element_handle(), height], timeout=10_000
    )
    assert abs(chat.scroller.evaluate("el => el.scrollTop") - top) <= 1, "the stream moved the view"
    chat.wait_for_text("FOLLOW-END-MARKER")
    assert abs(chat.scroller.evaluate("el => el.scrollTop") - top) <= 1
    assert chat.from_bottom() > 300
    nb.screenshot("scrolled-up")

    # Send scrolls to the newest message
    chat.ask("And one more")
    chat.wait_for_text("NEXT-MARKER")
    chat.expect_at_bottom()
    expect(chat.messages.locator(".gm-chat-reply").last).to_be_in_viewport()
    nb.screenshot("sent")


def test_two_panels_on_one_thread_update_live(notebook, emulator):
    from gemini_magics.emulator import Reply

    emulator.reset()
    emulator.enqueue(
        Reply.text("Answer for panel one. " * 6 + "PANEL-ONE-MARKER.", deltas=30, delay=0.1),
        Reply.text("Answer for the cell. " * 6 + "CELL-TURN-MARKER.", deltas=30, delay=0.1),
    )
    nb = notebook(["%load_ext gemini_magics", "%gemini chat", "%gemini chat", "%%gemini\nAsked in a cell"])
    for index in range(3):
        nb.run_cell_and_wait(index)
    one, two = ChatUI(nb, 1), ChatUI(nb, 2)

    one.ask("Asked in panel one")
    expect(two.status).to_contain_text("answering elsewhere")  # the other panel sees it at once
    expect(two.send).to_be_disabled()
    expect(two.root.locator(".gm-composer-busy")).to_be_visible()
    two.root.scroll_into_view_if_needed()
    nb.screenshot("busy-elsewhere")
    one.wait_for_text("PANEL-ONE-MARKER")
    two.wait_for_text("PANEL-ONE-MARKER", timeout_s=5)  # without anyone touching panel two
    expect(two.messages).to_contain_text("Asked in panel one")
    expect(two.send).to_be_enabled()
    expect(two.status).to_contain_text("1 turn(s)")

    nb.run_cell(3)
    expect(one.status).to_contain_text("answering elsewhere")  # a cell is answering on the thread
    expect(two.status).to_contain_text("answering elsewhere")
    for chat in (one, two):
        chat.wait_for_text("CELL-TURN-MARKER")
    nb.wait_cell_done(3)
    expect(two.status).to_contain_text("2 turn(s)")
    expect(one.messages.locator(".gm-chat-reply")).to_have_count(2)  # shown once, not twice
    two.root.scroll_into_view_if_needed()
    nb.screenshot("both-live")

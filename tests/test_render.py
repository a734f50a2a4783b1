"""Streamed Markdown: block closing, bounded traffic, safe HTML, held-back text, the plain-text path."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading

from IPython.core.displaypub import DisplayPublisher

from gemini_magics.emulator import Reply, StepClock
from gemini_magics.render.blocks import BlockSplitter
from gemini_magics.render.markdown import to_html

from .support import TEST_KEY, html_of, markdown_of, wait_for


def _split(text: str, step: int = 7) -> BlockSplitter:
    splitter = BlockSplitter()
    for i in range(0, len(text), step):
        splitter.feed(text[i : i + step])
    return splitter


def test_block_closes_at_blank_line_once_next_block_starts():
    splitter = _split("Para one.\n\nPara two is still")
    assert splitter.text[: splitter.closed_upto] == "Para one.\n\n"
    assert _split("Para one.\n\n").closed_upto == 0  # next block not started yet


def test_fenced_code_and_indented_continuations_are_not_split():
    code = "```python\ndef f():\n\n    return 1\n```\n"
    splitter = _split(code + "\nafter")
    assert splitter.text[: splitter.closed_upto] == code + "\n"
    assert _split("- item\n\n  more of the item\n").closed_upto == 0
    assert _split("$$\na\n\nb\n$$\n\nnext").closed_upto == len("$$\na\n\nb\n$$\n\n")


def test_markdown_becomes_safe_html_in_the_kernel():
    text = (
        "Hi <script>alert(1)</script> and <img src=x onerror=alert(2)>\n"
        "[click](javascript:alert(3)) [ok](https://example.com) <https://example.org>\n\n"
        "[ref]: JavaScript:alert(4)\n\n[r][ref] `a < b` and $x < y$ stay\n\n```html\n<b>code</b>\n```\n"
    )
    safe = to_html(text)
    assert "<script" not in safe and "<img" not in safe and 'href="j' not in safe.lower()
    assert "[click](javascript:alert(3))" in safe and "[ref]: JavaScript:alert(4)" in safe  # inert text
    assert "&lt;script&gt;" in safe and "&lt;img src=x onerror=alert(2)&gt;" in safe
    assert '<a href="https://example.com"' in safe and '<a href="https://example.org"' in safe
    assert "<code>a &lt; b</code>" in safe and "&lt;b&gt;code&lt;/b&gt;" in safe
    assert '<span class="mathjax_process">\\(x &lt; y\\)</span>' in safe


def test_math_that_could_link_style_or_define_macros_is_shown_as_code():
    for tex in (r"\href{javascript:alert(1)}{x}", r"\style{color:red}{x}", r"\def\x{y}", r"\require{html}"):
        safe = to_html(f"Math ${tex}$ here")
        assert "mathjax_process" not in safe and "<code>$" in safe
    assert "<span>$</span>5 and <span>$</span>6" in to_html("Costs $5 and $6")  # prose dollars stay prose


def _updates_by_display(outputs):
    by_id: dict[str, list[dict]] = {}
    for output in outputs:
        display_id = (output.get("transient") or {}).get("display_id")
        if display_id:
            by_id.setdefault(display_id, []).append(output)
    return by_id


def test_finished_blocks_are_sent_once_and_traffic_stays_bounded(ip, emulator):
    paragraphs = [f"Paragraph {n}: " + "lorem ipsum dolor sit amet " * 12 for n in range(60)]
    answer = "\n\n".join(paragraphs) + "\n"
    emulator.enqueue(Reply.text(answer, deltas=800))
    cell = ip.run("%%gemini\nWrite a lot")
    assert markdown_of(cell).startswith(paragraphs[0])
    shown = [o for o in cell.outputs if o["metadata"].get("gemini_magics", {}).get("part") != "footer"]
    segments = _updates_by_display(shown)
    assert len(segments) > 5  # the answer was split into frozen segments
    final_texts = [updates[-1]["data"]["text/plain"] for updates in segments.values()]
    assert "".join(final_texts) == answer
    for updates in list(segments.values())[:-1]:
        # a frozen segment's last message carries only closed blocks, and nothing comes after it
        assert updates[-1]["data"]["text/plain"].endswith("\n\n")
        assert all("text/plain" not in u["data"] for u in updates[:-1])  # in-between: HTML only
    # updates every delta here (interval 0): the HTML is the bounded part; the source goes once
    html_sent = sum(len(json.dumps(o["data"].get("text/html", ""))) for o in shown)
    plain_sent = sum(len(json.dumps(o["data"].get("text/plain", ""))) for o in shown)
    assert html_sent <= 3.5 * len(answer), (html_sent, len(answer))
    assert plain_sent <= 1.05 * len(answer), (plain_sent, len(answer))


def test_first_text_shows_immediately_even_with_a_long_interval(ip, emulator):
    ip.run("%config GeminiMagics.stream_interval = 60.0")
    emulator.enqueue(Reply.text("one two three four five six", deltas=6))
    cell = ip.run("%gemini count")
    texts = [o["data"].get("text/html", "") for o in cell.outputs]
    assert any("<p>one" in t and "six" not in t for t in texts)  # first delta, at once
    assert markdown_of(cell).startswith("one two three four five six")


def test_model_html_never_reaches_the_frontend_raw(ip, emulator):
    emulator.enqueue(Reply.text("Look: <img src=x onerror=alert(1)> [x](javascript:alert(2))"))
    cell = ip.run("%gemini hi")
    assert all("text/markdown" not in o["data"] for o in cell.outputs)  # never the front end's Markdown
    shown = html_of(cell)
    assert "<img" not in shown and "href=" not in shown


def test_held_back_text_is_shown_while_the_stream_pauses(ip, emulator):
    ip.run("%config GeminiMagics.stream_interval = 0.1")
    # events: created, status, step.start, "one ", "two " — then a 3 s pause before "three"
    emulator.enqueue(Reply.text("one two three", deltas=3, stall_after=5, stall_seconds=3.0))
    emulator.clock = clock = StepClock()  # the pause ends once the held-back text was shown

    def resume_once_shown() -> None:
        shown = lambda: any("one two" in str(o["data"].get("text/html")) for o in list(ip.publisher.outputs))  # noqa: E731
        with contextlib.suppress(AssertionError):  # if never shown, the assertion below says so
            wait_for(shown, 10, "the held-back text to be shown")
        clock.advance(3.0)

    threading.Thread(target=resume_once_shown, daemon=True).start()
    cell = ip.run("%gemini count")
    htmls = [o["data"].get("text/html", "") for o in cell.outputs]
    assert any("one two" in h and "three" not in h for h in htmls)  # sent during the pause
    assert markdown_of(cell).startswith("one two three")


def test_a_key_echoed_by_the_server_is_never_displayed(ip, emulator):
    half = len(TEST_KEY) // 2
    emulator.enqueue(Reply.text(f"The key is {TEST_KEY} or so.", thoughts=[f"I saw {TEST_KEY}."], deltas=40))
    cell = ip.run("%gemini --show-thoughts hi")
    everything = json.dumps([o["data"] for o in cell.outputs])
    assert TEST_KEY not in everything and TEST_KEY[:half] in TEST_KEY  # the key was split across deltas
    assert "&lt;redacted&gt;" in html_of(cell)


def test_terminal_text_drops_control_sequences_and_the_key(ip, emulator):
    ip.shell.display_pub = DisplayPublisher()
    emulator.enqueue(Reply.text(f"title\x1b]0;pwned\x07 ok {TEST_KEY} end", deltas=30))
    out = ip.run("%gemini hi").stdout
    assert "\x1b" not in out and "\x07" not in out and TEST_KEY not in out
    assert "title]0;pwned ok <redacted> end" in out


def test_terminal_gets_plain_text_streamed_to_stdout(ip, emulator):
    ip.shell.display_pub = DisplayPublisher()
    emulator.enqueue(Reply.text("## Title\n\nplain text answer", deltas=5))
    cell = ip.run("%gemini hi")
    assert cell.stdout.startswith("## Title\n\nplain text answer\n")
    assert "── gemini-3.5-flash · default · completed" in cell.stdout


def test_loading_the_extension_does_not_import_the_sdk():
    code = (
        "import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'gemini_magics')\n"
        "print('google.genai' in sys.modules, 'gemini_magics.ipython.magics' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]

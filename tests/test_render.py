"""Streamed Markdown: block closing, bounded traffic, sanitising, and the plain-text path."""

from __future__ import annotations

import json
import subprocess
import sys

from IPython.core.displaypub import DisplayPublisher

from gemini_magics.emulator import Reply
from gemini_magics.render.blocks import BlockSplitter, neutralise_html

from .support import markdown_of


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


def test_raw_html_and_unsafe_links_are_neutralised():
    text = (
        "Hi <script>alert(1)</script> and <img src=x onerror=alert(2)>\n"
        "[click](javascript:alert(3)) [ok](https://example.com) <https://example.org>\n"
        "[ref]: JavaScript:alert(4)\n"
        "`a < b` and $x < y$ stay\n```html\n<b>code</b>\n```\n"
    )
    safe = neutralise_html(text)
    assert "<script>" not in safe and "<img" not in safe
    assert "&lt;script>" in safe and "&lt;img src=x" in safe
    assert "](#blocked:javascript:alert(3))" in safe
    assert "[ref]: #blocked:JavaScript:alert(4)" in safe
    assert "(https://example.com)" in safe and "<https://example.org>" in safe
    assert "`a < b`" in safe and "$x < y$" in safe and "<b>code</b>" in safe


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
    shown = [o for o in cell.outputs if "gemini_magics" not in (o.get("metadata") or {})]
    segments = _updates_by_display(shown)
    assert len(segments) > 5  # the answer was split into frozen segments
    final_texts = [updates[-1]["data"]["text/markdown"] for updates in segments.values()]
    assert "".join(final_texts) == answer
    for updates in list(segments.values())[:-1]:
        # a frozen segment's last message carries only closed blocks, and nothing comes after it
        assert updates[-1]["data"]["text/markdown"].endswith("\n\n")
    sent = sum(len(json.dumps(o["data"])) for o in shown)
    assert sent <= 3 * len(answer), (sent, len(answer))


def test_first_text_shows_immediately_even_with_a_long_interval(ip, emulator):
    ip.run("%config GeminiMagics.stream_interval = 60.0")
    emulator.enqueue(Reply.text("one two three four five six", deltas=6))
    cell = ip.run("%gemini count")
    texts = [o["data"].get("text/markdown", "") for o in cell.outputs]
    assert any(t.startswith("one") and "six" not in t for t in texts)  # first delta, at once
    assert markdown_of(cell).startswith("one two three four five six")


def test_model_html_never_reaches_the_frontend_raw(ip, emulator):
    emulator.enqueue(Reply.text("Look: <img src=x onerror=alert(1)> [x](javascript:alert(2))"))
    shown = markdown_of(ip.run("%gemini hi"))
    assert "<img" not in shown and "](javascript:" not in shown


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
        "print('google.genai' in sys.modules, 'gemini_magics.magics' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]

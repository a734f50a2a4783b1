"""Hostile model output in JupyterLab: nothing in tests/payloads.py runs or leaves a dangerous link.

Every payload is the model's answer (or its thought summary) as the emulator streams it, shown through
each real path: ``%gemini`` turns in a cell, the result's repr (``display(_gemini)``), thought
summaries (``--show-thoughts``), the chat panel while it streams, and a second panel that shows the
same thread from its record. Then the page is inspected: no dialog opened, no script left a trace in
``window.__gm_pwned``, and the DOM of every output holds no event handler, no active element and no
``javascript:``/``vbscript:``/``data:`` URL (raster ``data:`` images excepted). A control answer at
the start and end of each path shows that rendering still works, math included.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.payloads import CONTROL, CONTROL_END, CONTROL_END_ID, CONTROL_ID, PAYLOADS

pytestmark = pytest.mark.browser

ANSWERS = [(CONTROL_ID, CONTROL), *PAYLOADS, (CONTROL_END_ID, CONTROL_END)]
N = len(ANSWERS)
MATH_TIMEOUT_MS = 30_000
RUN_TIMEOUT_MS = 120_000

SETUP = f"""%load_ext gemini_magics
from IPython.display import display
from gemini_magics.widgets import ChatPanel
N = {N}"""
# JupyterLab shows at most 50 outputs of a cell until "Show more outputs" is clicked: a cell runs
# CHUNK turns, each showing two or three outputs.
CHUNK = 15
CHUNKS = [(start, min(start + CHUNK, N)) for start in range(0, N, CHUNK)]
CELL_TURNS = """for i in range({start}, {stop}):
    get_ipython().run_line_magic("gemini", "-t corpus hi")
    display(_gemini)
print("GM-DONE")"""
THOUGHT_TURNS = """for i in range({start}, {stop}):
    get_ipython().run_line_magic("gemini", "-t thoughts --show-thoughts hi")
print("GM-DONE")"""
CHAT_TURNS = """panel = ChatPanel("chat")
display(panel)
for i in range(N):
    assert panel.send(f"question {i}"), i
    assert panel.wait(30), i
print("GM-DONE")"""
CHAT_HISTORY = """ChatPanel("chat")"""

# Run in the page: everything in any output area that could run script or navigate.
INSPECT_OUTPUTS = r"""(root) => {
  const bad = [];
  const squash = v => v.toLowerCase().replace(/[\s\u0000-\u001f\u007f]+/g, '');
  const raster = /^data:image\/(png|jpeg|jpg|gif|webp)[;,]/;
  const urlAttrs = new Set(['href', 'xlink:href', 'src', 'action', 'formaction', 'data', 'srcset',
                            'background', 'poster', 'codebase', 'cite', 'values', 'to', 'from']);
  const active = new Set(['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet',
                          'base', 'meta', 'form', 'link']);
  const where = el => {
    const out = el.closest('.jp-OutputArea-output');
    return el.localName + ' in "' + (out ? out.innerText : '').slice(0, 60).replace(/\s+/g, ' ') + '"';
  };
  for (const el of root.querySelectorAll('.jp-OutputArea *')) {
    const tag = el.localName;
    if (active.has(tag)) bad.push('element ' + where(el));
    if (tag === 'style' && /@import|javascript:|expression|gm_pwned|gm-evil/i.test(el.textContent))
      bad.push('style sheet ' + where(el) + ': ' + el.textContent.slice(0, 80));
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = squash(attr.value);
      if (name.startsWith('on')) bad.push(`handler ${name} on ${where(el)}`);
      if (name === 'srcdoc') bad.push(`srcdoc on ${where(el)}`);
      if ((urlAttrs.has(name) || name.endsWith(':href')) && /^(javascript|vbscript|data):/.test(value)
          && !(tag === 'img' && name === 'src' && raster.test(value)))
        bad.push(`${name}="${attr.value.slice(0, 120)}" on ${where(el)}`);
      if (name === 'style' && /expression\(|javascript:|url\(|position:fixed/.test(value))
        bad.push(`style="${attr.value.slice(0, 50)}" on ${where(el)}`);
      if (name === 'id' && value.startsWith('gm-evil')) bad.push(`id ${value} on ${where(el)}`);
    }
    if (el.closest('mjx-container'))
      for (const cls of el.classList)
        if (/^(jp-|gm-|lm-)/i.test(cls)) bad.push(`class ${cls} set by TeX on ${where(el)}`);
  }
  return bad;
}"""


def _creates(emulator: Any) -> int:
    return sum(
        1
        for r in emulator.requests
        if r.method == "POST" and r.path.split("?", 1)[0].rstrip("/").endswith("/interactions")
    )


def _wait_math(scope: Any, marker: str) -> None:
    """Wait until MathJax has typeset the control answer that carries ``marker``."""
    rendered = scope.locator(".jp-RenderedHTMLCommon").filter(has_text=marker)
    rendered.locator("mjx-container").first.wait_for(state="attached", timeout=MATH_TIMEOUT_MS)


def _show(target: Any) -> None:
    """Scroll ``target`` into view as a person would: the windowed notebook only repaints on a wheel."""
    target.scroll_into_view_if_needed()
    target.page.mouse.move(640, 450)
    target.page.mouse.wheel(0, 1)
    expect(target).to_be_in_viewport()


def _check_control(scope: Any, tag: str) -> None:
    """The harmless Markdown of a control answer is rendered, not shown as source."""
    rendered = scope.locator(".jp-RenderedHTMLCommon").filter(has_text=f"GM-{tag}-HEADING").first
    expect(rendered.locator("h2")).to_contain_text(f"GM-{tag}-HEADING")
    expect(rendered.locator("li").first).to_contain_text(f"GM-{tag}-ITEM")
    expect(rendered.locator("td").first).to_contain_text(f"GM-{tag}-CELL")
    expect(rendered.locator("pre")).to_contain_text("if a < b and c > d:  # GM-")
    expect(rendered.locator("pre")).to_contain_text("<b>not bold</b>")
    expect(rendered.locator("em")).to_have_text("emphasis")
    expect(rendered.locator('a[href="https://example.invalid/docs"]')).to_have_text("safe link")
    expect(rendered.locator('a[href="mailto:someone@example.invalid"]')).to_have_text("mail link")
    assert rendered.locator("mjx-container").count() >= 1
    assert "$x^2$" not in rendered.inner_text()


def test_hostile_answers_never_run_in_jupyterlab(notebook, emulator):
    from gemini_magics.emulator import Reply

    started = time.monotonic()
    emulator.reset()
    emulator.enqueue(*(Reply.text(text) for _, text in ANSWERS))
    emulator.enqueue(*(Reply.text(f"Answer GM-THOUGHT-{pid}.", thoughts=[text]) for pid, text in ANSWERS))
    emulator.enqueue(*(Reply.text(text) for _, text in ANSWERS))
    cell_turns = [CELL_TURNS.format(start=start, stop=stop) for start, stop in CHUNKS]
    thought_turns = [THOUGHT_TURNS.format(start=start, stop=stop) for start, stop in CHUNKS]
    nb = notebook([SETUP, *cell_turns, *thought_turns, CHAT_TURNS, CHAT_HISTORY])
    page = nb.page
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    off_machine: list[str] = []
    page.on(
        "request",
        lambda request: (
            None
            if re.match(r"^(https?://(127\.0\.0\.1|localhost)[:/]|data:|blob:|about:)", request.url)
            else off_machine.append(request.url)
        ),
    )

    for index in range(nb.cells.count()):
        text = nb.run_cell_and_wait(index, timeout_ms=RUN_TIMEOUT_MS)
        assert "Traceback" not in text and "Show more outputs" not in text, text[-2000:]
        if 0 < index <= 2 * len(CHUNKS):
            assert "GM-DONE" in text, text[-2000:]
    assert _creates(emulator) == 3 * N
    expect(
        nb.panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    ).to_have_count(0)

    k = len(CHUNKS)
    areas = [nb.cell(i).locator(".jp-Cell-outputArea") for i in range(2 * k + 3)]
    first_cells, cells, first_thoughts, thoughts = areas[1], areas[k], areas[k + 1], areas[2 * k]
    chat, history = areas[2 * k + 1], areas[2 * k + 2]
    # every answer reached the page, on every path
    expect(cells.locator(".jp-RenderedHTMLCommon").filter(has_text="GM-CONTROL-END-HEADING")).to_have_count(2)
    expect(thoughts).to_contain_text(f"Answer GM-THOUGHT-{CONTROL_END_ID}.")
    answers = nb.panel.locator(".jp-RenderedHTMLCommon").filter(has_text=re.compile(r"^Answer GM-THOUGHT-"))
    expect(answers).to_have_count(N)
    expect(chat.locator(".gm-chat-reply")).to_have_count(N)
    expect(history.locator(".gm-chat-reply")).to_have_count(N)
    # MathJax has typeset the last control answer of each path that shows it
    for scope in (cells, chat, history):
        _wait_math(scope, "GM-CONTROL-END-MATH")
    _wait_math(first_cells, "GM-CONTROL-MATH.")
    bad = nb.panel.evaluate(INSPECT_OUTPUTS)
    # open every thought summary: content that only renders when shown gets its chance to run
    nb.panel.evaluate(
        "panel => panel.querySelectorAll('.jp-OutputArea details').forEach(d => { d.open = true; })"
    )
    _wait_math(thoughts, "GM-CONTROL-END-MATH")
    bad += nb.panel.evaluate(INSPECT_OUTPUTS)
    pwned = page.evaluate("() => window.__gm_pwned === undefined ? null : window.__gm_pwned")
    print(f"off-machine requests (not asserted): {sorted(set(off_machine))}")
    print(f"elapsed {time.monotonic() - started:.1f} s for {N} answers x 3 paths")
    problems = {
        "dialogs": dialogs,
        "window.__gm_pwned": pwned,
        "dangerous DOM": sorted(set(bad)),
    }
    assert not dialogs and pwned is None and not bad, json.dumps(problems, indent=1)

    _show(first_cells.locator("h2").first)
    nb.screenshot("control")
    _check_control(first_cells, "CONTROL")
    _check_control(cells, "CONTROL-END")
    _check_control(chat, "CONTROL-END")
    _check_control(history, "CONTROL-END")
    _show(first_thoughts.locator(".jp-OutputArea-output").nth(CHUNK))
    nb.screenshot("thoughts")

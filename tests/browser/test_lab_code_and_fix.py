"""``%%gemini --code`` and ``%gemini fix`` in JupyterLab: code lands in a new cell below, shown but not
run; a failed cell's error is explained as a streamed answer, and ``fix --code`` writes the corrected
cell below."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import API_KEY
from .test_lab_streaming import _body, _posts_to_interactions

pytestmark = pytest.mark.browser

CORRECTED = "numbers = [1, 2, 3]\nmean = sum(numbers) / len(numbers)  # CORRECTED-MARKER\nprint(mean)"
EXPLANATION = (
    "## Why it failed\n\n"
    + "".join(f"- Step {n}: `len([])` is zero, and dividing by zero raises.\n" for n in range(12))
    + "\nDivide by `len(numbers)` instead. EXPLAINED-MARKER"
)


def _source(nb, index: int) -> str:
    return nb.cell(index).locator(".jp-InputArea-editor .cm-content").inner_text()


def _expect_unrun_cell(nb, index: int, text: str) -> None:
    """The cell at ``index`` holds ``text``, was never run (empty prompt) and shows no output."""
    expect(nb.cell(index).locator(".jp-InputArea-editor")).to_contain_text(text)
    assert nb.prompt_text(index) in ("[ ]:", "[\u00a0]:"), nb.prompt_text(index)
    assert nb.output_text(index).strip() == ""


def test_code_flag_puts_the_code_in_a_new_cell_below_not_run(notebook, emulator):
    emulator.reset()
    nb = notebook(["%load_ext gemini_magics", "%%gemini --code\nA function that squares a number.", "1 + 1"])
    nb.run_cell_and_wait(0)
    nb.run_cell_and_wait(1)
    expect(nb.cells).to_have_count(4)
    _expect_unrun_cell(nb, 2, "def offline_echo(prompt: str) -> str:")
    source = _source(nb, 2)
    assert source.startswith("# Offline emulator") and "```" not in source
    assert _source(nb, 3) == "1 + 1"  # the new cell went in between, nothing was replaced
    expect(nb.output_area(1)).to_contain_text("The code is in a new cell below, not run")
    body = _body(_posts_to_interactions(emulator.requests)[-1])
    assert "one fenced Python code block" in body["system_instruction"]
    nb.cell(2).scroll_into_view_if_needed()
    nb.screenshot("code-below")


def test_fix_explains_the_failed_cell_and_fix_code_writes_the_corrected_cell(notebook, emulator):
    from gemini_magics.emulator import Reply

    emulator.reset()
    emulator.enqueue(
        Reply.text(EXPLANATION, deltas=40, delay=0.05),
        Reply.text(f"```python\n{CORRECTED}\n```"),
    )
    nb = notebook(
        [
            "%load_ext gemini_magics",
            "numbers = [1, 2, 3]\nmean = sum(numbers) / len([])",
            "%gemini fix",
            "%gemini fix --code",
            "print('last cell')",
        ]
    )
    nb.run_cell_and_wait(0)
    nb.run_cell_and_wait(1)
    expect(nb.output_area(1)).to_contain_text("ZeroDivisionError")

    texts, shot = nb.run_cell_streaming(
        2,
        is_partial=lambda t: "Why it failed" in t and "EXPLAINED-MARKER" not in t,
        is_complete=lambda t: "EXPLAINED-MARKER" in t,
        shot_step="explaining",
    )
    partial = {t for t in texts if "Why it failed" in t and "EXPLAINED-MARKER" not in t}
    assert len(partial) >= 3 and shot is not None, f"{len(partial)} distinct partial states"
    output = nb.output_area(2)
    expect(output).to_contain_text("Explaining cell [2]: ZeroDivisionError: division by zero")
    expect(output.locator("h2")).to_contain_text("Why it failed")  # rendered, not raw Markdown
    nb.screenshot("explained")
    prompt = _body(_posts_to_interactions(emulator.requests)[-1])["input"]
    assert "sum(numbers) / len([])" in prompt and "ZeroDivisionError" in prompt
    assert API_KEY not in str([r.body for r in emulator.requests])

    nb.run_cell_and_wait(3)
    expect(nb.cells).to_have_count(6)
    _expect_unrun_cell(nb, 4, "CORRECTED-MARKER")
    assert _source(nb, 4) == CORRECTED
    assert _source(nb, 5) == "print('last cell')"
    nb.cell(4).scroll_into_view_if_needed()
    nb.screenshot("corrected-below")

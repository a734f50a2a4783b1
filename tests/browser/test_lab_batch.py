"""``%%gemini --schema … --map …`` in JupyterLab: tqdm's widget bar counts the rows while they run, the
cell ends with the table preview (hostile inputs shown as text), and the labelled rows are a DataFrame."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

HOSTILE = [
    '<img src=x onerror="window.__gm_pwned = 1">',
    "<script>window.__gm_pwned = 2</script>",
]
SETUP = f"""%load_ext gemini_magics
from typing import Literal
from pydantic import BaseModel

class Review(BaseModel):
    sentiment: Literal["positive", "neutral", "negative"]
    score: int
    topics: list[str]

reviews = {HOSTILE!r} + [f"Review number {{i}}: the battery lasts" for i in range(10)]"""
LABEL = "%%gemini --schema Review --map reviews --concurrency 4 -o labelled\nLabel this review: {{item}}"
FRAME = """frame = labelled.to_pandas()
print(list(frame.columns), len(frame), frame["status"].unique().tolist())"""
ROWS = 12
PARTIAL = re.compile(rf"\b([1-9]|1[01])/{ROWS}\b")


def test_a_batch_shows_a_live_bar_then_an_escaped_table(notebook, emulator):
    emulator.reset()
    emulator.latency = 0.4  # three waves of four rows: the bar is seen part way
    try:
        nb = notebook([SETUP, LABEL, FRAME])
        nb.run_cell_and_wait(0)
        texts, shot = nb.run_cell_streaming(
            1,
            is_partial=lambda text: PARTIAL.search(text) is not None,
            is_complete=lambda text: f"{ROWS}/{ROWS}" in text and "completed" in text,
            shot_step="bar-part-way",
        )
    finally:
        emulator.latency = 0.0
    assert shot is not None, "the bar was never seen part way"
    assert any(PARTIAL.search(text) for text in texts)
    output = nb.output_area(1)
    expect(output.locator(".widget-hprogress, .widget-progress").first).to_be_visible()
    expect(output).to_contain_text(f"{ROWS}/{ROWS}")
    table = output.locator("table").last
    headers = table.locator("th").all_inner_texts()
    assert headers == ["row", "input", "status", "sentiment", "score", "topics"], headers
    for hostile in HOSTILE:
        expect(table).to_contain_text(hostile[:20])  # the input, as text
    assert output.locator("img, script, [onerror]").count() == 0
    assert nb.page.evaluate("() => window.__gm_pwned") is None
    nb.run_cell_and_wait(2)
    expect(nb.output_area(2)).to_contain_text(
        "['item', 'sentiment', 'score', 'topics', 'status', 'error'] 12 ['completed']"
    )
    nb.cell(1).scroll_into_view_if_needed()
    nb.screenshot("table")

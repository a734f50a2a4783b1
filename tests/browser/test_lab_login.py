"""`%gemini login` in JupyterLab: the key goes into a masked field and never into the notebook."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import API_KEY

pytestmark = pytest.mark.browser


def test_login_asks_in_a_password_field_and_the_key_stays_out_of_the_notebook(notebook, emulator, lab):
    from gemini_magics.emulator import Reply

    emulator.reset()
    emulator.enqueue(Reply.text("Logged in and answering. LOGIN-MARKER."))
    nb = notebook(["%load_ext gemini_magics", "%gemini login", "%gemini status", "%gemini hello"])
    nb.run_cell_and_wait(0)
    nb.run_cell(1)
    field = nb.output_area(1).locator("input.jp-Stdin-input")
    expect(field).to_be_visible()
    assert field.get_attribute("type") == "password"  # the typed key is not shown
    field.fill(API_KEY)
    nb.screenshot("typing")
    field.press("Enter")
    nb.wait_cell_done(1)
    expect(nb.output_area(1)).to_contain_text(f"key …{API_KEY[-4:]} stored for this kernel")
    status = nb.run_cell_and_wait(2)
    assert f"…{API_KEY[-4:]} from %gemini login" in status
    nb.run_cell_and_wait(3)
    expect(nb.output_area(3)).to_contain_text("LOGIN-MARKER")
    assert API_KEY not in nb.page.locator(".jp-Notebook").inner_text()
    nb.page.keyboard.press("Control+s")
    nb.page.wait_for_timeout(1500)
    saved = (lab.root_dir / nb.name).read_text()
    assert "LOGIN-MARKER" in saved  # it was saved with its outputs…
    assert API_KEY not in saved  # …but without the key
    nb.screenshot("saved")

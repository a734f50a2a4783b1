"""Tools in JupyterLab: tool lines, numbered citation links and the Sources list, collapsed code and
function calls, and citations with unsafe schemes that stay inert text.

The answers are scripted on the session emulator with the step shapes of tests/test_tools.py; the
kernel runs ``convert`` itself (a real function call round trip through the chain).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PANDAS = "https://pandas.pydata.org/docs/whatsnew/v3.0.0.html"
BLOG = "https://example.org/blog/pandas-3"
PWNED = "javascript:window.__gm_pwned=1;alert(1)"

SETUP = '''%load_ext gemini_magics
from typing import Literal

def convert(amount: float, unit: Literal["km", "mi"]) -> float:
    """Convert a distance to the other unit."""
    return round(amount / 1.609344 if unit == "km" else amount * 1.609344, 3)'''
CELLS = [
    SETUP,
    "%%gemini --tools search url\nWhat changed in pandas 3.0? Cite the release notes.",
    "%%gemini --tools code\nCheck with code.",
    "%%gemini --tools convert\nHow far is a marathon in miles?",
    "%%gemini --tools search\nAn answer with bad sources.",
]


def _cited(sentences: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """A text block citing with UTF-8 byte offsets (as tests/test_tools.py)."""
    text, annotations = "", []
    for sentence, notes in sentences:
        start = len(text.encode())
        text += sentence
        annotations += [{**note, "start_index": start, "end_index": len(text.encode())} for note in notes]
    return {"type": "text", "text": text, "annotations": annotations}


def _url(url: str, title: str) -> dict[str, Any]:
    return {"type": "url_citation", "url": url, "title": title}


def _replies() -> list[Any]:
    from gemini_magics.emulator import Reply

    grounded = Reply(
        [
            {
                "type": "google_search_call",
                "id": "gs_1",
                "arguments": {"queries": ["pandas 3.0 release notes"]},
            },
            {
                "type": "google_search_result",
                "call_id": "gs_1",
                "result": [{"search_suggestions": "<b>x</b>"}],
            },
            {"type": "url_context_call", "id": "uc_1", "arguments": {"urls": [PANDAS]}},
            {
                "type": "url_context_result",
                "call_id": "uc_1",
                "result": [{"url": PANDAS, "status": "success"}],
            },
            {
                "type": "model_output",
                "content": [
                    _cited(
                        [
                            ("Copy-on-write is the default. ", [_url(PANDAS, "What's new in 3.0")]),
                            (
                                "Strings get their own dtype. ",
                                [_url(PANDAS, "What's new"), _url(BLOG, "Blog")],
                            ),
                        ]
                    )
                ],
            },
        ],
        deltas=4,
    )
    code = Reply(
        [
            {
                "type": "code_execution_call",
                "id": "ce_1",
                "arguments": {"code": "print(sum(range(10)))  # CODE-MARKER", "language": "python"},
            },
            {"type": "code_execution_result", "call_id": "ce_1", "result": "45\n"},
            {"type": "model_output", "content": [{"type": "text", "text": "The sum is 45."}]},
        ]
    )
    evil = Reply(
        [
            {
                "type": "model_output",
                "content": [
                    _cited(
                        [
                            (
                                "A dubious claim. ",
                                [_url(PWNED, "click [me](javascript:alert(2))"), _url(BLOG, "Blog")],
                            )
                        ]
                    )
                ],
            }
        ]
    )
    return [
        grounded,
        code,
        Reply.function_call("convert", {"amount": 42.195, "unit": "km"}),
        Reply.text("A marathon is **26.219 mi**. FUNCTION-DONE"),
        evil,
    ]


def test_tool_lines_citations_collapsed_calls_and_inert_sources(notebook, emulator):
    emulator.reset()
    emulator.enqueue(*_replies())
    nb = notebook(CELLS)
    page = nb.page
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    for index in range(len(CELLS)):
        nb.run_cell_and_wait(index)

    # search and url: one line per step, numbered links after the cited passages, a Sources list
    grounded = nb.output_area(1)
    expect(grounded).to_contain_text("Searched: pandas 3.0 release notes")
    expect(grounded).to_contain_text("Read: pandas.pydata.org/docs/whatsnew/v3.0.0.html")
    links = grounded.locator(f'a[href="{PANDAS}"]')
    expect(links.filter(has_text="[1]")).to_have_count(2)  # both sentences cite the release notes
    expect(grounded.locator(f'a[href="{BLOG}"]').filter(has_text="[2]")).to_have_count(1)
    sources = grounded.locator("ol").last
    expect(sources.locator("li")).to_have_count(2)
    expect(sources.locator("li").first.locator(f'a[href="{PANDAS}"]')).to_have_text("What's new in 3.0")
    expect(grounded).to_contain_text("Sources")
    assert "<b>x</b>" not in grounded.inner_html()  # search suggestions (server HTML) are never shown
    assert "noopener" in (links.first.get_attribute("rel") or "")  # JupyterLab keeps just noopener

    # code execution: collapsed until opened
    nb.output_area(2).scroll_into_view_if_needed()
    nb.screenshot("collapsed")
    code = nb.output_area(2)
    ran = code.locator("details").filter(has_text="Ran code")
    expect(ran).to_have_count(1)
    expect(ran.locator("pre").first).not_to_be_visible()
    ran.locator("summary").first.click()
    expect(ran.locator("pre").first).to_be_visible()
    expect(ran).to_contain_text("CODE-MARKER")
    expect(ran).to_contain_text("45")
    expect(code).to_contain_text("The sum is 45.")

    # a Python function: called in the kernel, shown collapsed with its arguments and result
    called = nb.output_area(3)
    call = called.locator("details").filter(has_text="convert(")
    expect(call).to_have_count(1)
    expect(call.locator("summary")).to_contain_text('convert(amount=42.195, unit="km")')
    expect(called).to_contain_text("FUNCTION-DONE")
    call.locator("summary").first.click()
    expect(call).to_contain_text("26.219")
    nb.output_area(1).scroll_into_view_if_needed()
    nb.screenshot("tools")

    # a javascript: citation is text, never a link; clicking it does nothing
    evil = nb.output_area(4)
    expect(evil).to_contain_text("A dubious claim.")
    expect(evil.locator(f'a[href="{BLOG}"]').filter(has_text="[2]")).to_have_count(1)
    expect(evil).to_contain_text("javascript:window.__gm_pwned=1")  # shown as text in the Sources list
    evil.scroll_into_view_if_needed()
    nb.screenshot("unsafe-citation")
    bad = page.locator(".jp-OutputArea a[href^='javascript' i], .jp-OutputArea a[href*='javascript:' i]")
    expect(bad).to_have_count(0)
    evil.get_by_text("javascript:window.__gm_pwned=1", exact=False).first.click()
    evil.get_by_text("[1]", exact=False).first.click()
    page.wait_for_timeout(300)  # give a (wrongly) live link the chance to run
    assert page.evaluate("() => window.__gm_pwned === undefined")
    assert dialogs == []
    assert "/lab/" in page.url

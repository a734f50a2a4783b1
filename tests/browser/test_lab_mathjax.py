"""What the kernel-side renderer relies on in JupyterLab's MathJax, checked in the browser.

Model Markdown is rendered to ``text/html`` in the kernel and math is left for the front end. That is
only sound if JupyterLab typesets math inside HTML outputs, and if a renderer can confine typesetting
to the math it chose: ``mathjax_ignore`` switches it off for a subtree, ``mathjax_process`` back on,
and ``pre``/``code`` are never typeset. (The MathJax 2 names ``tex2jax_ignore``/``tex2jax_process``
do nothing in JupyterLab 4.)
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

HTML = r"""<div id="gm-mj-control">Control $a^2$ end</div>
<div id="gm-mj-paren">Paren \(b^2\) end</div>
<div id="gm-mj-display">Display $$c^2$$ and \[d^2\]</div>
<div id="gm-mj-ignore" class="mathjax_ignore">Ignored $e^2$ \(f^2\)
  <span id="gm-mj-process" class="mathjax_process">Again \(g^2\)</span>
  <span id="gm-mj-old-process" class="tex2jax_process">Old name $h^2$</span></div>
<div id="gm-mj-old-ignore" class="tex2jax_ignore">Old name $i^2$</div>
<div id="gm-mj-code"><code>$j^2$</code><pre>\(k^2\)</pre></div>"""

COUNT = """() => Object.fromEntries([...document.querySelectorAll('[id^="gm-mj-"]')].map(
  el => [el.id, [...el.querySelectorAll('mjx-container')].filter(
    m => m.parentElement.closest('[id^="gm-mj-"]') === el).length]))"""


def test_mathjax_typesets_html_outputs_and_honours_its_classes(notebook):
    nb = notebook([f"from IPython.display import HTML\nHTML({HTML!r})"])
    nb.run_cell_and_wait(0)
    # one output is typeset in one pass: once the control is done, so is the rest of it
    nb.output_area(0).locator("#gm-mj-control mjx-container").wait_for(state="attached", timeout=30_000)
    counts = nb.page.evaluate(COUNT)
    nb.screenshot("typeset")
    assert counts == {
        "gm-mj-control": 1,
        "gm-mj-paren": 1,
        "gm-mj-display": 2,
        "gm-mj-ignore": 0,
        "gm-mj-process": 1,
        "gm-mj-old-process": 0,
        "gm-mj-old-ignore": 1,
        "gm-mj-code": 0,
    }, counts

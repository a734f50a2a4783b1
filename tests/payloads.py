"""Hostile model output: a corpus of answers that try to run script or smuggle a dangerous link.

Plain data for the security tests (``tests/test_untrusted_render.py`` renders each one in the kernel's
renderer; ``tests/browser/test_lab_untrusted.py`` shows each one in JupyterLab). ``PAYLOADS`` is a
list of ``(id, model text)``. Every script in it, if it ever ran, leaves a trace the browser test
reads: it appends its id to ``window.__gm_pwned`` (in the page, or the parent page from a same-origin
frame) or calls ``alert(id)`` (documents of their own origin: data: URLs, SVG documents). Links and
images point at loopback or ``.invalid`` hosts only, so nothing here ever reaches the internet.

Families: text that made the old guesser (``render/blocks.py: neutralise_html``) mistake raw HTML for
code or math; link schemes spelled so a check before entity decoding misses them; link reference
definitions in odd places; the classic tags, event handlers and mutation-XSS shapes; TeX macros that
make links, classes, styles or load code; image Markdown with script-bearing or remote sources.
"""

from __future__ import annotations

import base64
from urllib.parse import quote


def pwn(payload_id: str, target: str = "window") -> str:
    """JavaScript that records ``payload_id`` on ``target`` (``parent`` from inside a frame).

    Single quotes only, no spaces and no ``|``: it fits in double-quoted attributes, link
    destinations and table cells.
    """
    return f"{target}.__gm_pwned=[].concat({target}.__gm_pwned??[],'{payload_id}')"


def alert(payload_id: str) -> str:
    return f"alert('{payload_id}')"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _data_html(payload_id: str) -> str:
    return "data:text/html;base64," + _b64(f"<script>{alert(payload_id)}</script>")


def _svg(payload_id: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" onload="' + alert(payload_id) + '">'
        f"<script>{alert(payload_id)}</script></svg>"
    )


DEAD_IMAGE = "http://127.0.0.1:9/gm-evil.png"  # loopback discard port: refused at once, onerror fires

# Text a well-behaved renderer must keep: a heading, a list, code with "<" shown as text, a table,
# links that stay links, and math the front end typesets. The browser test waits for its math.
CONTROL_ID = "control"
CONTROL = (
    "## Control heading GM-CONTROL-HEADING\n\n"
    "Some *emphasis* and **strong** text with a [safe link](https://example.invalid/docs) "
    "and a [mail link](mailto:someone@example.invalid).\n\n"
    "- first item GM-CONTROL-ITEM\n"
    "- second item\n\n"
    "| col A | col B |\n|---|---|\n| GM-CONTROL-CELL | 2 |\n\n"
    "```python\nif a < b and c > d:  # GM-CONTROL-CODE <b>not bold</b>\n    pass\n```\n\n"
    "Inline math $x^2$ GM-CONTROL-MATH.\n"
)

_S = "<script>{js}</script>"

PAYLOADS: list[tuple[str, str]] = [
    # --- text that the old guesser took for code or math, followed by raw HTML -----------------------
    ("backticks-unequal", f'Look: ``<img src=x onerror="{pwn("backticks-unequal")}">` done'),
    ("backtick-escaped", f'Escaped \\`<img src=x onerror="{pwn("backtick-escaped")}">` tick'),
    ("dollar-escaped", f'Costs \\$ $<img src=x onerror="{pwn("dollar-escaped")}">$ each'),
    ("dollar-escaped-adjacent", f'Price \\$<img src=x onerror="{pwn("dollar-escaped-adjacent")}">$ now'),
    ("dollar-inline-html", f'Math $<img src=x onerror="{pwn("dollar-inline-html")}">$ here'),
    ("dollars-blank-line", f'$$\n\n<img src=x onerror="{pwn("dollars-blank-line")}">\n\nafter'),
    ("fence-backtick-info", f'```py`\n<img src=x onerror="{pwn("fence-backtick-info")}">\ntext\n'),
    (
        "fence-backtick-info-later",
        f'Intro\n\n```js`x\ncode?\n\n<details open ontoggle="{pwn("fence-backtick-info-later")}">'
        "<summary>s</summary></details>\n",
    ),
    (
        "fence-in-quote-then-html",
        f'> ```\n> quoted fence\n\n<img src=x onerror="{pwn("fence-in-quote-then-html")}">\n',
    ),
    # --- link destinations spelled to pass a scheme check --------------------------------------------
    ("link-entity-decimal", f"[click](&#106;avascript:{pwn('link-entity-decimal')})"),
    ("link-entity-hex", f"[click](&#x6A;&#x61;vascript:{pwn('link-entity-hex')})"),
    ("link-entity-colon", f"[click](javascript&colon;{pwn('link-entity-colon')})"),
    ("link-mixed-case", f"[click](JaVaScRiPt:{pwn('link-mixed-case')})"),
    ("link-tab-angle", f"[click](<java\tscript:{pwn('link-tab-angle')}>)"),
    ("link-tab-entity", f"[click](java&Tab;script:{pwn('link-tab-entity')})"),
    ("link-newline-entity", f"[click](java&#10;script:{pwn('link-newline-entity')})"),
    ("link-control-prefix", f"[click](&#x01;javascript:{pwn('link-control-prefix')})"),
    ("link-percent", f"[click](%6aavascript:{pwn('link-percent')})"),
    ("link-title", f'[click](javascript:{pwn("link-title")} "title")'),
    ("link-angle-spaces", f"[click](<javascript: {pwn('link-angle-spaces')}>)"),
    ("autolink-javascript", f"See <javascript:{pwn('autolink-javascript')}> now"),
    ("autolink-vbscript", "See <vbscript:msgbox(1)> now"),
    ("link-vbscript", "[click](VBScript:msgbox(1))"),
    ("link-data-html", f"[click]({_data_html('link-data-html')})"),
    ("image-data-html", f"![pic]({_data_html('image-data-html')})"),
    ("nested-image-link", f"[![pic]({DEAD_IMAGE})](javascript:{pwn('nested-image-link')})"),
    # --- link reference definitions where a line-based check does not look ---------------------------
    ("refdef-blockquote", f"See [ref] here.\n\n> [ref]: javascript:{pwn('refdef-blockquote')}\n"),
    ("refdef-list-item", f"See [item] here.\n\n- [item]: javascript:{pwn('refdef-list-item')}\n"),
    ("refdef-escaped-bracket", f"See [a\\]b] here.\n\n[a\\]b]: javascript:{pwn('refdef-escaped-bracket')}\n"),
    ("refdef-entity", f"See [ent] here.\n\n[ent]: &#106;avascript:{pwn('refdef-entity')}\n"),
    ("refdef-angle", f'See [ang] here.\n\n[ang]: <javascript:{pwn("refdef-angle")}> "t"\n'),
    ("refdef-image", f"Picture: ![svg]\n\n   [svg]: data:text/html;base64,{_b64(_svg('refdef-image'))}\n"),
    # --- the classics: script, event handlers, frames, navigation -------------------------------------
    ("script-block", f"<script>{pwn('script-block')}</script>"),
    ("script-inline", f"Inline <script>{pwn('script-inline')}</script> text"),
    ("img-onerror", f'<img src=x onerror="{pwn("img-onerror")}">'),
    ("svg-onload", f'<svg onload="{pwn("svg-onload")}"></svg>'),
    ("body-onload", f'<body onload="{pwn("body-onload")}">text</body>'),
    (
        "iframe-srcdoc",
        f'<iframe srcdoc="&lt;script&gt;{pwn("iframe-srcdoc", "parent")}&lt;/script&gt;"></iframe>',
    ),
    ("iframe-javascript", f'<iframe src="javascript:{pwn("iframe-javascript", "parent")}"></iframe>'),
    ("object-data", f'<object data="data:image/svg+xml;base64,{_b64(_svg("object-data"))}"></object>'),
    ("embed-src", f'<embed src="data:image/svg+xml;base64,{_b64(_svg("embed-src"))}">'),
    ("video-onerror", f'<video src=x onerror="{pwn("video-onerror")}"></video>'),
    ("audio-onerror", f'<audio src=x onerror="{pwn("audio-onerror")}"></audio>'),
    ("video-source-onerror", f'<video><source src=x onerror="{pwn("video-source-onerror")}"></video>'),
    ("input-autofocus", f'<input autofocus onfocus="{pwn("input-autofocus")}">'),
    ("marquee-onstart", f'<marquee onstart="{pwn("marquee-onstart")}">news</marquee>'),
    (
        "details-ontoggle",
        f'<details open ontoggle="{pwn("details-ontoggle")}"><summary>s</summary>x</details>',
    ),
    ("div-onmouseover", f'<div onmouseover="{pwn("div-onmouseover")}" style="height:40px">hover</div>'),
    ("custom-element", f'<gm-widget onclick="{pwn("custom-element")}" tabindex=0>x</gm-widget>'),
    (
        "svg-animate-onbegin",
        f'<svg><animate onbegin="{pwn("svg-animate-onbegin")}" attributeName=x dur=1s></animate></svg>',
    ),
    ("svg-set-onbegin", f'<svg><set onbegin="{pwn("svg-set-onbegin")}" attributeName=x to=1></set></svg>'),
    (
        "svg-animate-href",
        f'<svg><a><animate attributeName=href values="javascript:{pwn("svg-animate-href")}"></animate>'
        "<text x=20 y=20>click</text></a></svg>",
    ),
    (
        "svg-xlink-href",
        f'<svg><a xlink:href="javascript:{pwn("svg-xlink-href")}"><text x=20 y=20>click</text></a></svg>',
    ),
    ("math-element-href", f'<math href="javascript:{pwn("math-element-href")}"><mi>x</mi></math>'),
    ("anchor-javascript", f'<a href="javascript:{pwn("anchor-javascript")}">click</a>'),
    ("anchor-entity-tab", f'<a href="jav&#x09;ascript:{pwn("anchor-entity-tab")}">click</a>'),
    ("comment-short", f'<!--><img src=x onerror="{pwn("comment-short")}">-->'),
    ("comment-bang", f'<!-- x --!><img src=x onerror="{pwn("comment-bang")}">-->'),
    ("list-item-html", f'- one\n- two <img src=x onerror="{pwn("list-item-html")}">\n'),
    ("blockquote-html", f'> quoted <img src=x onerror="{pwn("blockquote-html")}">\n'),
    ("table-cell-html", f'| a | b |\n|---|---|\n| <img src=x onerror="{pwn("table-cell-html")}"> | c |\n'),
    ("html-block-pre", f'<pre>\n<img src=x onerror="{pwn("html-block-pre")}">\n</pre>\n'),
    (
        "style-import",
        f'<style>@import url("javascript:{pwn("style-import")}"); .jp-Cell {{ display: none }}</style>',
    ),
    (
        "style-attribute",
        f'<p style="background:url(javascript:{pwn("style-attribute")});width:expression(1)">p</p>',
    ),
    ("meta-refresh", f'<meta http-equiv="refresh" content="0;url=javascript:{pwn("meta-refresh")}">'),
    ("base-href", f'<base href="javascript:{pwn("base-href")}//">[rel](page)'),
    ("form-action", f'<form action="javascript:{pwn("form-action")}"><button>go</button></form>'),
    ("button-formaction", f'<button formaction="javascript:{pwn("button-formaction")}">go</button>'),
    ("link-element", f'<link rel=stylesheet href="javascript:{pwn("link-element")}">'),
    # --- mutation XSS: markup a sanitiser and the browser parse differently -------------------------
    ("mxss-noscript", f'<noscript><p title="</noscript><img src=x onerror={pwn("mxss-noscript")}>">'),
    ("mxss-svg-style", f'<svg><style><img src=x onerror="{pwn("mxss-svg-style")}"></style></svg>'),
    (
        "mxss-math-mglyph",
        f'<math><mtext><table><mglyph><style><img src=x onerror="{pwn("mxss-math-mglyph")}"></style>',
    ),
    (
        "attr-breakout-title",
        f'[click](https://example.invalid/ "a\\" onmouseover=\\"{pwn("attr-breakout-title")}")',
    ),
    ("attr-breakout-alt", f'![a" onerror="{pwn("attr-breakout-alt")}]({DEAD_IMAGE})'),
    # --- TeX for the front end's MathJax ---------------------------------------------------------------
    ("tex-href", f"Click $\\href{{javascript:{pwn('tex-href')}}}{{here}}$ please"),
    ("tex-style", "$$\\style{position:fixed;top:0;left:0;width:100%;height:100%}{\\text{GM-EVIL-STYLE}}$$"),
    ("tex-paren-href", f"Prose \\(\\href{{javascript:{pwn('tex-paren-href')}}}{{x}}\\) more prose"),
    ("tex-unicode", "Smile $\\unicode[sans-serif;color:red]{x263A}$ ok"),
    ("tex-def", f"$\\def\\x{{\\href{{javascript:{pwn('tex-def')}}}{{x}}}}\\x$"),
    ("tex-class", "$\\class{jp-Dialog}{\\text{GM-EVIL-CLASS}}$"),
    ("tex-cssid", "$\\cssId{gm-evil-id}{x}$"),
    ("tex-require", "$\\require{action}\\toggle{a}{b}\\endtoggle$"),
    ("tex-html-data", "$\\data{gm=evil}{x} \\htmlStyle{position:fixed}{y} \\htmlClass{jp-Dialog}{z}$"),
    # --- image Markdown ---------------------------------------------------------------------------------
    ("image-svg-base64", f"![logo](data:image/svg+xml;base64,{_b64(_svg('image-svg-base64'))})"),
    ("image-svg-utf8", f"![logo](data:image/svg+xml,{quote(_svg('image-svg-utf8'), safe='')})"),
    ("image-javascript", f"![pic](javascript:{pwn('image-javascript')})"),
    (
        "image-remote-with-onerror",
        f'![pic]({DEAD_IMAGE})\n\n<img src="{DEAD_IMAGE}" onerror="{pwn("image-remote-with-onerror")}">',
    ),
]

# The closing control: the same harmless text as CONTROL, rendered after every payload.
CONTROL_END_ID = "control-end"
CONTROL_END = CONTROL.replace("GM-CONTROL", "GM-CONTROL-END")

assert len({payload_id for payload_id, _ in PAYLOADS}) == len(PAYLOADS), "payload ids must be unique"

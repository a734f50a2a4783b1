"""Model Markdown rendered in the kernel is safe HTML, whatever the model wrote (tests/payloads.py).

Each payload goes through ``to_html`` and ``markdown_bundle`` and the HTML is read back with a real
parser (``html.parser``, which decodes entities in attribute values as a browser does). The rules are
the browser test's, checked on the markup itself: no event handler, no element that runs script,
frames a document, navigates or submits; links only to http(s)/mailto (or relative), images only from
http(s) or raster ``data:`` URLs; and no TeX macro that makes links, classes, styles or definitions
where JupyterLab's MathJax would typeset it (as measured in JupyterLab 4.6: text outside ``pre``,
``code`` and friends, and outside ``mathjax_ignore`` unless re-enabled by ``mathjax_process``).
Ordinary Markdown must still come out as the structure a reader expects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from gemini_magics.render.markdown import markdown_bundle, to_html
from tests.payloads import CONTROL, PAYLOADS

FORBIDDEN_ELEMENTS = frozenset(
    {
        "script", "style", "link", "meta", "base", "iframe", "frame", "frameset", "object", "embed",
        "applet", "form", "noscript", "template", "svg", "math", "textarea", "select", "xmp", "plaintext",
    }
)  # fmt: skip
URL_ATTRIBUTES = frozenset(
    {"href", "xlink:href", "src", "srcset", "action", "formaction", "data", "background", "poster", "cite"}
)
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
IMAGE_SCHEMES = frozenset({"http", "https"})
RASTER_DATA = re.compile(r"^data:image/(png|jpeg|gif|webp)[;,]")
# Elements whose text MathJax never typesets (its skipHtmlTags) and the classes that switch it off/on.
MATHJAX_SKIP = frozenset(
    {"script", "noscript", "style", "textarea", "pre", "code", "annotation", "annotation-xml"}
)
DANGEROUS_TEX = re.compile(
    r"\\(href|url|class|style|cssId|require|data|html[A-Za-z]*|unicode|def|gdef|edef|xdef|let|"
    r"newcommand|renewcommand|providecommand|DeclareMathOperator|newenvironment|renewenvironment)(?![A-Za-z])"
)
MATH_DELIMITER = re.compile(r"(?<!\\)\$|\\\(|\\\[|\\begin\s*\{")
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


@dataclass
class Page:
    """What the parser saw: elements, problems, and the strings MathJax would search for math."""

    elements: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    typeset_strings: list[str] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.elements if name == tag]


def _scheme(url: str) -> str | None:
    """The scheme a browser would see: C0 controls and spaces trimmed, tabs and newlines removed."""
    cleaned = re.sub(r"[\t\n\r]", "", url.strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f"
                                                   "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c"
                                                   "\x1d\x1e\x1f \t\n\r"))  # fmt: skip
    match = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", cleaned)
    return match.group(1).lower() if match else None


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._stack: list[tuple[str, bool]] = []  # (tag, typesetting enabled inside it)
        self._current: list[str] = []
        self._text: list[str] = []

    def _typesetting(self) -> bool:
        return self._stack[-1][1] if self._stack else True

    def _end_string(self) -> None:
        if self._current:
            self.page.typeset_strings.append("".join(self._current))
            self._current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        self.page.elements.append((tag, values))
        self._check(tag, values)
        classes = values.get("class", "").split()
        enabled = self._typesetting()
        if "mathjax_ignore" in classes:
            enabled = False
        if "mathjax_process" in classes:
            enabled = True
        if tag in MATHJAX_SKIP and "mathjax_process" not in classes:
            enabled = False
        if not enabled:
            self._end_string()
        if tag not in VOID:
            self._stack.append((tag, enabled))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): value or "" for name, value in attrs}
        self.page.elements.append((tag, values))
        self._check(tag, values)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth][0] == tag:
                was = self._typesetting()
                del self._stack[depth:]
                if was != self._typesetting():
                    self._end_string()
                return

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if self._typesetting():
            self._current.append(data)

    def close(self) -> None:
        super().close()
        self._end_string()
        self.page.text = "".join(self._text)

    def _check(self, tag: str, attrs: dict[str, str]) -> None:
        problems = self.page.problems
        if tag in FORBIDDEN_ELEMENTS:
            problems.append(f"<{tag}> element")
        for name, value in attrs.items():
            if name.startswith("on"):
                problems.append(f"{name} handler on <{tag}>")
            if name == "srcdoc":
                problems.append(f"srcdoc on <{tag}>")
            if name == "style" and re.search(r"url\(|expression|javascript:|position", value, re.I):
                problems.append(f"style {value!r} on <{tag}>")
            if name not in URL_ATTRIBUTES:
                continue
            scheme = _scheme(value)
            if tag == "img" and name == "src":
                squashed = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if scheme is not None and scheme not in IMAGE_SCHEMES and not RASTER_DATA.match(squashed):
                    problems.append(f"<img src={value[:80]!r}>")
            elif tag == "a" and name == "href":
                if scheme is not None and scheme not in LINK_SCHEMES:
                    problems.append(f"<a href={value[:80]!r}>")
            elif scheme is not None and scheme not in LINK_SCHEMES:
                problems.append(f"{name}={value[:80]!r} on <{tag}>")


def read(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    page = reader.page
    for string in page.typeset_strings:
        if MATH_DELIMITER.search(string) and (macro := DANGEROUS_TEX.search(string)):
            page.problems.append(f"TeX {macro.group(0)} where MathJax typesets: {string[:80]!r}")
    return page


@pytest.mark.parametrize(("payload_id", "markdown"), PAYLOADS, ids=[pid for pid, _ in PAYLOADS])
def test_payload_renders_inert(payload_id: str, markdown: str) -> None:
    html = to_html(markdown)
    assert isinstance(html, str)
    problems = read(html).problems
    assert not problems, f"{payload_id}: {problems}\n--- html ---\n{html}"
    bundle = markdown_bundle(markdown)
    assert set(bundle) >= {"text/html", "text/plain"}, bundle.keys()
    assert isinstance(bundle["text/plain"], str)
    problems = read(bundle["text/html"]).problems
    assert not problems, f"{payload_id} (bundle): {problems}\n--- html ---\n{bundle['text/html']}"


def test_every_payload_leaves_no_active_markup_in_one_document() -> None:
    """All payloads in one answer: constructs that reach across payloads stay inert too."""
    markdown = "\n\n".join(text for _, text in PAYLOADS)
    problems = read(to_html(markdown)).problems
    assert not problems, problems


def test_control_answer_keeps_its_structure() -> None:
    page = read(to_html(CONTROL))
    assert not page.problems
    tags = [tag for tag, _ in page.elements]
    assert "h2" in tags and "em" in tags and "strong" in tags
    assert tags.count("li") == 2 and "ul" in tags
    assert "table" in tags and "td" in tags
    assert {attrs.get("href") for attrs in page.find("a")} >= {
        "https://example.invalid/docs",
        "mailto:someone@example.invalid",
    }
    assert "b" not in tags  # <b>not bold</b> inside the fence is code, shown as text
    assert "if a < b and c > d:  # GM-CONTROL-CODE <b>not bold</b>" in page.text
    assert any(re.search(r"\$x\^2\$|\\\(x\^2\\\)", s) for s in page.typeset_strings), page.typeset_strings


@pytest.mark.parametrize(
    ("markdown", "expected_tags", "expected_text"),
    [
        ("# Title\n\nBody.", ["h1", "p"], "Title"),
        ("Some *emphasis*, _also_, **strong** and `code`.", ["em", "strong", "code"], "emphasis"),
        ("1. one\n2. two\n\n- a\n  - nested", ["ol", "ul", "li"], "nested"),
        ("| h1 | h2 |\n|:--|--:|\n| a | b |", ["table", "thead", "th", "td"], "h2"),
        ("```html\n<script>alert(1)</script>\n```", ["pre", "code"], "<script>alert(1)</script>"),
        ("    indented <b>code</b>", ["pre", "code"], "indented <b>code</b>"),
        ("> a quote with [a link](https://example.invalid/q)", ["blockquote", "a"], "a quote"),
        ("See <https://example.invalid/auto> now.", ["a"], "https://example.invalid/auto"),
        ("Write to [me](mailto:me@example.invalid).", ["a"], "me"),
        ("Line one  \nline two\n\n---\n", ["br", "hr"], "line two"),
        ("Plain 5 < 6 & 7 > 3 text.", ["p"], "Plain 5 < 6 & 7 > 3 text."),
    ],
    ids=[
        "heading",
        "emphasis",
        "lists",
        "table",
        "fenced-code-with-html",
        "indented-code",
        "quote-link",
        "autolink",
        "mailto",
        "breaks",
        "angle-text",
    ],
)
def test_ordinary_markdown_survives(markdown: str, expected_tags: list[str], expected_text: str) -> None:
    html = to_html(markdown)
    page = read(html)
    assert not page.problems, page.problems
    tags = {tag for tag, _ in page.elements}
    assert set(expected_tags) <= tags, (tags, html)
    assert expected_text in page.text, html
    assert "script" not in tags and "b" not in tags
    assert to_html(markdown) == html  # deterministic


def test_links_keep_their_targets() -> None:
    page = read(to_html("[docs](https://example.invalid/a?b=1&c=2#d) and [mail](mailto:x@example.invalid)"))
    hrefs = [attrs.get("href") for attrs in page.find("a")]
    assert hrefs == ["https://example.invalid/a?b=1&c=2#d", "mailto:x@example.invalid"]


def test_math_is_left_for_the_typesetter() -> None:
    """Inline and display math reach MathJax as TeX with delimiters; Markdown does not eat ``_``/``*``."""
    page = read(to_html("Inline $a_1 * b_2 * c_3$ and\n\n$$\\sum_{i=1}^n x_i^2$$\n"))
    joined = "\n".join(page.typeset_strings)
    assert "a_1 * b_2 * c_3" in joined, page.typeset_strings
    assert "\\sum_{i=1}^n x_i^2" in joined, page.typeset_strings
    assert "em" not in {tag for tag, _ in page.elements}


def test_dollar_amounts_in_code_are_never_math() -> None:
    page = read(to_html("Run `echo $HOME $PATH` please."))
    assert "echo $HOME $PATH" in page.text
    assert not any("$HOME" in s for s in page.typeset_strings)


def test_reader_catches_what_it_must() -> None:
    """The checker itself: each rule fires on markup that breaks it (a check that cannot fail is none)."""
    for bad in [
        '<img src=x onerror="alert(1)">',
        "<script>alert(1)</script>",
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<a href="java\tscript:alert(1)">x</a>',
        '<a href="\x01javascript:alert(1)">x</a>',
        '<a href="vbscript:x">x</a>',
        '<img src="data:image/svg+xml;base64,AAAA">',
        '<iframe srcdoc="x"></iframe>',
        '<p style="background:url(javascript:x)">p</p>',
        "<p>$\\href{javascript:x}{y}$</p>",
        '<div class="mathjax_ignore"><span class="mathjax_process">\\(\\class{jp-X}{y}\\)</span></div>',
    ]:
        assert read(bad).problems, bad
    for good in [
        '<img src="data:image/png;base64,AAAA" alt="x">',
        '<a href="https://example.invalid/">x</a>',
        '<a href="#section">x</a>',
        "<pre><code>$\\href{javascript:x}{y}$</code></pre>",
        '<div class="mathjax_ignore">$\\href{javascript:x}{y}$</div>',
        "<p>\\href{javascript:x}{y} as plain words</p>",
    ]:
        assert not read(good).problems, good

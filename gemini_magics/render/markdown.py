"""Model Markdown → safe HTML, rendered in the kernel. Pure; no IPython imports.

JupyterLab renders outputs from a live kernel as trusted: Markdown and HTML are not sanitised and
scripts in HTML run. So model text is never handed to the front end's Markdown renderer. It is parsed
here with a CommonMark parser (markdown-it-py, raw HTML off: tags in the text stay text) and the HTML
is then passed through an allowlist sanitiser (nh3, the Rust ammonia library), whose output is safe
whatever the parser did. Safety does not depend on matching another program's tokenizer.

Links keep only http(s), mailto and relative targets. Pictures in the Markdown are shown only when
inline raster ``data:`` images; a remote picture becomes a link, so that loading an output can never
send data to a server a prompt injection chose. Math is left for the front end's MathJax: each span
we recognise is wrapped in a class that MathJax processes, everything else is marked for MathJax to
ignore (and ``$`` and ``\\`` in prose are isolated, so no delimiter can form there), and math that
uses a TeX macro able to make links, set classes or styles, load extensions or define macros is
shown as code instead.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

MATH_CLASSES = "mathjax_process"
PROSE_CLASSES = "mathjax_ignore"
_UNSAFE_TEX = re.compile(
    r"\\(?:href|url|class|cssId|style|require|data|html[A-Za-z]*|unicode|mmlToken|"
    r"def|gdef|edef|xdef|let|futurelet|newcommand|renewcommand|providecommand|newenvironment|"
    r"renewenvironment|DeclareMathOperator|Newextarrow|csname|expandafter|begingroup|"
    r"toggle|mathtip|texttip|bbox|require)(?![A-Za-z])|\^\^"
)
_RASTER_DATA_URL = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[a-z0-9+/=\s]*", re.IGNORECASE)
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_PROSE_TEX_CHARS = re.compile(r"[$\\]")

ALLOWED_TAGS = frozenset(
    {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "s", "code", "pre"}
    | {"blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a", "img", "span"}
    | {"div", "details", "summary", "sub", "sup"}
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
}  # classes: ALLOWED_CLASSES (ammonia wants them there only)
ALLOWED_CLASSES = {
    "span": set(MATH_CLASSES.split()),
    "div": set(MATH_CLASSES.split()) | set(PROSE_CLASSES.split()),
}


def safe_target(url: str) -> bool:
    """Whether a link target may be kept: relative, or http(s)/mailto (after entities were decoded)."""
    compact = re.sub(r"[\x00-\x20\x7f]+", "", url)
    scheme = _SCHEME.match(compact)
    if scheme is None or any(c in compact[: scheme.end()] for c in "/?#"):
        return True
    return scheme.group(1).lower() in SAFE_SCHEMES or _RASTER_DATA_URL.fullmatch(compact) is not None


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute not in ("href", "src"):
        return value
    compact = re.sub(r"[\x00-\x20\x7f]+", "", value)
    if compact.lower().startswith("data:"):
        return value if tag == "img" and _RASTER_DATA_URL.fullmatch(compact) else None
    return value if safe_target(value) else None


@lru_cache(maxsize=1)
def _cleaner() -> Any:
    import nh3

    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        allowed_classes={tag: set(names) for tag, names in ALLOWED_CLASSES.items()},
        filter_style_properties={"text-align"},
        url_schemes={"http", "https", "mailto", "data"},
        attribute_filter=_filter_attribute,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def sanitise(fragment: str) -> str:
    """The allowlist pass that every HTML fragment built from model text goes through last."""
    return str(_cleaner().clean(fragment))


def _math(content: str, display: bool) -> str:
    if _UNSAFE_TEX.search(content):
        delimiter = "$$" if display else "$"
        return f"<code>{html.escape(delimiter + content + delimiter)}</code>"
    if display:
        return f'<div class="{MATH_CLASSES}">\\[{html.escape(content)}\\]</div>\n'
    return f'<span class="{MATH_CLASSES}">\\({html.escape(content)}\\)</span>'


def _prose(text: str) -> str:
    escaped = html.escape(text, quote=False)
    if "$" not in escaped and "\\" not in escaped:
        return escaped
    return _PROSE_TEX_CHARS.sub(lambda m: f"<span>{m.group(0)}</span>", escaped)


@lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.texmath import texmath_plugin

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    dollarmath_plugin(md, allow_space=False, allow_digits=False, double_inline=True)
    texmath_plugin(md, delimiters="brackets")
    md.validateLink = safe_target  # type: ignore[method-assign]  # markdown-it's documented hook

    def text(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        return _prose(tokens[idx].content)

    def math(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        return _math(token.content.strip(), token.block or token.type == "math_inline_double")

    def image(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        source = str(token.attrGet("src") or "")
        alt = html.escape(self.renderInlineAsText(token.children or [], options, env))
        if _RASTER_DATA_URL.fullmatch(re.sub(r"\s+", "", source)):
            return f'<img src="{html.escape(source)}" alt="{alt}">'
        if not source:
            return f"[image: {alt}]"
        return f'<a href="{html.escape(source)}">[image: {alt or "link"}]</a>'

    md.add_render_rule("text", text)
    md.add_render_rule("image", image)
    for kind in ("math_inline", "math_inline_double", "math_block", "math_block_label", "math_block_eqno"):
        md.add_render_rule(kind, math)
    return md


def to_html(markdown: str) -> str:
    """Safe HTML for model (or user) Markdown: CommonMark in the kernel, then the allowlist."""
    body = _parser().render(markdown)
    return sanitise(f'<div class="{PROSE_CLASSES}">{body}</div>')


def markdown_bundle(markdown: str, *, plain: bool = True) -> dict[str, str]:
    """A display bundle for Markdown: safe ``text/html``, and the source as ``text/plain``."""
    bundle = {"text/html": to_html(markdown)}
    if plain:
        bundle["text/plain"] = markdown
    return bundle


def disclosure(summary: str, markdown: str) -> str:
    """A collapsed ``<details>`` block (thought summaries) around safe HTML for ``markdown``."""
    return sanitise(f"<details><summary>{html.escape(summary)}</summary>{to_html(markdown)}</details>")


_MARKDOWN_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")


def escape_markdown(text: str) -> str:
    """Text that Markdown shows exactly as written: ASCII punctuation becomes character references
    (a backslash would not do: ``\\(`` and ``\\[`` open math)."""
    return _MARKDOWN_PUNCTUATION.sub(lambda m: f"&#{ord(m.group(0))};", text)


def note_html(message: str) -> str:
    """A short line of ours (notes, footers) as escaped, italic HTML."""
    return f"<em>{html.escape(message)}</em>"


def first_code_block(markdown: str) -> str | None:
    """The code of the first fenced (or indented) code block in ``markdown``, as the CommonMark
    parser sees it; None when there is none."""
    for token in _parser().parse(markdown):
        if token.type in ("fence", "code_block"):
            return str(token.content)
    return None

"""Built-in tools: --tools/--mcp in requests and thread settings, tool lines, citations, results."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError

from gemini_magics.emulator import Reply
from gemini_magics.widgets.chat import ChatPanel

from .support import creates, html_of, markdown_of, wait_for

PANDAS = "https://pandas.pydata.org/docs/whatsnew/v3.0.0.html"
BLOG = "https://example.org/blog/pandas-3"


def _cited(sentences: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """A text block citing with UTF-8 byte offsets (several citations may share one span)."""
    text, annotations = "", []
    for sentence, notes in sentences:
        start = len(text.encode())
        text += sentence
        end = len(text.encode())
        annotations += [{**note, "start_index": start, "end_index": end} for note in notes]
    return {"type": "text", "text": text, "annotations": annotations}


def _url(url: str, title: str) -> dict[str, Any]:
    return {"type": "url_citation", "url": url, "title": title}


def grounded_reply(**delivery: Any) -> Reply:
    """As recorded real traffic: the answer's text first, then the search steps, citations last."""
    text = _cited(
        [
            ("Pandas 3.0 — «copy-on-write» is the default. ", [_url(PANDAS, "What's new in 3.0")]),
            (
                "Strings use a dedicated dtype. ",
                [_url(PANDAS, "What's new in 3.0"), _url(BLOG, "Blog [post]")],
            ),
        ]
    )
    return Reply(
        [
            {"type": "model_output", "content": [text]},
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
        ],
        **delivery,
    )


@pytest.mark.parametrize("delivery", [{}, {"deltas": 7, "start_content": True, "event_ids": False}])
def test_search_and_url_lines_citations_and_sources(ip, emulator, delivery):
    emulator.enqueue(grounded_reply(**delivery))
    cell = ip.run("%%gemini --tools search url\nWhat changed in pandas 3.0? Cite the release notes.")
    assert creates(emulator)[0].body["tools"] == [{"type": "google_search"}, {"type": "url_context"}]
    shown = markdown_of(cell)
    assert "[tool] Searched: pandas 3.0 release notes" in shown
    assert "[tool] Read: pandas.pydata.org/docs/whatsnew/v3.0.0.html" in shown
    # numbered after the cited passage (byte offsets past «» and —), two sources sharing a span
    assert f"is the default.[[1]]({PANDAS}) Strings" in shown
    assert f"dedicated dtype.[[1]]({PANDAS})[[2]]({BLOG})" in shown
    assert f"**Sources**\n\n1. [What's new in 3.0]({PANDAS})\n2. [Blog &#91;post&#93;]({BLOG})" in shown
    page = html_of(cell)
    assert f'<a href="{PANDAS}" rel="noopener noreferrer nofollow">[1]</a>' in page
    assert "<b>x</b>" not in page  # search suggestions (server HTML) are never shown
    result = ip.user_ns["_gemini"]
    assert [(s.title, s.url) for s in result.sources] == [
        ("What's new in 3.0", PANDAS),
        ("Blog [post]", BLOG),
    ]
    search, read = result.tool_calls
    assert (search.name, search.arguments, search.status) == (
        "google_search",
        {"queries": ["pandas 3.0 release notes"]},
        "completed",
    )
    assert read.name == "url_context" and read.result == [{"url": PANDAS, "status": "success"}]


def test_no_stream_shows_the_same_lines_and_citations(ip, emulator):
    emulator.enqueue(grounded_reply())
    cell = ip.run("%%gemini --tools search --no-stream\nWhat changed in pandas 3.0?")
    shown = markdown_of(cell)
    assert "[tool] Searched: pandas 3.0 release notes" in shown and "**Sources**" in shown
    assert f"is the default.[[1]]({PANDAS})" in shown


def test_code_execution_shows_code_and_output_collapsed_and_images_inline(ip, emulator):
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    code = "import matplotlib\nprint(42 < 43)  # <script>"
    emulator.enqueue(
        Reply(
            [
                {
                    "type": "code_execution_call",
                    "id": "ce_1",
                    "arguments": {"code": code, "language": "python"},
                },
                {
                    "type": "code_execution_result",
                    "call_id": "ce_1",
                    "result": [
                        {"type": "text", "text": "True\n"},
                        {"type": "image", "data": base64.b64encode(png).decode(), "mime_type": "image/png"},
                    ],
                },
                {"type": "model_output", "content": [{"type": "text", "text": "It printed True."}]},
            ]
        )
    )
    cell = ip.run("%%gemini --tools code\nCheck with code.")
    assert creates(emulator)[0].body["tools"] == [{"type": "code_execution"}]
    page = html_of(cell)
    assert "<details><summary><em>Ran code</em></summary>" in page
    assert "print(42 &lt; 43)  # &lt;script&gt;" in page and "<script>" not in page
    assert "<strong>Output</strong></div><pre><code>True\n" in page
    images = [o for o in cell.outputs if "image/png" in o["data"]]
    assert [base64.b64decode(o["data"]["image/png"]) for o in images] == [png]
    result = ip.user_ns["_gemini"]
    assert len(result.images) == 1 and result.text == "It printed True."
    (run,) = result.tool_calls
    assert run.name == "code_execution" and run.arguments["code"] == code and run.status == "completed"


def test_maps_places_and_place_citations(ip, emulator):
    place = {"name": "Café <Central>", "place_id": "places/1", "url": "https://maps.example.com/p/1"}
    text = _cited([("Try Café Central. ", [{"type": "place_citation", **place}])])
    emulator.enqueue(
        Reply(
            [
                {"type": "google_maps_call", "id": "gm_1", "arguments": {"queries": ["coffee near Vienna"]}},
                {"type": "google_maps_result", "call_id": "gm_1", "result": [{"places": [place]}]},
                {"type": "model_output", "content": [text]},
            ]
        )
    )
    cell = ip.run("%%gemini --tools maps\nCoffee in Vienna?")
    assert creates(emulator)[0].body["tools"] == [{"type": "google_maps"}]
    assert "[tool] Searched Maps: coffee near Vienna → Café <Central>" in markdown_of(cell)
    page = html_of(cell)
    assert "Café &lt;Central&gt;</a>" in page and 'href="https://maps.example.com/p/1"' in page
    assert "Central.[[1]](https://maps.example.com/p/1)" in markdown_of(cell)
    assert [(s.title, s.kind) for s in ip.user_ns["_gemini"].sources] == [
        ("Café <Central>", "place_citation")
    ]


def test_unsafe_citation_schemes_stay_inert(ip, emulator):
    evil = [
        _url("javascript:alert(1)", "click [me](javascript:alert(2))"),
        _url("data:text/html,<script>alert(3)</script>", "data"),
        _url("https://ok.example.com/a)b<c", "ok"),
    ]
    emulator.enqueue(Reply([{"type": "model_output", "content": [_cited([("Claim. ", evil)])]}]))
    cell = ip.run("%%gemini --tools search\nq")
    page = html_of(cell).lower()
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(href.startswith("https://") for href in hrefs), hrefs
    assert "<script" not in page and "(javascript:alert(1))</li>" in page  # shown as text, inert
    assert 'href="https://ok.example.com/a%29b%3cc"' in page
    shown = markdown_of(cell)
    assert "Claim.&#91;1&#93;&#91;2&#93;[[3]](https://ok.example.com/a%29b%3Cc)" in shown
    assert "1. click &#91;me&#93;(javascript:alert(2)) (javascript:alert(1))" in shown


def test_mcp_server_with_headers_that_are_never_shown(ip, emulator):
    secret = "Bearer mcp-token-5f2e-SECRET"
    ip.shell.config.GeminiMagics.mcp_headers = {"weather": {"Authorization": secret}}
    ip.run(f"%config GeminiMagics.mcp_headers = {{'weather': {{'Authorization': {secret!r}}}}}")
    emulator.enqueue(
        Reply(
            [
                {
                    "type": "mcp_server_tool_call",
                    "id": "m_1",
                    "name": "get_forecast",
                    "server_name": "weather",
                    "arguments": {"city": "Paris"},
                },
                {
                    "type": "mcp_server_tool_result",
                    "call_id": "m_1",
                    "name": "get_forecast",
                    "server_name": "weather",
                    "result": f"21 C (auth was {secret})",
                },
                {"type": "model_output", "content": [{"type": "text", "text": f"Sunny. {secret}"}]},
            ]
        )
    )
    cell = ip.run("%%gemini --mcp weather=https://mcp.example.com/mcp\nWeather in Paris?")
    tool = creates(emulator)[0].body["tools"]
    assert tool == [
        {
            "type": "mcp_server",
            "name": "weather",
            "url": "https://mcp.example.com/mcp",
            "headers": {"Authorization": secret},
        }
    ]
    assert "[tool] Called get_forecast on weather" in markdown_of(cell)
    result = ip.user_ns["_gemini"]
    assert result.tool_calls[0].server == "weather" and result.tool_calls[0].arguments == {"city": "Paris"}
    seen = [
        markdown_of(cell),
        html_of(cell),
        cell.stdout,
        ip.run("%config GeminiMagics").stdout,
        ip.run("%gemini status").stdout,
        ip.run("%gemini history").stdout,
        repr(result),
        repr(result.steps),
        repr(ip.magics.session.settings),
        repr(ip.magics.threads["default"].settings),
    ]
    assert all("mcp-token" not in text for text in seen), [t for t in seen if "mcp-token" in t]
    assert "mcp:weather" in seen[4]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "--tools serch",
            "--tools serch: not a built-in tool and no such variable; use search, url, code, maps",
        ),
        ("--tools file_search", "--tools file_search: a notebook cannot configure file_search yet"),
        ("--tools computer_use", "cannot configure computer_use yet"),
        ("--tools retrieval", "cannot configure retrieval yet"),
        ("--tools data", "--tools data: dict is not a function"),
        ("--tools convert", "has no usable name; define it with def"),
        ("--tools none search", "--tools none turns tools off: give it alone"),
        ("--mcp weather", "--mcp needs NAME=URL"),
        ("--mcp w=ftp://x.example.com", "--mcp w: the URL must start with https://"),
        ("--mcp a/b=https://x.example.com", "--mcp a/b: use letters, digits"),
    ],
)
def test_tool_mistakes_are_one_line_usage_errors(ip, emulator, line, message):
    ip.user_ns["data"] = {"a": 1}
    ip.user_ns["convert"] = lambda km: km / 1.609
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        ip.run(f"%%gemini {line}\nhi")
    assert creates(emulator) == []


def test_line_magic_takes_the_prompt_before_tools(ip, emulator):
    emulator.enqueue(Reply.text("ok"))
    with pytest.raises(UsageError, match="write the prompt first: %gemini PROMPT --tools NAME"):
        ip.run("%gemini --tools search What is new?")
    ip.run("%gemini What is new? --tools search")
    assert creates(emulator)[0].body["input"] == "What is new?"
    assert creates(emulator)[0].body["tools"] == [{"type": "google_search"}]


def test_tools_are_a_thread_setting(ip, emulator):
    emulator.enqueue(*(Reply.text("ok") for _ in range(7)))
    ip.run("%config GeminiMagics.tools = ['code']")

    def tools_sent(cell: str) -> Any:
        ip.run(cell)
        return creates(emulator)[-1].body.get("tools")

    assert tools_sent("%%gemini\nfirst") == [{"type": "code_execution"}]  # the trait's defaults
    assert tools_sent("%%gemini --tools search url\nsecond") == [
        {"type": "google_search"},
        {"type": "url_context"},
    ]
    assert tools_sent("%%gemini\nthird") == [{"type": "google_search"}, {"type": "url_context"}]
    assert tools_sent("%%gemini -t other\nelsewhere") == [{"type": "code_execution"}]
    assert tools_sent("%%gemini --tools none\nfourth") is None
    assert tools_sent("%%gemini\nfifth") is None
    assert "tools none" in ip.run("%gemini status").stdout
    assert tools_sent("%%gemini --tools default\nsixth") == [{"type": "code_execution"}]
    ip.run("%config GeminiMagics.tools = []")
    assert tools_sent("%%gemini\nseventh") is None


def test_tools_of_a_failed_turn_do_not_stick(ip, emulator):
    emulator.enqueue(Reply.text("ok"), Reply.text("half", status="failed"), Reply.text("ok"))
    ip.run("%%gemini --tools search\none")
    with pytest.raises(Exception, match="failed"):
        ip.run("%%gemini --tools code\ntwo")
    ip.run("%%gemini\nthree")
    assert creates(emulator)[-1].body["tools"] == [{"type": "google_search"}]


def test_terminal_shows_plain_tool_lines_and_sources(ip, emulator):
    ip.shell.display_pub = DisplayPublisher()
    emulator.enqueue(grounded_reply(deltas=4))
    out = ip.run("%%gemini --tools search url\nWhat changed?").stdout
    assert "\n[tool] Searched: pandas 3.0 release notes\n" in out
    assert "[tool] Read: pandas.pydata.org/docs/whatsnew/v3.0.0.html\n" in out
    assert f"Sources:\n[1] What's new in 3.0 — {PANDAS}\n[2] Blog [post] — {BLOG}\n" in out


def test_offline_responder_demonstrates_each_tool_and_says_so(ip, emulator):
    ip.run("%config GeminiMagics.mcp_headers = {'w': {'Authorization': 'Bearer offline-secret-1'}}")
    cell = ip.run("%%gemini --tools search url code maps --mcp w=https://mcp.example.com/mcp\nPandas 3.0?")
    shown = markdown_of(cell)
    for line in (
        "[tool] Searched: Pandas 3.0?",
        "[tool] Read: example.org/offline-page/pandas-3-0",
        "[tool] Ran code",
        "offline: this code was not run",
        "[tool] Searched Maps: Pandas 3.0? → Example Place (offline)",
        "[tool] Called offline_echo on w",
        "tools were simulated: nothing was searched, fetched, looked up or run",
        "**Sources**",
    ):
        assert line in shown, line
    result = ip.user_ns["_gemini"]
    assert {call.name for call in result.tool_calls} == {
        "google_search",
        "url_context",
        "code_execution",
        "google_maps",
        "offline_echo",
    }
    assert len(result.sources) == 3
    assert {str(s.url).split("/")[2] for s in result.sources} <= {"example.com", "example.org"}


def test_chat_panel_tools_lines_and_sources(ip, emulator):
    emulator.enqueue(grounded_reply(deltas=3))
    with pytest.raises(UsageError, match="--tools nope"):
        ChatPanel(session=ip.magics.session, tools=["nope"])
    panel = ChatPanel(session=ip.magics.session, tools=["search"])
    try:
        assert panel.send("What changed in pandas 3.0?")
        assert panel.wait(10)
        assert creates(emulator)[0].body["tools"] == [{"type": "google_search"}]
        reply = panel.messages.children[-1]
        outputs = [o["data"] for child in reply.children for o in getattr(child, "outputs", ())]
        plain = "\n".join(str(o.get("text/plain", "")) for o in outputs)
        page = "\n".join(str(o.get("text/html", "")) for o in outputs)
        assert "[tool] Searched: pandas 3.0 release notes" in plain
        assert f"is the default.[[1]]({PANDAS})" in plain and "**Sources**" in plain
        assert f'<a href="{BLOG}"' in page
        assert wait_for(lambda: panel.last_result).sources[1].url == BLOG
    finally:
        panel.close()
        panel.wait(5)

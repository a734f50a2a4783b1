"""Built-in tools, offline: each requested tool is demonstrated with steps of the real wire shapes.

Nothing is searched, fetched, looked up or run. Sources are made up on reserved example domains
(example.com / example.org), code is shown but never executed, an MCP server is never contacted, and
the text says so. Everything is a pure function of the request, so replies are deterministic.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

Json = dict[str, Any]
OFFLINE_TOOLS_NOTE = (
    "*Offline emulator — tools were simulated: nothing was searched, fetched, looked up or run.*"
)
_URL = re.compile(r"https?://[^\s<>()\"']+")


def _slug(prompt: str) -> str:
    words = re.findall(r"[a-z0-9]+", prompt.lower())[:4]
    return "-".join(words) or "question"


def _query(prompt: str) -> str:
    flat = " ".join(prompt.split())
    return flat if len(flat) <= 60 else flat[:59].rstrip() + "…"


def _id(kind: str, prompt: str) -> str:
    return f"{kind}_{hashlib.sha256(prompt.encode()).hexdigest()[:8]}"


def tool_steps(request: Json, prompt: str) -> tuple[list[Json], Json | None]:
    """The tool steps for the built-in tools ``request`` asks for, and a cited text block saying what
    was simulated (None when no built-in tool was asked for)."""
    steps: list[Json] = []
    sentences: list[tuple[str, Json | None]] = []
    slug, query = _slug(prompt), _query(prompt)
    for tool in request.get("tools") or []:
        kind = tool.get("type")
        if kind == "google_search":
            call_id = _id("gs", prompt)
            steps += [
                {"type": "google_search_call", "id": call_id, "arguments": {"queries": [query]}},
                {
                    "type": "google_search_result",
                    "call_id": call_id,
                    "result": [{"search_suggestions": "offline: no search was made"}],
                },
            ]
            url = f"https://example.com/offline-search/{slug}"
            sentences.append(
                (
                    "A made-up search result stands in for Google Search. ",
                    _citation(url, "Offline search result"),
                )
            )
        elif kind == "url_context":
            call_id = _id("uc", prompt)
            asked = _URL.findall(prompt)
            urls = asked or [f"https://example.org/offline-page/{slug}"]
            # a page named in the prompt is not fetched offline: it is reported as an error, honestly
            results = [{"url": u, "status": "error" if asked else "success"} for u in urls]
            steps += [
                {"type": "url_context_call", "id": call_id, "arguments": {"urls": urls}},
                {"type": "url_context_result", "call_id": call_id, "result": results},
            ]
            note = (
                "Pages named in the prompt were not fetched offline. "
                if asked
                else "A made-up page was read. "
            )
            sentences.append((note, None if asked else _citation(urls[0], "Offline example page")))
        elif kind == "code_execution":
            call_id = _id("ce", prompt)
            code = f"# offline: shown, never run\nprint(len({query!r}))"
            steps += [
                {
                    "type": "code_execution_call",
                    "id": call_id,
                    "arguments": {"code": code, "language": "python"},
                },
                {
                    "type": "code_execution_result",
                    "call_id": call_id,
                    "result": "offline: this code was not run",
                },
            ]
            sentences.append(("Code was written but not run. ", None))
        elif kind == "google_maps":
            call_id = _id("gm", prompt)
            place = {
                "name": "Example Place (offline)",
                "place_id": "places/offline-example",
                "url": f"https://example.com/maps/{slug}",
            }
            steps += [
                {"type": "google_maps_call", "id": call_id, "arguments": {"queries": [query]}},
                {"type": "google_maps_result", "call_id": call_id, "result": [{"places": [place]}]},
            ]
            sentences.append(("A made-up place stands in for Google Maps. ", _place_citation(place)))
        elif kind == "mcp_server":
            name = str(tool.get("name") or "mcp")
            call_id = _id(f"mcp_{name}", prompt)
            steps += [
                {
                    "type": "mcp_server_tool_call",
                    "id": call_id,
                    "name": "offline_echo",
                    "server_name": name,
                    "arguments": {"text": query},
                },
                {
                    "type": "mcp_server_tool_result",
                    "call_id": call_id,
                    "name": "offline_echo",
                    "server_name": name,
                    "result": f"offline: the MCP server {name!r} was not contacted",
                },
            ]
            sentences.append((f"The MCP server {name} was not contacted. ", None))
    if not steps:
        return [], None
    return steps, _cited_block([(OFFLINE_TOOLS_NOTE + "\n\n", None), *sentences, ("\n\n", None)])


def _citation(url: str, title: str) -> Json:
    return {"type": "url_citation", "url": url, "title": title}


def _place_citation(place: Json) -> Json:
    return {
        "type": "place_citation",
        "name": place["name"],
        "place_id": place["place_id"],
        "url": place["url"],
    }


def _cited_block(sentences: list[tuple[str, Json | None]]) -> Json:
    """A text block whose sentences cite their sources with UTF-8 byte offsets, as the API sends them."""
    text, annotations = "", []
    for sentence, citation in sentences:
        start = len(text.encode("utf-8"))
        text += sentence
        if citation is not None:
            end = len(text.rstrip().encode("utf-8"))
            annotations.append({**citation, "start_index": start, "end_index": end})
    return {"type": "text", "text": text, "annotations": annotations}

"""Our SSE framing and cached-model decoding give exactly what the SDK's own parser gives.

The oracle is the SDK itself: its event-stream parser and decoder over the same bytes (in-process for
framing corner cases the emulator never sends), and its ``Stream`` over a real HTTP response from
the emulator.
"""

from __future__ import annotations

import json

import httpx
import pytest
from google import genai

from gemini_magics.core import decode, sdk
from gemini_magics.emulator import Reply
from gemini_magics.emulator.research import research_reply

from .support import TEST_KEY


def _sdk_events(body: bytes) -> list:
    """What SDK 3.4.0 yields for this body: its parser, its decoder, its ``[DONE]`` sentinel."""
    from google.genai._gaos.types.interactions import InteractionSSEStreamEvent
    from google.genai._gaos.utils.eventstreaming import stream_events
    from google.genai._gaos.utils.unmarshal_json_response import unmarshal_json_response

    response = httpx.Response(200, content=body)

    def decoder(raw: str):
        return unmarshal_json_response(InteractionSSEStreamEvent, response, raw, validate=False).data

    return list(stream_events(response, decoder, sentinel="[DONE]"))


def _our_events(body: bytes, chunk: int | None = None) -> list:
    chunks = [body] if chunk is None else [body[i : i + chunk] for i in range(0, len(body), chunk)]
    return list(decode.decode_stream(iter(chunks)))


def _same(ours: list, theirs: list) -> None:
    assert [type(e) for e in ours] == [type(e) for e in theirs]
    for mine, sdks in zip(ours, theirs, strict=True):
        if isinstance(sdks, str):
            assert mine == sdks
        else:
            assert mine.model_dump(mode="json") == sdks.model_dump(mode="json")


def _frame(payload: dict | str, *, event: str | None = "step.delta", nl: bytes = b"\n") -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    head = f"event: {event}".encode() + nl if event else b""
    return head + b"data: " + data.encode() + nl + nl


DELTA = {"event_type": "step.delta", "event_id": "e4", "index": 1, "delta": {"type": "text", "text": "Hé ✓"}}
CREATED = {"event_type": "interaction.created", "interaction": {"id": "v1_x", "status": "in_progress"}}
BODIES = {
    "lf": _frame(CREATED, event="interaction.created") + _frame(DELTA),
    "crlf": _frame(CREATED, nl=b"\r\n") + _frame(DELTA, nl=b"\r\n"),
    "cr": _frame(CREATED, nl=b"\r") + _frame(DELTA, nl=b"\r"),
    "mixed": _frame(CREATED, nl=b"\r\n") + _frame(DELTA, nl=b"\n") + _frame(DELTA, nl=b"\r"),
    "bom, comments, id and retry": b"\xef\xbb\xbf: keep-alive\n\nid: 7\nretry: 10\n" + _frame(DELTA),
    "event line says something else": _frame(CREATED, event="step.delta"),
    "data split over two lines": b'data: {"event_type": "step.stop",\ndata: "index": 1}\n\n',
    "no space after the colon": b'data:{"event_type":"step.stop","index":2}\n\n',
    "events without data are skipped": b"event: ping\n\nid: 3\n\n" + _frame(DELTA),
    "done ends the stream": _frame(DELTA) + b"event: done\ndata: [DONE]\n\n" + _frame(CREATED),
    "no event_type": _frame({"index": 1, "delta": {"type": "text", "text": "x"}}),
    "unknown event_type": _frame({"event_type": "interaction.in_progress", "interaction_id": "v1_x"}),
    "unknown delta": _frame({**DELTA, "delta": {"type": "hologram", "beams": 3}}),
    "null text": _frame({**DELTA, "delta": {"type": "text", "text": None}}),
    "delta without type": _frame({**DELTA, "delta": {"text": "abridged"}}),
    "extra fields": _frame({**DELTA, "service_tier": "flex", "metadata": {"total_usage": {"x": 1}}}),
    "not json": b"data: hello there\n\n",
    "last event without its blank line": _frame(CREATED) + b'data: {"event_type":"step.stop","index":0}',
}


@pytest.mark.parametrize("name", list(BODIES), ids=list(BODIES))
def test_framing_and_decoding_match_the_sdk(name):
    body = BODIES[name]
    expected = _sdk_events(body)
    _same(_our_events(body), expected)
    _same(_our_events(body, chunk=1), expected)  # whatever the chunking (a "\r\n" split in two, …)
    _same(_our_events(body, chunk=7), expected)


@pytest.mark.parametrize(
    "reply",
    [
        lambda: Reply.text("Alpha beta gamma. " * 30, thoughts=["Think. ", "More. "], deltas=25),
        lambda: Reply.text("Alpha beta. " * 10, deltas=8, malformed="null_text", start_content=True),
        lambda: Reply.function_call("get_weather", {"city": "Paris", "days": [1, 2]}),
        lambda: research_reply("TPUs", duration=0.0),
    ],
    ids=["text and thoughts", "malformed, content in step.start", "function call", "research"],
)
def test_a_real_stream_decodes_to_the_sdks_own_events(emulator, reply):
    """The same bytes from the emulator, read once: the SDK's ``Stream`` and our decoder agree."""
    client = genai.Client(api_key=TEST_KEY, http_options={"base_url": emulator.base_url})
    emulator.enqueue(reply())
    request = {"model": "gemini-3.5-flash", "input": "go", "stream": True}
    response = sdk.open_stream(client.interactions, "create", **request)
    try:
        body = response.read()
        theirs = list(response.parse())  # the SDK's own parser over the body it has kept
    finally:
        response.close()
    assert len(theirs) > 3
    _same(_our_events(body), theirs)
    _same(_our_events(body, chunk=100), theirs)


def test_the_cached_model_is_built_once():
    decode.decode_event(json.dumps(DELTA).encode())
    adapter = decode._adapter()
    decode.decode_event(json.dumps(CREATED).encode())
    assert decode._adapter() is adapter

"""A create request goes on the wire exactly as the SDK would send it, without its cost.

The SDK builds two pydantic model classes per ``interactions.create`` (about 10 ms of CPU); the
package serialises the body with one cached model and sends it through the SDK's own request
builder (:func:`gemini_magics.core.sdk.open_stream`). The oracle is the SDK itself: the same request
is sent both ways to the emulator (which validates every body against the SDK's request types), and
the bytes, path and headers each way put on the wire must be the same.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import types

from gemini_magics.core import sdk
from gemini_magics.core.functions import FunctionTool
from gemini_magics.core.request import TurnOptions, build_request
from gemini_magics.core.structured import OutputSchema
from gemini_magics.emulator import Reply

from .support import TEST_KEY, run_coroutine_on_its_own_thread

MODEL = "gemini-3-flash-preview"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(32)).decode("ascii")


@dataclasses.dataclass
class Verdict:
    label: str
    score: float
    tags: list[str]


def convert(amount: float, currency: str = "EUR") -> str:
    """Convert an amount of money."""
    return f"{amount} {currency}"


def _options(**changes: Any) -> TurnOptions:
    return dataclasses.replace(TurnOptions(model=MODEL, prompt="Label this review: très bien ✓"), **changes)


REQUESTS: dict[str, Any] = {
    "text": lambda parent: build_request(_options()),
    "attachments": lambda parent: build_request(
        _options(
            attachments=(
                {"type": "image", "data": PNG, "mime_type": "image/png"},
                {"type": "document", "uri": "https://example.com/paper.pdf", "mime_type": "application/pdf"},
            )
        )
    ),
    "tools": lambda parent: build_request(
        _options(
            tools=(
                {"type": "google_search"},
                {"type": "url_context"},
                {"type": "code_execution"},
                {
                    "type": "mcp_server",
                    "name": "weather",
                    "url": "https://mcp.example.com/mcp",
                    "headers": {"A": "b"},
                },
            ),
            functions=(FunctionTool.of(convert),),
        )
    ),
    "function results": lambda parent: build_request(
        _options(
            previous_interaction_id=parent["id"],
            input_steps=(
                {
                    "type": "function_result",
                    "call_id": parent["call_id"],
                    "name": "convert",
                    "result": "12 EUR",
                },
            ),
            functions=(FunctionTool.of(convert),),
        )
    ),
    "schema": lambda parent: build_request(_options(output_schema=OutputSchema.from_object(Verdict))),
    "json": lambda parent: build_request(_options(output_schema=OutputSchema.json_only())),
    "image options": lambda parent: build_request(
        _options(image_output={"aspect_ratio": "16:9", "image_size": "2K"})
    ),
    "system and config": lambda parent: build_request(
        _options(
            system="Answer in one word.",
            thinking="low",
            show_thoughts=True,
            temperature=0.2,
            max_output_tokens=64,
        )
    ),
    "previous interaction": lambda parent: build_request(
        _options(previous_interaction_id=parent["answered"])
    ),
    "agent in the background": lambda parent: build_request(
        _options(
            model=None,
            agent="deep-research-preview-04-2026",
            agent_config={"type": "deep-research", "thinking_summaries": "auto"},
        )
    ),
    "continuation": lambda parent: {
        **build_request(_options()),
        "continuation_token": "tok-1",
        "store": False,
    },
}


class Capture:
    """Wraps the client's transports (as a cassette recorder does) to keep every request sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def wrap(self, transport: Any, backend: Any, is_async: bool) -> Any:
        capture = self

        if is_async:

            class AsyncTap(backend.AsyncBaseTransport):  # type: ignore[misc,name-defined]
                async def handle_async_request(self, request: Any) -> Any:
                    capture.requests.append(request)
                    return await transport.handle_async_request(request)

            return AsyncTap()

        class Tap(backend.BaseTransport):  # type: ignore[misc,name-defined]
            def handle_request(self, request: Any) -> Any:
                capture.requests.append(request)
                return transport.handle_request(request)

        return Tap()

    def last(self) -> dict[str, Any]:
        request = self.requests[-1]
        kept = ("content-type", "accept", "x-goog-api-key", "user-agent", "x-goog-api-client")
        return {
            "method": request.method,
            "url": str(request.url),
            "headers": {name: request.headers.get(name) for name in kept},
            "body": request.content,
        }


@pytest.fixture
def client(emulator):
    capture = Capture()
    client = genai.Client(
        api_key=TEST_KEY,
        http_options=types.HttpOptions(
            base_url=emulator.base_url, retry_options=types.HttpRetryOptions(attempts=1)
        ),
    )
    sdk.wrap_transports(client, capture.wrap)
    emulator.responder = lambda body: Reply.text("ok")
    client.capture = capture  # type: ignore[attr-defined]
    return client


@pytest.fixture
def parent(client, emulator) -> dict[str, str]:
    """An interaction that ended asking for ``convert`` (the parent of the function results), and
    one that answered."""
    answered = client.interactions.create(model=MODEL, input="Hello.")
    emulator.enqueue(Reply.function_call("convert", {"amount": 12}))
    interaction = client.interactions.create(model=MODEL, input="Convert 12.")
    call = next(step for step in interaction.steps if step.type == "function_call")
    return {"id": interaction.id, "call_id": call.id, "answered": answered.id}


def _sdk_sends(client, request: dict[str, Any]) -> dict[str, Any]:
    try:
        for _ in client.interactions.create(**request, stream=True):
            pass
    except sdk.errors().APIStatusError as exc:
        return {**client.capture.last(), "error": (type(exc), str(exc))}
    return client.capture.last()


def _we_send(client, request: dict[str, Any]) -> dict[str, Any]:
    try:
        response = sdk.open_stream(client.interactions, "create", **request, stream=True)
    except sdk.errors().APIStatusError as exc:
        return {**client.capture.last(), "error": (type(exc), str(exc))}
    try:
        response.read()
    finally:
        response.close()
    return client.capture.last()


@pytest.mark.parametrize("name", list(REQUESTS))
def test_the_wire_body_is_the_one_the_sdk_sends(client, parent, name):
    """Same bytes, path and headers; a request the server refuses fails the same way both ways."""
    request = REQUESTS[name](parent)
    theirs = _sdk_sends(client, request)
    ours = _we_send(client, request)
    assert ours == theirs
    assert json.loads(ours["body"])["stream"] is True
    assert ("error" in ours) is (name == "continuation")  # the emulator knows no such token


def test_a_per_call_api_version_changes_the_path_alike(client):
    request = {**build_request(_options()), "api_version": "v1alpha"}
    theirs = _sdk_sends(client, request)
    ours = _we_send(client, request)
    assert ours == theirs
    assert "/v1alpha/interactions" in ours["url"]


def test_the_async_client_sends_the_same_bytes(client, parent):
    request = REQUESTS["tools"](parent)
    theirs = _sdk_sends(client, request)

    async def send() -> None:
        response = await sdk.aopen_stream(client.aio.interactions, "create", **request, stream=True)
        try:
            await response.http_response.aread()
        finally:
            await response.close()

    run_coroutine_on_its_own_thread(send)
    assert client.capture.last() == theirs


def test_a_per_call_timeout_reaches_the_request(client):
    response = sdk.open_stream(
        client.interactions, "create", **build_request(_options()), stream=True, timeout=7.5
    )
    response.close()
    assert client.capture.requests[-1].extensions["timeout"]["read"] == 7.5


def test_a_body_the_sdk_refuses_is_refused_before_sending(client):
    sent = len(client.capture.requests)
    with pytest.raises(ValueError, match="Cannot supply both 'model' and 'agent'"):
        sdk.open_stream(
            client.interactions, "create", model=MODEL, agent="deep-research", input="x", stream=True
        )
    with pytest.raises(TypeError, match="extra_body"):
        sdk.open_stream(client.interactions, "create", model=MODEL, input="x", stream=True, colour="red")
    assert len(client.capture.requests) == sent


def test_error_statuses_raise_the_sdks_own_exceptions(client, emulator):
    from gemini_magics.emulator import Fault

    emulator.enqueue(Fault.http(429, "resource_exhausted", "Slow down.", retry_after=3))
    with pytest.raises(sdk.errors().RateLimitError) as caught:
        sdk.open_stream(client.interactions, "create", **build_request(_options()), stream=True)
    assert caught.value.status_code == 429
    assert float(caught.value.response.headers["retry-after"]) == 3
    assert "Slow down." in str(caught.value)
    assert TEST_KEY not in str(caught.value)


def test_serialising_costs_a_fraction_of_the_sdks_way():
    """The reason this module exists: a batch row's create must not cost ~10 ms of CPU."""
    request = {**REQUESTS["tools"]({}), "stream": True}
    sdk.create_body(dict(request))  # the cached model is built on first use
    start = time.process_time()
    for _ in range(50):
        sdk.create_body(dict(request))
    ours = (time.process_time() - start) / 50
    from google.genai._gaos import models
    from google.genai._gaos.utils.serializers import marshal_json, unmarshal

    start = time.process_time()
    for _ in range(5):
        body = unmarshal({"body": request}, models.CreateInteractionRequest).body
        marshal_json(body, models.CreateInteractionRequestBody)
    theirs = (time.process_time() - start) / 5
    assert ours * 5 < theirs, f"ours {ours * 1000:.2f} ms, the SDK's {theirs * 1000:.2f} ms"


def test_parse_hands_over_the_sdks_own_stream(client, emulator):
    """``parse()`` on the opened response gives what the SDK's ``create(stream=True)`` gives."""
    request = build_request(_options())
    emulator.enqueue(Reply.text("Alpha beta.", deltas=3))
    theirs = [event.model_dump(mode="json") for event in client.interactions.create(**request, stream=True)]

    async def ours() -> list[dict[str, Any]]:
        emulator.enqueue(Reply.text("Alpha beta.", deltas=3))
        response = await sdk.aopen_stream(client.aio.interactions, "create", **request, stream=True)
        try:
            return [event.model_dump(mode="json") async for event in await response.parse()]
        finally:
            await response.close()

    def shape(events: list[dict[str, Any]]) -> list[tuple[str, Any]]:
        return [(e["event_type"], e.get("delta")) for e in events]

    mine = run_coroutine_on_its_own_thread(ours)
    assert len(mine) > 3
    assert shape(mine) == shape(theirs)

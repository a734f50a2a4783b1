"""The conformance checklist of api-facts.md §11, point by point, driven through the real SDK."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import re
import time
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import _interactions as gi

from gemini_magics.emulator import Fault, Reply, StepClock

from ..support import TEST_KEY as KEY
from ..support import wait_for

MODEL = "gemini-3.5-flash"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)


def wait_for_status(client: genai.Client, interaction_id: str, wanted: str) -> Any:
    def reached() -> Any:
        interaction = client.interactions.get(interaction_id)
        return interaction if interaction.status == wanted else None

    return wait_for(reached, 5, f"interaction {interaction_id} to be {wanted}")


# 1 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v1beta", "v1alpha", ""])
def test_01_all_four_routes_for_every_api_version(emulator, make_client, version):
    client = make_client(api_version=version)
    created = client.interactions.create(model=MODEL, input="hi")
    assert client.interactions.get(created.id).id == created.id
    client.interactions.cancel(created.id)
    client.interactions.delete(created.id)

    base = f"/{version}/interactions" if version else "/interactions"
    assert [(r.method, r.path) for r in emulator.requests] == [
        ("POST", base),
        ("GET", f"{base}/{created.id}"),
        ("POST", f"{base}/{created.id}/cancel"),
        ("DELETE", f"{base}/{created.id}"),
    ]


def test_01_double_slash_is_collapsed(emulator, make_client):
    client = make_client(base_url=emulator.base_url + "/v1beta", api_version="")
    assert client.interactions.create(model=MODEL, input="hi").status == "completed"
    assert emulator.requests[-1].path == "/v1beta//interactions"


def test_01_path_prefix_is_kept_and_required(make_emulator):
    emu = make_emulator(prefix="/gemini/")
    assert emu.base_url.endswith("/gemini")
    client = genai.Client(
        api_key=KEY,
        http_options={"base_url": emu.base_url + "/", "retry_options": {"attempts": 1}},
    )
    assert client.interactions.create(model=MODEL, input="hi").status == "completed"
    assert emu.requests[-1].path == "/gemini/v1/interactions"
    outside = httpx.post(
        emu.base_url.removesuffix("/gemini") + "/v1/interactions",
        json={"model": MODEL, "input": "hi"},
        headers={"x-goog-api-key": KEY},
    )
    assert outside.status_code == 404
    assert emu.schema_errors == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/models"), ("GET", "/v1/interactions"), ("PUT", "/v1/interactions/x"), ("GET", "/")],
)
def test_01_unknown_routes_get_a_gemini_shaped_404(emulator, raw, method, path):
    response = raw(method, path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["message"]


# 2 -------------------------------------------------------------------------------------


def test_02_wrong_key_raises_authentication_error_without_echoing_it(make_client):
    client = make_client(key="wrong-key-1234")
    with pytest.raises(gi.AuthenticationError) as info:
        client.interactions.create(model=MODEL, input="hi")
    assert info.value.status_code == 401
    assert info.value.body["error"]["code"] == "authentication"
    assert info.value.body["error"]["message"].startswith("API key not valid")
    assert "wrong-key-1234" not in info.value.response.text


def test_02_key_in_query_parameter_and_missing_key(emulator, raw):
    body = {"model": MODEL, "input": "hi"}
    via_query = raw("POST", "/v1/interactions", key=None, params={"key": KEY}, json=body)
    assert via_query.status_code == 200
    missing = raw("POST", "/v1/interactions", key=None, json=body)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "authentication"
    wrong = raw("GET", f"/v1/interactions/{via_query.json()['id']}", key="nope")
    assert wrong.status_code == 401


def test_02_without_a_configured_key_any_non_empty_key_is_accepted(make_emulator):
    emu = make_emulator(api_key=None)
    client = genai.Client(api_key="whatever", http_options={"base_url": emu.base_url})
    assert client.interactions.create(model=MODEL, input="hi").status == "completed"
    missing = httpx.post(emu.base_url + "/v1/interactions", json={"model": MODEL, "input": "x"})
    assert missing.status_code == 401


# 3 -------------------------------------------------------------------------------------


def test_03_success_is_exactly_http_200_with_json(emulator, raw):
    created = raw("POST", "/v1/interactions", json={"model": MODEL, "input": "hi"})
    interaction_id = created.json()["id"]
    responses = [
        created,
        raw("GET", f"/v1/interactions/{interaction_id}", params={"stream": "false"}),
        raw("POST", f"/v1/interactions/{interaction_id}/cancel"),
        raw("DELETE", f"/v1/interactions/{interaction_id}"),
    ]
    for response in responses:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert isinstance(response.json(), dict)


# 4 -------------------------------------------------------------------------------------


def test_04_interaction_resource_fields_and_timelines(emulator, client):
    emulator.enqueue(Reply.text("Hello!", thoughts=["Greeting back."]))
    created = client.interactions.create(model=MODEL, input="Hi there", system_instruction="Be brief.")
    body = emulator.requests[-1]  # the POST
    assert body.method == "POST"
    wire = created.to_dict()
    for key in ("id", "status", "object", "created", "updated", "steps", "usage", "model"):
        assert key in wire, key
    assert wire["object"] == "interaction"
    assert created.id.startswith("v1_")
    assert ISO_UTC.match(created.created) and ISO_UTC.match(created.updated)
    assert created.system_instruction == "Be brief."
    assert [step.type for step in created.steps] == ["thought", "model_output"]
    assert created.steps[0].signature

    fetched = client.interactions.get(created.id)
    assert [step.type for step in fetched.steps] == ["user_input", "thought", "model_output"]
    assert fetched.output_text == "Hello!"
    usage = fetched.usage
    assert usage.total_input_tokens > 0 and usage.total_output_tokens > 0
    assert usage.total_tokens == (
        usage.total_input_tokens + usage.total_output_tokens + usage.total_thought_tokens
    )


# 5 -------------------------------------------------------------------------------------

TEXT = {"type": "text", "text": "one block"}
HISTORY = [
    {"type": "user_input", "content": [{"type": "text", "text": "Hello"}]},
    {"type": "model_output", "content": [{"type": "text", "text": "Hi! How can I help?"}]},
    {"type": "user_input", "content": [{"type": "text", "text": "Capital of France?"}]},
]


@pytest.mark.parametrize(
    ("given", "wire", "timeline"),
    [
        (
            "plain text",
            "plain text",
            [{"type": "user_input", "content": [{"type": "text", "text": "plain text"}]}],
        ),
        (TEXT, TEXT, [{"type": "user_input", "content": [TEXT]}]),
        (
            [TEXT, TEXT],
            [{"type": "user_input", "content": [TEXT, TEXT]}],
            [{"type": "user_input", "content": [TEXT, TEXT]}],
        ),
        (HISTORY, HISTORY, HISTORY),
    ],
    ids=["string", "content-block", "content-list", "steps"],
)
def test_05_every_input_shape_the_sdk_sends(emulator, client, given, wire, timeline):
    created = client.interactions.create(model=MODEL, input=given)
    assert emulator.requests[-1].body["input"] == wire
    steps = emulator.interaction(created.id)["steps"]
    assert steps[: len(timeline)] == timeline
    assert steps[len(timeline)]["type"] == "model_output"


# 6 -------------------------------------------------------------------------------------


def test_06_sse_framing_on_the_wire(emulator):
    emulator.enqueue(Reply.text("streamed text", deltas=3))
    with httpx.stream(
        "POST",
        emulator.base_url + "/v1/interactions",
        json={"model": MODEL, "input": "hi", "stream": True},
        headers={"x-goog-api-key": KEY, "accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        text = response.read().decode()
    assert text.endswith("\n\n") and "[DONE]" not in text
    frames = text.split("\n\n")[:-1]
    assert len(frames) == 8  # created, status_update, start, 3 deltas, stop, completed
    for frame in frames:
        event_line, data_line = frame.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: ")
        payload = json.loads(data_line.removeprefix("data: "))
        assert payload["event_type"] == event_line.removeprefix("event: ")
        assert payload["event_id"]


# 7 -------------------------------------------------------------------------------------


def test_07_event_order_and_step_indexes(emulator, client):
    emulator.enqueue(Reply.text("answer text", deltas=4, thoughts=["first", "second"]))
    events = list(client.interactions.create(model=MODEL, input="q", stream=True))
    assert [e.event_type for e in events] == [
        "interaction.created",
        "interaction.status_update",
        "step.start",
        *["step.delta"] * 3,
        "step.stop",
        "step.start",
        *["step.delta"] * 4,
        "step.stop",
        "interaction.completed",
    ]
    step_events = [e for e in events if e.event_type.startswith("step.")]
    assert [e.index for e in step_events] == [0] * 5 + [1] * 6
    assert events[0].interaction.status == "in_progress"
    assert events[1].status == "in_progress"
    final = events[-1].interaction
    assert final.status == "completed" and final.model == MODEL and final.object == "interaction"
    assert final.usage.total_tokens > 0 and final.steps is None
    interaction_id = events[0].interaction.id
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.event_id.startswith(interaction_id) for e in events)


# 8 -------------------------------------------------------------------------------------


def test_08_every_delta_kind_parses_into_its_sdk_class(emulator, client):
    citation = {"type": "url_citation", "url": "https://cloud.google.com/tpu", "title": "TPU"}
    steps = [
        {"type": "thought", "summary": [{"type": "text", "text": "Plan the search."}]},
        {"type": "google_search_call", "id": "gs_1", "arguments": {"queries": ["tpu"]}},
        {"type": "google_search_result", "call_id": "gs_1", "result": [{"search_suggestions": "<p/>"}]},
        {
            "type": "code_execution_call",
            "id": "ce_1",
            "arguments": {"code": "print(1)", "language": "python"},
        },
        {"type": "code_execution_result", "call_id": "ce_1", "result": "1\n"},
        {"type": "url_context_call", "id": "u_1", "arguments": {"urls": ["https://example.com"]}},
        {
            "type": "url_context_result",
            "call_id": "u_1",
            "result": [{"url": "https://example.com", "status": "success"}],
        },
        {
            "type": "mcp_server_tool_call",
            "id": "m_1",
            "name": "calc",
            "server_name": "fin",
            "arguments": {"x": 1},
        },
        {"type": "mcp_server_tool_result", "call_id": "m_1", "name": "calc", "result": "ok"},
        {
            "type": "model_output",
            "content": [
                {"type": "text", "text": "TPUs [1].", "annotations": [citation]},
                {"type": "image", "data": base64.b64encode(PNG).decode(), "mime_type": "image/png"},
            ],
        },
        {"type": "function_call", "name": "lookup", "arguments": {"q": "tpu"}},
    ]
    emulator.enqueue(Reply(steps, status="requires_action", deltas=2))
    events = list(client.interactions.create(model=MODEL, input="q", stream=True))
    delta_classes = {type(e.delta).__name__ for e in events if e.event_type == "step.delta"}
    assert delta_classes == {
        "ThoughtSummaryDelta",
        "ThoughtSignatureDelta",
        "GoogleSearchCallDelta",
        "GoogleSearchResultDelta",
        "CodeExecutionCallDelta",
        "CodeExecutionResultDelta",
        "URLContextCallDelta",
        "URLContextResultDelta",
        "MCPServerToolCallDelta",
        "MCPServerToolResultDelta",
        "TextDelta",
        "TextAnnotationDelta",
        "ImageDelta",
        "ArgumentsDelta",
    }
    started = [type(e.step).__name__ for e in events if e.event_type == "step.start"]
    assert len(started) == len(steps) and not any(name.startswith("Unknown") for name in started)
    fetched = client.interactions.get(events[0].interaction.id)
    assert [s.type for s in fetched.steps] == ["user_input", *(s["type"] for s in steps)]
    assert fetched.status == "requires_action"


# 9 -------------------------------------------------------------------------------------


def test_09_resume_replays_strictly_after_last_event_id(emulator, client):
    emulator.enqueue(Reply.text("resumable", deltas=5))
    full = list(client.interactions.create(model=MODEL, input="q", stream=True))
    interaction_id = full[0].interaction.id
    for cut in (1, 4, len(full) - 1, len(full)):
        rest = client.interactions.get(interaction_id, stream=True, last_event_id=full[cut - 1].event_id)
        assert [e.event_id for e in rest] == [e.event_id for e in full[cut:]]
    assert emulator.requests[-1].query == {"last_event_id": full[-1].event_id, "stream": "true"}
    replay = list(client.interactions.get(interaction_id, stream=True))
    assert [e.event_id for e in replay] == [e.event_id for e in full]

    assert client.interactions.get(interaction_id).status == "completed"
    assert emulator.requests[-1].query == {"stream": "false"}
    with pytest.raises(gi.BadRequestError):
        client.interactions.get(interaction_id, stream=True, last_event_id="bogus:1")


# 10 ------------------------------------------------------------------------------------


def test_10_background_returns_in_progress_then_completes(emulator, client):
    emulator.enqueue(Reply.text("done later", deltas=5, delay=0.02))
    created = client.interactions.create(model=MODEL, input="q", background=True)
    assert created.status == "in_progress" and created.steps == []
    final = wait_for_status(client, created.id, "completed")
    assert final.status == "completed" and final.output_text == "done later"


def test_10_cancel_a_running_background_interaction(emulator, client):
    emulator.clock = clock = StepClock()
    emulator.enqueue(Reply.text("x" * 100, deltas=50, delay=0.05))
    created = client.interactions.create(model=MODEL, input="q", background=True)
    cancelled = client.interactions.cancel(created.id)
    assert cancelled.status == "cancelled"
    assert client.interactions.get(created.id).status == "cancelled"
    log = list(client.interactions.get(created.id, stream=True))
    assert [e.event_type for e in log[-2:]] == ["interaction.status_update", "interaction.completed"]
    assert log[-2].status == "cancelled" and log[-1].interaction.status == "cancelled"
    clock.advance(10)  # past the whole run: the cancelled run must not publish anything more
    wait_for(lambda: clock.waiters == 0, 5, "the cancelled run to stop")
    assert len(list(client.interactions.get(created.id, stream=True))) == len(log)


def test_10_streaming_get_follows_a_background_run_live(emulator, client):
    emulator.enqueue(Reply.text("live text", deltas=9, delay=0.01))
    created = client.interactions.create(model=MODEL, input="q", background=True)
    events = list(client.interactions.get(created.id, stream=True))
    assert events[0].event_type == "interaction.created"
    assert events[-1].interaction.status == "completed"
    text = "".join(e.delta.text for e in events if e.event_type == "step.delta")
    assert text == "live text"


def test_10_background_agent_with_stream(emulator, client):
    emulator.enqueue(Reply.text("A short report.", thoughts=["Searching."], deltas=3, delay=0.01))
    events = list(
        client.interactions.create(
            agent="deep-research-preview-04-2026",
            input="History of TPUs",
            background=True,
            stream=True,
            agent_config={"type": "deep-research", "thinking_summaries": "auto"},
        )
    )
    assert events[-1].interaction.status == "completed"
    assert events[-1].interaction.agent == "deep-research-preview-04-2026"
    assert any(getattr(e, "delta", None) and e.delta.type == "thought_summary" for e in events)


# 11 ------------------------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def test_11_function_call_and_function_result_round_trip(emulator, client):
    emulator.enqueue(
        Reply.function_call("get_weather", {"city": "Paris"}), Reply.text("It is 21°C in Paris.")
    )
    first = client.interactions.create(model=MODEL, input="Weather in Paris?", tools=[WEATHER_TOOL])
    assert first.status == "requires_action"
    call = first.steps[-1]
    assert call.type == "function_call" and call.name == "get_weather" and call.id
    assert call.arguments == {"city": "Paris"}

    result = {"type": "function_result", "call_id": call.id, "name": call.name, "result": {"temp_c": 21}}
    second = client.interactions.create(
        model=MODEL, previous_interaction_id=first.id, tools=[WEATHER_TOOL], input=[result]
    )
    assert second.status == "completed" and second.output_text == "It is 21°C in Paris."
    assert second.previous_interaction_id == first.id
    assert emulator.requests[-1].body["input"] == [result]
    assert emulator.interaction(second.id)["steps"][0] == result


def test_11_streamed_function_call_arguments_arrive_as_fragments(emulator, client):
    arguments = {"city": "Paris", "unit": "celsius", "days": [1, 2, 3]}
    emulator.enqueue(Reply.function_call("get_weather", arguments, deltas=4))
    events = list(client.interactions.create(model=MODEL, input="q", tools=[WEATHER_TOOL], stream=True))
    start = next(e for e in events if e.event_type == "step.start")
    assert start.step.name == "get_weather" and start.step.id
    fragments = [e.delta.arguments for e in events if e.event_type == "step.delta"]
    assert len(fragments) == 4 and json.loads("".join(fragments)) == arguments
    assert events[-1].interaction.status == "requires_action"


def test_11_parallel_calls_need_one_result_each_by_id_and_name(emulator, client):
    emulator.enqueue(
        Reply.function_calls([("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]),
        Reply.text("Both are warm."),
    )
    first = client.interactions.create(model=MODEL, input="Paris and Rome?", tools=[WEATHER_TOOL])
    calls = [step for step in first.steps if step.type == "function_call"]
    assert first.status == "requires_action" and len(calls) == 2 and calls[0].id != calls[1].id

    def result(call: Any, name: str | None = None) -> dict[str, Any]:
        return {"type": "function_result", "call_id": call.id, "name": name or call.name, "result": "21"}

    for bad in ([result(calls[0])], [result(calls[0]), result(calls[1], "other")], "and now?"):
        with pytest.raises(gi.BadRequestError, match="Invalid input received"):
            client.interactions.create(model=MODEL, previous_interaction_id=first.id, input=bad)
    second = client.interactions.create(
        model=MODEL, previous_interaction_id=first.id, input=[result(calls[1]), result(calls[0])]
    )
    assert second.output_text == "Both are warm."
    with pytest.raises(gi.BadRequestError, match="no function call is pending"):
        client.interactions.create(model=MODEL, previous_interaction_id=second.id, input=[result(calls[0])])


# 12 ------------------------------------------------------------------------------------


def test_12_unknown_interaction_ids_are_404_not_found(client):
    with pytest.raises(gi.NotFoundError) as info:
        client.interactions.get("v1_does-not-exist")
    assert info.value.body["error"]["code"] == "not_found"
    with pytest.raises(gi.NotFoundError) as info:
        client.interactions.create(model=MODEL, input="hi", previous_interaction_id="v1_nope")
    assert info.value.body["error"]["code"] == "not_found"


def test_12_unknown_model_is_404_model_not_found(client):
    with pytest.raises(gi.NotFoundError) as info:
        client.interactions.create(model="gemini-0.1-imaginary", input="hi")
    assert info.value.body["error"]["code"] == "model_not_found"


def test_12_unknown_body_field_is_400_parameter_unknown(client):
    with pytest.raises(gi.BadRequestError) as info:
        client.interactions.create(model=MODEL, input="hi", extra_body={"temprature": 0.2})
    assert info.value.body["error"]["code"] == "parameter_unknown"
    assert "temprature" in info.value.body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": MODEL, "agent": "deep-research-preview-04-2026", "input": "x"}, 400, "invalid_request"),
        ({"input": "x"}, 400, "invalid_request"),
        ({"model": MODEL}, 400, "invalid_request"),
        ({"model": MODEL, "input": 42}, 400, "invalid_request"),
        ({"agent": "deep-research-preview-04-2026", "input": "x"}, 400, "invalid_request"),
        ({"agent": "secret-agent", "input": "x", "background": True}, 404, "not_found"),
        ({"model": MODEL, "input": "x", "store": False, "background": True}, 400, "invalid_request"),
        ({"model": MODEL, "input": "x", "agent_config": {"type": "dynamic"}}, 400, "invalid_request"),
        ("not json{", 400, "invalid_request"),
    ],
)
def test_12_invalid_create_requests(emulator, raw, body, status, code):
    payload = {"content": body} if isinstance(body, str) else {"json": body}
    response = raw("POST", "/v1/interactions", **payload)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, gi.BadRequestError),
        (403, gi.PermissionDeniedError),
        (404, gi.NotFoundError),
        (429, gi.RateLimitError),
        (500, gi.InternalServerError),
        (503, gi.InternalServerError),
    ],
)
def test_12_scripted_faults_map_to_sdk_exceptions(emulator, client, status, exception):
    emulator.enqueue(Fault.http(status, "scripted_code", "Scripted failure"))
    with pytest.raises(exception) as info:
        client.interactions.create(model=MODEL, input="hi")
    assert info.value.status_code == status
    assert info.value.body == {"error": {"code": "scripted_code", "message": "Scripted failure"}}


# 13 ------------------------------------------------------------------------------------


def test_13_retry_after_header_is_sent(emulator, raw):
    emulator.enqueue(Fault.http(429, "rate_limit_exceeded", "Slow down", retry_after=1.5))
    response = raw("POST", "/v1/interactions", json={"model": MODEL, "input": "x"})
    assert response.status_code == 429 and response.headers["retry-after"] == "1.5"


def test_13_sdk_default_retries_honour_retry_after(emulator, make_client):
    emulator.enqueue(
        Fault.http(429, "rate_limit_exceeded", "Slow down", retry_after=0.05, times=2),
        Reply.text("finally"),
    )
    client = make_client(attempts=None)
    started = time.monotonic()
    result = client.interactions.create(model=MODEL, input="hi")
    elapsed = time.monotonic() - started
    assert result.output_text == "finally"
    assert [r.method for r in emulator.requests] == ["POST"] * 3
    # The SDK's own backoff would wait at least 0.375 + 0.75 s for two retries.
    assert elapsed < 1.0


# 14 ------------------------------------------------------------------------------------


def test_14_error_event_mid_stream_fails_the_interaction(emulator, client):
    emulator.enqueue(
        Reply.text(
            "partial answer", deltas=4, error_after=5, error_code="internal", error_message="Model overloaded"
        )
    )
    events = list(client.interactions.create(model=MODEL, input="q", stream=True))
    assert len(events) == 6
    error = events[-1]
    assert type(error).__name__ == "ErrorEvent" and error.event_type == "error" and error.event_id
    assert (error.error.code, error.error.message) == ("internal", "Model overloaded")
    stored = client.interactions.get(events[0].interaction.id)
    assert stored.status == "failed"
    assert [(e.code, e.message) for e in stored.errors] == [("internal", "Model overloaded")]
    replay = list(client.interactions.get(stored.id, stream=True))
    assert replay[-1].event_type == "error"


# 15 ------------------------------------------------------------------------------------


def test_15_delete_then_get_is_404(emulator, client):
    created = client.interactions.create(model=MODEL, input="hi")
    assert client.interactions.delete(created.id) is None
    with pytest.raises(gi.NotFoundError):
        client.interactions.get(created.id)
    with pytest.raises(gi.NotFoundError):
        client.interactions.delete(created.id)
    with pytest.raises(KeyError):
        emulator.interaction(created.id)


# 16 ------------------------------------------------------------------------------------


def test_16_image_output_and_an_edit_turn(emulator, client):
    emulator.enqueue(Reply.image(PNG, text="Here you go"), Reply.image(PNG[::-1] + PNG))
    image_format = {"type": "image", "aspect_ratio": "4:3", "image_size": "1K"}
    first = client.interactions.create(
        model="gemini-3.1-flash-image", input="A watercolor fox", response_format=image_format
    )
    assert first.output_image.mime_type == "image/png"
    assert base64.b64decode(first.output_image.data) == PNG
    assert first.output_text == "Here you go"
    second = client.interactions.create(
        model="gemini-3.1-flash-image", previous_interaction_id=first.id, input="Warmer light"
    )
    assert second.previous_interaction_id == first.id
    assert base64.b64decode(second.output_image.data) == PNG[::-1] + PNG


def test_16_streamed_image_arrives_as_an_image_delta(emulator, client):
    emulator.enqueue(Reply.image(PNG))
    events = list(client.interactions.create(model="gemini-3-pro-image", input="x", stream=True))
    images = [e.delta for e in events if e.event_type == "step.delta"]
    assert [type(d).__name__ for d in images] == ["ImageDelta"]
    assert base64.b64decode(images[0].data) == PNG and images[0].mime_type == "image/png"


# 17 ------------------------------------------------------------------------------------


def test_17_include_input_fills_input_only_when_asked(emulator, client):
    created = client.interactions.create(model=MODEL, input="remember me")
    assert created.input is None
    assert client.interactions.get(created.id).input is None
    assert client.interactions.get(created.id, include_input=True).input == "remember me"
    assert emulator.requests[-1].query == {"include_input": "true", "stream": "false"}


# 18 ------------------------------------------------------------------------------------


def test_18_requires_continuation_is_never_emitted(emulator, raw):
    with pytest.raises(ValueError, match="requires_continuation"):
        Reply.text("x", status="requires_continuation")
    created = raw("POST", "/v1/interactions", json={"model": MODEL, "input": "x"})
    assert created.json()["status"] == "completed"
    hop = {"model": MODEL, "continuation_token": "t", "previous_interaction_id": created.json()["id"]}
    follow_up = raw("POST", "/v1/interactions", json=hop)
    assert follow_up.status_code == 400
    assert follow_up.json()["error"]["code"] == "invalid_request"


# 19 ------------------------------------------------------------------------------------


def test_19_async_client_behaves_identically(emulator, client, make_client):
    emulator.enqueue(
        Reply.text("async hello", deltas=3),
        Reply.text("streamed", deltas=2),
        Reply.text("background", deltas=40, delay=0.05),
    )

    async def scenario() -> None:
        interactions = client.aio.interactions
        created = await interactions.create(model=MODEL, input="hi")
        assert created.output_text == "async hello"

        stream = await interactions.create(model=MODEL, input="hi", stream=True)
        events = [event async for event in stream]
        assert events[-1].interaction.status == "completed"
        resumed = await interactions.get(
            events[0].interaction.id, stream=True, last_event_id=events[2].event_id
        )
        assert [e.event_id async for e in resumed] == [e.event_id for e in events[3:]]

        fetched = await interactions.get(created.id)
        assert [s.type for s in fetched.steps] == ["user_input", "model_output"]

        running = await interactions.create(model=MODEL, input="hi", background=True)
        assert running.status == "in_progress"
        assert (await interactions.cancel(running.id)).status == "cancelled"

        assert await interactions.delete(created.id) is None
        with pytest.raises(gi.NotFoundError):
            await interactions.get(created.id)
        # Keep a reference: a Client garbage-collected mid-call closes its HTTP client.
        stranger = make_client(key="bad")
        with pytest.raises(gi.AuthenticationError):
            await stranger.aio.interactions.create(model=MODEL, input="hi")

    # A fresh thread has no event loop; Playwright's sync API may own the main thread's one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, scenario()).result(timeout=60)

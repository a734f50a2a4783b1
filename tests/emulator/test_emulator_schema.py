"""The strict validator catches what the SDK's lenient parser would swallow."""

from __future__ import annotations

import pytest

from gemini_magics.emulator import Reply
from gemini_magics.emulator.schema import validate_event, validate_interaction

GOOD_INTERACTION = {
    "id": "v1_x",
    "object": "interaction",
    "status": "completed",
    "model": "gemini-3.5-flash",
    "created": "2026-01-01T00:00:00Z",
    "updated": "2026-01-01T00:00:00Z",
    "steps": [
        {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
        {"type": "thought", "signature": "c2ln", "summary": [{"type": "text", "text": "t"}]},
        {"type": "function_call", "id": "f", "name": "n", "arguments": {}, "signature": "c2ln"},
    ],
    "usage": {"total_tokens": 3},
}


def test_a_good_interaction_passes():
    assert validate_interaction(GOOD_INTERACTION) == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"object": None}, "object"),
        ({"status": "requires_continuation"}, "requires_continuation"),
        ({"status": "done"}, "'done'"),
        ({"model": "gemini-0"}, "'gemini-0'"),
        ({"surprise": 1}, "surprise"),
        ({"steps": [{"type": "mystery_step"}]}, "UnknownStep"),
        ({"steps": [{"type": "model_output", "content": [{"type": "text"}]}]}, "text"),
        ({"steps": [{"type": "model_output", "content": [{"type": "text", "text": "x", "y": 1}]}]}, "'y'"),
        ({"steps": [{"type": "thought", "signature": "c2ln", "extra": 1}]}, "extra"),
        ({"usage": {"total_tokens": "many"}}, "total_tokens"),
    ],
)
def test_interaction_problems_are_reported(change, complaint):
    broken = {**GOOD_INTERACTION, **change}
    broken = {k: v for k, v in broken.items() if v is not None}
    problems = validate_interaction(broken)
    assert problems and any(complaint in p for p in problems), problems


def test_missing_required_interaction_keys_are_reported():
    assert any("'usage'" in p for p in validate_interaction({"id": "x", "status": "completed"}))


@pytest.mark.parametrize(
    "event",
    [
        {
            "event_type": "step.start",
            "event_id": "e",
            "index": 0,
            "step": {"type": "function_call", "id": "f", "name": "n"},
        },
        {
            "event_type": "step.delta",
            "event_id": "e",
            "index": 0,
            "delta": {"type": "arguments_delta", "arguments": "{"},
        },
        {
            "event_type": "interaction.status_update",
            "event_id": "e",
            "interaction_id": "x",
            "status": "in_progress",
        },
        {"event_type": "error", "event_id": "e", "error": {"code": "internal", "message": "m"}},
    ],
)
def test_good_events_pass(event):
    assert validate_event(event) == []


@pytest.mark.parametrize(
    ("event", "complaint"),
    [
        ({"event_id": "e", "delta": {}}, "event_type"),
        ({"event_type": "step.stop", "index": 0}, "event_id"),
        ({"event_type": "interaction.in_progress", "event_id": "e"}, "UnknownInteractionSSEEvent"),
        (
            {"event_type": "step.delta", "event_id": "e", "index": 0, "delta": {"type": "txt", "text": "x"}},
            "UnknownStepDeltaData",
        ),
        ({"event_type": "step.delta", "event_id": "e", "index": 0, "delta": {"type": "text"}}, "text"),
        (
            {
                "event_type": "step.delta",
                "event_id": "e",
                "index": 0,
                "delta": {"type": "image", "mime_type": "image/svg"},
            },
            "image/svg",
        ),
        (
            {
                "event_type": "step.start",
                "event_id": "e",
                "index": 0,
                "step": {"type": "function_call", "args": 1},
            },
            "args",
        ),
        ({"event_type": "step.stop", "event_id": "e"}, "index"),
        (
            {
                "event_type": "interaction.completed",
                "event_id": "e",
                "interaction": {"id": "x", "status": "finished"},
            },
            "finished",
        ),
    ],
)
def test_event_problems_are_reported(event, complaint):
    problems = validate_event(event)
    assert problems and any(complaint in p for p in problems), problems


def test_a_validating_emulator_records_what_it_emitted_wrongly(emulator, client):
    bad_block = {"type": "text", "text": "x", "colour": "red"}
    svg = {"type": "image", "data": "PHN2Zy8+", "mime_type": "image/svg+xml"}
    emulator.enqueue(
        Reply([{"type": "model_output", "content": [bad_block]}]),
        Reply([{"type": "model_output", "content": [svg]}]),
    )
    client.interactions.create(model="gemini-3.5-flash", input="x")
    unary_errors = emulator.schema_errors
    list(client.interactions.create(model="gemini-3.5-flash", input="x", stream=True))
    stream_errors = emulator.take_schema_errors()[len(unary_errors) :]
    assert unary_errors and all("colour" in e for e in unary_errors)
    assert stream_errors and all("image/svg+xml" in e for e in stream_errors)
    assert any(e.startswith("step.delta event") for e in stream_errors)


def test_a_non_validating_emulator_records_nothing(make_emulator, make_client):
    emu = make_emulator(validate=False)
    emu.enqueue(Reply([{"type": "model_output", "content": [{"type": "text", "text": "x", "c": 1}]}]))
    client = make_client(base_url=emu.base_url)  # held: a collected client closes its connection
    client.interactions.create(model="gemini-3.5-flash", input="x")
    assert emu.schema_errors == []


# -- requests are checked as deeply as responses ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"generation_config": {"temperature": "hot"}}, "generation_config.temperature"),
        ({"generation_config": {"thinking_level": "ultra"}}, "'ultra' is not a value the SDK declares"),
        ({"generation_config": {"thinking_budget": 5}}, "undeclared field(s) ['thinking_budget']"),
        (
            {"input": [{"type": "user_input", "content": [{"type": "imag", "data": "eA=="}]}]},
            "not recognised by the SDK (UnknownContent)",
        ),
        ({"input": [{"type": "user_input", "content": [{"type": "text"}]}]}, "text: Field required"),
        ({"tools": [{"type": "google_serch"}]}, "request.tools[0]: not recognised by the SDK"),
    ],
    ids=["wrong-type", "unknown-enum", "nested-unknown-field", "bad-block", "missing-text", "bad-tool"],
)
def test_a_malformed_create_request_is_reported(emulator, raw, body, complaint):
    request = {"model": "gemini-3.5-flash", "input": "hi", **body}
    assert raw("POST", "/v1/interactions", json=request).status_code == 200  # answered, and reported
    problems = emulator.take_schema_errors()  # the fixture would otherwise fail this test
    # (the interaction echoes generation_config, so its response may be reported too)
    assert any(p.startswith("create request") and complaint in p for p in problems), problems


def test_a_well_formed_request_from_the_sdk_is_not_reported(emulator, client):
    client.interactions.create(
        model="gemini-3.5-flash",
        input=[{"type": "text", "text": "hi"}, {"type": "image", "data": "eA==", "mime_type": "image/png"}],
        system_instruction="Be terse.",
        generation_config={"thinking_level": "low", "thinking_summaries": "auto", "max_output_tokens": 64},
        tools=[{"type": "google_search"}],
    )
    assert emulator.schema_errors == []


def test_unknown_top_level_fields_still_answer_400(emulator, raw):
    response = raw("POST", "/v1/interactions", json={"model": "gemini-3.5-flash", "input": "hi", "colour": 1})
    assert response.status_code == 400 and response.json()["error"]["code"] == "parameter_unknown"
    assert emulator.schema_errors == []

"""events.py on the SDK's own parsed objects: unknown types are skipped, steps are rebuilt."""

from __future__ import annotations

import pydantic
import pytest
from google.genai import interactions as sdk_types

from gemini_magics.core import events as ev
from gemini_magics.core.client import Connection
from gemini_magics.emulator import Reply

from .support import TEST_KEY, creates

EVENT = pydantic.TypeAdapter(sdk_types.InteractionSSEEvent)


def _parsed(*payloads: dict) -> list:
    return [EVENT.validate_python(p) for p in payloads]


def test_unknown_events_steps_and_deltas_are_skipped():
    stream = _parsed(
        {
            "event_type": "interaction.created",
            "event_id": "e1",
            "interaction": {"id": "v1_x", "status": "in_progress"},
        },
        {"event_type": "interaction.in_progress", "event_id": "e2", "interaction_id": "v1_x"},
        {"event_type": "step.start", "event_id": "e3", "index": 0, "step": {"type": "hologram_call"}},
        {
            "event_type": "step.delta",
            "event_id": "e4",
            "index": 0,
            "delta": {"type": "hologram_delta", "beams": 3},
        },
        {"event_type": "step.stop", "event_id": "e5", "index": 0},
        {"event_type": "step.start", "event_id": "e6", "index": 1, "step": {"type": "model_output"}},
        {"event_type": "step.delta", "event_id": "e7", "index": 1, "delta": {"type": "text", "text": "Hi"}},
        {"event_type": "step.stop", "event_id": "e8", "index": 1},
        {
            "event_type": "interaction.completed",
            "event_id": "e9",
            "interaction": {"id": "v1_x", "status": "completed", "usage": {"total_tokens": 3}},
        },
    )
    normaliser = ev.StreamNormaliser()
    out = [e for raw in stream for e in normaliser.feed(raw)]
    texts = [e.text for e in out if isinstance(e, ev.TextDelta)]
    assert texts == ["Hi"]
    assert out[0] == ev.Started("v1_x")
    finished = out[-1]
    assert isinstance(finished, ev.Finished) and finished.status == "completed"
    assert finished.steps[-1] == {"type": "model_output", "content": [{"type": "text", "text": "Hi"}]}
    assert normaliser.last_event_id == "e9" and normaliser.terminal


def test_function_call_arguments_are_reassembled_from_fragments(emulator):
    from google import genai

    client = genai.Client(api_key=TEST_KEY, http_options={"base_url": emulator.base_url})
    emulator.enqueue(Reply.function_call("get_weather", {"city": "Paris", "days": [1, 2]}))
    request = {"model": "gemini-3.5-flash", "input": "weather?"}
    out = list(ev.stream_events(client.interactions, request, max_resumes=0, translate=lambda e: e))
    finished = out[-1]
    assert finished.status == "requires_action"
    call = next(step for step in finished.steps if step["type"] == "function_call")
    assert call["name"] == "get_weather" and call["arguments"] == {"city": "Paris", "days": [1, 2]}
    assert any(isinstance(e, ev.ToolActivity) and e.kind == "function_call" for e in out)


def test_error_event_becomes_our_exception():
    (error,) = _parsed({"event_type": "error", "error": {"code": "internal", "message": "boom"}})
    with pytest.raises(ev.GeminiAPIError, match="internal: boom"):
        list(ev.StreamNormaliser().feed(error))


def test_connection_reset_mid_stream_is_resumed(ip, emulator):
    text = "".join(f"Part {n}. " for n in range(20))
    emulator.enqueue(Reply.text(text, deltas=20, drop_after=8, drop_mode="reset"))
    ip.run("%%gemini\nQ")
    assert ip.user_ns["_gemini"].text == text
    assert [r.method for r in emulator.requests] == ["POST", "GET"]
    assert len(creates(emulator)) == 1


def test_key_lookup_follows_the_sdk(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key-1111")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-2222")
    connection = Connection()
    key = connection.api_key()
    assert key.origin == "$GOOGLE_API_KEY" and key.masked == "…2222"
    assert "google-key" not in repr(key)
    connection.login("typed-key-3333")
    assert connection.api_key().origin == "%gemini login"
    monkeypatch.delenv("GOOGLE_API_KEY")
    monkeypatch.delenv("GEMINI_API_KEY")
    assert Connection().api_key() is None

"""Delivery faults, retries, speed, request records and the Emulator object's own API."""

from __future__ import annotations

import contextlib
import json
import time

import httpx
import pytest
from google import genai
from google.genai import _interactions as gi

from gemini_magics.emulator import Emulator, Fault, RecordedRequest, Reply

from ..support import TEST_KEY as KEY
from ..support import wait_for

MODEL = "gemini-3.5-flash"


def consume(stream) -> tuple[list, Exception | None]:
    """Iterate a stream to its end; return the events and the exception that ended it, if any."""
    events = []
    try:
        for event in stream:
            events.append(event)
    except gi.APIConnectionError as exc:
        return events, exc
    return events, None


@pytest.mark.parametrize(("mode", "raises"), [("eof", False), ("reset", True)])
def test_drop_after_then_resume_yields_exactly_the_rest(emulator, client, mode, raises):
    emulator.enqueue(Reply.text("a fairly long answer", deltas=6, drop_after=4, drop_mode=mode))
    first, error = consume(client.interactions.create(model=MODEL, input="q", stream=True))
    assert len(first) == 4
    assert (error is not None) == raises
    assert first[-1].event_type != "interaction.completed"

    interaction_id = first[0].interaction.id
    rest, error = consume(
        client.interactions.get(interaction_id, stream=True, last_event_id=first[-1].event_id)
    )
    assert error is None
    assert rest[-1].event_type == "interaction.completed"
    full = list(client.interactions.get(interaction_id, stream=True))
    assert [e.event_id for e in first + rest] == [e.event_id for e in full]
    text = "".join(e.delta.text for e in first + rest if e.event_type == "step.delta")
    assert text == "a fairly long answer"


def test_drop_after_applies_to_the_first_delivery_of_a_background_run(emulator, client):
    emulator.enqueue(Reply.text("background text", deltas=5, delay=0.01, drop_after=3))
    created = client.interactions.create(model=MODEL, input="q", background=True)
    first, _ = consume(client.interactions.get(created.id, stream=True))
    assert len(first) == 3
    second, _ = consume(client.interactions.get(created.id, stream=True))
    assert second[-1].event_type == "interaction.completed"


def test_stall_after_pauses_the_stream_then_continues(emulator, client):
    emulator.enqueue(Reply.text("slow", deltas=4, stall_after=3, stall_seconds=0.5))
    arrivals = []
    for event in client.interactions.create(model=MODEL, input="q", stream=True):
        arrivals.append((time.monotonic(), event))
    gaps = [later[0] - earlier[0] for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert gaps[2] >= 0.45  # between event 3 and event 4
    assert max(gaps[:2] + gaps[3:]) < 0.3
    assert arrivals[-1][1].interaction.status == "completed"


def test_delay_paces_the_stream(emulator, client):
    emulator.enqueue(Reply.text("paced", deltas=5, delay=0.05))
    started = time.monotonic()
    events = list(client.interactions.create(model=MODEL, input="q", stream=True))
    assert time.monotonic() - started >= 0.05 * (len(events) - 1) * 0.9


def test_fault_with_default_retries_counts_every_attempt(emulator, make_client):
    client = make_client(attempts=None)
    emulator.enqueue(Fault.http(503, "unavailable", "Try later", retry_after=0.01, times=4))
    emulator.enqueue(Reply.text("fifth time lucky"))
    assert client.interactions.create(model=MODEL, input="x").output_text == "fifth time lucky"
    assert len(emulator.requests) == 5

    emulator.reset()
    emulator.enqueue(Fault.http(500, retry_after=0.01, times=5), Reply.text("never reached"))
    with pytest.raises(gi.InternalServerError):
        client.interactions.create(model=MODEL, input="x")
    assert [r.method for r in emulator.requests] == ["POST"] * 5


def test_faults_only_answer_create_requests(emulator, client):
    created = client.interactions.create(model=MODEL, input="x")
    emulator.enqueue(Fault.http(500))
    assert client.interactions.get(created.id).id == created.id
    with pytest.raises(gi.InternalServerError):
        client.interactions.create(model=MODEL, input="x")


def test_fifty_thousand_characters_in_two_thousand_deltas(emulator, http):
    # Timed on the wire: the SDK itself needs ~1 ms per event (it builds a pydantic model
    # class per event), so an SDK-side timing would measure the SDK, not the emulator.
    text = "".join(f"{i:05d}|" for i in range(50_000 // 6)) + "end"
    emulator.enqueue(Reply.text(text, deltas=2000))
    started = time.monotonic()
    with http.stream(
        "POST",
        emulator.base_url + "/v1/interactions",
        json={"model": MODEL, "input": "long", "stream": True},
        headers={"x-goog-api-key": KEY},
    ) as response:
        payloads = [
            json.loads(line[len("data: ") :]) for line in response.iter_lines() if line.startswith("data: ")
        ]
    assert time.monotonic() - started < 0.8
    deltas = [p["delta"]["text"] for p in payloads if p["event_type"] == "step.delta"]
    assert len(deltas) == 2000 and "".join(deltas) == text
    assert len({len(delta) for delta in deltas}) <= 2  # roughly equal pieces


def test_the_api_key_appears_nowhere_in_the_records(emulator, client, http):
    created = client.interactions.create(model=MODEL, input="x")
    client.interactions.get(created.id)
    http.get(f"{emulator.base_url}/v1/interactions/{created.id}", params={"key": KEY})
    http.get(f"{emulator.base_url}/v1/interactions/{created.id}", headers={"Authorization": KEY})
    records = emulator.requests
    assert len(records) == 4 and all(isinstance(r, RecordedRequest) for r in records)
    assert KEY not in repr(records)
    assert records[0].headers["x-goog-api-key"] == "<redacted>"
    assert records[2].query == {"key": "<redacted>"}
    assert records[0].headers["content-type"] == "application/json"
    assert records[0].body == {"model": MODEL, "input": "x"}


def test_requests_is_a_snapshot_in_arrival_order(emulator, client):
    created = client.interactions.create(model=MODEL, input="x")
    snapshot = emulator.requests
    client.interactions.get(created.id)
    assert len(snapshot) == 1 and len(emulator.requests) == 2
    assert [r.method for r in emulator.requests] == ["POST", "GET"]


def test_store_false_is_not_retrievable(emulator, client):
    created = client.interactions.create(model=MODEL, input="x", store=False)
    assert created.status == "completed"
    with pytest.raises(gi.NotFoundError):
        client.interactions.get(created.id)


def test_reset_forgets_queue_requests_and_interactions(emulator, client):
    created = client.interactions.create(model=MODEL, input="x")
    emulator.enqueue(Fault.http(500))
    emulator.reset()
    assert emulator.requests == []
    with pytest.raises(KeyError):
        emulator.interaction(created.id)
    assert client.interactions.create(model=MODEL, input="x").status == "completed"


def test_enqueue_rejects_other_objects(emulator):
    with pytest.raises(TypeError):
        emulator.enqueue("hello")  # type: ignore[arg-type]


def test_stop_is_idempotent_and_ends_live_streams(make_emulator):
    emu = make_emulator()
    emu.enqueue(Reply.text("x" * 200, deltas=200, delay=0.05))
    client = genai.Client(api_key=KEY, http_options={"base_url": emu.base_url})
    stream = client.interactions.create(model=MODEL, input="q", stream=True)
    next(iter(stream))
    started = time.monotonic()
    emu.stop()
    emu.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(RuntimeError):
        _ = emu.base_url


def test_context_manager_starts_and_stops():
    with Emulator() as emu:
        url = emu.base_url
        assert httpx.get(url + "/v1/interactions/x", headers={"x-goog-api-key": "k"}).status_code == 404
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/v1/interactions/x", timeout=2)


def test_invalid_reply_arguments_are_rejected():
    with pytest.raises(ValueError):
        Reply([{"type": "user_input", "content": []}])
    with pytest.raises(ValueError):
        Reply.text("x", deltas=0)
    with pytest.raises(ValueError):
        Fault.http(200)


def test_scripted_usage_overrides_the_estimate(emulator, client):
    emulator.enqueue(Reply.text("counted", usage={"total_output_tokens": 7, "total_tokens": 99}))
    created = client.interactions.create(model=MODEL, input="x")
    assert (created.usage.total_output_tokens, created.usage.total_tokens) == (7, 99)
    assert created.usage.total_input_tokens == 1


# -- connections ---------------------------------------------------------------------------------
def stream_text(http: httpx.Client, emulator: Emulator, prompt: str) -> str:
    with http.stream(
        "POST",
        f"{emulator.base_url}/v1beta/interactions",
        headers={"x-goog-api-key": KEY},
        json={"model": MODEL, "input": prompt, "stream": True},
    ) as response:
        return response.read().decode()


def test_a_connection_serves_one_stream_after_another(emulator):
    emulator.enqueue(Reply.text("first"), Reply.text("second"))
    with httpx.Client() as http:
        first = stream_text(http, emulator, "one")
        second = stream_text(http, emulator, "two")
    assert '"text":"first"' in first.replace(" ", "")
    assert '"text":"second"' in second.replace(" ", "")
    assert emulator.connections_opened == 1


@pytest.mark.parametrize(("mode", "connections"), [("eof", 1), ("reset", 2)])
def test_a_clean_drop_keeps_its_connection_and_a_cut_one_ends_it(emulator, mode, connections):
    emulator.enqueue(Reply.text("cut short", deltas=4, drop_after=2, drop_mode=mode), Reply.text("whole"))
    with httpx.Client() as http:
        with pytest.raises(httpx.RemoteProtocolError) if mode == "reset" else contextlib.nullcontext():
            stream_text(http, emulator, "one")
        assert "whole" in stream_text(http, emulator, "two")
    assert emulator.connections_opened == connections


def test_stop_ends_idle_connections_at_once(make_emulator):
    emulator = make_emulator()
    emulator.enqueue(Reply.text("kept alive"))
    server = emulator._server
    assert server is not None
    with httpx.Client() as http:
        stream_text(http, emulator, "one")
        assert emulator.open_connections == 1  # idle in the client's pool, its server thread waiting
        emulator.stop()
        # the handler's own socket timeout is 60 s: only the stop can end its wait this soon
        wait_for(lambda: server.open_connections == 0, timeout=10, message="the idle connection to end")


def test_hold_open_keeps_the_body_open_after_the_last_event(emulator):
    emulator.enqueue(Reply.text("never ends", hold_open=True))
    request = {"model": MODEL, "input": "q", "stream": True}
    headers = {"x-goog-api-key": KEY}
    url = f"{emulator.base_url}/v1beta/interactions"
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=2)) as http,
        http.stream("POST", url, headers=headers, json=request) as response,
    ):
        lines = response.iter_lines()
        assert any(line.startswith("data:") and "interaction.completed" in line for line in lines)
        with pytest.raises(httpx.ReadTimeout):  # the last event came; the end of the body never does
            for line in lines:
                assert line == "", "nothing comes after the last event"

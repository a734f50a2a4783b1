"""The emulator's real-traffic shapes, checked on the wire (raw SSE) and through the SDK."""

from __future__ import annotations

import json
import threading

import pytest
from google.genai import _interactions as gi

from gemini_magics.emulator import Reply, StepClock

from ..support import wait_for

MODEL = "gemini-3.5-flash"


def _frames(body: str) -> list[tuple[str, str]]:
    """(event line, data line) of each SSE frame."""
    frames = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in lines:
            frames.append((lines.get("event", ""), lines["data"]))
    return frames


def _stream(raw) -> list[dict]:
    body = {"model": MODEL, "input": "q", "stream": True}
    response = raw("POST", "/v1/interactions", json=body)
    assert response.status_code == 200
    return [json.loads(data) for _, data in _frames(response.text) if data != "[DONE]"]


def test_without_event_ids_no_event_carries_one(emulator, raw):
    emulator.enqueue(Reply.text("no ids here", deltas=3, event_ids=False))
    events = _stream(raw)
    assert events and all("event_id" not in e for e in events)


def test_content_inside_step_start_is_valid_and_not_repeated(emulator, client):
    emulator.enqueue(Reply.text("abcdef", thoughts=["t1", "t2"], deltas=3, start_content=True))
    events = list(client.interactions.create(model=MODEL, input="q", stream=True))
    starts = [e for e in events if e.event_type == "step.start"]
    assert starts[0].step.summary[0].text == "t1"
    assert starts[1].step.content[0].text == "ab"
    texts = [e.delta.text for e in events if e.event_type == "step.delta" and e.delta.type == "text"]
    assert texts == ["cd", "ef"]


@pytest.mark.parametrize(("resume_from", "first_replayed"), [("after", 5), ("at", 4), ("start", 1)])
def test_resume_from_picks_where_a_replay_starts(emulator, client, resume_from, first_replayed):
    emulator.enqueue(Reply.text("abcdef", deltas=6, drop_after=4, resume_from=resume_from))
    first = list(client.interactions.create(model=MODEL, input="q", stream=True))
    assert len(first) == 4
    replay = list(
        client.interactions.get(first[0].interaction.id, stream=True, last_event_id=first[-1].event_id)
    )
    assert replay[0].event_id.endswith(f":{first_replayed}")
    assert replay[-1].event_type == "interaction.completed"


def test_repeat_events_sends_each_event_twice(emulator, client):
    emulator.enqueue(Reply.text("ab", deltas=2, repeat_events=True))
    events = list(client.interactions.create(model=MODEL, input="q", stream=True))
    ids = [e.event_id for e in events]
    assert ids[::2] == ids[1::2] and len(set(ids)) == len(ids) // 2


def test_done_line_ends_a_complete_stream(emulator, raw):
    emulator.enqueue(Reply.text("done", done_line=True))
    response = raw("POST", "/v1/interactions", json={"model": MODEL, "input": "q", "stream": True})
    assert _frames(response.text)[-1] == ("done", "[DONE]")


def test_malformed_deltas_are_sent_but_not_logged(emulator, raw):
    emulator.enqueue(Reply.text("abcd", deltas=2, malformed="null_text"))
    events = _stream(raw)
    nulls = [e for e in events if e["event_type"] == "step.delta" and e["delta"].get("text", "") is None]
    assert len(nulls) == 1 and "event_id" not in nulls[0]
    emulator.enqueue(Reply.text("abcd", deltas=2, malformed="no_index"))
    deltas = [e for e in _stream(raw) if e["event_type"] == "step.delta"]
    assert deltas and all("index" not in e for e in deltas)
    # the fixture asserts that the emulator's schema check saw no problem


def test_a_stall_without_end_lasts_until_released(emulator, client):
    emulator.clock = clock = StepClock()
    emulator.enqueue(Reply.text("abcdef", deltas=6, stall_after=4, stall_seconds=None))
    stream = client.interactions.create(model=MODEL, input="q", stream=True)
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(stream), daemon=True)
    reader.start()
    wait_for(lambda: len(got) == 4 and clock.waiting == 1, 10, "the stream to stall after 4 events")
    clock.advance(3600)  # an hour later: still stalled, since only release_stalls ends it
    wait_for(lambda: clock.waiting == 1, 10)
    assert reader.is_alive() and len(got) == 4  # silent, not ended
    emulator.release_stalls()
    reader.join(10)
    assert not reader.is_alive() and got[-1].event_type == "interaction.completed"


def test_repeat_faults_apply_to_every_delivery(emulator, client):
    emulator.enqueue(Reply.text("abcdefgh", deltas=8, drop_after=3, drop_mode="reset", repeat_faults=True))
    first: list = []
    with pytest.raises(gi.APIConnectionError):
        first.extend(client.interactions.create(model=MODEL, input="q", stream=True))
    second: list = []
    with pytest.raises(gi.APIConnectionError):
        second.extend(
            client.interactions.get(first[0].interaction.id, stream=True, last_event_id=first[-1].event_id)
        )
    assert len(first) == len(second) == 3
    assert second[0].event_id.endswith(":4")


@pytest.mark.parametrize("kind", ["audio", "video"])
def test_audio_and_video_replies_validate(emulator, client, kind):
    reply = Reply.audio(b"RIFF....WAVE") if kind == "audio" else Reply.video(b"....ftypmp42")
    emulator.enqueue(reply)
    events = list(client.interactions.create(model=MODEL, input="q", stream=True))
    (delta,) = [e.delta for e in events if e.event_type == "step.delta"]
    assert delta.type == kind and delta.data

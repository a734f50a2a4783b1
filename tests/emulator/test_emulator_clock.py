"""The emulator's clock: paced runs and stalls wait on it, so tests can step or speed up time."""

from __future__ import annotations

import threading
import time

import pytest

from gemini_magics.emulator import Reply, StepClock, WallClock
from gemini_magics.emulator.research import research_reply

from ..support import wait_for

AGENT = "deep-research-preview-04-2026"


def _start_research(client, **options):
    return client.interactions.create(agent=AGENT, input="TPUs", background=True, **options)


def test_a_step_clock_holds_a_run_until_advanced_then_releases_what_is_due(emulator, client):
    emulator.clock = clock = StepClock()
    emulator.enqueue(research_reply("TPUs", duration=600))  # ten emulated minutes
    run = _start_research(client)
    wait_for(lambda: clock.waiting == 1, 5, "the run to wait on the clock")
    assert emulator.interaction(run.id)["status"] == "in_progress"
    assert len(emulator.interaction(run.id)["steps"]) == 1  # the user's input only: nothing is due

    clock.advance(300)  # half the run
    wait_for(lambda: clock.waiting == 1 and len(emulator.interaction(run.id)["steps"]) > 1, 5)
    halfway = emulator.interaction(run.id)
    assert halfway["status"] == "in_progress" and 1 < len(halfway["steps"]) < 15

    clock.advance(300)
    wait_for(lambda: emulator.interaction(run.id)["status"] == "completed", 5, "the run to complete")
    assert len(emulator.interaction(run.id)["steps"]) == 15  # input + 14 research steps


def test_the_same_run_is_the_same_after_the_same_steps(make_emulator, make_client):
    """Step mode is deterministic: two emulators stepped alike hold the same steps."""
    seen = []
    for _ in range(2):
        emu = make_emulator(clock=StepClock())
        client = make_client(base_url=emu.base_url)
        emu.enqueue(research_reply("TPUs", duration=100))
        run = _start_research(client)
        wait_for(lambda emu=emu: emu.clock.waiting == 1, 5)
        emu.clock.advance(37)
        wait_for(lambda emu=emu: emu.clock.waiting == 1, 5)
        seen.append([step["type"] for step in emu.interaction(run.id)["steps"]])
    assert seen[0] == seen[1] and len(seen[0]) > 2


def test_a_sped_up_wall_clock_plays_a_minute_in_a_fraction_of_it(emulator, client):
    emulator.clock = WallClock(speed=100)
    emulator.enqueue(research_reply("TPUs", duration=60))
    started = time.monotonic()
    events = list(_start_research(client, stream=True))
    assert events[-1].event_type == "interaction.completed"
    assert time.monotonic() - started < 5  # 0.6 s at this speed; real time would be a minute


def test_a_stall_lasts_its_seconds_on_the_clock(emulator, client):
    emulator.clock = clock = StepClock()
    emulator.enqueue(Reply.text("one two three", deltas=3, stall_after=3, stall_seconds=30))
    got: list[str] = []

    def read() -> None:
        for event in client.interactions.create(model="gemini-3.5-flash", input="q", stream=True):
            got.append(event.event_type)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_for(lambda: len(got) == 3 and clock.waiting == 1, 5, "the stream to stall")
    clock.advance(29)
    wait_for(lambda: clock.waiting == 1, 5)
    assert len(got) == 3  # still stalled a second before the end
    clock.advance(1)
    reader.join(5)
    assert got[-1] == "interaction.completed"


def test_stopping_the_emulator_ends_waits_on_a_step_clock(make_emulator, make_client):
    emu = make_emulator(clock=StepClock())
    client = make_client(base_url=emu.base_url)
    emu.enqueue(research_reply("TPUs", duration=600))
    _start_research(client)
    wait_for(lambda: emu.clock.waiting == 1, 5)
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 2 and emu.clock.waiting == 0


def test_clocks_refuse_nonsense():
    with pytest.raises(ValueError):
        WallClock(speed=0)
    with pytest.raises(ValueError):
        StepClock().advance(-1)

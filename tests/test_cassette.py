"""Record and replay: a session recorded against the emulator, replayed in a new kernel.

Recording tees the real SDK's HTTP traffic into a cassette; replay serves it from a second, in-process
emulator. The replaying kernel has no key, and its GOOGLE_GEMINI_BASE_URL points at an emulator that
would answer differently, so an answer that matches can only have come from the cassette.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from gemini_magics.core.errors import GeminiReplayMissing
from gemini_magics.emulator import Emulator, Fault, Reply
from gemini_magics.emulator.cassette import load
from gemini_magics.emulator.schema import validate_event, validate_interaction
from gemini_magics.widgets.chat import ChatPanel

from .support import TEST_KEY, StrictShell, creates, fresh_shell, markdown_of, release_shell, text_of

ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GEMINI_MAGICS_OFFLINE")
ENV_REPLAY = ("GEMINI_MAGICS_REPLAY", "JPY_SESSION_NAME")


@pytest.fixture
def emulator_options() -> dict[str, Any]:
    return {"research_seconds": 1.0}


def convert(amount: float, unit: str) -> float:
    """Convert a distance between kilometres (km) and miles (mi)."""
    return round(amount / 1.609344 if unit == "km" else amount * 1.609344, 3)


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., StrictShell]]:
    """Starts fresh shells (a new kernel each) with the extension loaded and only the given
    environment; each is released at teardown."""
    shells: list[StrictShell] = []

    @contextlib.contextmanager
    def _env(env: dict[str, str]) -> Iterator[None]:
        for name in (*ENV, *ENV_REPLAY):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield

    def start(**env: str) -> StrictShell:
        for shell in shells:  # one kernel at a time, as in a notebook
            release_shell(shell.shell)
        shells.clear()
        with _env(env):
            shell = StrictShell(fresh_shell())
            shells.append(shell)
            shell.shell.config.GeminiMagics.stream_interval = 0.0
            shell.run("%load_ext gemini_magics")
        return shell

    yield start
    for shell in shells:
        release_shell(shell.shell)


def live(kernel: Callable[..., StrictShell], emulator: Emulator) -> StrictShell:
    return kernel(GEMINI_API_KEY=TEST_KEY, GOOGLE_GEMINI_BASE_URL=emulator.base_url)


def elsewhere(kernel: Callable[..., StrictShell], make_emulator: Callable[..., Emulator]) -> StrictShell:
    """A kernel without a key whose base URL points at an emulator that answers "WRONG"."""
    wrong = make_emulator()
    wrong.enqueue(*(Reply.text("WRONG") for _ in range(20)))
    return kernel(GOOGLE_GEMINI_BASE_URL=wrong.base_url)


def panel_turn(shell: StrictShell, text: str) -> tuple[Any, str]:
    """A chat panel's turn: its result and the text the panel shows."""
    panel = ChatPanel(None, session=shell.magics.session)
    try:
        assert panel.send(text)
        assert panel.wait(20)
        outputs = [o for child in panel.messages.children for o in _outputs(child)]
        return panel.last_result, "\n".join(text_of(o["data"]) for o in outputs)
    finally:
        panel.close()
        panel.wait(5)


def _outputs(widget: Any) -> list[dict[str, Any]]:
    found = list(getattr(widget, "outputs", ()))
    for child in getattr(widget, "children", ()):
        found += _outputs(child)
    return found


def session(shell: StrictShell) -> dict[str, Any]:
    """One lesson: a stream, a picture and its edit, a second turn, a function call, research, a panel."""
    shell.user_ns["convert"] = convert
    seen: dict[str, Any] = {}
    shell.run("%%gemini -o hello\nExplain generators.", cell_id="c1")
    shell.run("%%gemini -o follow\nNow shorter.", cell_id="c2")
    shell.run("%%gemini -t art --image -o cat\nA cat on a mat.", cell_id="c3")
    shell.run("%%gemini -t art -o warmer\nWarmer light.", cell_id="c4")
    shell.run("%%gemini -t tools --tools convert -o tool\nHow far is a marathon in miles?", cell_id="c5")
    seen["research"] = shell.run("%%gemini -t lab --research --wait -o report\nTPUs", cell_id="c6").stdout
    seen["panel"], seen["panel shows"] = panel_turn(shell, "And from the panel?")
    for name in ("hello", "follow", "cat", "warmer", "tool", "report"):
        seen[name] = shell.user_ns[name]
    return seen


def same_answer(recorded: Any, replayed: Any) -> None:
    assert replayed.interaction_id == recorded.interaction_id
    assert replayed.text == recorded.text and replayed.text
    assert replayed.steps == recorded.steps
    assert [i.data for i in replayed.images] == [i.data for i in recorded.images]


def test_a_recorded_session_replays_byte_for_byte_in_a_new_kernel(kernel, emulator, make_emulator, tmp_path):
    shell = live(kernel, emulator)
    assert "recording every interaction" in shell.run(f"%gemini record {tmp_path / 'lesson'}").stdout
    recorded = session(shell)
    shell.run("%gemini record stop")
    cassette = tmp_path / "lesson.cassette.jsonl"
    assert cassette.is_file()
    assert recorded["cat"].images and recorded["warmer"].images
    assert any(step["type"] == "function_call" for step in recorded["tool"].steps)
    calls = len(emulator.requests)

    shell = elsewhere(kernel, make_emulator)
    out = shell.run(f"%gemini replay {cassette}").stdout
    assert "replaying 8 recorded interaction(s) from lesson.cassette.jsonl" in out
    replayed = session(shell)
    assert len(emulator.requests) == calls  # the recording emulator heard nothing more

    for name in ("hello", "follow", "cat", "warmer", "tool", "panel"):
        same_answer(recorded[name], replayed[name])
    assert replayed["report"].result.text == recorded["report"].result.text
    assert replayed["report"].interaction_id == recorded["report"].interaction_id
    assert replayed["tool"].tool_calls == recorded["tool"].tool_calls
    assert "WRONG" not in str([replayed[name].text for name in ("hello", "follow", "tool", "panel")])
    assert "replayed from a recording of deep-research" in replayed["research"]
    assert "replayed from a recording of gemini-3.5-flash" in replayed["panel shows"]
    assert "replayed from" not in recorded["panel shows"]
    assert shapes_the_sdk_declares(cassette)  # what the replay sent, event by event


def shapes_the_sdk_declares(path: Path) -> bool:
    """Every event and 200 JSON body in the cassette validates against the SDK's models."""
    problems: list[str] = []
    for exchange in load(path).exchanges:
        for _, data in exchange.events:
            if isinstance(data, dict):
                problems += validate_event(data)
        if exchange.status == 200 and isinstance(exchange.response, dict) and exchange.response:
            problems += validate_interaction(exchange.response)
    assert problems == []
    return True


def test_each_replayed_answer_is_marked_and_reruns_reorders_and_run_all_behave(
    kernel, emulator, make_emulator, tmp_path
):
    shell = live(kernel, emulator)
    shell.run(f"%gemini record {tmp_path / 'c.cassette.jsonl'}")
    first = shell.run("%%gemini\nOne.", cell_id="a")
    one = shell.user_ns["_gemini"]
    shell.run("%%gemini\nTwo.", cell_id="b")
    two = shell.user_ns["_gemini"]
    shell.run("%%gemini -t side\nAside.", cell_id="s")
    aside = shell.user_ns["_gemini"]
    shell.run("%gemini record stop")

    shell = elsewhere(kernel, make_emulator)
    shell.run(f"%gemini replay {tmp_path / 'c.cassette.jsonl'}")
    # reordered: the side thread first, then cell b before cell a was ever run again
    shell.run("%%gemini -t side\nAside.", cell_id="s")
    assert shell.user_ns["_gemini"].text == aside.text
    cell = shell.run("%%gemini\nOne.", cell_id="a")
    assert shell.user_ns["_gemini"].interaction_id == one.interaction_id
    shown = markdown_of(cell)
    assert one.text in shown
    today = load(tmp_path / "c.cassette.jsonl").created[:10]
    assert f"replayed from a recording of gemini-3.5-flash made on {today}" in shown
    assert "Offline" not in shown.split(one.text)[0]  # no offline note above a replayed answer
    assert markdown_of(first).replace(one.text, "") != shown.replace(one.text, "")  # the mark is new
    for _ in range(2):  # re-running a cell, and Run All, give the recorded answers again
        shell.run("%%gemini\nOne.", cell_id="a")
        assert shell.user_ns["_gemini"].interaction_id == one.interaction_id
        shell.run("%%gemini\nTwo.", cell_id="b")
        assert shell.user_ns["_gemini"].text == two.text
        assert shell.magics.session.answer_origin(shell.user_ns["_gemini"]) == "replayed"


def test_a_prompt_without_a_recording_says_so_then_goes_offline_or_fails_when_strict(
    kernel, emulator, make_emulator, tmp_path
):
    shell = live(kernel, emulator)
    shell.run(f"%gemini record {tmp_path / 'm.cassette.jsonl'}")
    shell.run("%%gemini\nRecorded.", cell_id="a")
    assert shell.magics.session.answer_origin(shell.user_ns["_gemini"]) == "live"
    shell.run("%gemini record stop")

    shell = elsewhere(kernel, make_emulator)
    shell.run(f"%gemini replay {tmp_path / 'm.cassette.jsonl'}")
    shell.run("%%gemini\nRecorded.", cell_id="a")
    cell = shell.run("%%gemini\nNever asked live.", cell_id="b")
    message = (
        "no recording of this prompt in m.cassette.jsonl (thread default, turn 2); "
        "answered by the offline emulator"
    )
    assert message in markdown_of(cell)
    result = shell.user_ns["_gemini"]
    assert "Offline emulator" in result.text and "WRONG" not in result.text
    assert shell.magics.session.answer_origin(result) == "offline"

    shell.run(f"%gemini replay {tmp_path / 'm.cassette.jsonl'} --strict")
    shell.run("%%gemini\nRecorded.", cell_id="a")
    with pytest.raises(GeminiReplayMissing) as caught:
        shell.run("%%gemini\nNever asked live.", cell_id="b")
    assert str(caught.value).startswith(
        "no recording of this prompt in m.cassette.jsonl (thread default, turn 2)"
    )
    assert len(caught.value._render_traceback_()) == 2


def test_a_turn_with_an_mcp_server_replays_without_its_secret_headers(
    kernel, emulator, make_emulator, tmp_path
):
    secret = "Bearer mcp-token-for-the-recording-7c1d"
    cell = "%%gemini --mcp weather=https://mcp.example.com/mcp\nForecast for Oslo?"
    shell = live(kernel, emulator)
    shell.run(f"%config GeminiMagics.mcp_headers = {{'weather': {{'Authorization': {secret!r}}}}}")
    shell.run(f"%gemini record {tmp_path / 'mcp'}")
    shell.run(cell, cell_id="a")
    recorded = shell.user_ns["_gemini"]
    shell.run("%gemini record stop")
    cassette = tmp_path / "mcp.cassette.jsonl"
    assert secret not in cassette.read_text()
    tools = creates(emulator)[-1].body["tools"]
    assert tools[0]["headers"] == {"Authorization": secret}  # sent to the server, not to the cassette

    shell = elsewhere(kernel, make_emulator)  # no headers configured here: the learner has no token
    shell.run(f"%gemini replay {cassette} --strict")
    shell.run(cell, cell_id="a")
    same_answer(recorded, shell.user_ns["_gemini"])
    assert shell.magics.session.answer_origin(shell.user_ns["_gemini"]) == "replayed"


def test_the_key_is_in_no_cassette_even_when_the_server_echoes_it(kernel, make_emulator, tmp_path):
    echo = make_emulator()
    echo.enqueue(Fault.http(400, "invalid_request", f"API key {TEST_KEY} is not valid for this model"))
    shell = live(kernel, echo)
    shell.run(f"%gemini record {tmp_path / 'k'}")
    with pytest.raises(Exception, match="not valid"):
        shell.run("%%gemini\nHello.")
    shell.run(f"%%gemini\nMy key is {TEST_KEY}, keep it.")
    data = (tmp_path / "k.cassette.jsonl").read_bytes()
    assert TEST_KEY.encode() not in data
    assert b"x-goog-api-key" not in data.lower() and b"authorization" not in data.lower()
    assert b"<redacted>" in data
    lines = [json.loads(line) for line in data.splitlines()]
    assert [line["status"] for line in lines if line.get("type") == "response"] == [400, 200]

    echo.stop()  # a connection that fails leaves an end line saying why
    with pytest.raises(Exception, match="connection"):
        shell.run("%%gemini --new\nAnyone there?")
    last = json.loads((tmp_path / "k.cassette.jsonl").read_text().splitlines()[-1])
    assert last["type"] == "end" and "Connect" in last["error"]

    shell = kernel()  # the recorded error is replayed as it was, still without the key
    shell.run(f"%gemini replay {tmp_path / 'k.cassette.jsonl'}")
    with pytest.raises(Exception, match="not valid") as caught:
        shell.run("%%gemini\nHello.")
    assert TEST_KEY not in str(caught.value)


def test_corrupt_foreign_and_missing_cassettes_are_one_line_errors(kernel, emulator, tmp_path):
    shell = live(kernel, emulator)
    shell.run(f"%gemini record {tmp_path / 'good'}")
    shell.run("%%gemini\nHi.")
    shell.run("%gemini record stop")
    good = (tmp_path / "good.cassette.jsonl").read_text().splitlines()

    corrupt = tmp_path / "corrupt.cassette.jsonl"
    corrupt.write_text("\n".join([*good[:3], '{"type": "event", "exchange": 1, "t": 0.1, "da', *good[3:]]))
    old = tmp_path / "old.cassette.jsonl"
    old.write_text("\n".join([good[0].replace('"version":1', '"version":0'), *good[1:]]))
    orphan = tmp_path / "orphan.cassette.jsonl"
    orphan.write_text("\n".join([good[0], good[2]]))
    for path, expected in (
        (corrupt, f"{corrupt}, line 4: not JSON"),
        (old, f"{old}, line 1: cassette format version 0; this gemini_magics reads version 1"),
        (orphan, f"{orphan}, line 2: response of exchange 1, which has no request above it"),
        (tmp_path / "none.jsonl", "no such cassette file"),
        (tmp_path / "good.cassette.jsonl.txt", "no such cassette file"),
    ):
        with pytest.raises(UsageError) as caught:
            shell.run(f"%gemini replay {path}")
        assert expected in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(UsageError, match="--speed must be 0 or more"):
        shell.run(f"%gemini replay {tmp_path / 'good.cassette.jsonl'} --speed -1")
    with pytest.raises(UsageError, match="usage: %gemini replay"):
        shell.run("%gemini replay --fast x")
    assert "--strict" in shell.run("%gemini replay --help").stdout
    assert "PATH | stop" in shell.run("%gemini record --help").stdout


def test_speed_zero_replays_at_once_and_speed_one_keeps_the_recorded_pacing(
    kernel, emulator, make_emulator, tmp_path
):
    emulator.enqueue(Reply.text("slow " * 20, deltas=20, delay=0.05))
    shell = live(kernel, emulator)
    shell.run(f"%gemini record {tmp_path / 'p'}")
    shell.run("%%gemini\nTake your time.", cell_id="a")
    shell.run("%gemini record stop")
    path = tmp_path / "p.cassette.jsonl"
    recorded = [e for e in load(path).exchanges if e.events]
    span = recorded[0].events[-1][0] - recorded[0].events[0][0]
    assert span >= 0.8  # 20 deltas 50 ms apart

    shell = elsewhere(kernel, make_emulator)
    timings = {}
    for speed in (0, 1):
        shell.run(f"%gemini replay {path} --speed {speed}")
        began = time.monotonic()
        shell.run("%%gemini\nTake your time.", cell_id="a")
        timings[speed] = time.monotonic() - began
        assert shell.user_ns["_gemini"].text == "slow " * 20
    assert timings[0] < span / 2
    assert span * 0.9 <= timings[1] <= span + 10


def test_replay_env_picks_the_notebooks_cassette(kernel, emulator, make_emulator, tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shell = live(kernel, emulator)
    shell.run(f"%gemini record {folder / '01_quickstart'}")
    shell.run("%%gemini\nFirst lesson.", cell_id="a")
    answer = shell.user_ns["_gemini"]
    shell.run("%gemini record stop")

    shell = kernel(GEMINI_MAGICS_REPLAY=str(folder), JPY_SESSION_NAME=str(folder / "01_quickstart.ipynb"))
    assert shell.magics.connection.replay is not None
    cell = shell.run("%%gemini\nFirst lesson.", cell_id="a")
    assert shell.user_ns["_gemini"].interaction_id == answer.interaction_id
    assert "replayed from a recording of gemini-3.5-flash" in markdown_of(cell)

    shell = kernel(GEMINI_MAGICS_REPLAY=str(folder / "01_quickstart.cassette.jsonl"))
    shell.run("%%gemini\nFirst lesson.", cell_id="a")
    assert shell.user_ns["_gemini"].text == answer.text

    # another notebook has no cassette there: the offline fallback still applies
    shell = kernel(
        GEMINI_MAGICS_REPLAY=str(folder), JPY_SESSION_NAME="02_images.ipynb", GEMINI_MAGICS_OFFLINE="1"
    )
    assert shell.magics.connection.replay is None and shell.magics.connection.offline
    shell.run("%gemini replay stop")
    assert not shell.magics.connection.offline


def test_cassette_lines_are_sorted_json_with_a_header_and_event_times(kernel, emulator, tmp_path):
    shell = live(kernel, emulator)
    shell.run(f"%gemini record {tmp_path / 'f'}")
    shell.run("%%gemini\nHi.")
    assert "recording to" in shell.run("%gemini record").stdout
    shell.run("%gemini record stop")
    lines = Path(tmp_path / "f.cassette.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    assert header["cassette"] == "gemini_magics" and header["version"] == 1
    records = [json.loads(line) for line in lines[1:]]
    assert all(
        line == json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        for line, r in zip(lines[1:], records, strict=True)
    )
    kinds = [r["type"] for r in records]
    assert kinds[:2] == ["request", "response"] and kinds[-1] == "end" and "event" in kinds
    times = [r["t"] for r in records if r["type"] == "event"]
    assert times == sorted(times)
    assert "not recording" in shell.run("%gemini record").stdout
    shell.run(f"%gemini record {tmp_path / 'g'}")
    shell.run(f"%gemini replay {tmp_path / 'f.cassette.jsonl'} --strict --speed 0.5")
    status = shell.run("%gemini status").stdout
    assert f"mode:    replaying {tmp_path / 'f.cassette.jsonl'} (speed 0.5, strict)" in status
    assert f"record:  every interaction goes to {tmp_path / 'g.cassette.jsonl'}" in status
    shell.run("%gemini record stop")
    assert "replay of f.cassette.jsonl stopped" in shell.run("%gemini replay stop").stdout
    assert "not replaying" in shell.run("%gemini replay").stdout

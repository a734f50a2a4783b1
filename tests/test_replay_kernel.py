"""A lesson recorded in one real kernel replays byte for byte in another, which has no key.

Kernel 1 runs a lesson notebook with nbclient against the emulator, with a key and ``%gemini record``
on: a streamed answer, a picture, a Deep Research run, a call of a Python function and a chat panel
turn. Kernel 2 is a new process with no key and no base URL: only ``GEMINI_MAGICS_REPLAY`` (the
cassette itself, or the notebooks' folder and the notebook's name in ``JPY_SESSION_NAME``, as
jupyter_server sets it). It runs the notebook as a teacher hands it out (without the record cells), so
an answer that arrives at all can only come from the cassette; the two runs' outputs are compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from .support import TEST_KEY, creates

pytestmark = pytest.mark.notebook

ENV = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "GEMINI_MAGICS_OFFLINE",
    "GEMINI_MAGICS_REPLAY",
    "GEMINI_MAGICS_TOKEN_BUDGET",
    "JPY_SESSION_NAME",
)

LESSON = [
    "%load_ext gemini_magics",
    "%%gemini -o hello\nExplain Python generators in two sentences.",
    "%%gemini -t art --image -o cat\nA cat on a mat.",
    "%%gemini -t lab --research --wait -o report\nHow do TPUs differ from GPUs?",
    'def convert(amount: float, unit: str) -> float:\n    """Convert a distance between kilometres (km)'
    ' and miles (mi)."""\n    return round(amount / 1.609344 if unit == "km" else amount * 1.609344, 3)',
    "%%gemini -t tools --tools convert -o tool\nHow far is a marathon in miles?",
    "from gemini_magics.widgets import ChatPanel\n\n"
    'panel = ChatPanel("chat")\n'
    'assert panel.send("Say hello to the class.")\n'
    "assert panel.wait(60)\n"
    "print(panel.last_result.interaction_id)\n"
    "print(panel.last_result.text)\n"
    "panel.close()",
    "from gemini_magics.ipython import current_session\n\n"
    "session = current_session()\n"
    'answers = {"hello": hello, "cat": cat, "report": report.result, "tool": tool}\n'
    'answers["panel"] = panel.last_result\n'
    "for name, answer in answers.items():\n"
    "    print(name, answer.interaction_id, session.answer_origin(answer))",
    "print(report.result.text)",
    "print(tool.tool_calls)",
]
GEMINI_CELLS = (1, 2, 3, 5)
PANEL, ORIGINS, REPORT, TOOL_CALLS = 6, 7, 8, 9


@pytest.fixture
def emulator_options() -> dict[str, Any]:
    return {"research_seconds": 1.0}


def _run(cells: list[str], folder: Path) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=[new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    return notebook


def _printed(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _parts(cell: nbformat.NotebookNode) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(part, provenance, data) of each output that carries provenance, in order."""
    found = []
    for output in cell.outputs:
        provenance = output.get("metadata", {}).get("gemini_magics")
        if provenance:
            found.append((provenance["part"], provenance, output.get("data", {})))
    return found


def _record(emulator: Any, monkeypatch: pytest.MonkeyPatch, folder: Path) -> nbformat.NotebookNode:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    cells = [LESSON[0], "%gemini record lesson", *LESSON[1:], "%gemini record stop"]
    live = _run(cells, folder)
    live.cells = [live.cells[0], *live.cells[2:-1]]  # as handed out: without the record cells
    return live


def _replay(monkeypatch: pytest.MonkeyPatch, folder: Path, **env: str) -> nbformat.NotebookNode:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return _run(LESSON, folder)


def _same_outputs(live: nbformat.NotebookNode, replayed: nbformat.NotebookNode, recorded_on: str) -> None:
    for index in GEMINI_CELLS:
        was, now = _parts(live.cells[index]), _parts(replayed.cells[index])
        assert was, f"cell {index} showed no answer"
        # the same outputs, byte for byte (text, HTML, pictures, charts, tool lines, footers) ...
        assert [(part, data) for part, _, data in now] == [(part, data) for part, _, data in was]
        # ... and under them the replay's mark, an output of its own
        marks = [o for o in replayed.cells[index].outputs if not o.get("metadata", {}).get("gemini_magics")]
        assert f"made on {recorded_on}" in str(marks) and "replayed from a recording of" in str(marks)
        assert "replayed from" not in str(live.cells[index].outputs)
        assert {p["interaction_id"] for _, p, _ in now} == {p["interaction_id"] for _, p, _ in was}
        assert {p["origin"] for _, p, _ in was} == {"live"}
        assert {p["origin"] for _, p, _ in now} == {"replayed"}
    pictures = [
        [data["image/png"] for part, _, data in _parts(notebook.cells[2]) if part == "image"]
        for notebook in (live, replayed)
    ]
    assert pictures[0] and pictures[0] == pictures[1]
    tool_lines = [
        [data["text/plain"] for part, _, data in _parts(notebook.cells[5]) if part == "function"]
        for notebook in (live, replayed)
    ]
    assert tool_lines[0] and tool_lines[0] == tool_lines[1]
    assert "convert(" in tool_lines[0][0]
    for index in (PANEL, REPORT, TOOL_CALLS):
        assert _printed(replayed.cells[index]) == _printed(live.cells[index]) != ""
    origins_live = _printed(live.cells[ORIGINS]).split()
    origins_now = _printed(replayed.cells[ORIGINS]).split()
    assert origins_live[2::3] == ["live"] * 5 and origins_now[2::3] == ["replayed"] * 5
    assert origins_live[1::3] == origins_now[1::3]  # the same interaction ids
    assert f"replayed from a recording of gemini-3.1-flash-image made on {recorded_on}" in str(
        replayed.cells[2]
    )


def test_a_lesson_recorded_in_one_kernel_replays_byte_for_byte_in_a_new_kernel_without_a_key(
    emulator, monkeypatch, tmp_path
):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    live = _record(emulator, monkeypatch, folder)
    cassette = folder / "lesson.cassette.jsonl"
    assert TEST_KEY.encode() not in cassette.read_bytes()
    recorded_on = cassette.read_text().split('"created":"', 1)[1][:10]
    heard = len(emulator.requests)
    assert len(creates(emulator)) >= 6  # text, picture, research, function call and its result, panel

    by_file = _replay(monkeypatch, folder, GEMINI_MAGICS_REPLAY=str(cassette))
    _same_outputs(live, by_file, recorded_on)
    by_name = _replay(
        monkeypatch,
        folder,
        GEMINI_MAGICS_REPLAY=str(folder),
        JPY_SESSION_NAME=str(folder / "lesson.ipynb"),
    )
    _same_outputs(live, by_name, recorded_on)
    assert len(emulator.requests) == heard  # the replaying kernels never reached it
    assert TEST_KEY not in str(by_file) + str(by_name)

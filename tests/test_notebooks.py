"""The teaching notebooks run top to bottom with nbclient and a real ipykernel."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .support import TEST_KEY, creates

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def _execute(path: Path, workdir: Path | None = None) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    where = str(workdir or path.parent)
    NotebookClient(
        notebook, timeout=90, kernel_name="python3", resources={"metadata": {"path": where}}
    ).execute()
    return notebook


def _text_of(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts.append(data.get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.notebook
def test_quickstart_runs_against_the_emulator(emulator, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    notebook = _execute(NOTEBOOKS / "01_quickstart.ipynb")
    text = _text_of(notebook)
    assert "Explain Python generators" in text or "generators" in text.lower()
    assert "did you mean gemini-3.5-flash" in text  # the error demo cell failed as intended
    assert TEST_KEY not in text
    bodies = [r.body for r in creates(emulator)]
    assert len(bodies) == 4
    assert bodies[1]["previous_interaction_id"]  # the second cell continued the first
    assert bodies[2].get("previous_interaction_id") is None  # a new thread, "side"
    assert bodies[3]["system_instruction"] == "Answer in one short sentence."


@pytest.mark.notebook
def test_quickstart_runs_offline_without_any_key(monkeypatch):
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GEMINI_MAGICS_OFFLINE", "1")
    text = _text_of(_execute(NOTEBOOKS / "01_quickstart.ipynb"))
    assert "Offline" in text
    assert "mode:    offline" in text


@pytest.mark.notebook
def test_images_notebook_generates_edits_saves_and_attaches(emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    notebook = _execute(NOTEBOOKS / "02_images.ipynb", workdir=tmp_path)
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {}) and "gemini_magics" in output.get("metadata", {})
    ]
    assert len(images) == 3  # generated, edited, edited again
    assert [p.name for p in (tmp_path / "pictures").iterdir()] == ["default-003-1.png"]
    bodies = [r.body for r in creates(emulator)]
    assert [b["model"] for b in bodies[:3]] == ["gemini-3.1-flash-image"] * 3
    assert bodies[1]["previous_interaction_id"] and bodies[2]["previous_interaction_id"]
    attach = bodies[3]["input"][0]["content"]
    assert [block["type"] for block in attach] == ["text", "image"]
    several = bodies[4]["input"][0]["content"]
    assert [block["type"] for block in several] == ["text", "image", "image", "image"]
    assert "Editing the picture above" in _text_of(notebook)


@pytest.mark.notebook
def test_chat_notebook_shares_threads_between_panels_and_cells(emulator, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    notebook = _execute(NOTEBOOKS / "04_chat.ipynb")
    panels = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    assert len(panels) == 2  # `%gemini chat` and the ChatPanel object
    assert all("needs a widget frontend" in p["data"]["text/plain"] for p in panels)
    bodies = [r.body for r in creates(emulator)]
    assert [b["input"] for b in bodies] == [
        "What is a Python generator? Two sentences.",
        "Name three everyday uses of Python generators.",
        "Which of those three saves the most memory?",
    ]
    assert "previous_interaction_id" not in bodies[1]  # the panel's own thread, "side"
    panel_turn = emulator.interaction(bodies[2]["previous_interaction_id"])  # the cell continued the panel
    assert "Name three everyday uses" in json.dumps(panel_turn)
    history = notebook.cells[-1].outputs[0]["data"]["text/html"]  # `%gemini history side`
    assert "2 turn(s)" in history
    assert "Name three everyday uses" in history and "Which of those three" in history

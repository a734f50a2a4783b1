"""The teaching notebooks run top to bottom with nbclient and a real ipykernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .support import TEST_KEY, creates

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def _execute(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=90,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    return notebook


def _text_of(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            data = output.get("data", {})
            parts.append(data.get("text/markdown", "") + data.get("text/plain", ""))
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

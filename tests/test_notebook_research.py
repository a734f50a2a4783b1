"""notebooks/03_deep_research.ipynb runs top to bottom with nbclient against the emulator."""

from __future__ import annotations

import pytest

from .support import TEST_KEY, creates
from .test_notebooks import NOTEBOOKS, _execute, _text_of


@pytest.fixture
def quick_research_emulator(make_emulator):
    return make_emulator(research_seconds=2.0)  # real time: the notebook's text progress ticks


@pytest.mark.notebook
def test_research_notebook_runs(quick_research_emulator, monkeypatch):
    emulator = quick_research_emulator
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    text = _text_of(_execute(NOTEBOOKS / "03_deep_research.ipynb"))
    progress_lines = [line for line in text.splitlines() if line.startswith("[research]")]
    assert 3 <= len(progress_lines) <= 16, progress_lines  # two runs, a line per phase
    assert "completed - " in text and "1 chart(s)" in text
    assert "**Sources**" in text and "[[1]](https://example.org/" in text
    assert "Research complete." in text
    research, follow_up = creates(emulator)
    assert research.body["agent"].startswith("deep-research") and research.body["background"] is True
    assert follow_up.body["previous_interaction_id"]
    assert emulator.interaction(follow_up.body["previous_interaction_id"])["agent"] == research.body["agent"]
    assert any(r.path.endswith("/cancel") for r in emulator.requests)

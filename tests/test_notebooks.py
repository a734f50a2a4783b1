"""The teaching notebooks run top to bottom with nbclient and a real ipykernel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from gemini_magics.emulator.offline import prompt_text

from .support import TEST_KEY, creates

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def _against(emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel talks to ``emulator`` with the test key (``GOOGLE_API_KEY`` unset: it would win)."""
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)


def _offline_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GEMINI_MAGICS_OFFLINE", "1")


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
    _against(emulator, monkeypatch)
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
    _offline_without_a_key(monkeypatch)
    text = _text_of(_execute(NOTEBOOKS / "01_quickstart.ipynb"))
    assert "Offline" in text
    assert "mode:    offline" in text
    assert "key:     none needed" in text  # not the emulator's placeholder, masked


@pytest.mark.notebook
def test_images_notebook_generates_edits_saves_and_attaches(emulator, monkeypatch, tmp_path):
    _against(emulator, monkeypatch)
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
    _against(emulator, monkeypatch)
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


def _html_of(notebook: nbformat.NotebookNode) -> str:
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    return "\n".join(output.get("data", {}).get("text/html", "") for output in outputs)


@pytest.mark.notebook
def test_tools_notebook_runs_offline_without_any_key(monkeypatch):
    _offline_without_a_key(monkeypatch)
    notebook = _execute(NOTEBOOKS / "05_tools.ipynb")
    text = _text_of(notebook)
    assert "tools were simulated" in text
    assert "[tool] Searched: What changed in pandas 3.0?" in text
    assert "[tool] Read: example.org/offline-page/" in text
    assert "**Sources**\n\n1. [Offline search result](https://example.com/offline-search/" in text
    assert "[1] Offline search result <https://example.com/offline-search/" in text  # _gemini.sources
    assert "[tool] Ran code" in text
    assert '[function] units_sold(city="Lisbon") →' in text
    assert "{'total': 255, 'by_month': {'2025-01': 120, '2025-02': 135}}" in text  # the function's result
    assert "[tool] Called offline_echo on weather" in text
    assert "[('weather', 'offline_echo', 'completed')]" in text
    page = _html_of(notebook)
    assert "<details><summary><em>Ran code</em></summary>" in page
    assert "<summary>Function: <code>units_sold(" in page
    assert "my-token" not in text and "my-token" not in page  # MCP headers are never shown
    assert not any(o.get("output_type") == "error" for c in notebook.cells for o in c.get("outputs", []))


@pytest.mark.notebook
def test_tools_notebook_sends_each_tool_to_the_emulator(emulator, monkeypatch):
    _against(emulator, monkeypatch)
    text = _text_of(_execute(NOTEBOOKS / "05_tools.ipynb"))
    assert '[function] units_sold(city="Lisbon") →' in text and TEST_KEY not in text
    bodies = [r.body for r in creates(emulator)]
    assert [[tool["type"] for tool in b.get("tools", [])] for b in bodies] == [
        ["google_search", "url_context"],
        ["url_context"],
        ["code_execution"],
        ["function"],  # units_sold asked for …
        ["function"],  # … and its result sent back
        ["mcp_server"],
    ]
    assert bodies[4]["input"][0]["result"] == {"total": 255, "by_month": {"2025-01": 120, "2025-02": 135}}
    assert bodies[5]["tools"][0]["headers"] == {"Authorization": "Bearer my-token"}
    assert "my-token" not in text


def _cell(notebook: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    return next(cell for cell in notebook.cells if cell.get("id") == cell_id)


def _table_rows(html: str) -> int:
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert body is not None, html[:200]
    return body.group(1).count("<tr>")


def _check_data_notebook(notebook: nbformat.NotebookNode) -> None:
    """What 06_data shows, offline or against the emulator: the labelled table, the plot, the letters."""
    assert not any(o.get("output_type") == "error" for c in notebook.cells for o in c.get("outputs", []))
    (labelled,) = _cell(notebook, "a1d0e610").outputs
    assert labelled["data"]["text/plain"].startswith("<BatchResult 12 rows: 12 completed>")
    (table,) = _cell(notebook, "a1d0e613").outputs
    header = re.search(r"<thead>(.*?)</thead>", table["data"]["text/html"], re.S)
    assert header is not None
    columns = re.findall(r"<th>(\w+)</th>", header.group(1))
    assert columns == ["id", "product", "text", "sentiment", "score", "topics", "status"]
    assert _table_rows(table["data"]["text/html"]) == 12
    assert table["data"]["text/html"].count("<td>completed</td>") == 12
    (plot,) = _cell(notebook, "a1d0e615").outputs
    assert "image/png" in plot["data"] and len(plot["data"]["image/png"]) > 1000
    (letters,) = _cell(notebook, "a1d0e619").outputs
    assert _table_rows(letters["data"]["text/html"]) == 3
    assert "complaint_berlin.txt" in letters["data"]["text/html"]
    kinds = re.findall(r"<td>(replacement|refund|question|praise)</td>", letters["data"]["text/html"])
    assert len(kinds) == 3 and "RequestKind." not in letters["data"]["text/html"]  # values, not members
    (pairs,) = _cell(notebook, "a1d0e622").outputs
    assert re.fullmatch(r"\[(\('(positive|neutral|negative)', [1-5]\)(, )?)+\]", pairs["data"]["text/plain"])
    (short,) = _cell(notebook, "a1d0e624").outputs
    assert _table_rows(short["data"]["text/html"]) == 4


@pytest.mark.notebook
def test_data_notebook_runs_offline_without_any_key(monkeypatch):
    _offline_without_a_key(monkeypatch)
    notebook = _execute(NOTEBOOKS / "06_data.ipynb")
    _check_data_notebook(notebook)
    assert "Offline: this answer comes from the built-in emulator" in _text_of(notebook)


@pytest.mark.notebook
def test_data_notebook_sends_one_request_per_row_with_the_schema(emulator, monkeypatch):
    _against(emulator, monkeypatch)
    notebook = _execute(NOTEBOOKS / "06_data.ipynb")
    _check_data_notebook(notebook)
    text = _text_of(notebook)
    assert "Offline" not in text and TEST_KEY not in text
    bodies = [r.body for r in creates(emulator)]
    assert len(bodies) == 12 + 3 + 1 + 4  # reviews, letters, one list, the Python batch
    schemas = [b["response_format"]["schema"] for b in bodies]
    assert all(b["response_format"]["mime_type"] == "application/json" for b in bodies)

    reviews = bodies[:12]
    expected = [
        line.split(",", 2) for line in (NOTEBOOKS / "data" / "reviews.csv").read_text().splitlines()[1:]
    ]
    sent = sorted(prompt_text(b["input"]) for b in reviews)
    assert sent == sorted(
        f"Label this customer review of a {p}.\n\n{t.strip(chr(34))}" for _, p, t in expected
    )
    review_schema = schemas[0]
    assert set(review_schema["properties"]) == {"sentiment", "score", "topics"}
    assert review_schema["properties"]["sentiment"]["enum"] == ["positive", "neutral", "negative"]
    assert review_schema["properties"]["score"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 5,
        "description": "1 = very unhappy, 5 = delighted",
    }
    assert schemas[:12] == [review_schema] * 12

    letters = bodies[12:15]
    assert schemas[12]["properties"]["request"]["enum"] == ["replacement", "refund", "question", "praise"]
    attached = sorted(block["text"] for b in letters for block in b["input"][0]["content"][1:])
    assert [block.splitlines()[0] for block in attached] == [
        f"Attached file {name}:"
        for name in ("complaint_berlin.txt", "praise_lisbon.txt", "question_oslo.txt")
    ]
    assert "My order 48213 (a kettle) arrived with a cracked lid." in attached[0]
    assert all(len(b["input"][0]["content"]) == 2 for b in letters)  # the prompt, then the file

    assert schemas[15] == {"type": "array", "items": review_schema}
    assert "3. Does what it says. Nothing more." in prompt_text(bodies[15]["input"])
    assert schemas[16:] == [review_schema] * 4
    assert sorted(prompt_text(b["input"]) for b in bodies[16:]) == sorted(
        f"Label this review: {t.strip(chr(34))}" for _, _, t in expected[:4]
    )


def _cell_starting(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and c.source.startswith(source)]
    return cell


def _provenance(cell: nbformat.NotebookNode) -> list[dict]:
    return [o["metadata"]["gemini_magics"] for o in cell.outputs if "gemini_magics" in o.get("metadata", {})]


@pytest.mark.notebook
@pytest.mark.parametrize("teacher_has_a_key", [False, True], ids=["no-key", "with-a-key"])
def test_teachers_notebook_records_replays_caps_exports_and_fixes_offline(
    teacher_has_a_key, make_emulator, monkeypatch, tmp_path
):
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GEMINI_MAGICS_REPLAY"):
        monkeypatch.delenv(name, raising=False)
    if teacher_has_a_key:  # the notebook goes offline at once: the key's server hears nothing
        gemini = make_emulator()
        monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini.base_url)
    notebook = _execute(NOTEBOOKS / "00_for_teachers.ipynb", workdir=tmp_path)
    scratch = tmp_path / "scratch"
    text = _text_of(notebook)

    asked_twice = ("%%gemini -t lesson\n", "%%gemini -t lesson --image")  # recorded, then replayed
    recorded, replayed = zip(
        *([c for c in notebook.cells if c.source.startswith(start)] for start in asked_twice), strict=True
    )
    today = json.loads((scratch / "lesson.cassette.jsonl").read_text().splitlines()[0])["created"][:10]
    for was, now, model in zip(
        recorded, replayed, ("gemini-3.5-flash", "gemini-3.1-flash-image"), strict=True
    ):
        assert {p["origin"] for p in _provenance(was)} == {"offline"}
        assert {p["origin"] for p in _provenance(now)} == {"replayed"}
        assert {p["interaction_id"] for p in _provenance(now)} == {
            p["interaction_id"] for p in _provenance(was)
        }
        mark = f"replayed from a recording of {model} made on {today}"
        assert mark in _text_of(nbformat.v4.new_notebook(cells=[now]))
        assert mark not in _text_of(nbformat.v4.new_notebook(cells=[was]))
    pictures = [
        [o["data"]["image/png"] for o in cell.outputs if "image/png" in o.get("data", {})]
        for cell in (recorded[1], replayed[1])
    ]
    assert pictures[0] and pictures[0] == pictures[1]
    assert "'replayed'" in text  # Session.answer_origin(_gemini)
    assert (
        "no recording of this prompt in lesson.cassette.jsonl (thread default, turn 1); "
        "answered by the offline emulator"
    ) in text

    refused = _cell_starting(notebook, "%%gemini\nOne more question")
    assert refused.metadata.tags == ["raises-exception"]
    assert "token budget of 1,000 reached (" in _text_of(nbformat.v4.new_notebook(cells=[refused]))
    assert "thread        model" in text and "lesson        gemini-3.5-flash" in text  # %gemini usage

    prompts = ("In three sentences, what is a Python list?", "A friendly robot teaching a class")
    exported_md = (scratch / "lesson.md").read_text()
    exported_nb = nbformat.read(scratch / "lesson.ipynb", as_version=4)
    exported_json = json.loads((scratch / "lesson.json").read_text())
    for prompt in prompts:
        assert prompt in exported_md
        assert any(prompt in cell.source for cell in exported_nb.cells)
        assert any(prompt in turn["prompt"] for turn in exported_json["turns"])
    assert [p.suffix for p in (scratch / "lesson_files").iterdir()] == [".png"]

    fix = _cell_starting(notebook, "%gemini fix")
    assert "Explaining cell [" in _text_of(nbformat.v4.new_notebook(cells=[fix]))
    assert "KeyError: 'cleo'" in _text_of(nbformat.v4.new_notebook(cells=[fix]))
    assert [p["thread"] for p in _provenance(fix) if p.get("part") == "footer"] == ["fix"]
    code = _cell_starting(notebook, "%%gemini -t code --code")
    assert "The code is in a new cell below, not run" in _text_of(nbformat.v4.new_notebook(cells=[code]))
    errors = [c for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert [c.source.splitlines()[0] for c in errors] == [
        'marks = {"ana": 9, "ben": 7}'
    ]  # and the budget cell

    everything = json.dumps(notebook) + "".join(
        p.read_bytes().decode("latin-1") for p in scratch.rglob("*") if p.is_file()
    )
    assert TEST_KEY not in everything
    if teacher_has_a_key:
        assert gemini.requests == []

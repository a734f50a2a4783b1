"""`%gemini export [THREAD] PATH`: a thread as Markdown, a notebook or JSON; never the key."""

from __future__ import annotations

import base64
import json

import nbformat
import pytest
from IPython.core.error import UsageError

from gemini_magics.emulator import Reply

from .support import TEST_KEY
from .test_images import _png
from .test_tools import BLOG, PANDAS, grounded_reply

PICTURE = _png((10, 120, 200))


@pytest.fixture
def lesson(ip, emulator):
    """A thread of three turns: a picture, an answer citing sources, and a server quoting the key."""
    emulator.enqueue(
        Reply.image(PICTURE, text="Here is a blue square."),
        grounded_reply(),
        Reply.text(f"Your key is {TEST_KEY}, isn't it?", thoughts=["The user wants the key."]),
    )
    ip.run("%%gemini -t lesson --image\nDraw a blue square")
    ip.run("%%gemini -t lesson -m gemini-3.5-flash --tools search url\nWhat changed in pandas 3.0?")
    ip.run("%%gemini -t lesson\nWhat is my key?")
    return ip.magics.threads["lesson"].turns


def _files_text(folder) -> str:
    return "".join(p.read_bytes().decode("latin-1") for p in folder.rglob("*") if p.is_file())


def test_markdown_has_prompts_answers_picture_files_sources_and_ids(ip, lesson, tmp_path):
    cell = ip.run(f"%gemini export lesson {tmp_path}/lesson.md")
    assert f"wrote 3 turn(s) of thread 'lesson' to {tmp_path}/lesson.md and 1 file(s)" in cell.stdout
    text = (tmp_path / "lesson.md").read_text()
    assert text.startswith("# Thread lesson\n")
    assert "## Turn 1\n\n**Prompt**\n\n> Draw a blue square\n\n**Answer**\n\nHere is a blue square." in text
    assert "![Picture 1](<lesson_files/turn-001-1.png>)" in text
    assert (tmp_path / "lesson_files" / "turn-001-1.png").read_bytes() == PICTURE
    # titles are escaped as the package escapes Markdown everywhere (entities: they render as typed)
    assert f"1. [What&#39;s new in 3&#46;0](<{PANDAS}>)\n2. [Blog &#91;post&#93;](<{BLOG}>)" in text
    assert "Pandas 3.0 — «copy-on-write» is the default." in text
    for turn in lesson:
        assert f"interaction {turn.interaction_id}" in text
    assert "Your key is" in text and TEST_KEY not in _files_text(tmp_path)


def test_notebook_has_a_gemini_cell_per_turn_with_its_outputs_and_provenance(ip, lesson, tmp_path):
    ip.run(f"%gemini export lesson {tmp_path}/lesson.ipynb")
    raw = (tmp_path / "lesson.ipynb").read_text()
    assert TEST_KEY not in raw
    notebook = nbformat.reads(raw, as_version=4)
    nbformat.validate(notebook)
    title, load, *turns = notebook.cells
    assert title.cell_type == "markdown" and "Thread lesson" in title.source
    assert load.source == "%load_ext gemini_magics"
    assert [cell.source.splitlines()[0] for cell in turns] == [
        "%%gemini -t lesson --new",
        "%%gemini -t lesson",
        "%%gemini -t lesson",
    ]
    assert turns[0].source.endswith("\nDraw a blue square")
    first = turns[0].outputs
    assert base64.b64decode(next(o.data["image/png"] for o in first if "image/png" in o.data)) == PICTURE
    for cell, turn in zip(turns, lesson, strict=True):
        records = [o.metadata["gemini_magics"] for o in cell.outputs]
        assert {r["interaction_id"] for r in records} == {turn.interaction_id}
        assert all(r["thread"] == "lesson" and r["origin"] == "live" for r in records)
        assert records[-1]["part"] == "footer" and records[-1]["usage"] == turn.usage
    answer_html = turns[1].outputs[0].data["text/html"]
    assert "copy-on-write" in answer_html and "<script" not in answer_html
    sources = next(o for o in turns[1].outputs if o.metadata["gemini_magics"]["part"] == "sources")
    assert PANDAS in sources.data["text/html"]


def test_json_has_every_turn_with_ids_model_media_sources_and_usage(ip, lesson, tmp_path):
    ip.run(f"%gemini export lesson {tmp_path}/lesson.json")
    raw = (tmp_path / "lesson.json").read_text()
    assert TEST_KEY not in raw
    data = json.loads(raw)
    assert data["format"] == "gemini_magics.transcript" and data["thread"] == "lesson"
    turns = data["turns"]
    assert [t["interaction_id"] for t in turns] == [t.interaction_id for t in lesson]
    assert [t["previous_interaction_id"] for t in turns] == [
        None,
        lesson[0].interaction_id,
        lesson[1].interaction_id,
    ]
    assert [t["model"] for t in turns] == ["gemini-3.1-flash-image", "gemini-3.5-flash", "gemini-3.5-flash"]
    assert [t["prompt"] for t in turns] == [
        "Draw a blue square",
        "What changed in pandas 3.0?",
        "What is my key?",
    ]
    (picture,) = turns[0]["media"]
    assert picture["mime_type"] == "image/png" and base64.b64decode(picture["data"]) == PICTURE
    assert [s["url"] for s in turns[1]["sources"]] == [PANDAS, BLOG]
    assert turns[1]["tools"] == ["google_search", "url_context"]
    assert "tools search, url" in turns[1]["settings"]
    assert turns[2]["answer"].startswith("Your key is ") and turns[2]["thoughts"] == "The user wants the key."
    assert [t["usage"] for t in turns] == [t.usage for t in lesson]
    assert all(t["usage"]["total_tokens"] > 0 for t in turns)


def test_one_word_exports_the_default_thread(ip, emulator, tmp_path):
    ip.run("%%gemini\nHello")
    ip.run(f"%gemini export {tmp_path}/default.json")
    assert json.loads((tmp_path / "default.json").read_text())["thread"] == "default"


def test_mistakes_are_one_line_usage_errors(ip, emulator, tmp_path):
    def refused(line: str, match: str) -> None:
        with pytest.raises(UsageError, match=match) as caught:
            ip.run(line)
        assert "\n" not in str(caught.value)

    refused(
        f"%gemini export {tmp_path}/x.md", "no thread named 'default' to export; existing threads: none yet"
    )
    ip.run("%%gemini -t lab\nHello")
    refused(f"%gemini export lab {tmp_path}/x.txt", r"'.*x.txt' must end in .md, .ipynb or .json")
    refused(
        f"%gemini export nope {tmp_path}/x.md", "no thread named 'nope' to export; existing threads: 'lab'"
    )
    refused(f"%gemini export a b {tmp_path}/x.md", "unrecognized arguments: .*x.md; usage: %gemini export")
    refused("%gemini export", "give the file to write, e.g. %gemini export lesson.md")
    refused(f"%gemini export lab {tmp_path}/missing/x.md", r"could not write .*; pick a writable path")
    ip.run("%gemini reset lab")
    refused(f"%gemini export lab {tmp_path}/x.md", "thread 'lab' has no turns to export yet")
    assert list(tmp_path.iterdir()) == []
    assert "usage: %gemini export [THREAD] PATH" in ip.run("%gemini export --help").stdout

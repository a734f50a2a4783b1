"""Every answer's outputs say where they came from, in metadata a saved notebook keeps."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

from gemini_magics import __version__
from gemini_magics.emulator import Reply, WallClock
from gemini_magics.emulator.research import research_reply

from .support import TEST_KEY, creates

PARAGRAPHS = [f"Paragraph {n}: " + "generators yield values lazily. " * 20 for n in range(8)]


@pytest.fixture
def emulator_options():
    return {"clock": WallClock(speed=10)}  # the research run below plays ten times faster


def _final_messages(outputs: list[dict]) -> list[dict]:
    """The last message of each display output (what a saved notebook keeps), in order."""
    last: dict[str, dict] = {}
    for n, output in enumerate(outputs):
        last[(output.get("transient") or {}).get("display_id") or f"anonymous-{n}"] = output
    return list(last.values())


def _record(output: dict) -> dict:
    return output["metadata"]["gemini_magics"]


def test_every_output_of_an_answer_ends_with_its_provenance(ip, emulator):
    emulator.enqueue(Reply.text("\n\n".join(PARAGRAPHS) + "\n", deltas=60, thoughts=["Thinking it over."]))
    cell = ip.run(
        "%%gemini -t lesson --thinking low --temperature 0.5 --show-thoughts -s 'Be terse, Alice.'\n"
        "Explain generators at length"
    )
    result = ip.user_ns["_gemini"]
    answer = [o for o in _final_messages(cell.outputs) if "Offline" not in str(o["data"])]
    parts = [_record(o)["part"] for o in answer]
    assert parts[0] == "thoughts" and parts[-1] == "footer"
    assert parts.count("answer") >= 3  # the long answer was split into segments, each kept with it
    for output in answer:
        record = _record(output)
        assert record["interaction_id"] == result.interaction_id
        assert (record["model"], record["thread"], record["origin"]) == ("gemini-3.5-flash", "lesson", "live")
        assert record["version"] == __version__
        assert record["options"]["thinking"] == "low" and record["options"]["temperature"] == 0.5
        assert record["options"]["system"] is True and record["options"]["show_thoughts"] is True
    for output in answer[-2:]:  # sent once the interaction ended: the last segment and the footer
        assert _record(output)["usage"] == result.usage and result.usage["total_tokens"] > 0
        assert _record(output)["status"] == "completed"
    metadata = json.dumps([o["metadata"] for o in cell.outputs])
    assert "Alice" not in metadata and TEST_KEY not in metadata  # the system text and key stay out
    # updates in between carry none: they are replaced, and the traffic stays small
    assert any(o["metadata"] == {} for o in cell.outputs if o not in answer)


def test_pictures_tools_and_research_reports_carry_it_too(ip, emulator):
    from .test_images import _png
    from .test_tools import grounded_reply

    emulator.enqueue(Reply.image(_png(), text="A square."), grounded_reply())
    picture = ip.run("%%gemini --image\nA red square")
    cited = ip.run("%%gemini -m gemini-3.5-flash --tools search url\nWhat changed in pandas 3.0?")
    for cell, kinds in ((picture, {"image", "answer", "footer"}), (cited, {"tool", "sources", "footer"})):
        records = [_record(o) for o in _final_messages(cell.outputs) if "gemini_magics" in o["metadata"]]
        assert kinds <= {r["part"] for r in records}
        assert len({r["interaction_id"] for r in records}) == 1
    image_record = next(_record(o) for o in picture.outputs if "image/png" in o["data"])
    assert image_record["options"]["image"] == {} and image_record["image"] is True
    tool_record = next(r for r in map(_record, _final_messages(cited.outputs)) if r["part"] == "tool")
    assert tool_record["options"]["tools"] == ["search", "url"]

    emulator.enqueue(research_reply("TPUs", duration=0.3))
    report = ip.run("%%gemini --research -t study\nCompare TPUs and GPUs")
    run = ip.user_ns["_gemini"]
    records = [_record(o) for o in report.outputs if "gemini_magics" in o["metadata"]]
    assert records and {r["part"] for r in records} == {"report"}
    assert {r["interaction_id"] for r in records} == {run.interaction_id}
    assert records[0]["model"] == "deep-research-preview-04-2026" and records[0]["usage"] == run.result.usage


def test_the_offline_emulator_is_named_as_the_origin(bare_shell):
    bare_shell.run("%load_ext gemini_magics")
    bare_shell.run("%gemini offline")
    cell = bare_shell.run("%%gemini\nWhat is a closure?")
    footer = _final_messages(cell.outputs)[-1]
    assert _record(footer)["part"] == "footer" and _record(footer)["origin"] == "offline"
    assert bare_shell.magics.threads["default"].turns[0].origin == "offline"


@pytest.mark.notebook
def test_a_saved_notebook_keeps_the_metadata_and_never_the_key(emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    emulator.enqueue(
        Reply.text("\n\n".join(PARAGRAPHS) + "\n", deltas=40, delay=0.005),
        Reply.text(f"I will not repeat {TEST_KEY}."),
    )
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext gemini_magics"),
        nbformat.v4.new_code_cell("%%gemini -t demo\nExplain generators at length"),
        nbformat.v4.new_code_cell("%gemini -t demo What is my key?"),
    ]
    NotebookClient(notebook, timeout=90, kernel_name="python3").execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(notebook, path)
    raw = path.read_text()
    assert TEST_KEY not in raw
    saved = nbformat.read(path, as_version=4)
    assert len(creates(emulator)) == 2
    for cell, prompt in zip(
        saved.cells[1:], ("Explain generators at length", "What is my key?"), strict=True
    ):
        records = [
            o.metadata["gemini_magics"] for o in cell.outputs if "gemini_magics" in o.get("metadata", {})
        ]
        assert records, f"no provenance on the outputs of {prompt!r}"
        assert len({r["interaction_id"] for r in records}) == 1 and records[0]["interaction_id"]
        assert all(r["thread"] == "demo" and r["origin"] == "live" for r in records)
        footer = records[-1]
        assert footer["part"] == "footer" and footer["usage"]["total_tokens"] > 0
    long_answer = [
        o for o in saved.cells[1].outputs if o.metadata.get("gemini_magics", {}).get("part") == "answer"
    ]
    assert len(long_answer) >= 2 and all("text/plain" in o.data for o in long_answer)
    assert "".join(o.data["text/plain"] for o in long_answer) == "\n\n".join(PARAGRAPHS) + "\n"

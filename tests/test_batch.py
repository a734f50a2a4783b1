"""``%%gemini --map``: one prompt per row, over real HTTP to the emulator (the SDK is never patched)."""

from __future__ import annotations

import _thread
import sys
import threading
from typing import Any

import pytest
from IPython.core.error import UsageError

import gemini_magics
from gemini_magics.core.batch import BatchResult, inputs_of
from gemini_magics.core.errors import GeminiBatchStopped, GeminiTurnIncomplete
from gemini_magics.core.results import GeminiResult
from gemini_magics.emulator import Fault, Reply
from gemini_magics.emulator.offline import prompt_text

from .support import TEST_KEY, creates, wait_for

FUNCTION_RESULT = "function_result"


def echo(body: dict[str, Any]) -> Reply | Fault | None:
    """Answers each row with its own prompt; prompts with BROKEN fail, prompts with SLOW stall."""
    prompt = prompt_text(body["input"])
    if "BROKEN" in prompt:
        return Fault.http(400, "invalid_argument", "this row cannot be answered")
    if "SLOW" in prompt:
        return Reply.text("late", stall_after=1, stall_seconds=None)
    return Reply.text(f"Answer: {prompt}", deltas=2)


@pytest.fixture
def rows(ip, emulator):
    emulator.responder = echo
    return ip


def sent_prompts(emulator) -> list[str]:
    return sorted(prompt_text(request.body["input"]) for request in creates(emulator))


def run_map(ip, cell: str) -> BatchResult:
    ip.run(cell)
    result = ip.user_ns["_gemini"]
    assert isinstance(result, BatchResult)
    return result


# -- each kind of iterable --------------------------------------------------------------------------
def test_a_list_sends_one_interaction_per_item_off_every_thread(rows, emulator):
    rows.user_ns["reviews"] = ["great", "awful", "fine"]
    cell = rows.run("%%gemini --map reviews -o labelled\nLabel this review: {{item}}")
    labelled = rows.user_ns["labelled"]
    assert labelled is rows.user_ns["_gemini"]
    assert labelled.texts == [f"Answer: Label this review: {w}" for w in ("great", "awful", "fine")]
    assert labelled.statuses == ["completed"] * 3
    assert sent_prompts(emulator) == sorted(f"Label this review: {w}" for w in ("great", "awful", "fine"))
    assert all("previous_interaction_id" not in r.body for r in creates(emulator))
    assert rows.magics.threads["default"].turns == []
    assert "3 rows: 3 completed" in cell.outputs[-1]["data"]["text/plain"]


def test_a_tuple_with_as_names_the_row(rows, emulator):
    rows.user_ns["words"] = ("cat", "dog")
    result = run_map(rows, "%%gemini --map words --as word\nDefine {{word}}.")
    assert result.texts == ["Answer: Define cat.", "Answer: Define dog."]
    assert list(result.to_pandas().columns) == ["word", "text", "status", "error"]


def test_a_dict_maps_its_items_as_key_value_pairs(rows, emulator):
    rows.user_ns["capitals"] = {"France": "Paris", "Japan": "Tokyo"}
    result = run_map(rows, "%%gemini --map capitals\nIs this right? {{item}} (country {{item.key}})")
    assert result.texts == [
        "Answer: Is this right? France: Paris (country France)",
        "Answer: Is this right? Japan: Tokyo (country Japan)",
    ]
    assert list(result.to_pandas().columns) == ["key", "value", "text", "status", "error"]


def test_a_series_keeps_its_name_and_index(rows, emulator):
    pandas = pytest.importorskip("pandas")
    rows.user_ns["reviews"] = pandas.Series(["good", "bad"], index=["r1", "r2"], name="review")
    result = run_map(rows, "%%gemini --map reviews\nLabel: {{item}}")
    frame = result.to_pandas()
    assert list(frame.index) == ["r1", "r2"]
    assert list(frame["review"]) == ["good", "bad"]
    assert list(frame["text"]) == ["Answer: Label: good", "Answer: Label: bad"]


def test_a_dataframe_fills_item_columns(rows, emulator):
    pandas = pytest.importorskip("pandas")
    rows.user_ns["books"] = pandas.DataFrame({"title": ["Dune", "Emma"], "stars": [5, 3]})
    result = run_map(
        rows, "%%gemini --map books\nReview {{item.title}} ({{item.stars}} stars, {{item['title']}})"
    )
    assert result.texts == ["Answer: Review Dune (5 stars, Dune)", "Answer: Review Emma (3 stars, Emma)"]
    frame = result.to_pandas()
    assert list(frame.columns) == ["title", "stars", "text", "status", "error"]
    assert list(frame["status"]) == ["completed", "completed"]


def test_a_glob_attaches_each_file(rows, emulator, tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.pdf").write_bytes(b"%PDF-1.4 " + name.encode() * 10)
    (tmp_path / "notes.txt").write_text("not matched")
    rows.user_ns["pattern"] = str(tmp_path / "*.pdf")
    result = run_map(rows, "%%gemini --map pattern\nSummarise {{item}}")
    assert result.texts == [f"Answer: Summarise {tmp_path / name}.pdf" for name in ("a", "b")]
    documents = sorted(
        block["mime_type"]
        for request in creates(emulator)
        for step in request.body["input"]
        for block in step["content"]
        if block["type"] == "document"
    )
    assert documents == ["application/pdf", "application/pdf"]
    assert list(result.to_pandas()["path"]) == [str(tmp_path / "a.pdf"), str(tmp_path / "b.pdf")]


def test_a_glob_written_on_the_line(rows, emulator, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4 scan")
    result = run_map(rows, "%%gemini --map *.pdf\nRead {{item}}")
    assert result.texts == ["Answer: Read scan.pdf"]


def test_map_with_python_function_tools(rows, emulator):
    looked_up: list[str] = []

    def lookup(word: str) -> str:
        """Look a word up."""
        looked_up.append(word)
        return word.upper()

    def calls_then_answers(body: dict[str, Any]) -> Reply:
        steps = body["input"] if isinstance(body["input"], list) else []
        results = [s for s in steps if s.get("type") == FUNCTION_RESULT]
        if results:
            return Reply.text(f"Looked up {results[0]['result']}")
        assert [t["name"] for t in body["tools"]] == ["lookup"]
        return Reply.function_call("lookup", {"word": prompt_text(body["input"]).split()[-1]})

    emulator.responder = calls_then_answers
    rows.user_ns.update(lookup=lookup, words=["tea", "cake"])
    result = run_map(rows, "%%gemini --map words --tools lookup\nLook up {{item}}")
    assert sorted(looked_up) == ["cake", "tea"]
    assert all(text and text.startswith("Looked up") for text in result.texts)
    assert len(creates(emulator)) == 4


# -- concurrency, back-off, failures ------------------------------------------------------------
def test_concurrency_is_bounded_and_reached(rows, emulator):
    emulator.latency = 0.15
    rows.user_ns["items"] = list(range(9))
    result = run_map(rows, "%%gemini --map items --concurrency 3\nSquare {{item}}")
    assert result.count("completed") == 9
    assert emulator.peak_in_flight == 3


def test_the_concurrency_trait_is_the_default(rows, emulator):
    emulator.latency = 0.15
    rows.run("%config GeminiMagics.concurrency = 2")
    rows.user_ns["items"] = list(range(6))
    run_map(rows, "%%gemini --map items\nSquare {{item}}")
    assert emulator.peak_in_flight == 2


def test_rows_reuse_their_connections_and_close_them_at_the_end(rows, emulator):
    rows.user_ns["items"] = list(range(8))
    result = run_map(rows, "%%gemini --map items --concurrency 2\nSquare {{item}}")
    assert result.count("completed") == 8
    # one connection per slot, kept alive from row to row (a drain cut short by a very busy machine
    # would cost one more: without reuse there would be one per row)
    assert 2 <= emulator.connections_opened < 4
    wait_for(lambda: emulator.open_connections == 0, 10, "the batch's connections to be closed")


def test_a_server_that_never_ends_its_streams_costs_a_connection_per_row(rows, emulator):
    emulator.responder = lambda body: Reply.text(f"Answer: {prompt_text(body['input'])}", hold_open=True)
    rows.user_ns["items"] = ["a", "b", "c"]
    result = run_map(rows, "%%gemini --map items --concurrency 1\nEcho {{item}}")
    assert result.texts == ["Answer: Echo a", "Answer: Echo b", "Answer: Echo c"]
    assert emulator.connections_opened == 3, "a stream still open after its last event is not reused"
    cell = rows.run("%%gemini\nAnd a cell?")  # the sync client stops at the terminal event too
    assert rows.user_ns["_gemini"].text == "Answer: And a cell?"
    assert cell.outputs


def test_a_server_that_cuts_the_connection_after_the_last_event_still_answers_every_row(rows, emulator):
    # six events a reply (created, status, step start, delta, step stop, completed), then no end of body
    emulator.responder = lambda body: Reply.text(
        f"Answer: {prompt_text(body['input'])}", drop_after=6, drop_mode="reset"
    )
    rows.user_ns["items"] = ["a", "b", "c"]
    result = run_map(rows, "%%gemini --map items --concurrency 1\nEcho {{item}}")
    assert result.statuses == ["completed"] * 3
    assert result.texts == ["Answer: Echo a", "Answer: Echo b", "Answer: Echo c"]
    assert len(creates(emulator)) == 3 and emulator.connections_opened == 3


def test_a_429_burst_pauses_the_batch_then_every_row_succeeds(rows, emulator):
    emulator.enqueue(Fault.http(429, "resource_exhausted", "Slow down", retry_after=0.3, times=3))
    rows.user_ns["items"] = list(range(6))
    result = run_map(rows, "%%gemini --map items --concurrency 3\nSquare {{item}}")
    assert result.statuses == ["completed"] * 6
    assert len(creates(emulator)) == 6 + 3
    assert result.texts == [f"Answer: Square {i}" for i in range(6)]


def test_a_row_that_keeps_failing_keeps_its_error_and_the_others_succeed(rows, emulator):
    rows.user_ns["items"] = ["ok", "BROKEN", "fine"]
    result = run_map(rows, "%%gemini --map items -o out\nCheck {{item}}")
    assert result.statuses == ["completed", "failed", "completed"]
    assert result.errors[0] is None and result.errors[2] is None
    assert "this row cannot be answered" in (result.errors[1] or "")
    frame = result.to_pandas()
    assert list(frame["status"]) == ["completed", "failed", "completed"]
    assert "400" in frame["error"][1]
    assert "1 failed" in repr(result)


def test_a_batch_where_every_row_fails_fails_the_cell(rows, emulator):
    rows.user_ns["items"] = ["BROKEN 1", "BROKEN 2"]
    with pytest.raises(GeminiTurnIncomplete, match="every row failed"):
        rows.run("%%gemini --map items\nCheck {{item}}")
    assert rows.user_ns["_gemini"].count("failed") == 2


def test_an_interrupt_cancels_rows_in_flight_and_keeps_finished_ones(rows, emulator):
    rows.user_ns["items"] = ["a", "b", "c", "SLOW d", "SLOW e"]

    def interrupt_once_three_finished() -> None:
        run = wait_for(lambda: next(iter(rows.magics.session.running), None), 10, "the batch to start")
        wait_for(lambda: run.result.count("completed") == 3, 10, "three rows answered")
        wait_for(lambda: emulator.in_flight == 2, 10, "the two slow rows in flight")
        _thread.interrupt_main()

    helper = threading.Thread(target=interrupt_once_three_finished, daemon=True)
    helper.start()
    with pytest.raises(GeminiBatchStopped, match="3 of 5 rows answered, kept in kept"):
        rows.run("%%gemini --map items --concurrency 5 -o kept\nEcho {{item}}")
    helper.join(10)
    kept = rows.user_ns["kept"]
    assert kept.statuses == ["completed"] * 3 + ["cancelled"] * 2
    assert kept.texts[:3] == ["Answer: Echo a", "Answer: Echo b", "Answer: Echo c"]
    assert rows.magics.session.running == []


def test_a_rerun_sends_only_rows_without_an_answer(rows, emulator):
    rows.user_ns["items"] = ["a", "BROKEN b", "c"]
    cell = "%%gemini --map items\nEcho {{item}}"
    first = run_map(rows, cell)
    assert first.statuses == ["completed", "failed", "completed"]
    emulator.reset()
    rows.user_ns["items"] = ["a", "b", "c", "d"]
    second = run_map(rows, cell)
    assert sent_prompts(emulator) == ["Echo b", "Echo d"]
    assert second.texts == [f"Answer: Echo {w}" for w in "abcd"]
    assert second.reused == 2 and "from an earlier run" in repr(second)
    emulator.reset()
    run_map(rows, cell)
    assert creates(emulator) == []
    emulator.reset()
    run_map(rows, "%%gemini --map items -m gemini-3.5-flash-lite\nEcho {{item}}")
    assert len(creates(emulator)) == 4, "another model is another question"
    emulator.reset()
    run_map(rows, "%%gemini --map items --refresh\nEcho {{item}}")
    assert len(creates(emulator)) == 4


def test_thread_per_item_gives_each_row_its_own_thread(rows, emulator):
    rows.user_ns["items"] = ["x", "y"]
    run_map(rows, "%%gemini --map items -t lab --thread-per-item\nStart {{item}}")
    threads = rows.magics.threads
    assert [len(threads[name].turns) for name in ("lab-0", "lab-1")] == [1, 1]
    assert threads["lab"].turns == []
    rows.run("%%gemini -t lab-1\nAnd then?")
    assert creates(emulator)[-1].body["previous_interaction_id"] == threads["lab-1"].turns[0].interaction_id


# -- progress and display ---------------------------------------------------------------------------
def test_terminal_progress_is_tqdm_text_bar(rows, emulator):
    rows.user_ns["items"] = list(range(4))
    cell = rows.run("%%gemini --map items\nSquare {{item}}")
    assert "gemini: 100%" in cell.stdout and "4/4" in cell.stdout and "row/s" in cell.stdout


def test_notebook_progress_is_tqdm_widget_bar(rows, emulator):
    from ipywidgets.widgets.widget import _instances

    rows.run("%config GeminiMagics.widgets = 'on'")
    rows.user_ns["items"] = list(range(3))
    cell = rows.run("%%gemini --map items\nSquare {{item}}")
    views = [o["data"] for o in cell.outputs if "application/vnd.jupyter.widget-view+json" in o["data"]]
    assert len(views) == 1
    container = _instances[views[0]["application/vnd.jupyter.widget-view+json"]["model_id"]]
    bar = next(child for child in container.children if hasattr(child, "max"))
    assert (bar.value, bar.max, bar.bar_style) == (3, 3, "success")
    assert "3/3" in container.children[-1].value
    assert cell.stdout == ""


def test_batch_from_python_in_a_notebook_shows_the_same_widget_bar(rows, emulator, capsys):
    from ipywidgets.widgets.widget import _instances

    rows.run("%config GeminiMagics.widgets = 'on'")
    cell = rows.run("import gemini_magics\nout = gemini_magics.batch('Square {{item}}', [1, 2, 3])")
    assert rows.user_ns["out"].count("completed") == 3
    views = [o["data"] for o in cell.outputs if "application/vnd.jupyter.widget-view+json" in o["data"]]
    assert len(views) == 1
    container = _instances[views[0]["application/vnd.jupyter.widget-view+json"]["model_id"]]
    bar = next(child for child in container.children if hasattr(child, "max"))
    assert (bar.value, bar.max) == (3, 3)
    assert cell.stdout == "" and "gemini:" not in capsys.readouterr().err  # no text bar besides


def test_the_table_preview_escapes_inputs_and_answers(rows, emulator):
    rows.user_ns["items"] = ["<script>alert(1)</script>"]
    cell = rows.run("%%gemini --map items\n{{item}}")
    table = cell.outputs[-1]["data"]
    assert "<script>" not in table["text/html"] and "&lt;script&gt;" in table["text/html"]
    assert "text/markdown" not in table
    assert rows.shell.display_formatter.format(rows.user_ns["_gemini"])[0]["text/html"] == table["text/html"]


# -- mistakes ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--map empty", "--map empty is empty"),
        ("--map nothing_here", "--map nothing_here: NameError"),
        ("--map 42", "--map 42 is a int"),
        ("--as row", "go with --map"),
        ("--map items --concurrency 0", "--concurrency must be at least 1"),
        ("--map items --new", "--new does not go with --map"),
        ("--map items --as 'two words'", "--as needs a name"),
    ],
)
def test_mistakes_are_one_line_usage_errors(rows, emulator, line, message):
    rows.user_ns.update(empty=[], items=[1])
    with pytest.raises(UsageError, match=message):
        rows.run(f"%%gemini {line}\nSay {{{{item}}}}")
    assert creates(emulator) == []


def test_a_row_that_cannot_be_filled_names_the_row(rows, emulator):
    rows.user_ns["items"] = [{"a": 1}, {"b": 2}]
    with pytest.raises(UsageError, match=r"row 1: .*item\['a'\]"):
        rows.run("%%gemini --map items\nSay {{item['a']}}")
    assert creates(emulator) == []


# -- the result object, and Python -------------------------------------------------------------------
def _result_with(parsed: list[Any], statuses: list[str]) -> BatchResult:
    result = BatchResult("Label {{item}}", inputs_of(["good", "bad", "meh"]))
    for i, (value, status) in enumerate(zip(parsed, statuses, strict=True)):
        usage = {"total_tokens": 10 + i, "note": "x"}
        result.results[i] = GeminiResult(text=str(value), parsed=value, usage=usage, status=status)
        result.statuses[i] = status
    result.errors[2] = "500 internal: boom" if statuses[2] == "failed" else None
    return result


def test_to_pandas_expands_parsed_fields_into_columns():
    pytest.importorskip("pandas")
    parsed = [{"sentiment": "positive", "score": 0.9}, {"sentiment": "negative", "score": 0.1}, None]
    result = _result_with(parsed, ["completed", "completed", "failed"])
    frame = result.to_pandas()
    assert list(frame.columns) == ["item", "sentiment", "score", "status", "error"]
    assert list(frame["sentiment"])[:2] == ["positive", "negative"]
    assert list(frame["status"]) == ["completed", "completed", "failed"]
    assert frame["error"][2] == "500 internal: boom"
    assert result.parsed[2] is None
    assert result.usage == {"total_tokens": 33}


def test_to_pandas_without_pandas_says_what_to_do(monkeypatch):
    result = _result_with(["a", "b", "c"], ["completed"] * 3)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        result.to_pandas()


def test_repr_shows_counts_and_a_few_rows():
    result = _result_with(["a", "b", "c"], ["completed", "completed", "failed"])
    text = repr(result)
    assert text.splitlines()[0] == "<BatchResult 3 rows: 2 completed, 1 failed>"
    assert "[0] completed 'good' → 'parsed=a'" in text  # the table's columns, as to_pandas() names them
    assert "[2] failed    'meh' → 'error=500 internal: boom'" in text


def test_batch_from_python(emulator, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    emulator.responder = echo
    result = gemini_magics.batch(
        "{{greeting}}, {{name}}",
        ["Ada", "Alan"],
        as_name="name",
        variables={"greeting": "Hello"},
        concurrency=2,
        progress=False,
        system="Be brief.",
    )
    assert result.texts == ["Answer: Hello, Ada", "Answer: Hello, Alan"]
    assert all(r.body["system_instruction"] == "Be brief." for r in creates(emulator))
    assert TEST_KEY not in repr(result)

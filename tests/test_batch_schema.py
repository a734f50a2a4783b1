"""Structured output over batches (``--schema``/``--json`` with ``--map``), and the token budget
stopping a batch. Real SDK, real HTTP, the emulator validating every request and response."""

from __future__ import annotations

import json
from typing import Any, Literal

import pydantic
import pytest
from IPython.core.error import UsageError

import gemini_magics
from gemini_magics.core.batch import BatchResult
from gemini_magics.emulator import Reply
from gemini_magics.emulator.offline import prompt_text

from .support import TEST_KEY, creates

pandas = pytest.importorskip("pandas")


class Review(pydantic.BaseModel):
    sentiment: Literal["positive", "neutral", "negative"]
    score: int = pydantic.Field(ge=1, le=5)
    topics: list[str]


REVIEW_WIRE = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "topics": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["sentiment", "score", "topics"],
}

REVIEWS = {
    "product": ["kettle", "lamp", "backpack"],
    "text": ["Boils fast.", "Flickers at low brightness.", "ODD Plenty of pockets."],
}


@pytest.fixture
def reviews(ip):
    ip.user_ns.update(Review=Review, reviews=pandas.DataFrame(REVIEWS))
    return ip


def run_map(ip, cell: str) -> BatchResult:
    ip.run(cell)
    result = ip.user_ns["_gemini"]
    assert isinstance(result, BatchResult)
    return result


def odd_rows_do_not_fit(body: dict[str, Any]) -> Reply | None:
    """Rows whose prompt says ODD get JSON that breaks the schema; the others the emulator's own."""
    if "ODD" in prompt_text(body["input"]):
        return Reply.text(json.dumps({"sentiment": "ecstatic", "score": 9, "topics": ["pockets"]}))
    return None


def test_schema_over_a_dataframe_parses_every_row_into_the_model(reviews, emulator):
    labelled = run_map(
        reviews,
        "%%gemini --schema Review --map reviews -o labelled\n"
        "Label this {{item.product}} review: {{item.text}}",
    )
    assert reviews.user_ns["labelled"] is labelled
    assert labelled.statuses == ["completed"] * 3
    assert all(isinstance(value, Review) for value in labelled.parsed), labelled.parsed
    assert labelled.parsed == [Review.model_validate_json(text or "") for text in labelled.texts]
    bodies = [request.body for request in creates(emulator)]
    assert len(bodies) == 3  # one interaction per row
    assert sorted(prompt_text(b["input"]) for b in bodies) == sorted(
        f"Label this {p} review: {t}" for p, t in zip(REVIEWS["product"], REVIEWS["text"], strict=True)
    )
    for body in bodies:
        assert body["response_format"] == {
            "type": "text",
            "mime_type": "application/json",
            "schema": REVIEW_WIRE,
        }
    frame = labelled.to_pandas()
    assert list(frame.columns) == ["product", "text", "sentiment", "score", "topics", "status", "error"]
    assert list(frame["sentiment"]) == [value.sentiment for value in labelled.parsed]
    assert list(frame["score"]) == [value.score for value in labelled.parsed]
    assert list(frame["topics"]) == [value.topics for value in labelled.parsed]
    assert list(frame["product"]) == REVIEWS["product"]
    assert list(frame["error"]) == [None] * 3


def test_a_row_whose_answer_does_not_fit_fails_with_the_validation_message(reviews, emulator):
    emulator.responder = odd_rows_do_not_fit
    cell = "%%gemini --schema Review --map reviews -o labelled\nLabel: {{item.text}}"
    labelled = run_map(reviews, cell)
    assert labelled.statuses == ["completed", "completed", "failed"]
    assert isinstance(labelled.parsed[0], Review) and labelled.parsed[2] is None
    error = labelled.errors[2] or ""
    assert error.startswith("the answer does not fit Review: ")
    assert "sentiment" in error and "score" in error
    assert labelled.results[2] is not None and '"ecstatic"' in labelled.results[2].text  # the raw answer
    frame = labelled.to_pandas()
    assert list(frame["status"]) == ["completed", "completed", "failed"]
    assert frame["error"][2] == error and pandas.isna(frame["sentiment"][2])
    assert "1 failed" in repr(labelled)

    emulator.reset()
    emulator.responder = None  # the emulator's own conforming answers
    again = run_map(reviews, cell)
    assert [prompt_text(r.body["input"]) for r in creates(emulator)] == ["Label: ODD Plenty of pockets."]
    assert again.statuses == ["completed"] * 3 and again.reused == 2


def test_the_table_preview_shows_the_fields_as_columns_and_the_failed_rows_error(reviews, emulator):
    emulator.responder = odd_rows_do_not_fit
    cell = reviews.run("%%gemini --schema Review --map reviews -o labelled\nLabel: {{item.text}}")
    labelled = reviews.user_ns["labelled"]
    header, rows = labelled.preview_table()
    assert header == ["row", "input", "status", "sentiment", "score", "topics", "error"]
    first = labelled.parsed[0]
    assert rows[0][3:6] == [first.sentiment, str(first.score), ", ".join(first.topics)]
    assert rows[2][2:] == ["failed", "", "", "", labelled.errors[2][:59] + "…"]
    table = cell.outputs[-1]["data"]["text/html"]
    assert "<th>sentiment</th><th>score</th><th>topics</th><th>error</th>" in table
    assert f"<td>{first.sentiment}</td>" in table
    shown = repr(labelled).splitlines()  # the same rows in a terminal
    assert shown[1].endswith(f"→ 'sentiment={first.sentiment}, score={first.score}, topics={rows[0][5]}'")
    assert "[2] failed" in shown[3] and "→ 'error=the answer does not fit Review" in shown[3]


def test_json_over_a_list_asks_for_json_without_a_schema(ip, emulator):
    def answers(body: dict[str, Any]) -> Reply:
        word = prompt_text(body["input"]).split()[-1]
        return Reply.text(json.dumps({"word": word, "letters": len(word)}))

    emulator.responder = answers
    ip.user_ns["words"] = ["tea", "cake"]
    result = run_map(ip, "%%gemini --json --map words\nCount the letters of {{item}}")
    assert result.parsed == [{"word": "tea", "letters": 3}, {"word": "cake", "letters": 4}]
    bodies = [request.body for request in creates(emulator)]
    assert len(bodies) == 2
    assert all(b["response_format"] == {"type": "text", "mime_type": "application/json"} for b in bodies)
    frame = result.to_pandas()
    assert list(frame.columns) == ["item", "word", "letters", "status", "error"]
    assert list(frame["letters"]) == [3, 4]


def test_batch_from_python_with_a_schema(emulator, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    emulator.responder = odd_rows_do_not_fit
    result = gemini_magics.batch(
        "Label: {{item}}", ["Boils fast.", "ODD pockets", "Warm light."], schema=Review, progress=False
    )
    assert result.statuses == ["completed", "failed", "completed"]
    assert isinstance(result.parsed[0], Review) and isinstance(result.parsed[2], Review)
    assert "does not fit Review" in (result.errors[1] or "")
    assert [r.body["response_format"]["schema"] for r in creates(emulator)] == [REVIEW_WIRE] * 3
    frame = result.to_pandas()
    assert list(frame.columns) == ["item", "sentiment", "score", "topics", "status", "error"]
    assert TEST_KEY not in repr(result) and TEST_KEY not in frame.to_string()


def test_a_list_schema_per_row(ip, emulator):
    ip.user_ns.update(Review=Review, groups=["good. bad.", "fine."])
    result = run_map(ip, "%%gemini --schema 'list[Review]' --map groups\nLabel each sentence: {{item}}")
    assert all(
        isinstance(value, list) and all(isinstance(r, Review) for r in value) for value in result.parsed
    )
    wire = creates(emulator)[0].body["response_format"]["schema"]
    assert wire == {"type": "array", "items": REVIEW_WIRE}
    assert list(result.to_pandas().columns) == ["item", "parsed", "status", "error"]


# -- the token budget ------------------------------------------------------------------------------
BUDGET_MESSAGE = r"token budget of 100 reached \(120 used in this kernel\); raise it with %config"


def spends_120_tokens(body: dict[str, Any]) -> Reply:
    usage = {"total_input_tokens": 50, "total_output_tokens": 70, "total_tokens": 120}
    return Reply.text(json.dumps({"sentiment": "neutral", "score": 3, "topics": ["x"]}), usage=usage)


def test_the_budget_stops_a_batch_rows_past_it_are_kept_as_failed(reviews, emulator):
    emulator.responder = spends_120_tokens
    reviews.run("%config GeminiMagics.token_budget = 100")
    cell = "%%gemini --schema Review --map reviews --concurrency 1 -o labelled\nLabel: {{item.text}}"
    with pytest.raises(UsageError, match=BUDGET_MESSAGE + r".*send only the 2 of 3 rows that were not sent"):
        reviews.run(cell)
    labelled = reviews.user_ns["labelled"]
    assert labelled.statuses == ["completed", "failed", "failed"]
    assert isinstance(labelled.parsed[0], Review)
    assert all(e and e.startswith("token budget of 100 reached") for e in labelled.errors[1:])
    assert len(creates(emulator)) == 1  # the first row crossed the budget; the others were never sent
    assert reviews.magics.session.usage.used() == 120

    with pytest.raises(UsageError, match=BUDGET_MESSAGE):  # already over: the batch does not start
        reviews.run(cell)
    assert len(creates(emulator)) == 1

    reviews.run("%config GeminiMagics.token_budget = 1000")
    again = run_map(reviews, cell)
    assert len(creates(emulator)) == 3  # only the two rows without an answer
    assert again.statuses == ["completed"] * 3 and again.reused == 1


def test_batch_in_python_uses_the_kernels_session_and_its_budget(ip, emulator):
    emulator.responder = spends_120_tokens
    ip.run("%config GeminiMagics.token_budget = 100")
    result = gemini_magics.batch(
        "Label: {{item}}", ["a", "b", "c"], schema=Review, concurrency=1, progress=False
    )
    assert result.statuses == ["completed", "failed", "failed"]  # returned, not raised: read .errors
    assert "token budget of 100 reached" in (result.errors[2] or "")
    assert len(creates(emulator)) == 1
    assert ip.magics.session.usage.used() == 120  # counted in the kernel, as %gemini usage shows


def test_a_column_named_like_a_pandas_method_reads_the_column(ip, emulator):
    ip.user_ns["rows"] = pandas.DataFrame({"product": ["kettle"], "name": ["Ada"], "count": [3]})
    run_map(ip, "%%gemini --map rows\n{{item.name}} bought {{item.count}} of {{item.product}}")
    assert [prompt_text(r.body["input"]) for r in creates(emulator)] == ["Ada bought 3 of kettle"]


def test_text_files_are_attached_as_text_and_other_encodings_are_refused(ip, emulator, tmp_path):
    (tmp_path / "a.txt").write_text("Order 48213 arrived broken.", encoding="utf-8")
    ip.user_ns["pattern"] = str(tmp_path / "*.txt")
    result = run_map(ip, "%%gemini --json --map pattern\nExtract the order number.")
    assert result.statuses == ["completed"]
    (body,) = [r.body for r in creates(emulator)]
    assert body["input"][0]["content"] == [
        {"type": "text", "text": "Extract the order number."},
        {"type": "text", "text": "Attached file a.txt:\n\nOrder 48213 arrived broken."},
    ]
    (tmp_path / "b.txt").write_bytes("Bestellung für Jürgen".encode("latin-1"))
    with pytest.raises(UsageError, match=r"row 1: .*b.txt is not UTF-8 text; save it as UTF-8"):
        ip.run("%%gemini --json --map pattern --refresh\nExtract the order number.")
    assert len(creates(emulator)) == 1


def test_enum_fields_become_their_values_in_the_data_frame(ip, emulator):
    import enum

    class Kind(enum.Enum):
        PRAISE = "praise"
        COMPLAINT = "complaint"

    class Letter(pydantic.BaseModel):
        kind: Kind

    ip.user_ns.update(Letter=Letter, letters=["Thanks!", "Broken lid."])
    labelled = run_map(ip, "%%gemini --schema Letter --map letters\nWhat kind of letter is this: {{item}}")
    assert all(isinstance(value.kind, Kind) for value in labelled.parsed)  # .parsed keeps the members
    frame = labelled.to_pandas()
    assert list(frame["kind"]) == [value.kind.value for value in labelled.parsed]
    assert set(frame["kind"]) <= {"praise", "complaint"}

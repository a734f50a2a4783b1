"""Structured output (``--schema``, ``--json``): what is sent, what comes back, what a cell shows.

Every turn goes through the real SDK over HTTP to the emulator, which answers a JSON
``response_format`` with JSON that fits the schema (derived from the prompt), refuses ``$ref`` and an
empty ``required`` as the real API does, and validates every request and response it sees.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import threading
import typing
from typing import Literal

import jsonschema
import pydantic
import pytest
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError

from gemini_magics.core.errors import GeminiSchemaError
from gemini_magics.core.session import Session, Settings, TurnRequest
from gemini_magics.core.structured import OutputSchema
from gemini_magics.emulator import Reply
from gemini_magics.emulator.structured import _Chooser, conforming_value

from .support import TEST_KEY, creates, html_of, markdown_of, wait_for


class Review(pydantic.BaseModel):
    """A labelled review."""

    sentiment: Literal["positive", "neutral", "negative"]
    score: int
    topics: list[str]


class Address(pydantic.BaseModel):
    city: str
    zip_code: str | None = None


class Person(pydantic.BaseModel):
    name: str = pydantic.Field(description="Full name")
    home: Address
    previous: list[Address] = []


@dataclasses.dataclass
class Measurement:
    quantity: str
    value: float
    exact: bool


class Movie(typing.TypedDict):
    title: str
    year: int


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Tree(pydantic.BaseModel):
    children: list[Tree]


RECIPE_SCHEMA = {
    "type": "object",
    "title": "Recipe",
    "properties": {
        "name": {"type": "string"},
        "minutes": {"type": "integer", "minimum": 1, "maximum": 240},
        "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}, "minItems": 1},
    },
    "required": ["name", "minutes", "steps"],
    "$defs": {"step": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
}


def sent_format(emulator) -> dict:
    return creates(emulator)[-1].body["response_format"]


def no_refs(schema: object) -> bool:
    return "$ref" not in json.dumps(schema) and "$defs" not in json.dumps(schema)


# -- each kind of schema ---------------------------------------------------------------------------
def test_a_pydantic_model_is_sent_as_a_json_schema_and_parsed_into_an_instance(ip, emulator):
    ip.user_ns.update(Review=Review, text="The pasta was great but the service slow.")
    ip.run("%%gemini --schema Review -o r\nLabel this review: {{text}}")
    result = ip.user_ns["r"]
    assert isinstance(result.parsed, Review)
    assert result.parsed == Review.model_validate_json(result.text)
    assert sent_format(emulator) == {
        "type": "text",
        "mime_type": "application/json",
        "schema": {
            "type": "object",
            "description": "A labelled review.",
            "properties": {
                "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
                "score": {"type": "integer"},
                "topics": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["sentiment", "score", "topics"],
        },
    }
    assert ip.user_ns["_gemini"] is result


def test_nested_models_are_inlined_on_the_wire(ip, emulator):
    ip.user_ns["Person"] = Person
    ip.run("%%gemini --schema Person -o p\nInvent a person.")
    person = ip.user_ns["p"].parsed
    assert isinstance(person, Person) and isinstance(person.home, Address)
    schema = sent_format(emulator)["schema"]
    assert no_refs(schema) and "title" not in json.dumps(schema)
    assert schema["required"] == ["name", "home"]  # defaults are optional
    assert schema["properties"]["name"]["description"] == "Full name"
    assert schema["properties"]["home"]["required"] == ["city"]
    assert schema["properties"]["home"]["properties"]["zip_code"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}]
    }
    assert schema["properties"]["previous"]["items"] == schema["properties"]["home"]


def test_a_dataclass_comes_back_as_an_instance(ip, emulator):
    ip.user_ns["Measurement"] = Measurement
    ip.run("%%gemini --schema Measurement -o m\nHow tall is the Eiffel tower?")
    value = ip.user_ns["m"].parsed
    assert isinstance(value, Measurement) and isinstance(value.exact, bool)
    assert sent_format(emulator)["schema"]["required"] == ["quantity", "value", "exact"]


def test_a_typeddict_from_typing_comes_back_as_a_dict(ip, emulator):
    ip.user_ns["Movie"] = Movie
    ip.run("%%gemini --schema Movie -o m\nA film about whales.")
    value = ip.user_ns["m"].parsed
    assert type(value) is dict and set(value) == {"title", "year"} and isinstance(value["year"], int)
    assert sent_format(emulator)["schema"]["properties"]["year"] == {"type": "integer"}


def test_an_enum_comes_back_as_a_member(ip, emulator):
    ip.user_ns["Colour"] = Colour
    ip.run("%%gemini --schema Colour -o c\nThe colour of the sky?")
    assert isinstance(ip.user_ns["c"].parsed, Colour)
    assert sent_format(emulator)["schema"] == {"type": "string", "enum": ["red", "green", "blue"]}


def test_a_list_of_models_shows_a_json_block_while_streaming_then_a_table(ip, emulator):
    ip.user_ns["Review"] = Review
    cell = ip.run("%%gemini --schema 'list[Review]' -o r\nLabel: good food; rude staff; fine.")
    reviews = ip.user_ns["r"].parsed
    assert isinstance(reviews, list) and reviews and all(isinstance(item, Review) for item in reviews)
    assert sent_format(emulator)["schema"]["type"] == "array"
    answer_id = next(
        o["transient"]["display_id"] for o in cell.outputs if "<pre><code>" in o["data"].get("text/html", "")
    )
    updates = [o["data"] for o in cell.outputs if (o.get("transient") or {}).get("display_id") == answer_id]
    streamed = [u["text/html"] for u in updates if "<pre><code>" in u["text/html"]]
    assert len(streamed) >= 2 and len(streamed[0]) < len(streamed[-1])  # a growing code block
    assert streamed[0].count("[") >= 1 and "<table>" not in "".join(streamed)
    final = updates[-1]
    assert "<table>" in final["text/html"] and "<th>sentiment</th>" in final["text/html"]
    assert reviews[0].sentiment in final["text/html"]
    assert final["text/plain"].splitlines()[0].split() == ["sentiment", "score", "topics"]
    assert "<table>" in html_of(cell) and "gemini-3.5-flash" in markdown_of(cell)


def test_a_long_structured_answer_stays_within_the_display_budget(ip, emulator):
    rows = [{"sentiment": "positive", "score": n, "topics": ["food", "service"]} for n in range(300)]
    text = json.dumps(rows, indent=2)
    emulator.enqueue(Reply.text(text, deltas=1000))
    ip.user_ns["Review"] = Review
    cell = ip.run("%%gemini --schema 'list[Review]' -o r\nLabel them.")
    assert len(ip.user_ns["r"].parsed) == 300
    sent = sum(len(value) for output in cell.outputs for value in output["data"].values())
    assert sent <= 3 * len(text)  # the growing block, then the table; the JSON is not sent again


def test_a_json_schema_dict_gives_plain_values_validated_against_it(ip, emulator):
    ip.user_ns["recipe"] = RECIPE_SCHEMA
    cell = ip.run("%%gemini --schema recipe -o r\nA quick soup.")
    value = ip.user_ns["r"].parsed
    jsonschema.validate(value, RECIPE_SCHEMA)
    assert type(value) is dict and 1 <= value["minutes"] <= 240
    schema = sent_format(emulator)["schema"]
    assert no_refs(schema) and "title" not in schema
    assert schema["properties"]["steps"]["items"] == RECIPE_SCHEMA["$defs"]["step"]
    assert "<pre><code>" in html_of(cell)  # not a list of records: pretty JSON


def test_json_asks_for_json_without_a_schema(ip, emulator):
    ip.run("%%gemini --json -o j\nDescribe Paris as JSON.")
    value = ip.user_ns["j"].parsed
    assert isinstance(value, dict) and value["offline"] is True
    assert sent_format(emulator) == {"type": "text", "mime_type": "application/json"}


def test_schema_is_per_turn_not_a_thread_setting(ip, emulator):
    ip.user_ns["Colour"] = Colour
    ip.run("%%gemini --schema Colour\nSky?")
    ip.run("%%gemini -o plain\nAnd why?")
    assert "response_format" not in creates(emulator)[-1].body
    assert ip.user_ns["plain"].parsed is None and "Offline" in ip.user_ns["plain"].text


def test_no_stream_and_the_line_magic(ip, emulator):
    ip.user_ns["Review"] = Review
    ip.run("%%gemini --schema Review --no-stream -o a\nLabel: great.")
    assert isinstance(ip.user_ns["a"].parsed, Review)
    assert creates(emulator)[-1].body.get("stream") is not True
    cell = ip.run("%gemini --schema Review -o b Label this review: terrible, never again")
    assert isinstance(ip.user_ns["b"].parsed, Review)
    assert creates(emulator)[-1].body["input"] == "Label this review: terrible, never again"
    assert "<pre><code>" in html_of(cell)


def test_the_emulator_answer_is_deterministic_from_the_prompt(ip, emulator):
    ip.user_ns["Review"] = Review
    for name in ("a", "b"):
        ip.run(f"%%gemini --schema 'list[Review]' --new -o {name}\nSame words.")
    ip.run("%%gemini --schema 'list[Review]' --new -o c\nOther words entirely, more of them.")
    assert ip.user_ns["a"].text == ip.user_ns["b"].text != ip.user_ns["c"].text


def test_emulator_values_fit_every_kind_of_schema():
    schema = {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": ["x", "y"]},
            "count": {"type": "integer", "minimum": 5, "maximum": 7},
            "ratio": {"type": "number", "minimum": 0, "maximum": 1},
            "flag": {"type": "boolean"},
            "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            "nested": {"type": "object", "properties": {"when": {"type": "string", "format": "date"}}},
            "scores": {"type": "object", "additionalProperties": {"type": "integer"}},
            "either": {"type": ["integer", "null"]},
        },
        "required": ["label", "count"],
    }
    for prompt in ("one", "two words", "three more words", "α β γ"):
        value = conforming_value(schema, _Chooser(prompt))
        jsonschema.validate(value, schema)
        assert 1 <= len(value["scores"]) <= 3
        assert value == conforming_value(schema, _Chooser(prompt))


def test_the_emulator_refuses_refs_and_an_empty_required(ip, emulator):
    from google import genai

    client = genai.Client(api_key=TEST_KEY, http_options={"base_url": emulator.base_url})
    for schema, words in (
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}, "$defs": {"A": {}}}, "$ref"),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": []}, "required"),
    ):
        with pytest.raises(Exception, match="400") as caught:
            client.interactions.create(
                model="gemini-3.5-flash",
                input="x",
                response_format={"type": "text", "mime_type": "application/json", "schema": schema},
            )
        assert words in str(caught.value)


# -- answers that do not fit -----------------------------------------------------------------------
def test_an_answer_that_does_not_fit_fails_the_cell_and_keeps_the_raw_text(ip, emulator):
    ip.user_ns["Review"] = Review
    raw = '{"sentiment": "meh", "score": "high", "topics": []}'
    emulator.enqueue(Reply.text(raw, deltas=4))
    with pytest.raises(GeminiSchemaError) as caught:
        ip.run("%%gemini --schema Review -o r\nLabel: fine.")
    error = caught.value
    assert error.schema == "Review" and len(error.problems) == 2
    assert "sentiment: Input should be 'positive', 'neutral' or 'negative'" in str(error)
    assert "score: Input should be a valid integer" in str(error)
    assert "r.text" in error.hint
    rendered = error._render_traceback_()
    assert len(rendered) == 2 and "GeminiSchemaError" in rendered[0]
    result = ip.user_ns["r"]
    assert result.text == raw and result.parsed is None and result.status == "completed"
    assert ip.user_ns["_gemini"] is result


def test_an_answer_that_is_not_json_fails_with_the_parse_error(ip, emulator):
    ip.user_ns["Review"] = Review
    emulator.enqueue(Reply.text("Sure! The review is positive.", deltas=3))
    with pytest.raises(GeminiSchemaError, match=r"not valid JSON \(Expecting value at line 1 column 1\)"):
        ip.run("%%gemini --schema Review\nLabel: fine.")
    assert ip.user_ns["_gemini"].text == "Sure! The review is positive."
    emulator.enqueue(Reply.text("{'single': 'quotes'}"))
    with pytest.raises(GeminiSchemaError, match="the answer does not fit JSON: the answer is not valid JSON"):
        ip.run("%%gemini --json\nAnything.")


def test_a_dict_schema_failure_names_the_place_and_never_shows_the_key(ip, emulator):
    ip.user_ns["recipe"] = RECIPE_SCHEMA
    emulator.enqueue(Reply.text(json.dumps({"name": TEST_KEY, "minutes": TEST_KEY, "steps": []})))
    with pytest.raises(GeminiSchemaError) as caught:
        ip.run("%%gemini --schema recipe\nSoup.")
    message = str(caught.value) + "".join(caught.value._render_traceback_()) + repr(caught.value)
    assert "minutes: '<redacted>' is not of type 'integer'" in message
    assert "steps: [] should be non-empty" in message
    assert TEST_KEY not in message and "Recipe" in message


def test_an_empty_answer_fails(ip, emulator):
    ip.user_ns["Colour"] = Colour
    emulator.enqueue(Reply.text(" "))
    with pytest.raises(GeminiSchemaError, match="the answer is empty"):
        ip.run("%%gemini --schema Colour\nSky?")


# -- the user's mistakes ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--schema Nope", "--schema Nope: name 'Nope' is not defined; define it first"),
        ("--schema 'list['", "--schema 'list[' is not a Python expression"),
        ("--schema 'boom()'", "--schema boom(): evaluating it failed with RuntimeError: no"),
        ("--schema number", "a value of type int is none of these"),
        ("--schema name", "the string 'Review' is none of these"),
        ("--schema instance", "a value of type Review is none of these"),
        ("--schema 'list[int]'", "list[int] is none of these"),
        ("--schema Tree", "--schema Tree refers to itself"),
        ("--schema bad_dict", "--schema: the dict is not a valid JSON Schema"),
        ("--schema Review --image", "--schema asks for a JSON answer, but this turn makes a picture"),
        ("--schema Review --research", "research agents write reports, not JSON; leave --schema out"),
        ("--json --research", "research agents write reports, not JSON; leave --json out"),
    ],
)
def test_bad_schemas_are_one_line_usage_errors(ip, emulator, line, message):
    def boom() -> None:
        raise RuntimeError("no")

    ip.user_ns.update(
        Review=Review,
        Tree=Tree,
        boom=boom,
        number=3,
        name="Review",
        instance=Review(sentiment="neutral", score=1, topics=[]),
        bad_dict={"type": "wrong"},
    )
    with pytest.raises(UsageError) as caught:
        ip.run(f"%%gemini {line}\nLabel this.")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert creates(emulator) == []


# -- with functions, from Python, in a terminal ------------------------------------------------------
def test_schema_with_a_python_function_calls_it_then_answers_in_json(ip, emulator):
    calls: list[str] = []

    def lookup_rating(dish: str) -> int:
        """How guests rated a dish, from 1 to 5."""
        calls.append(dish)
        return 4

    ip.user_ns.update(Review=Review, lookup_rating=lookup_rating)
    cell = ip.run("%%gemini --tools lookup_rating --schema Review -o r\nReview the soup.")
    assert calls == ["example"]
    first, second = creates(emulator)
    assert first.body["response_format"] == second.body["response_format"]
    assert second.body["input"][0]["type"] == "function_result"
    result = ip.user_ns["r"]
    assert isinstance(result.parsed, Review) and result.text.startswith("{")
    assert "lookup_rating" in html_of(cell)


def test_from_python_a_session_turn_fills_parsed_and_a_panel_turn_reports_the_error(emulator, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    session = Session(Settings(base_url=emulator.base_url))
    try:
        prepared = session.prepare(TurnRequest("Label: lovely.", origin="panel", schema=list[Review]))
        result = session.run(prepared, on_event=lambda event: None)
        assert result.parsed and all(isinstance(item, Review) for item in result.parsed)
        emulator.enqueue(Reply.text('[{"sentiment": "positive"}]'))
        done = threading.Event()
        outcome: list[object] = []

        def finished(result, error) -> None:
            outcome[:] = [result, error]
            done.set()

        background = session.prepare(TurnRequest("Again.", origin="panel", schema=list[Review]))
        session.start(background, on_event=lambda event: None, on_done=finished)
        wait_for(done.is_set, 10, "the background turn to settle")
        result, error = outcome
        assert isinstance(error, GeminiSchemaError) and "0.score: Field required" in str(error)
        assert result.text == '[{"sentiment": "positive"}]' and result.parsed is None
    finally:
        session.close()


def test_output_schema_from_python_parses_and_reports():
    schema = OutputSchema.from_object(list[Measurement])
    assert schema.parse('[{"quantity": "h", "value": 3, "exact": false}]') == [Measurement("h", 3.0, False)]
    assert OutputSchema.from_object(schema) is schema
    assert OutputSchema.json_only().parse("[1, 2]") == [1, 2]
    with pytest.raises(GeminiSchemaError, match=r"0\.value: Input should be a valid number"):
        schema.parse('[{"quantity": "h", "value": "tall", "exact": false}]')


def test_the_terminal_streams_the_json_then_prints_the_table(ip, emulator):
    ip.shell.display_pub = DisplayPublisher()
    ip.user_ns["Review"] = Review
    emulator.enqueue(
        Reply.text('[{"sentiment": "positive", "score": 5, "topics": ["food", "view"]}]', deltas=6)
    )
    out = ip.run("%%gemini --schema 'list[Review]'\nLabel.").stdout
    streamed, table = out.split("\n", 1)
    assert streamed == '[{"sentiment": "positive", "score": 5, "topics": ["food", "view"]}]'
    lines = table.splitlines()
    assert lines[0].split() == ["sentiment", "score", "topics"]
    assert lines[2].split() == ["positive", "5", '["food",', '"view"]']
    assert "── gemini-3.5-flash · default · completed" in out


def test_the_table_escapes_what_the_model_wrote(ip, emulator):
    ip.user_ns["Review"] = Review
    hostile = "<img src=x onerror=alert(1)>"
    emulator.enqueue(Reply.text(json.dumps([{"sentiment": "neutral", "score": 1, "topics": [hostile]}])))
    cell = ip.run("%%gemini --schema 'list[Review]'\nLabel.")
    shown = html_of(cell)
    assert "<img" not in shown and "onerror=alert(1)&gt;" in shown
    assert all("text/markdown" not in output["data"] for output in cell.outputs)

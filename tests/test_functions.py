"""Python functions as tools: declarations, the call loop over the chain, and what a cell shows.

Every turn goes through the real SDK over HTTP to the emulator, which checks that each round answers
every call of the interaction before it, by id and name (tests/emulator: test_11_parallel_calls…).
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import enum
import json
import re
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Annotated, Literal, Optional

import pydantic
import pytest
from IPython.core.error import UsageError

from gemini_magics.core.errors import GeminiTurnIncomplete
from gemini_magics.core.functions import DeclarationError, FunctionTools, declare, run_coroutine, to_result
from gemini_magics.core.session import Session, Settings, TurnRequest
from gemini_magics.emulator import Reply

from .support import TEST_KEY, creates, html_of, markdown_of, wait_for


# -- declarations --------------------------------------------------------------------------------
class Unit(enum.Enum):
    KM = "km"
    MI = "mi"


@dataclasses.dataclass
class Point:
    """A place.

    Attributes:
        lat: Latitude in degrees.
    """

    lat: float
    lon: float = 0.0


class Person(pydantic.BaseModel):
    """Someone to greet."""

    name: str = pydantic.Field(description="Full name")
    age: int | None = None


def everything(
    text: str,
    count: int,
    ratio: float,
    flag: bool,
    unit: Literal["km", "mi"],
    kind: Unit,
    note: Optional[str],  # noqa: UP045 - the spelling users write is what is tested
    tags: list[str],
    counts: dict[str, int],
    where: Point,
    who: Person,
    pair: tuple[float, float] = (0.0, 0.0),
    label: Annotated[str, "shown to people"] = "",
) -> None:
    """Do everything once.

    A second paragraph.

    Args:
        text: Some words,
            over two lines.
        count (int): How many.
    """


def numpy_style(x: int, y: float = 1.0) -> float:
    """Add two numbers.

    Parameters
    ----------
    x : int
        The first.
    y : float
        The second
        one.

    Returns
    -------
    float
    """
    return x + y


def test_declarations_for_each_kind_of_hint():
    declaration = declare(everything)
    assert declaration["type"] == "function" and declaration["name"] == "everything"
    assert declaration["description"] == "Do everything once.\n\nA second paragraph."
    parameters = declaration["parameters"]
    properties = parameters["properties"]
    assert properties["text"] == {"type": "string", "description": "Some words, over two lines."}
    assert properties["count"] == {"type": "integer", "description": "How many."}
    assert properties["ratio"] == {"type": "number"} and properties["flag"] == {"type": "boolean"}
    assert properties["unit"] == {"type": "string", "enum": ["km", "mi"]}
    assert properties["kind"] == {"type": "string", "enum": ["km", "mi"]}
    assert properties["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert properties["tags"] == {"type": "array", "items": {"type": "string"}}
    assert properties["counts"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert properties["where"] == {
        "type": "object",
        "properties": {
            "lat": {"type": "number", "description": "Latitude in degrees."},
            "lon": {"type": "number"},
        },
        "required": ["lat"],
        "description": "A place.",
    }
    assert properties["who"] == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "Full name"},
            "age": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "required": ["name"],
        "description": "Someone to greet.",
    }
    assert properties["pair"]["prefixItems"] == [{"type": "number"}, {"type": "number"}]
    assert properties["label"] == {"type": "string", "description": "shown to people"}
    assert parameters["required"] == [
        *("text", "count", "ratio", "flag", "unit", "kind", "note", "tags", "counts", "where", "who")
    ]
    # the SDK's own tool type accepts it as it is
    from google.genai._gaos.types.interactions.function import Function

    assert Function.model_validate(declaration).model_dump(exclude_none=True) == declaration


def test_numpy_docstrings_and_no_empty_required_list():
    declaration = declare(numpy_style)
    assert declaration["description"] == "Add two numbers."
    assert declaration["parameters"]["properties"]["x"] == {"type": "integer", "description": "The first."}
    assert declaration["parameters"]["properties"]["y"]["description"] == "The second one."

    def no_parameters() -> str:
        return "pong"

    assert declare(no_parameters)["parameters"] == {"type": "object", "properties": {}}


@pytest.mark.parametrize(
    ("define", "message"),
    [
        ("def f(x: object): pass", "f: parameter 'x': type object is not supported"),
        ("def f(x): pass", "f: parameter 'x' has no type hint"),
        ("def f(*xs: int): pass", "f: parameter 'xs' (*args/**kwargs) cannot be declared"),
        ("def f(x: list): pass", "f: parameter 'x': list needs an item type"),
        ("def f(x: dict[int, str]): pass", "f: parameter 'x': dict needs string keys"),
        ("import typing\ndef f(x: typing.Any): pass", "f: parameter 'x': typing.Any cannot be described"),
        ("def f(x: 'Missing'): pass", "f: its type hints cannot be resolved"),
    ],
)
def test_unsupported_hints_are_refused_naming_the_parameter(define, message):
    namespace: dict[str, object] = {}
    exec(define, namespace)  # noqa: S102 - test input
    with pytest.raises(DeclarationError, match="^" + re.escape(message)):
        declare(namespace["f"])  # type: ignore[arg-type]
    with pytest.raises(DeclarationError, match="no usable name"):
        declare(lambda x: x)


def test_results_are_json_or_their_repr():
    assert to_result({"a": 1}) == {"a": 1} and to_result("text") == "text"
    assert to_result(3) == {"result": 3} and to_result([1, 2]) == {"result": [1, 2]}
    assert to_result(Point(1.0)) == {"lat": 1.0, "lon": 0.0}
    assert to_result(Person(name="Ada")) == {"name": "Ada", "age": None}
    assert to_result({1, 2}) == "{1, 2}" and to_result(float("nan")) == "nan"
    assert to_result(object).startswith("<class")


def test_arguments_are_validated_and_converted_to_the_hints():
    seen = []

    def place(where: Point, who: Person, unit: Unit = Unit.KM) -> str:
        seen.append((where, who, unit))
        return "ok"

    tools = FunctionTools.of([place])
    good = tools.call(
        {"id": "1", "name": "place", "arguments": {"where": {"lat": "1.5"}, "who": {"name": "Ada"}}}
    )
    assert not good.is_error and seen == [(Point(1.5), Person(name="Ada"), Unit.KM)]
    bad = tools.call({"id": "2", "name": "place", "arguments": {"where": {}, "unit": "yd", "extra": 1}})
    assert bad.is_error and "unexpected argument(s) extra" in bad.result["error"]
    bad = tools.call({"id": "3", "name": "place", "arguments": {"where": {}, "unit": "yd"}})
    assert bad.result["error"] == (
        "invalid arguments for place: where: lat: Field required; who: missing; "
        "unit: Input should be 'km' or 'mi'"
    )
    assert tools.call({"id": "4", "name": "place", "arguments": "not json {"}).is_error
    assert len(seen) == 1


def test_a_coroutine_runs_also_where_an_event_loop_is_running():
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    async def inside_a_running_loop() -> int:  # as in ipykernel, where cells run inside its loop
        return int(run_coroutine(double(21)))

    def check() -> None:
        assert run_coroutine(double(2)) == 4
        assert asyncio.run(inside_a_running_loop()) == 42

    # on a thread of its own: after the browser tests, Playwright's sync API keeps a loop running on
    # the main thread, where asyncio.run() is refused
    outcome: list[BaseException | None] = []
    worker = threading.Thread(target=lambda: outcome.append(_run_catching(check)))
    worker.start()
    worker.join(30)
    assert outcome == [None], outcome


def _run_catching(check: Callable[[], None]) -> BaseException | None:
    try:
        check()
    except BaseException as exc:  # reported to the test's thread
        return exc
    return None


# -- the loop in a cell ----------------------------------------------------------------------------
def convert(amount: float, unit: Literal["km", "mi"]) -> float:
    """Convert a distance to the other unit.

    Args:
        amount: The distance.
        unit: The unit it is given in.
    """
    CALLS.append(("convert", amount, unit))
    return round(amount / 1.609344, 3) if unit == "km" else round(amount * 1.609344, 3)


CALLS: list[tuple[object, ...]] = []


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()
    yield


def sent_results(emulator, n: int) -> list[dict[str, object]]:
    return creates(emulator)[n].body["input"]


@pytest.mark.parametrize("delivery", [{"deltas": 3}, {"start_content": True}], ids=["fragments", "whole"])
def test_several_calls_in_one_round_then_the_answer_in_the_same_cell(ip, emulator, delivery):
    emulator.enqueue(
        Reply.function_calls(
            [("convert", {"amount": 42.195, "unit": "km"}), ("convert", {"amount": 10, "unit": "mi"})],
            text="Let me convert. ",
            **delivery,
        ),
        Reply.text("A marathon is **26.219 mi**.", deltas=4),
    )
    ip.user_ns["convert"] = convert
    cell = ip.run("%%gemini --tools convert\nHow far is a marathon in miles?", cell_id="c1")

    assert CALLS == [("convert", 42.195, "km"), ("convert", 10.0, "mi")]
    first, second = creates(emulator)
    assert first.body["tools"] == [declare(convert)] == second.body["tools"]
    timeline = emulator.interaction(ip.user_ns["_gemini"].interaction_id)["steps"]
    assert timeline[0]["type"] == "function_result"
    assert second.body["previous_interaction_id"] != ip.user_ns["_gemini"].interaction_id
    requires_action = emulator.interaction(second.body["previous_interaction_id"])
    assert requires_action["status"] == "requires_action"
    ids = [s["id"] for s in requires_action["steps"] if s["type"] == "function_call"]
    assert second.body["input"] == [
        {"type": "function_result", "call_id": ids[0], "name": "convert", "result": {"result": 26.219}},
        {"type": "function_result", "call_id": ids[1], "name": "convert", "result": {"result": 16.093}},
    ]
    shown = markdown_of(cell)
    assert "Let me convert." in shown and "A marathon is **26.219 mi**." in shown
    assert '[function] convert(amount=42.195, unit="km") → 26.219' in shown
    page = html_of(cell)
    assert page.count("<details>") == 2 and "<summary>Function: <code>convert(amount=42.195" in page

    result = ip.user_ns["_gemini"]
    assert result.status == "completed" and result.text == "Let me convert. A marathon is **26.219 mi**."
    kinds = [s["type"] for s in result.steps]
    assert kinds == [
        "model_output",
        "function_call",
        "function_call",
        "function_result",
        "function_result",
    ] + ["model_output"]
    assert result.usage["total_tokens"] > emulator.interaction(result.interaction_id)["usage"]["total_tokens"]

    thread = ip.magics.threads["default"]
    assert [t.interaction_id for t in thread.turns] == [result.interaction_id]  # one turn, head = the last
    assert thread.turns[0].parent_id is None

    emulator.enqueue(Reply.text("Again."))
    ip.run("%%gemini\nSay it again.", cell_id="c1")  # re-running the cell rewinds to before the first
    assert "previous_interaction_id" not in creates(emulator)[2].body


def test_an_exception_and_a_bad_argument_go_back_to_the_model(ip, emulator):
    def fragile(n: int) -> int:
        """Fails on zero."""
        CALLS.append(("fragile", n))
        return 10 // n

    emulator.enqueue(
        Reply.function_calls([("fragile", {"n": 0}), ("fragile", {"n": "many"}), ("fragile", {"n": 5})]),
        Reply.text("Two calls failed."),
    )
    ip.user_ns["fragile"] = fragile
    cell = ip.run("%%gemini --tools fragile\nDivide.")
    assert CALLS == [("fragile", 0), ("fragile", 5)]  # the bad argument never reached it
    results = sent_results(emulator, 1)
    assert results[0]["is_error"] is True and results[0]["result"] == {
        "error": "ZeroDivisionError: integer division or modulo by zero"
    }
    assert results[1]["is_error"] is True
    assert results[1]["result"]["error"].startswith(
        "invalid arguments for fragile: n: Input should be a valid integer"
    )
    assert results[2] == {
        "type": "function_result",
        "call_id": results[2]["call_id"],
        "name": "fragile",
        "result": {"result": 2},
    }
    shown = markdown_of(cell)
    assert "fragile(n=0) — failed: ZeroDivisionError" in shown and "Two calls failed." in shown
    assert "Function error" in html_of(cell)
    assert ip.user_ns["_gemini"].status == "completed"


def test_only_listed_functions_run_and_nothing_is_evaluated(ip, emulator):
    def secret() -> str:
        CALLS.append(("secret",))
        return "leaked"

    emulator.enqueue(
        Reply.function_calls(
            [("secret", {}), ("__import__", {"name": "os"}), ("convert", {"amount": 1, "unit": "mi"})]
        ),
        Reply.text("Done."),
    )
    ip.user_ns.update(secret=secret, convert=convert)
    ip.run("%%gemini --tools convert\nTry things.")
    assert CALLS == [("convert", 1.0, "mi")]
    results = sent_results(emulator, 1)
    assert [r.get("is_error", False) for r in results] == [True, True, False]
    assert results[0]["result"] == {
        "error": "there is no function named 'secret'; the functions available are: convert"
    }


def test_async_functions_are_awaited(ip, emulator):
    async def lookup(city: str) -> dict[str, object]:
        await asyncio.sleep(0.01)
        CALLS.append(("lookup", city))
        return {"city": city, "temp_c": 21}

    emulator.enqueue(Reply.function_call("lookup", {"city": "Paris"}), Reply.text("21°C."))
    ip.user_ns["tools"] = [lookup]  # a list of functions works too
    ip.run("%%gemini --tools tools --no-stream\nWeather?")
    assert CALLS == [("lookup", "Paris")]
    assert sent_results(emulator, 1)[0]["result"] == {"city": "Paris", "temp_c": 21}
    assert ip.user_ns["_gemini"].text == "21°C."


def test_the_round_cap_stops_a_runaway_loop(ip, emulator):
    emulator.enqueue(Reply.text("Hello."))
    ip.user_ns["convert"] = convert
    ip.run("%gemini hello")
    emulator.enqueue(*(Reply.function_call("convert", {"amount": n, "unit": "km"}) for n in range(3)))
    head = ip.magics.threads["default"].head
    with pytest.raises(GeminiTurnIncomplete, match=r"stopped after 2 round\(s\) of function calls") as caught:
        ip.run("%%gemini --tools convert --max-tool-rounds 2\nLoop.")
    assert "raise --max-tool-rounds" in str(caught.value)
    assert len(CALLS) == 2 and len(creates(emulator)) == 4
    assert ip.magics.threads["default"].head == head
    assert ip.user_ns["_gemini"].status == "requires_action"

    ip.run("%config GeminiMagics.max_tool_rounds = 1")
    emulator.enqueue(*(Reply.function_call("convert", {"amount": 1, "unit": "km"}) for n in range(2)))
    with pytest.raises(GeminiTurnIncomplete, match=r"after 1 round"):
        ip.run("%%gemini --tools convert\nLoop.")
    with pytest.raises(UsageError, match="--max-tool-rounds must be a positive whole number, not 0"):
        ip.run("%%gemini --tools convert --max-tool-rounds 0\nLoop.")


def test_an_interrupt_stops_the_loop_and_leaves_the_head(ip, emulator):
    def slow(x: int) -> int:
        raise KeyboardInterrupt  # the user pressed Stop while it ran

    emulator.enqueue(Reply.text("Hello."), Reply.function_call("slow", {"x": 1}))
    ip.user_ns["slow"] = slow
    ip.run("%gemini hello")
    thread = ip.magics.threads["default"]
    head = thread.head
    with pytest.raises(KeyboardInterrupt):
        ip.run("%%gemini --tools slow\nGo.")
    assert thread.head == head and len(thread.turns) == 1 and not thread.busy
    assert len(creates(emulator)) == 2  # no results were sent
    assert ip.user_ns["_gemini"].status == "incomplete"


def test_confirm_asks_before_each_call(ip, emulator, monkeypatch):
    answers = iter(["n", "yes"])
    questions: list[str] = []
    monkeypatch.setattr(builtins, "input", lambda prompt="": questions.append(prompt) or next(answers))
    emulator.enqueue(
        Reply.function_calls(
            [("convert", {"amount": 1, "unit": "km"}), ("convert", {"amount": 2, "unit": "km"})]
        ),
        Reply.text("ok"),
    )
    ip.user_ns["convert"] = convert
    cell = ip.run("%%gemini --tools convert --confirm\nConvert.")
    assert questions == [
        'Run convert(amount=1, unit="km")? [y/N] ',
        'Run convert(amount=2, unit="km")? [y/N] ',
    ]
    assert CALLS == [("convert", 2.0, "km")]
    declined = sent_results(emulator, 1)[0]
    assert declined["is_error"] is True and "the user declined this call" in declined["result"]["error"]
    assert "— declined" in markdown_of(cell)

    ip.shell.kernel = SimpleNamespace(_allow_stdin=False)  # as under nbclient: nobody can answer
    try:
        with pytest.raises(
            UsageError, match="--confirm asks before each call, but this kernel cannot read input"
        ):
            ip.run("%%gemini --tools convert --confirm\nConvert.")
    finally:
        del ip.shell.kernel


def test_a_function_that_cannot_be_declared_is_a_usage_error(ip, emulator):
    def untyped(x):  # noqa: ANN001
        return x

    ip.user_ns.update(untyped=untyped, number=3)
    with pytest.raises(UsageError, match="cannot offer untyped: parameter 'x' has no type hint"):
        ip.run("%%gemini --tools untyped\nGo.")
    with pytest.raises(UsageError, match="--tools number: int is not a function"):
        ip.run("%%gemini --tools number\nGo.")
    assert creates(emulator) == []


def test_non_json_results_are_sent_as_their_repr(ip, emulator):
    def make() -> object:
        return {1, 2}

    emulator.enqueue(Reply.function_call("make", {}), Reply.text("ok"))
    ip.user_ns["make"] = make
    ip.run("%%gemini --tools make\nMake.")
    assert sent_results(emulator, 1)[0]["result"] == "{1, 2}"


def test_call_display_is_escaped(ip, emulator):
    def echo(text: str) -> str:
        return text

    payload = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    emulator.enqueue(Reply.function_call("echo", {"text": payload}), Reply.text("ok"))
    ip.user_ns["echo"] = echo
    page = html_of(ip.run("%%gemini --tools echo\nEcho."))
    assert "<img" not in page and "<script" not in page and "&lt;script&gt;" in page


# -- without IPython: a session, in the calling thread and on a worker -----------------------------
def test_a_panel_turn_runs_the_functions_on_its_worker(emulator, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)

    async def lookup(city: str) -> str:
        CALLS.append(("lookup", city))
        return "sunny"

    emulator.enqueue(
        Reply.function_calls([("convert", {"amount": 5, "unit": "mi"}), ("lookup", {"city": "Oslo"})]),
        Reply.text("Sunny, 8 km."),
    )
    session = Session(Settings(base_url=emulator.base_url))
    try:
        prepared = session.prepare(TurnRequest("Go", origin="panel", functions=(convert, lookup)))
        events: list[object] = []
        outcome: list[object] = []
        turn = session.start(prepared, on_event=events.append, on_done=lambda r, e: outcome.append(e))
        assert turn.wait_settled(10), "the panel turn did not finish"
        assert outcome == [None] and prepared.result.text == "Sunny, 8 km."
        assert CALLS == [("convert", 5.0, "mi"), ("lookup", "Oslo")]
        assert [type(e).__name__ for e in events].count("FunctionCalled") == 2
        assert prepared.thread.head == prepared.result.interaction_id
        with pytest.raises(Exception, match="--confirm asks in the cell"):
            session.start(
                session.prepare(TurnRequest("Go", origin="panel", functions=(convert,), confirm=True)),
                on_event=events.append,
                on_done=lambda r, e: None,
            )
    finally:
        session.close()


def test_offline_the_emulator_calls_the_function_and_answers(ip, emulator):
    ip.user_ns["convert"] = convert
    cell = ip.run("%%gemini --tools convert\nHow far is 5 km?")  # nothing queued: offline responder
    assert CALLS == [("convert", 1.5, "km")]
    shown = markdown_of(cell)
    assert "made-up arguments" in shown and "Result of `convert`" in shown
    wait_for(lambda: ip.user_ns["_gemini"].status == "completed")
    assert json.loads(json.dumps(ip.user_ns["_gemini"].steps))  # plain data all the way


def test_functions_are_tools_of_the_thread_and_mix_with_built_in_ones(ip, emulator):
    """--tools convert search: the function and Google Search are sent together, and both are kept
    by the thread, so the next cell can still call convert without naming it again."""
    ip.user_ns["convert"] = convert
    emulator.enqueue(Reply.text("Ready."))
    ip.run("%%gemini --tools convert search\nGet ready.")
    first = creates(emulator)[-1].body["tools"]
    assert first == [{"type": "google_search"}, declare(convert)]
    emulator.enqueue(Reply.function_call("convert", {"amount": 42.195, "unit": "km"}), Reply.text("26.2 mi."))
    CALLS.clear()
    ip.run("%%gemini\nA marathon in miles?")
    asked, answered = creates(emulator)[-2:]
    assert asked.body["tools"] == first and answered.body["tools"] == first
    assert CALLS == [("convert", 42.195, "km")] and ip.user_ns["_gemini"].text == "26.2 mi."
    (call,) = ip.user_ns["_gemini"].tool_calls
    assert (call.name, call.arguments, call.status) == (
        "convert",
        {"amount": 42.195, "unit": "km"},
        "completed",
    )
    assert call.result == {"result": convert(42.195, "km")}
    emulator.enqueue(Reply.text("Plain."))
    ip.run("%%gemini --tools none\nNo tools now.")
    assert "tools" not in creates(emulator)[-1].body

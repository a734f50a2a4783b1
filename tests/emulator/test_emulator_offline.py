"""The default (offline) responder and the standalone command."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import time

import pytest
from google import genai

from gemini_magics.emulator.offline import OFFLINE_BANNER, prompt_text

MODEL = "gemini-3.5-flash"
PROMPT = "Explain how a heat pump moves heat uphill"


def test_reply_is_marked_offline_and_quotes_the_prompt(client):
    reply = client.interactions.create(model=MODEL, input=PROMPT)
    text = reply.output_text
    assert text.splitlines()[0] == OFFLINE_BANNER
    assert "not by Gemini" in text
    assert PROMPT in text
    assert "turn 1 of this thread" in text


def test_reply_exercises_every_renderer(client):
    text = client.interactions.create(model=MODEL, input=PROMPT).output_text
    assert re.search(r"^## ", text, re.MULTILINE)
    assert re.search(r"^- \*\*", text, re.MULTILINE)
    assert "```python\n" in text and text.count("```") == 2
    assert re.search(r"^\|---\|---\|$", text, re.MULTILINE)
    assert re.search(r"\$n = \d+\$", text)
    assert re.search(r"^\$\$.+\$\$$", text, re.MULTILINE)


def test_turns_are_counted_along_the_chain(client):
    first = client.interactions.create(model=MODEL, input="one")
    second = client.interactions.create(model=MODEL, input="two", previous_interaction_id=first.id)
    third = client.interactions.create(model=MODEL, input="three", previous_interaction_id=second.id)
    assert "turn 1 of this thread" in first.output_text
    assert "turn 2 of this thread" in second.output_text
    assert "turn 3 of this thread" in third.output_text
    assert third.usage.total_input_tokens > second.usage.total_input_tokens


def test_replies_are_deterministic(client):
    one = client.interactions.create(model=MODEL, input=PROMPT)
    two = client.interactions.create(model=MODEL, input=PROMPT)
    other = client.interactions.create(model=MODEL, input=PROMPT + "?")
    assert one.id != two.id
    assert one.output_text == two.output_text != other.output_text
    assert one.usage == two.usage


@pytest.mark.parametrize(
    ("config", "thought", "summarised"),
    [
        (None, False, False),
        ({"thinking_summaries": "auto"}, True, True),
        ({"thinking_level": "low"}, True, True),
        ({"thinking_level": "high", "thinking_summaries": "none"}, True, False),
    ],
)
def test_thinking_summaries_when_requested(client, config, thought, summarised):
    reply = client.interactions.create(model=MODEL, input=PROMPT, generation_config=config)
    thoughts = [s for s in reply.steps if s.type == "thought"]
    assert bool(thoughts) == thought
    if thoughts:
        assert thoughts[0].signature
        assert bool(thoughts[0].summary) == summarised


def test_system_instruction_and_tools_are_acknowledged(client):
    tool = {"type": "url_context"}
    plain = client.interactions.create(model=MODEL, input=PROMPT).output_text
    text = client.interactions.create(
        model=MODEL, input=PROMPT, system_instruction="Talk like a pirate.", tools=[tool]
    ).output_text
    assert "System instruction" in text and "System instruction" not in plain
    assert "`url_context`" in text


def test_declared_functions_are_called_with_arguments_that_fit_then_answered(client):
    weather = {
        "type": "function",
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["c", "f"]},
                "days": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "where": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"]},
                "tags": {"type": "array", "items": {"type": "boolean"}},
            },
            "required": ["city"],
        },
    }
    bare = {"type": "function", "name": "ping"}
    first = client.interactions.create(model=MODEL, input=PROMPT, tools=[weather, bare])
    again = client.interactions.create(model=MODEL, input=PROMPT, tools=[weather, bare])
    assert first.status == "requires_action"
    assert OFFLINE_BANNER in first.steps[0].content[0].text
    calls = [step for step in first.steps if step.type == "function_call"]
    assert [(c.name, c.arguments) for c in calls] == [
        ("get_weather", {"city": "example", "unit": "c", "days": 1, "where": {"lat": 1.5}, "tags": [True]}),
        ("ping", {}),
    ]
    assert [c.arguments for c in calls] == [c.arguments for c in again.steps if c.type == "function_call"]
    results = [
        {"type": "function_result", "call_id": c.id, "name": c.name, "result": {"ok": n}}
        for n, c in enumerate(calls)
    ]
    answer = client.interactions.create(
        model=MODEL, input=results, tools=[weather, bare], previous_interaction_id=first.id
    )
    assert answer.status == "completed"
    assert OFFLINE_BANNER in answer.output_text
    assert '**Result of `get weather`:** {"ok": 0}' in answer.output_text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("plain", "plain"),
        ({"type": "text", "text": "block"}, "block"),
        ([{"type": "text", "text": "a"}, {"type": "image", "uri": "u"}], "a"),
        (
            [
                {"type": "user_input", "content": [{"type": "text", "text": "old"}]},
                {"type": "model_output", "content": [{"type": "text", "text": "answer"}]},
                {"type": "user_input", "content": [{"type": "text", "text": "new"}]},
            ],
            "old\nnew",
        ),
        (
            [{"type": "function_result", "call_id": "c", "name": "f", "result": {"ok": 1}}],
            'f returned {"ok": 1}',
        ),
    ],
)
def test_prompt_text_from_every_input_shape(given, expected):
    assert prompt_text(given) == expected


def test_streams_in_about_forty_visible_deltas(client):
    started = time.monotonic()
    events = list(client.interactions.create(model=MODEL, input=PROMPT, stream=True))
    elapsed = time.monotonic() - started
    texts = [e.delta.text for e in events if e.event_type == "step.delta"]
    assert len(texts) == 40
    assert "".join(texts).startswith(OFFLINE_BANNER)
    assert 0.5 < elapsed < 3


def test_image_requests_get_a_png(client):
    reply = client.interactions.create(
        model="gemini-3.1-flash-image", input="A fox", response_format={"type": "image"}
    )
    assert reply.output_image.mime_type == "image/png"
    assert base64.b64decode(reply.output_image.data).startswith(b"\x89PNG\r\n\x1a\n")


def test_command_line_server(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "gemini_magics.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        client = genai.Client(api_key="anything", http_options={"base_url": url})
        reply = client.interactions.create(model=MODEL, input="hello from a subprocess")
        assert reply.output_text.startswith(OFFLINE_BANNER)
    finally:
        process.terminate()
        process.wait(timeout=5)
        process.stdout.close()
        process.stderr.close()


def test_offline_emulator_needs_no_configuration(make_emulator):
    emu = make_emulator(api_key=None, validate=False)  # Emulator()'s own defaults, as offline mode uses
    client = genai.Client(api_key="offline", http_options={"base_url": emu.base_url})
    reply = client.interactions.create(model=MODEL, input=PROMPT)
    assert reply.output_text.startswith(OFFLINE_BANNER)

"""The default responder: deterministic, clearly-offline replies for keyless notebooks.

When no scripted reply is queued, the emulator answers with :func:`respond`. The reply is a
pure function of the request and the turn number, is marked offline in its first line, and
exercises everything a notebook renders: a heading, a list, code, a table, inline and
display math, and optional thinking summaries. Media blocks in the input are reported one
line each (kind, MIME type, size, pixel dimensions).

Image requests (an image ``response_format``, an image model, or a follow-up to an image
turn) get a short text and a PNG instead: a landscape drawn from the prompt (see
:mod:`.imaging`), or, when the thread or the input already holds one of the emulator's
pictures, an edit of the latest one ("warmer", "night", "blue", ...).
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .imaging import edit_picture, output_size, render_scene
from .media import MediaFiles, describe_block, last_turn_had_image, latest_picture, media_blocks
from .script import Json, Reply
from .store import input_steps
from .structured import json_format, json_reply
from .tools import tool_steps

OFFLINE_BANNER = "*Offline emulator — this reply was generated locally, not by Gemini.*"
OFFLINE_DELTAS = 40
IMAGE_TEXT_DELTAS = 10
OFFLINE_DELAY = 0.02
_SNIPPET_LENGTH = 60


@dataclass(frozen=True)
class ImageRequest:
    """The image output a request asks for (``None`` fields: the defaults, 1:1 at 1K)."""

    aspect_ratio: str | None = None
    image_size: str | None = None
    delivery: str = "inline"


def respond(request: Json, turn: int, history: Sequence[Json] = (), files: MediaFiles | None = None) -> Reply:
    """The offline reply to a create request that is turn ``turn`` of its thread.

    ``history`` is the timeline of the ``previous_interaction_id`` chain, oldest step first;
    ``files`` publishes URI-delivered images (without it images are always inline).
    """
    prompt = prompt_text(request.get("input"))
    given = input_steps(request.get("input"))
    functions = [t for t in request.get("tools") or [] if t.get("type") == "function" and t.get("name")]
    wants_json = json_format(request) is not None
    if functions and not any(step.get("type") == "function_result" for step in given):
        return call_functions(functions, explain=not wants_json)
    if wants_json:
        return json_reply(request, prompt)
    inputs = [f"- **Input {block['type']}:** {describe_block(block, files)}" for block in media_blocks(given)]
    inputs += [
        f"- **Result of `{snippet(str(step.get('name') or step.get('call_id')))}`:** "
        + ("error, " if step.get("is_error") else "")
        + snippet(json.dumps(step.get("result"), ensure_ascii=False))
        for step in given
        if step.get("type") == "function_result"
    ]
    steps: list[Json] = []
    thought = _thought_step(request, prompt, turn)
    if thought is not None:
        steps.append(thought)
    wanted = image_request(request, history)
    if wanted is None:
        tools, cited = tool_steps(request, prompt)
        steps.extend(tools)
        content: list[Json] = [] if cited is None else [cited]
        text = _code_only(prompt) if asks_for_code_only(request) else _markdown(request, prompt, turn, inputs)
        content.append({"type": "text", "text": text})
        deltas = OFFLINE_DELTAS
    else:
        # The latest picture of the thread or the input (the input's come last) gets edited.
        content = _image_content(prompt, turn, inputs, wanted, [*history, *given], files)
        deltas = IMAGE_TEXT_DELTAS
    steps.append({"type": "model_output", "content": content})
    return Reply(steps, deltas=deltas, delay=OFFLINE_DELAY)


MAX_OFFLINE_CALLS = 3


def call_functions(functions: Sequence[Json], *, explain: bool = True) -> Reply:
    """Call the declared functions (the first few), each once, with made-up arguments that fit their
    schemas, after a line saying so (``explain``; not before a JSON answer, whose text must stay
    JSON); the next turn (the results) gets the usual offline answer."""
    chosen = functions[:MAX_OFFLINE_CALLS]
    names = ", ".join(f"`{tool['name']}`" for tool in chosen)
    text = (
        f"{OFFLINE_BANNER}\n\nThe offline emulator calls {names} with made-up arguments that fit "
        "the declared parameters, to show how function calling works."
    )
    calls = [
        (str(tool["name"]), example_value(tool.get("parameters") or {"type": "object"})) for tool in chosen
    ]
    return Reply.function_calls(calls, text=text if explain else None, delay=OFFLINE_DELAY)


def example_value(schema: Any, depth: int = 0) -> Any:
    """A deterministic value that fits a JSON Schema (the subset function declarations use)."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options:
            return example_value(options[0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {name: example_value(sub, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        if schema.get("prefixItems"):
            return [example_value(item, depth + 1) for item in schema["prefixItems"]]
        return [example_value(schema.get("items") or {"type": "string"}, depth + 1)]
    examples = {"string": "example", "integer": 1, "number": 1.5, "boolean": True, "null": None}
    if kind == "string" and schema.get("format") == "date":
        return "2026-01-01"
    return examples.get(str(kind), "example")


def image_request(request: Json, history: Sequence[Json] = ()) -> ImageRequest | None:
    """What image output ``request`` asks for, or None for a text-only request.

    An image ``response_format`` (alone or in a list) decides; a non-image one rules images
    out. Otherwise an image model, the legacy ``response_modalities`` or
    ``generation_config.image_config``, or an image in the previous turn ask for one.
    """
    raw = request.get("response_format")
    formats = [item for item in (raw if isinstance(raw, list) else [raw]) if isinstance(item, dict)]
    for item in formats:
        if item.get("type") == "image":
            return ImageRequest(
                item.get("aspect_ratio"), item.get("image_size"), item.get("delivery") or "inline"
            )
    if formats:
        return None
    legacy = (request.get("generation_config") or {}).get("image_config")
    modalities = request.get("response_modalities") or []
    asked = (
        request.get("model") in image_models()
        or isinstance(legacy, dict)
        or "image" in modalities
        or last_turn_had_image(history)
    )
    if not asked:
        return None
    legacy = legacy if isinstance(legacy, dict) else {}
    return ImageRequest(legacy.get("aspect_ratio"), legacy.get("image_size"))


@functools.cache
def image_models() -> frozenset[str]:
    """The image-generating model ids the SDK declares."""
    from .schema import known_models

    return frozenset(model for model in known_models() if "image" in model or "nano-banana" in model)


def prompt_text(raw_input: Any) -> str:
    """The user's words in any input shape: string, content block, or list of steps/blocks."""
    texts: list[str] = []
    results: list[str] = []
    for step in input_steps(raw_input):
        if step.get("type") == "user_input":
            texts.extend(
                block["text"]
                for block in step.get("content") or []
                if block.get("type") == "text" and isinstance(block.get("text"), str)
            )
        elif step.get("type") == "function_result":
            name = step.get("name") or step.get("call_id", "a function")
            results.append(f"{name} returned {json.dumps(step.get('result'))}")
    if texts:
        return "\n".join(texts)
    return "; ".join(results)


def snippet(prompt: str, limit: int = _SNIPPET_LENGTH) -> str:
    """A one-line, Markdown-safe excerpt of the prompt."""
    flat = " ".join(prompt.split())
    for char, replacement in (("`", "'"), ("|", "/"), ("$", "USD "), ("*", ""), ("_", " ")):
        flat = flat.replace(char, replacement)
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _image_content(
    prompt: str,
    turn: int,
    inputs: list[str],
    wanted: ImageRequest,
    timeline: Sequence[Json],
    files: MediaFiles | None,
) -> list[Json]:
    """A short text block and the picture: a new scene or an edit of the latest picture."""
    width, height = output_size(wanted.aspect_ratio, wanted.image_size)
    source = latest_picture(timeline, files)
    note = ""
    if source is None:
        picture = render_scene(prompt, width, height)
        headline = "*Offline emulator — drawn locally, not by Gemini*, here is a picture for: " + (
            snippet(prompt) or "(no text)"
        )
    else:
        picture, changes = edit_picture(source[0], prompt)
        which = "previous" if source[1] == "model" else "input"
        headline = (
            f"*Offline emulator — edited locally, not by Gemini*. Edited the {which} picture: "
            f"{', '.join(changes)}."
        )
        asked_size = wanted.aspect_ratio or wanted.image_size
        if asked_size and (width, height) != (picture.width, picture.height):
            note = f"; kept the {which} picture's size, not the requested {width}×{height}"
    png = picture.to_png()
    lines = [
        headline,
        "",
        f"- **Picture:** {picture.width}×{picture.height} PNG ({len(png):,} bytes){note}",
        f"- **Thread:** turn {turn} of this thread",
        *inputs,
        "- Set `GEMINI_API_KEY` to get real images from Gemini.",
    ]
    image: Json = {"type": "image", "mime_type": "image/png"}
    if wanted.delivery == "uri" and files is not None:
        image["uri"] = files.publish(png)
    else:
        image["data"] = base64.b64encode(png).decode()
    return [{"type": "text", "text": "\n".join(lines)}, image]


_CODE_ONLY = re.compile(r"\bone fenced\b.*\bcode block\b", re.IGNORECASE | re.DOTALL)


def asks_for_code_only(request: Json) -> bool:
    """Whether the system instruction asks for one fenced code block and nothing else."""
    system = request.get("system_instruction")
    return isinstance(system, str) and _CODE_ONLY.search(system) is not None


def _code_only(prompt: str) -> str:
    """A reply that is one fenced Python block, as a code-only request asks for."""
    quoted = snippet(prompt) or "(no text)"
    return "\n".join(
        [
            "```python",
            "# Offline emulator — written locally, not by Gemini; set GEMINI_API_KEY for real code.",
            f"# You asked: {quoted}",
            "def offline_echo(prompt: str) -> str:",
            f"    return prompt[:{_SNIPPET_LENGTH}]",
            "",
            f"print(offline_echo({quoted!r}))",
            "```",
        ]
    )


def _markdown(request: Json, prompt: str, turn: int, inputs: list[str]) -> str:
    quoted = snippet(prompt) or "(no text)"
    characters, words = len(prompt), len(prompt.split())
    actor = request.get("model") or request.get("agent")
    lines = [
        OFFLINE_BANNER,
        "",
        f"## Offline reply, turn {turn} of this thread",
        "",
        f"> {quoted}",
        "",
        "What this local stand-in can tell you about your request:",
        "",
        f"- **Prompt:** {characters} characters, {words} words",
        f"- **Thread:** turn {turn} of this thread"
        + (" (continues a previous interaction)" if turn > 1 else " (a new thread)"),
        f"- **Requested:** `{actor}`",
    ]
    if request.get("system_instruction"):
        lines.append("- **System instruction:** received (it is not interpreted offline)")
    tool_names = [tool.get("name") or tool.get("type") for tool in request.get("tools") or []]
    if tool_names:
        lines.append(f"- **Tools declared:** {', '.join(f'`{name}`' for name in tool_names)}")
    lines.extend(inputs)
    lines.append("- Set `GEMINI_API_KEY` to get real answers from Gemini.")
    lines += [
        "",
        "```python",
        "def offline_echo(prompt: str) -> str:",
        '    """What this emulator does instead of thinking."""',
        f"    return prompt[:{_SNIPPET_LENGTH}]",
        "",
        f"print(offline_echo({quoted!r}))",
        "```",
        "",
        "| Measure | Value |",
        "|---|---|",
        f"| characters | {characters} |",
        f"| words | {words} |",
        f"| turn | {turn} |",
        "",
        f"Inline math: with $n = {characters}$ characters, $n^2 = {characters * characters}$.",
        "",
        "$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$",
    ]
    return "\n".join(lines)


def _thought_step(request: Json, prompt: str, turn: int) -> Json | None:
    config = request.get("generation_config") or {}
    agent_config = request.get("agent_config") or {}
    summaries = config.get("thinking_summaries") or agent_config.get("thinking_summaries")
    thinks = summaries == "auto" or "thinking_level" in config or "agent" in request
    if not thinks:
        return None
    step: Json = {"type": "thought"}
    if summaries != "none":
        step["summary"] = [
            {
                "type": "text",
                "text": f"**Reading the prompt**\n\nTurn {turn}; the user wrote "
                f"{len(prompt)} characters. I will quote the start of it.",
            },
            {
                "type": "text",
                "text": "**Planning the reply**\n\nA heading, a list, code, a table and math, "
                "so that every renderer gets exercised.",
            },
        ]
    return step

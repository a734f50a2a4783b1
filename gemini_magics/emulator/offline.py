"""The default responder: deterministic, clearly-offline replies for keyless notebooks.

When no scripted reply is queued, the emulator answers with :func:`respond`. The reply is a
pure function of the request and the turn number, is marked offline in its first line, and
exercises everything a notebook renders: a heading, a list, code, a table, inline and
display math, optional thinking summaries and (for image requests) a generated PNG.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from typing import Any

from .script import Json, Reply
from .store import input_steps

OFFLINE_BANNER = "*Offline emulator — this reply was generated locally, not by Gemini.*"
OFFLINE_DELTAS = 40
OFFLINE_DELAY = 0.02
_SNIPPET_LENGTH = 60


def respond(request: Json, turn: int) -> Reply:
    """The offline reply to a create request that is turn ``turn`` of its thread."""
    prompt = prompt_text(request.get("input"))
    wants_image = _wants_image(request)
    text = _markdown(request, prompt, turn, wants_image)
    steps: list[Json] = []
    thought = _thought_step(request, prompt, turn)
    if thought is not None:
        steps.append(thought)
    content: list[Json] = [{"type": "text", "text": text}]
    if wants_image:
        content.append({"type": "image", "data": _png_base64(prompt, turn), "mime_type": "image/png"})
    steps.append({"type": "model_output", "content": content})
    return Reply(steps, deltas=OFFLINE_DELTAS, delay=OFFLINE_DELAY)


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


def _markdown(request: Json, prompt: str, turn: int, wants_image: bool) -> str:
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
    if wants_image:
        lines.append("- **Image:** a placeholder pattern follows this text")
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


def _wants_image(request: Json) -> bool:
    formats = request.get("response_format")
    formats = formats if isinstance(formats, list) else [formats]
    if any(isinstance(item, dict) and item.get("type") == "image" for item in formats):
        return True
    model = str(request.get("model", ""))
    return "image" in model or "nano-banana" in model


def _png_base64(prompt: str, turn: int, size: int = 64) -> str:
    """A small deterministic gradient PNG, coloured by the prompt."""
    import base64

    red, green, blue = hashlib.sha256(f"{turn}:{prompt}".encode()).digest()[:3]
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # PNG filter type "none" for this row
        for x in range(size):
            rows += bytes(((red + 3 * x) % 256, (green + 3 * y) % 256, (blue + x + y) % 256))

    def chunk(tag: bytes, data: bytes) -> bytes:
        checksum = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", checksum)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()

"""Building the ``interactions.create`` keyword arguments for one turn. No IPython imports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .functions import DEFAULT_MAX_ROUNDS, FunctionTool
from .structured import OutputSchema
from .threads import ThreadSettings

THINKING_LEVELS = ("minimal", "low", "medium", "high")


@dataclass(frozen=True)
class TurnOptions:
    model: str | None
    prompt: str
    previous_interaction_id: str | None = None
    system: str | None = None
    thinking: str | None = None
    show_thoughts: bool = False
    temperature: float | None = None
    max_output_tokens: int | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    image_output: dict[str, Any] | None = None
    agent: str | None = None
    agent_config: dict[str, Any] | None = None
    tools: tuple[dict[str, Any], ...] = ()  # resolved by core/tools.py
    # what the thread's settings become when this turn joins it (None: those of the turn it continues)
    settings: ThreadSettings | None = None
    # the user's Python functions the model may call, and how the function loop runs
    functions: tuple[FunctionTool, ...] = ()
    max_tool_rounds: int = DEFAULT_MAX_ROUNDS
    confirm: bool = False  # ask before each call
    # a continuation round sends these steps (function results) instead of the prompt
    input_steps: tuple[dict[str, Any], ...] = ()
    # a JSON answer (--json), checked against a schema (--schema); sent on every round
    output_schema: OutputSchema | None = None


def image_choices() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The aspect ratios and sizes the API accepts, read from the SDK's own literals."""
    from google.genai import interactions

    from .models import literal_values

    return (
        literal_values(interactions.ImageResponseFormatAspectRatio),
        literal_values(interactions.ImageResponseFormatImageSize),
    )


def build_request(options: TurnOptions) -> dict[str, Any]:
    """Create-call kwargs; interaction-scoped settings (system, config) are sent on every turn."""
    prompt_input: Any = options.prompt
    if options.input_steps:
        prompt_input = list(options.input_steps)
    elif options.attachments:
        prompt_input = [{"type": "text", "text": options.prompt}, *options.attachments]
    if options.agent:
        # agents run in the background and take no generation config (the SDK refuses both)
        request: dict[str, Any] = {"agent": options.agent, "input": prompt_input, "background": True}
        if options.agent_config:
            request["agent_config"] = options.agent_config
        if options.previous_interaction_id:
            request["previous_interaction_id"] = options.previous_interaction_id
        return request
    request = {"model": options.model, "input": prompt_input}
    if options.image_output is not None:
        request["response_format"] = [{"type": "text"}, {"type": "image", **options.image_output}]
    elif options.output_schema is not None:
        request["response_format"] = options.output_schema.response_format()
    if options.previous_interaction_id:
        request["previous_interaction_id"] = options.previous_interaction_id
    if options.system:
        request["system_instruction"] = options.system
    # plain dicts on the wire (MCP headers travel in a Headers mapping that hides them in reprs);
    # interaction-scoped like the rest, so sent again on every round of function calls
    tools = [
        {**tool, "headers": dict(tool["headers"])} if "headers" in tool else dict(tool)
        for tool in options.tools
    ] + [dict(function.declaration) for function in options.functions]
    if tools:
        request["tools"] = tools
    config: dict[str, Any] = {}
    if options.thinking:
        config["thinking_level"] = options.thinking
    if options.show_thoughts:
        config["thinking_summaries"] = "auto"
    if options.temperature is not None:
        config["temperature"] = options.temperature
    if options.max_output_tokens is not None:
        config["max_output_tokens"] = options.max_output_tokens
    if config:
        request["generation_config"] = config
    return request

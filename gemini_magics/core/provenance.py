"""What an answer records about where it came from, for a saved notebook and for exports. No IPython.

The record is a small JSON-able dict: the interaction id, model, thread, the turn's options (never the
key, never header values, the system instruction only as present or not), the usage, the origin
(``live``, ``offline``, or ``replayed``) and this package's version.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from .request import TurnOptions
from .results import GeminiResult
from .tools import describe


def options_record(options: TurnOptions | None) -> dict[str, Any]:
    """The options a turn was sent with, as plain values (no secrets: tool names, not headers)."""
    if options is None:
        return {}
    tools = describe(options.tools)
    return {
        "agent": options.agent,
        "system": bool(options.system),
        "thinking": options.thinking,
        "temperature": options.temperature,
        "max_output_tokens": options.max_output_tokens,
        "show_thoughts": options.show_thoughts,
        "tools": tools.split(", ") if tools else [],
        "functions": [function.name for function in options.functions],
        "image": dict(options.image_output) if options.image_output is not None else None,
        "attachments": len(options.attachments),
    }


def provenance_record(result: GeminiResult, options: TurnOptions | None, origin: str) -> dict[str, Any]:
    """Where ``result`` came from, as it stands now (id and usage fill in as the turn runs)."""
    return {
        "interaction_id": result.interaction_id,
        "model": result.model,
        "thread": result.thread,
        "status": result.status,
        "usage": dict(result.usage),
        "options": options_record(options),
        "origin": origin,
        "version": __version__,
    }

"""Model and agent ids, read from the SDK's own literals rather than kept as a list of ours."""

from __future__ import annotations

import difflib
import functools
import typing

DEFAULT_MODEL = "gemini-3.5-flash"
DEFAULT_IMAGE_MODEL = "gemini-3.1-flash-image"
LEGACY_PREFIXES = ("gemini-1.5-", "gemini-2.0-", "gemini-1.0-", "gemini-pro")


def literal_values(alias: object) -> tuple[str, ...]:
    values: list[str] = []
    for arg in typing.get_args(alias):
        if typing.get_origin(arg) is typing.Literal:
            values.extend(typing.get_args(arg))
    return tuple(values)


@functools.cache
def known_models() -> tuple[str, ...]:
    from google.genai import interactions

    return literal_values(interactions.Model)


@functools.cache
def known_agents() -> tuple[str, ...]:
    from google.genai import interactions

    return literal_values(interactions.AgentOption)


def is_legacy(model: str) -> bool:
    return model.startswith(LEGACY_PREFIXES) and model not in known_models()


def suggest(model: str) -> str | None:
    """The closest known model id, for a "did you mean" hint."""
    matches = difflib.get_close_matches(model, known_models(), n=1, cutoff=0.6)
    return matches[0] if matches else None


def looks_like_model_id(model: str) -> bool:
    """Ids the SDK does not list yet are allowed when they look like real ones (new releases)."""
    return model in known_models() or (
        model.startswith(("gemini-", "gemma-", "lyria-", "nano-banana", "models/")) and suggest(model) is None
    )


def makes_images(model: str) -> bool:
    """Image-generation models, recognised by their ids in the SDK's list."""
    return "image" in model or "nano-banana" in model

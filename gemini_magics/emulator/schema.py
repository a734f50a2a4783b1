"""Strict checks against the google-genai SDK's own pydantic models.

The SDK parses server JSON leniently (extra keys kept, unknown variants wrapped in
``Unknown*`` objects, unknown enum strings kept as ``UnrecognizedStr``), so a plain
``model_validate`` proves little. :func:`validate_interaction`, :func:`validate_event` and
:func:`validate_create_request` (what clients send) validate with the SDK's models and then walk
the result, reporting anything the lenient parser would have swallowed. The same module knows
which models, agents and request fields the SDK declares, for the emulator's request checks.
The SDK is imported lazily so that importing the emulator stays cheap.
"""

from __future__ import annotations

import functools
import typing
from typing import TYPE_CHECKING, Any

from .script import ApiError, Json
from .structured import check_json_format

if TYPE_CHECKING:
    from pydantic import BaseModel

# Undeclared keys the real API sends and the SDK keeps as extras on purpose.
_ALLOWED_EXTRAS: dict[str, frozenset[str]] = {
    "Interaction": frozenset({"object"}),
    "InteractionSseEventInteraction": frozenset({"object"}),
    "FunctionCallStep": frozenset({"signature"}),
    "FunctionResultStep": frozenset({"signature"}),
}
# MIME types a client may send beyond the SDK's literals (it accepts any string, and so does the
# API for common types such as video/quicktime); responses are held to the literals.
_OPEN_REQUEST_ENUMS = frozenset({"mime_type"})
_REQUIRED_INTERACTION_KEYS = ("id", "status", "object", "created", "updated", "steps", "usage")


def validate_interaction(obj: Json) -> list[str]:
    """Problems with an Interaction resource as emitted by the emulator (empty = valid)."""
    import pydantic
    from google.genai import interactions as t

    label = f"interaction {obj.get('id', '?')}" if isinstance(obj, dict) else "interaction"
    if not isinstance(obj, dict):
        return [f"{label}: not a JSON object"]
    problems = [f"{label}: missing {key!r}" for key in _REQUIRED_INTERACTION_KEYS if key not in obj]
    if obj.get("object") != "interaction":
        problems.append(f"{label}: object must be 'interaction'")
    if obj.get("status") == "requires_continuation":
        problems.append(f"{label}: requires_continuation must not be emitted")
    try:
        model = t.Interaction.model_validate(obj)
    except pydantic.ValidationError as exc:
        return problems + _describe(label, exc)
    return problems + _walk(model, label)


def validate_create_request(body: Json) -> list[str]:
    """Problems with a create request body, checked as deeply as responses (empty = valid).

    The body is validated with the SDK's own request model (``CreateModelInteraction`` or
    ``CreateAgentInteraction``: input steps and content blocks, tools, generation_config,
    response_format, agent_config...) and walked for what its lenient parser would swallow: unknown
    content or step types, undeclared enum values, undeclared nested fields. Unknown top-level fields
    are not reported here: :func:`check_create_request` answers them with 400 ``parameter_unknown``.
    """
    import pydantic
    from google.genai import interactions as t

    model = t.CreateAgentInteraction if "agent" in body else t.CreateModelInteraction
    label = "create request"
    try:
        request = model.model_validate(body)
    except pydantic.ValidationError as exc:
        return _describe(label, exc)
    return _walk(request, label, open_enums=_OPEN_REQUEST_ENUMS)


def validate_event(obj: Json) -> list[str]:
    """Problems with one SSE event payload as emitted by the emulator (empty = valid).

    ``step.start`` may announce a partial step (a function call's arguments arrive later as
    deltas), so required fields of the announced step may be missing; nothing else may be.
    """
    import pydantic

    if not isinstance(obj, dict) or "event_type" not in obj:
        return ["event without event_type (the SDK would misparse it as an ErrorEvent)"]
    label = f"{obj['event_type']} event {obj.get('event_id', '?')}"
    problems = [] if obj.get("event_id") else [f"{label}: missing event_id"]
    try:
        if obj["event_type"] == "step.start" and isinstance(obj.get("step"), dict):
            obj = {**obj, "step": _validate_partial_step(obj["step"])}
        event = _event_adapter().validate_python(obj)
    except pydantic.ValidationError as exc:
        return problems + _describe(label, exc)
    return problems + _walk(event, label)


@functools.cache
def known_models() -> frozenset[str]:
    from google.genai import interactions as t

    return _literal_values(t.Model)


@functools.cache
def known_agents() -> frozenset[str]:
    from google.genai import interactions as t

    return _literal_values(t.AgentOption)


@functools.cache
def create_fields() -> tuple[frozenset[str], frozenset[str]]:
    """Top-level request fields the SDK declares for (model, agent) create calls."""
    from google.genai import interactions as t

    model_fields = frozenset(t.CreateModelInteractionParam.__annotations__) | {"stream"}
    agent_fields = frozenset(t.CreateAgentInteractionParam.__annotations__) | {"stream"}
    return model_fields, agent_fields


def check_create_request(body: Any) -> None:
    """Raise :class:`ApiError` for a create body the real API would reject."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The request body must be a JSON object.")
    model_fields, agent_fields = create_fields()
    unknown = sorted(set(body) - model_fields - agent_fields)
    if unknown:
        raise ApiError(400, "parameter_unknown", f"Unknown parameter(s): {', '.join(unknown)}.")
    if ("model" in body) == ("agent" in body):
        raise ApiError(400, "invalid_request", "Exactly one of 'model' or 'agent' is required.")
    if "model" in body:
        misplaced = sorted(set(body) - model_fields)
        if body["model"] not in known_models():
            raise ApiError(404, "model_not_found", f"Model {body['model']!r} was not found.")
    else:
        misplaced = sorted(set(body) - agent_fields)
        if body["agent"] not in known_agents():
            raise ApiError(404, "not_found", f"Agent {body['agent']!r} was not found.")
        if body.get("background") is not True:
            raise ApiError(400, "invalid_request", "Agent interactions require background=true.")
    if misplaced:
        kind = "model" if "model" in body else "agent"
        raise ApiError(
            400, "invalid_request", f"Not allowed in a {kind} interaction: {', '.join(misplaced)}."
        )
    for flag in ("stream", "background", "store"):
        if flag in body and not isinstance(body[flag], bool):
            raise ApiError(400, "invalid_request", f"'{flag}' must be a boolean.")
    if body.get("store") is False and body.get("background"):
        raise ApiError(400, "invalid_request", "store=false cannot be combined with background.")
    if "continuation_token" in body:
        raise ApiError(400, "invalid_request", "Unknown continuation_token.")
    previous = body.get("previous_interaction_id")
    if previous is not None and not isinstance(previous, str):
        raise ApiError(400, "invalid_request", "'previous_interaction_id' must be a string.")
    _check_input(body.get("input"))
    _check_image_formats(body.get("response_format"))
    check_json_format(body.get("response_format"))


@functools.cache
def image_format_values() -> dict[str, frozenset[str]]:
    """The values the SDK declares for an image response format's enumerated fields."""
    from google.genai import interactions as t

    return {
        "aspect_ratio": _literal_values(t.ImageResponseFormatAspectRatio),
        "image_size": _literal_values(t.ImageResponseFormatImageSize),
        "delivery": _literal_values(t.ImageResponseFormatDelivery),
    }


def _check_image_formats(raw_format: Any) -> None:
    items = raw_format if isinstance(raw_format, list) else [raw_format]
    for item in items:
        if not isinstance(item, dict) or item.get("type") != "image":
            continue
        for name, allowed in image_format_values().items():
            if name in item and item[name] not in allowed:
                raise ApiError(
                    400,
                    "invalid_request",
                    f"response_format.{name} {item[name]!r} is not one of {', '.join(sorted(allowed))}.",
                )


def _check_input(raw_input: Any) -> None:
    if raw_input is None:
        raise ApiError(400, "invalid_request", "'input' is required.")
    if isinstance(raw_input, str):
        return
    items = raw_input if isinstance(raw_input, list) else [raw_input]
    if not items or not all(isinstance(item, dict) and "type" in item for item in items):
        raise ApiError(
            400,
            "invalid_request",
            "'input' must be a string, a content block or a list of steps or content blocks.",
        )


def _literal_values(option: Any) -> frozenset[str]:
    literal = typing.get_args(option)[0]
    return frozenset(typing.get_args(literal))


@functools.cache
def _event_adapter() -> Any:
    import pydantic
    from google.genai import interactions as t

    return pydantic.TypeAdapter(t.InteractionSSEEvent)


@functools.cache
def _step_classes() -> dict[str, type[BaseModel]]:
    from google.genai import interactions as t

    union = typing.get_args(t.Step)[0]
    classes: dict[str, type[BaseModel]] = {}
    for cls in typing.get_args(union):
        kind = cls.model_fields["type"].default
        if not cls.__name__.startswith("Unknown"):
            classes[kind] = cls
    return classes


@functools.cache
def _partial_step_class(kind: str) -> type[BaseModel] | None:
    """The step class with every required field made optional, for step.start payloads."""
    import pydantic

    cls = _step_classes().get(kind)
    if cls is None:
        return None
    relaxed: dict[str, Any] = {
        name: (typing.Optional[info.annotation], None)  # noqa: UP045 - a runtime type object
        for name, info in cls.model_fields.items()
        if info.is_required()
    }
    return pydantic.create_model(f"Partial{cls.__name__}", __base__=cls, **relaxed)


def _validate_partial_step(step: Json) -> Any:
    partial = _partial_step_class(step.get("type", ""))
    # An unknown step type stays a dict and is reported as UnknownStep by the walk.
    return step if partial is None else partial.model_validate(step)


def _describe(label: str, exc: Any) -> list[str]:
    return [
        f"{label}: {'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
        for error in exc.errors()
    ]


def _allowed_extras(cls: type) -> frozenset[str]:
    allowed: frozenset[str] = frozenset()
    for base in cls.__mro__:
        allowed |= _ALLOWED_EXTRAS.get(base.__name__, frozenset())
    return allowed


def _walk(value: Any, path: str, open_enums: frozenset[str] = frozenset()) -> list[str]:
    """Report lenient-parser fallbacks anywhere in a validated model tree.

    A model that declares no fields (e.g. ``FunctionResultStepResult``) is a free-form object: its
    keys are not "undeclared". ``open_enums`` names fields whose values may be any string.
    """
    import pydantic
    from google.genai._gaos.types import UnrecognizedStr

    problems: list[str] = []
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        node, where = pending.pop()
        if isinstance(node, pydantic.BaseModel):
            name = type(node).__name__
            if name.startswith("Unknown"):
                raw = node.__dict__.get("raw")
                problems.append(f"{where}: not recognised by the SDK ({name}): {raw!r:.200}")
                continue
            extras = set(node.model_extra or {}) - _allowed_extras(type(node))
            if extras and type(node).model_fields:
                problems.append(f"{where}: undeclared field(s) {sorted(extras)} on {name}")
            # Read __dict__, not attributes: deprecated fields warn on attribute access.
            for field_name in type(node).model_fields:
                child = node.__dict__.get(field_name)
                if child is not None:
                    pending.append((child, f"{where}.{field_name}"))
        elif isinstance(node, UnrecognizedStr):
            if where.rsplit(".", 1)[-1] in open_enums:
                continue
            problems.append(f"{where}: {str(node)!r} is not a value the SDK declares")
        elif isinstance(node, list | tuple):
            pending.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
        elif isinstance(node, dict):
            pending.extend((item, f"{where}.{key}") for key, item in node.items())
    return problems

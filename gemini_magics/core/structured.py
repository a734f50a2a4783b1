"""Structured output: the schema an answer must follow, as sent and as checked. No display code.

An :class:`OutputSchema` is built from what the user names with ``--schema`` (or gives to
``TurnRequest(schema=…)``): a pydantic model, a dataclass, a ``TypedDict``, an ``Enum``, ``list[...]``
of one of those, or a JSON Schema ``dict``. It gives the JSON Schema sent on the wire (inlined: no
``$ref``, no empty ``required``, no titles or defaults), the ``response_format`` in the SDK's shape,
and :meth:`OutputSchema.parse`, which turns the answer's text into a validated Python value or
raises :class:`~.errors.GeminiSchemaError` with the validation message. ``OutputSchema.json_only()``
(``--json``) asks for JSON without a schema and parses it into plain JSON values.

    schema = OutputSchema.from_object(list[Review])
    schema.response_format()   # {"type": "text", "mime_type": "application/json", "schema": {...}}
    schema.parse('[{"sentiment": "positive", "score": 4, "topics": ["food"]}]')  # [Review(...)]

Python types are checked with pydantic (the SDK's own dependency); JSON Schema dicts with
``jsonschema`` (the reference validator, which every Jupyter install already has through nbformat).
Both are imported on first use, so loading the extension stays cheap.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import typing
from collections.abc import Callable, Mapping
from typing import Any

from .errors import GeminiSchemaError, InputError

JSON_MIME = "application/json"
SUPPORTED = "a pydantic model, a dataclass, a TypedDict, an Enum, list[...] of one, or a JSON Schema dict"
MAX_ERROR_CHARS = 160
# JSON Schema keywords sent on the wire (the subset the API reads); anything else is left out
_KEPT = frozenset(
    {
        "type",
        "format",
        "description",
        "nullable",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "propertyOrdering",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "anyOf",
    }
)


class OutputSchema:
    """What an answer must look like: the wire schema and the parser that checks the answer."""

    def __init__(self, name: str, json_schema: dict[str, Any] | None, parse: Callable[[str], Any]) -> None:
        self.name = name
        self.json_schema = json_schema
        self._parse = parse

    def __repr__(self) -> str:
        return f"<OutputSchema {self.name}>"

    @classmethod
    def from_object(cls, obj: Any) -> OutputSchema:
        """The schema for ``obj``; raises InputError (one line) for anything else."""
        if isinstance(obj, OutputSchema):
            return obj
        if isinstance(obj, Mapping):
            return _from_json_schema(dict(obj))
        if not _supported(obj):
            raise InputError(f"--schema takes {SUPPORTED}; {_describe(obj)} is none of these")
        return _from_type(obj)

    @classmethod
    def json_only(cls) -> OutputSchema:
        """``--json``: any JSON value, parsed into plain Python values."""
        return cls("JSON", None, _parse_plain_json)

    def response_format(self) -> dict[str, Any]:
        """The ``response_format`` of the create call (the SDK's ``TextResponseFormat``, by alias)."""
        response_format: dict[str, Any] = {"type": "text", "mime_type": JSON_MIME}
        if self.json_schema is not None:
            response_format["schema"] = self.json_schema
        return response_format

    def parse(self, text: str) -> Any:
        """The answer as a validated Python value; raises GeminiSchemaError when it does not fit."""
        if not text.strip():
            raise GeminiSchemaError(self.name, ["the answer is empty"])
        return self._parse(text)


# -- Python types ----------------------------------------------------------------------------------
def _supported(obj: Any) -> bool:
    origin = typing.get_origin(obj)
    if origin is list:
        args = typing.get_args(obj)
        return len(args) == 1 and _supported(args[0])
    if not isinstance(obj, type):
        return False
    return (
        issubclass(obj, enum.Enum)
        or dataclasses.is_dataclass(obj)
        or typing.is_typeddict(obj)
        or (hasattr(obj, "model_json_schema") and hasattr(obj, "model_validate"))
    )


def _describe(obj: Any) -> str:
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    if typing.get_origin(obj) is not None:
        return repr(obj).replace("typing.", "")
    if isinstance(obj, str):
        return f"the string {obj[:40]!r}"
    return f"a value of type {type(obj).__name__}"


def _type_name(obj: Any) -> str:
    if typing.get_origin(obj) is list:
        return f"list[{_type_name(typing.get_args(obj)[0])}]"
    return str(getattr(obj, "__name__", obj))


def _from_type(obj: Any) -> OutputSchema:
    from pydantic import TypeAdapter, ValidationError
    from pydantic.errors import PydanticUserError

    name = _type_name(obj)
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(_pydantic_ready(obj))
        raw = adapter.json_schema(mode="validation")
    except (PydanticUserError, TypeError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"--schema {name} cannot be described as JSON Schema: {message}") from None
    wire = wire_schema(raw, name)

    def parse(text: str) -> Any:
        try:
            return adapter.validate_json(text)
        except ValidationError as exc:
            problems = exc.errors(include_url=False, include_input=False)
            if any(problem["type"] == "json_invalid" for problem in problems):
                raise GeminiSchemaError(name, [_json_problem(text)]) from None
            raise GeminiSchemaError(name, [_pydantic_problem(p) for p in problems]) from None

    return OutputSchema(name, wire, parse)


def _pydantic_problem(problem: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in problem.get("loc", ())) or "the answer"
    return f"{where}: {problem.get('msg', 'invalid')}"


@functools.lru_cache(maxsize=64)
def _converted_typeddict(cls: type) -> Any:
    """``typing.TypedDict`` as ``typing_extensions.TypedDict`` (pydantic needs that before Python 3.12)."""
    import typing_extensions

    hints = typing.get_type_hints(cls)
    required = getattr(cls, "__required_keys__", frozenset(hints))
    fields = {}
    for key, hint in hints.items():
        ready = _pydantic_ready(hint)
        fields[key] = ready if key in required else typing_extensions.NotRequired[ready]
    converted: Any = typing_extensions.TypedDict(cls.__name__, fields)  # type: ignore[misc]
    converted.__doc__ = cls.__doc__
    return converted


def _pydantic_ready(hint: Any) -> Any:
    """``hint`` with every ``typing.TypedDict`` in it (at the top, in lists) made pydantic-ready."""
    if isinstance(hint, type) and typing.is_typeddict(hint) and type(hint).__module__ == "typing":
        return _converted_typeddict(hint)
    if typing.get_origin(hint) is list:
        return list[_pydantic_ready(typing.get_args(hint)[0])]  # type: ignore[misc]
    return hint


# -- JSON Schema dicts -----------------------------------------------------------------------------
def _from_json_schema(schema: dict[str, Any]) -> OutputSchema:
    from jsonschema import exceptions, validators

    validator_class = validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except exceptions.SchemaError as exc:
        raise InputError(f"--schema: the dict is not a valid JSON Schema ({_short(exc.message)})") from None
    validator = validator_class(schema)
    name = str(schema.get("title") or "the JSON Schema")
    wire = wire_schema(schema, name)

    def parse(text: str) -> Any:
        value = _parse_plain_json(text, name)
        problems = sorted(validator.iter_errors(value), key=lambda error: list(error.absolute_path))
        if problems:
            raise GeminiSchemaError(name, [_jsonschema_problem(p) for p in problems])
        return value

    return OutputSchema(name, wire, parse)


def _jsonschema_problem(error: Any) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "the answer"
    return f"{where}: {_short(error.message)}"


def _parse_plain_json(text: str, name: str = "JSON") -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise GeminiSchemaError(name, [_json_problem(text)]) from None


def _json_problem(text: str) -> str:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"the answer is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    return "the answer is not valid JSON"


def _short(message: str) -> str:
    flat = " ".join(message.split())
    return flat if len(flat) <= MAX_ERROR_CHARS else flat[: MAX_ERROR_CHARS - 1] + "…"


# -- the schema on the wire ------------------------------------------------------------------------
def wire_schema(schema: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``schema`` as the API takes it: ``$ref`` inlined from ``$defs``/``definitions``, ``const`` as a
    one-value ``enum``, only the keywords in ``_KEPT``, and no empty ``required`` (the real API
    refuses ``"required": []``). A schema that refers to itself cannot be inlined: InputError."""
    return _inline(schema, schema, name, ())


def _inline(node: Any, root: Mapping[str, Any], name: str, trail: tuple[str, ...]) -> Any:
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:
        reference = str(node["$ref"])
        if reference in trail:
            raise InputError(
                f"--schema {name} refers to itself ({reference}); recursive schemas cannot be sent: "
                "give the nesting a fixed depth"
            )
        target = _resolve(reference, root, name)
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return _inline({**target, **siblings}, root, name, (*trail, reference))
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:  # a lone allOf wraps a $ref with a description
        merged = {**all_of[0], **{key: value for key, value in node.items() if key != "allOf"}}
        return _inline(merged, root, name, trail)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "const":
            out["enum"] = [value]
        elif key not in _KEPT:
            continue
        elif key == "properties" and isinstance(value, Mapping):
            out[key] = {prop: _inline(sub, root, name, trail) for prop, sub in value.items()}
        elif key in ("anyOf", "prefixItems") and isinstance(value, list):
            out[key] = [_inline(sub, root, name, trail) for sub in value]
        elif key in ("items", "additionalProperties"):
            out[key] = _inline(value, root, name, trail)
        elif key == "required" and not value:
            continue
        else:
            out[key] = value
    if "oneOf" in node and "anyOf" not in out and isinstance(node["oneOf"], list):
        out["anyOf"] = [_inline(sub, root, name, trail) for sub in node["oneOf"]]
    return out


def _resolve(reference: str, root: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    parts = reference.split("/")
    if parts[0] != "#":
        raise InputError(
            f"--schema {name}: only local references (#/$defs/…) can be inlined, not {reference}"
        )
    target: Any = root
    for part in parts[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, Mapping) or part not in target:
            raise InputError(f"--schema {name}: the reference {reference} points nowhere")
        target = target[part]
    if not isinstance(target, Mapping):
        raise InputError(f"--schema {name}: the reference {reference} is not a schema")
    return target


# -- values for display ----------------------------------------------------------------------------
def jsonable(value: Any) -> Any:
    """``value`` (models, dataclasses, enums, TypedDicts, plain JSON) as plain JSON values."""
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value)

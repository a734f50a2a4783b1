"""JSON answers, offline: a value that fits the requested schema, derived from the prompt.

A create request whose ``response_format`` is ``{"type": "text", "mime_type": "application/json"}``
gets JSON instead of the usual Markdown: with a ``schema``, a value that conforms to it (strings
taken from the prompt's words, numbers within their bounds, enum members, arrays of 1-3 items,
nested objects, one ``anyOf`` option); without one, a small object describing the prompt. Every
choice comes from a hash of the prompt and the position in the schema, so the same prompt gives the
same answer. The JSON is pretty-printed and streamed in several deltas. It cannot carry the offline
banner (that would break the JSON); front ends say offline answers are offline.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .script import ApiError, Json, Reply

JSON_MIME = "application/json"
JSON_DELAY = 0.02
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{2,}")
_MAX_DEPTH = 12


def json_format(request: Json) -> Json | None:
    """The JSON text format ``request`` asks for (its ``response_format``, alone or in a list)."""
    raw = request.get("response_format")
    for item in raw if isinstance(raw, list) else [raw]:
        if isinstance(item, dict) and item.get("type") == "text" and item.get("mime_type") == JSON_MIME:
            return item
    return None


def check_json_format(raw_format: Any) -> None:
    """Refuse what the real API refuses in a JSON schema (an empty ``required``), and ``$ref``,
    which this emulator does not resolve (send schemas inlined)."""
    items = raw_format if isinstance(raw_format, list) else [raw_format]
    for item in items:
        if not isinstance(item, dict) or item.get("type") != "text" or "schema" not in item:
            continue
        if not isinstance(item["schema"], dict):
            raise ApiError(400, "invalid_request", "response_format.schema must be a JSON object.")
        problem = _schema_problem(item["schema"], "schema")
        if problem:
            raise ApiError(400, "invalid_request", f"response_format.{problem}")


def _schema_problem(node: Any, path: str) -> str | None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            problem = _schema_problem(item, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if not isinstance(node, dict):
        return None
    if "$ref" in node:
        return f"{path}: $ref is not supported; inline the referenced schema."
    if node.get("required") == []:
        return f"{path}.required must not be empty; leave it out."
    for key, value in node.items():
        if key == "enum":
            continue
        problem = _schema_problem(value, f"{path}.{key}")
        if problem:
            return problem
    return None


def json_reply(request: Json, prompt: str) -> Reply:
    """The offline JSON answer: conforming to the schema when one was given."""
    schema = (json_format(request) or {}).get("schema")
    if isinstance(schema, dict):
        value = conforming_value(schema, _Chooser(prompt))
    else:
        value = {
            "offline": True,
            "prompt_words": len(prompt.split()),
            "prompt_characters": len(prompt),
            "first_word": (_WORD.findall(prompt) or ["none"])[0],
        }
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return Reply.text(text, deltas=max(3, min(12, len(text) // 8)), delay=JSON_DELAY)


class _Chooser:
    """Deterministic choices from the prompt: each one hashes the prompt with where it is asked."""

    def __init__(self, prompt: str) -> None:
        self.prompt = prompt
        self.words = [word.lower() for word in _WORD.findall(prompt)] or ["offline"]

    def number(self, where: str, low: int, high: int) -> int:
        digest = hashlib.sha256(f"{self.prompt}\x00{where}".encode()).digest()
        return low + int.from_bytes(digest[:8], "big") % (high - low + 1)

    def word(self, where: str) -> str:
        return self.words[self.number(where, 0, len(self.words) - 1)]


def conforming_value(schema: Json, chooser: _Chooser, where: str = "$", depth: int = 0) -> Any:
    """A value that fits ``schema`` (the subset structured output uses), chosen by ``chooser``."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        options = schema["enum"]
        return options[chooser.number(where, 0, len(options) - 1)]
    if "const" in schema:
        return schema["const"]
    options = [o for o in schema.get("anyOf") or schema.get("oneOf") or [] if isinstance(o, dict)]
    if options:
        chosen = options[chooser.number(where + "|", 0, len(options) - 1)]
        return conforming_value(chosen, chooser, where, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or ["null"]
        kind = kinds[chooser.number(where + "|", 0, len(kinds) - 1)]
    if schema.get("nullable") and chooser.number(where + "?", 0, 3) == 0:
        return None
    if kind == "object" or (kind is None and "properties" in schema):
        return _object(schema, chooser, where, depth)
    if kind == "array":
        return _array(schema, chooser, where, depth)
    if kind == "integer":
        low, high = _bounds(schema, 0, 100)
        return chooser.number(where, low, high)
    if kind == "number":
        low, high = _bounds(schema, 0, 100)
        return round(low + (high - low) * chooser.number(where, 0, 1000) / 1000, 2)
    if kind == "boolean":
        return chooser.number(where, 0, 1) == 1
    if kind == "null":
        return None
    return _string(schema, chooser, where)


def _object(schema: Json, chooser: _Chooser, where: str, depth: int) -> Json:
    properties = schema.get("properties") or {}
    value = {
        name: conforming_value(sub if isinstance(sub, dict) else {}, chooser, f"{where}.{name}", depth + 1)
        for name, sub in properties.items()
    }
    extra = schema.get("additionalProperties")
    if not properties and isinstance(extra, dict):
        for n in range(chooser.number(where + "#", 1, 3)):
            key = chooser.word(f"{where}#{n}") + (str(n) if n else "")
            value[key] = conforming_value(extra, chooser, f"{where}[{key}]", depth + 1)
    return value


def _array(schema: Json, chooser: _Chooser, where: str, depth: int) -> list[Any]:
    prefix = [item for item in schema.get("prefixItems") or [] if isinstance(item, dict)]
    if prefix:
        return [conforming_value(item, chooser, f"{where}[{n}]", depth + 1) for n, item in enumerate(prefix)]
    low = max(int(schema.get("minItems", 1)), 0)
    high = max(min(int(schema.get("maxItems", 3)), max(low, 3)), low)
    items = schema.get("items")
    if not isinstance(items, dict):
        items = {"type": "string"}
    count = chooser.number(where + "#", low, high)
    return [conforming_value(items, chooser, f"{where}[{n}]", depth + 1) for n in range(count)]


def _bounds(schema: Json, low: int, high: int) -> tuple[int, int]:
    minimum = schema.get("minimum", schema.get("exclusiveMinimum"))
    maximum = schema.get("maximum", schema.get("exclusiveMaximum"))
    if isinstance(minimum, int | float):
        low = int(minimum) + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
        high = max(high, low + 100) if maximum is None else high
    if isinstance(maximum, int | float):
        high = int(maximum) - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
        low = min(low, high)
    return low, max(low, high)


def _string(schema: Json, chooser: _Chooser, where: str) -> str:
    fmt = schema.get("format")
    if fmt == "date":
        return f"2026-{chooser.number(where, 1, 12):02d}-{chooser.number(where + 'd', 1, 28):02d}"
    if fmt == "date-time":
        return f"2026-01-{chooser.number(where, 1, 28):02d}T12:00:00Z"
    text = " ".join(chooser.word(f"{where}~{n}") for n in range(chooser.number(where, 1, 3)))
    limit = schema.get("maxLength")
    if isinstance(limit, int) and limit >= 0:
        text = text[:limit]
    minimum = schema.get("minLength")
    if isinstance(minimum, int) and len(text) < minimum:
        text = text.ljust(minimum, "x")
    return text

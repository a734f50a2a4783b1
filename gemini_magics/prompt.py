"""``{{name}}`` substitution from the user namespace, safe for code full of braces. No IPython.

Only ``{{ … }}`` whose inside is a plain reference — a name followed by ``.attr`` or ``[literal]``
parts, as in ``{{df}}``, ``{{cfg.path}}``, ``{{rows[0]}}``, ``{{Out[3]}}`` or ``{{d["k"]}}`` — is
replaced, by the value's ``str()``. Nothing is evaluated; anything else (single braces, f-strings,
Jinja expressions) is sent untouched.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][^{}]*?)\s*\}\}")
_REFERENCE = re.compile(
    r"[A-Za-z_]\w*(?:\s*(?:\.\s*[A-Za-z_]\w*|\[\s*(?:-?\d+|'[^'\\]*'|\"[^\"\\]*\")\s*\]))*"
)
_PART = re.compile(r"\.\s*([A-Za-z_]\w*)|\[\s*(-?\d+|'[^'\\]*'|\"[^\"\\]*\")\s*\]")


class UnknownVariable(LookupError):
    """A ``{{reference}}`` names something the namespace does not have."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(f"{{{{{reference}}}}}: {reason}")
        self.reference = reference
        self.reason = reason


def resolve(reference: str, namespace: Mapping[str, Any]) -> Any:
    """The value of a plain reference such as ``fig``, ``cfg.path`` or ``images[0]``."""
    if not _REFERENCE.fullmatch(reference):
        raise UnknownVariable(reference, "not a variable name")
    name = re.match(r"[A-Za-z_]\w*", reference)
    assert name is not None
    if name.group() not in namespace:
        raise UnknownVariable(reference, f"no variable named {name.group()!r}")
    value = namespace[name.group()]
    for attribute, index in _PART.findall(reference[name.end() :]):
        try:
            value = getattr(value, attribute) if attribute else value[ast.literal_eval(index)]
        except (AttributeError, LookupError, TypeError) as exc:
            raise UnknownVariable(reference, f"{type(exc).__name__}: {exc}") from None
    return value


def substitute(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace each ``{{reference}}`` in ``text``; raise :class:`UnknownVariable` for a missing one."""

    def replace(match: re.Match[str]) -> str:
        reference = match.group(1)
        if not _REFERENCE.fullmatch(reference):
            return match.group(0)
        return str(resolve(reference, namespace))

    return _PLACEHOLDER.sub(replace, text)

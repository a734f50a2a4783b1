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
    """A ``{{reference}}`` names something the namespace does not have (or reading it raised:
    ``raised`` is then True and ``reason`` names the exception's type and message)."""

    def __init__(self, reference: str, reason: str, *, raised: bool = False) -> None:
        super().__init__(f"{{{{{reference}}}}}: {reason}")
        self.reference = reference
        self.reason = reason
        self.raised = raised


def _failure(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    message = message if len(message) <= 200 else message[:197] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


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
            if attribute and _is_pandas_row_with(value, attribute):
                value = value[attribute]  # the column, even where pandas has a method so named (product)
            else:
                value = getattr(value, attribute) if attribute else value[ast.literal_eval(index)]
        except (AttributeError, LookupError, TypeError) as exc:
            raise UnknownVariable(reference, _failure(exc)) from None
        except Exception as exc:  # a property or __getitem__ that raises something else
            raise UnknownVariable(reference, _failure(exc), raised=True) from None
    return value


def _is_pandas_row_with(value: Any, label: str) -> bool:
    """A pandas Series (a DataFrame's row) with ``label`` in its index: ``.label`` reads that entry."""
    if (
        not type(value).__module__.startswith("pandas")
        or hasattr(value, "columns")
        or not hasattr(value, "index")
    ):
        return False
    try:
        return label in value.index
    except TypeError:
        return False


def substitute(text: str, namespace: Mapping[str, Any]) -> str:
    """Replace each ``{{reference}}`` in ``text``; raise :class:`UnknownVariable` for a missing one."""

    def replace(match: re.Match[str]) -> str:
        reference = match.group(1)
        if not _REFERENCE.fullmatch(reference):
            return match.group(0)
        value = resolve(reference, namespace)
        try:
            return str(value)
        except Exception as exc:  # a __str__ that raises
            raise UnknownVariable(reference, f"str() raised {_failure(exc)}", raised=True) from None

    return _PLACEHOLDER.sub(replace, text)

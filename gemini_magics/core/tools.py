"""Which tools a turn may use: ``--tools`` names and ``--mcp`` servers to the SDK's tool shapes. No IPython.

:func:`resolve_tools` is the one place a tool name is understood, for cells, chat panels and the
``GeminiMagics.tools`` trait alike. Built-in short names map to the API's built-in tools; any other
name is looked up in the namespace, and a callable (or a list of callables) found there is handed to
:func:`function_declarations`, the hook Python function calling fills in. ``none`` turns tools off.

MCP headers often hold credentials: they travel in a :class:`Headers` mapping whose ``repr`` hides
the values, so printing a request, a thread's settings or a traceback never shows them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .errors import InputError
from .functions import DeclarationError, FunctionTool, FunctionTools

BUILTIN = {
    "search": {"type": "google_search"},
    "url": {"type": "url_context"},
    "code": {"type": "code_execution"},
    "maps": {"type": "google_maps"},
}
# the long names work too (a tool type as the API spells it)
ALIASES = {spec["type"]: short for short, spec in BUILTIN.items()}
NO_TOOLS = "none"
# tool types the SDK declares that need settings a notebook cannot give yet
NOT_CONFIGURABLE = {
    "file_search": "it needs file search store names",
    "computer_use": "it needs a browser environment the kernel does not provide",
    "retrieval": "it needs a Vertex AI Search data store",
    "tool_search": "it is for agents that load tools on demand",
}
_MCP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,62}")


class Headers(dict[str, Any]):
    """HTTP headers for an MCP server; the values never appear in a ``repr``."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{name!r}: '…'" for name in self) + "}"

    __str__ = __repr__


def hidden_headers(by_server: Mapping[str, Mapping[str, str]] | None) -> Headers:
    """``{server: {header: value}}`` with every level hiding its values in a ``repr``."""
    hidden = Headers()
    for server, headers in (by_server or {}).items():
        if not isinstance(headers, Mapping):
            raise InputError(f"GeminiMagics.mcp_headers[{server!r}] must be a dict of header names to values")
        hidden[str(server)] = Headers({str(k): str(v) for k, v in headers.items()})
    return hidden


def function_declarations(callables: Sequence[Callable[..., Any]]) -> list[FunctionTool]:
    """The Python callables as tools: each keeps its function (for the round loop in core/turns.py)
    and its declaration, built from the signature and docstring (core/functions.py)."""
    try:
        return list(FunctionTools.of(callables).tools.values())
    except DeclarationError as exc:
        raise InputError(f"--tools: cannot offer {exc}") from None


def available() -> str:
    """The built-in names, for messages: "search, url, code, maps (or none)"."""
    return ", ".join(BUILTIN) + f" (or {NO_TOOLS})"


def resolve_tools(
    names: Iterable[str | Callable[..., Any]], namespace: Mapping[str, Any] | None
) -> list[Any]:
    """The tool list for ``names``: built-in short names (or their API types), ``none`` (no tools),
    names of callables in ``namespace``, or callables given directly. Raises InputError for the rest.
    """
    tools: list[Any] = []  # built-in tool dicts, then FunctionTools
    callables: list[Callable[..., Any]] = []
    names = list(names)
    for name in names:
        if callable(name):
            callables.append(name)
            continue
        word = str(name).strip()
        key = word.lower()
        if key == NO_TOOLS:
            if len(names) > 1:
                raise InputError(f"--tools {NO_TOOLS} turns tools off: give it alone, not with other names")
            return []
        if key in BUILTIN or key in ALIASES:
            spec = dict(BUILTIN[ALIASES.get(key, key)])
            if spec not in tools:
                tools.append(spec)
            continue
        if key in NOT_CONFIGURABLE:
            raise InputError(
                f"--tools {word}: a notebook cannot configure {key} yet ({NOT_CONFIGURABLE[key]}); "
                f"use {available()}"
            )
        value = (namespace or {}).get(word, _MISSING)
        if value is _MISSING:
            raise InputError(
                f"--tools {word}: not a built-in tool and no such variable; use {available()}, "
                "or the name of a Python function"
            )
        found = _callables(value)
        if found is None:
            raise InputError(
                f"--tools {word}: {type(value).__name__} is not a function (nor a list of functions); "
                f"use {available()}, or the name of a Python function"
            )
        callables.extend(found)
    if callables:
        tools.extend(function_declarations(callables))
    return tools


_MISSING = object()


def _callables(value: Any) -> list[Callable[..., Any]] | None:
    if callable(value) and not isinstance(value, type):
        return [value]
    if (
        isinstance(value, list | tuple)
        and value
        and all(callable(v) and not isinstance(v, type) for v in value)
    ):
        return list(value)
    return None


def mcp_server(spec: str, headers: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    """``NAME=URL`` as an ``mcp_server`` tool; headers come from ``headers[NAME]`` (the trait)."""
    name, equals, url = spec.partition("=")
    name, url = name.strip(), url.strip()
    if not equals or not name or not url:
        raise InputError(
            f"--mcp needs NAME=URL, e.g. --mcp weather=https://mcp.example.com/mcp; not {spec!r}"
        )
    if not _MCP_NAME.fullmatch(name):
        raise InputError(f"--mcp {name}: use letters, digits, '_', '.' or '-' for the server name")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InputError(f"--mcp {name}: the URL must start with https:// (got {url!r})")
    tool: dict[str, Any] = {"type": "mcp_server", "name": name, "url": url}
    given = (headers or {}).get(name)
    if given:
        tool["headers"] = Headers({str(k): str(v) for k, v in given.items()})
    return tool


def with_mcp(tools: Sequence[dict[str, Any]], servers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``tools`` with ``servers`` added; a server replaces one of the same name."""
    names = {server["name"] for server in servers}
    kept = [t for t in tools if not (t.get("type") == "mcp_server" and t.get("name") in names)]
    return [*kept, *servers]


def describe(tools: Iterable[dict[str, Any]]) -> str:
    """Short names for ``status`` and ``history``: "search, code, mcp:weather" (never headers)."""
    words = []
    for tool in tools:
        kind = str(tool.get("type", "?"))
        if kind == "mcp_server":
            words.append(f"mcp:{tool.get('name', '?')}")
        elif kind == "function":
            words.append(str(tool.get("name", "function")))
        else:
            words.append(ALIASES.get(kind, kind))
    return ", ".join(words)

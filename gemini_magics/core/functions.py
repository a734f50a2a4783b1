"""The user's Python functions as tools: declarations, calls, results. No IPython imports.

:func:`declare` turns a callable into the API's ``function`` tool (name, description, JSON Schema of
its parameters) from its signature, type hints and docstring; a hint it cannot describe is refused
with an error naming the parameter. :class:`FunctionTools` is the set a turn may call: only those
functions, looked up by name, ever run. :meth:`FunctionTools.call` validates the model's arguments
against the signature (pydantic, the SDK's own dependency), calls the function (sync or async) and
turns whatever happens into a ``function_result`` step: a bad argument, an unknown name or an
exception becomes an error result for the model (``is_error``), never a crash, and nothing the model
sends is evaluated.

    tools = FunctionTools.of([convert])
    tools.declarations()                       # [{"type": "function", "name": "convert", ...}]
    call = tools.call({"type": "function_call", "id": "fc_1", "name": "convert", "arguments": {...}})
    call.step                                  # {"type": "function_result", "call_id": "fc_1", ...}
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import re
import threading
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_MAX_ROUNDS = 10
_PRIMITIVES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")


class DeclarationError(ValueError):
    """A callable cannot be offered to the model as it is (says which one, and why)."""


# -- declarations ---------------------------------------------------------------------------------
def declare(func: Callable[..., Any]) -> dict[str, Any]:
    """The ``function`` tool for ``func``: its name, its docstring's description and a JSON Schema
    of its parameters, with each parameter's description from an ``Args:`` (Google) or
    ``Parameters`` (NumPy) section. Raises :class:`DeclarationError` for what cannot be described."""
    name = _name_of(func)
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise DeclarationError(f"{name}: its signature cannot be read ({exc})") from None
    hints = _hints(func, name)
    summary, described = parse_docstring(inspect.getdoc(func) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise DeclarationError(
                f"{name}: parameter {parameter.name!r} (*args/**kwargs) cannot be declared; "
                "name each parameter"
            )
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise DeclarationError(
                f"{name}: parameter {parameter.name!r} is positional-only; the model passes arguments by name"
            )
        if parameter.name not in hints:
            raise DeclarationError(
                f"{name}: parameter {parameter.name!r} has no type hint; add one (e.g. {parameter.name}: str)"
            )
        try:
            schema = schema_of(hints[parameter.name])
        except DeclarationError as exc:
            raise DeclarationError(f"{name}: parameter {parameter.name!r}: {exc}") from None
        if parameter.name in described:
            schema = {**schema, "description": described[parameter.name]}
        properties[parameter.name] = schema
        if parameter.default is parameter.empty:
            required.append(parameter.name)
    declaration: dict[str, Any] = {"type": "function", "name": name}
    if summary:
        declaration["description"] = summary
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:  # the API refuses an empty "required": []
        parameters["required"] = required
    declaration["parameters"] = parameters
    return declaration


def _name_of(func: Callable[..., Any]) -> str:
    if not callable(func):
        raise DeclarationError(f"{func!r} is not a function")
    name = getattr(func, "__name__", None)
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name == "<lambda>":
        raise DeclarationError(
            f"{func!r} has no usable name; define it with def, so the model can call it by name"
        )
    return name


def _hints(func: Callable[..., Any], name: str) -> dict[str, Any]:
    target = func if inspect.isfunction(func) or inspect.ismethod(func) else type(func).__call__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # a forward reference to a name that does not exist
        raise DeclarationError(f"{name}: its type hints cannot be resolved ({exc})") from None


def schema_of(hint: Any, seen: tuple[Any, ...] = ()) -> dict[str, Any]:
    """The JSON Schema (the subset the API reads) for one type hint; nested types are inlined."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        schema = schema_of(args[0], seen)
        notes = [a for a in args[1:] if isinstance(a, str)]
        return {**schema, "description": " ".join(notes)} if notes else schema
    if hint in _PRIMITIVES:
        return {"type": _PRIMITIVES[hint]}
    if hint is Any:
        raise DeclarationError("typing.Any cannot be described to the model; use a concrete type")
    if origin is Literal:
        return _literal(args)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _literal(tuple(member.value for member in hint))
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        schemas = [schema_of(a, seen) for a in options]
        if len(args) != len(options):
            schemas.append({"type": "null"})
        return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
    if origin in (list, Sequence, typing.List, set, frozenset) or hint in (list, set, frozenset):  # noqa: UP006
        if not args:
            raise DeclarationError(f"{_hint_name(hint)} needs an item type, e.g. list[str]")
        return {"type": "array", "items": schema_of(args[0], seen)}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": schema_of(args[0], seen)}
        if not args:
            raise DeclarationError("tuple needs item types, e.g. tuple[float, float]")
        items = [schema_of(a, seen) for a in args]
        return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
    if origin in (dict, Mapping) or hint is dict:
        if not args or args[0] is not str:
            raise DeclarationError(
                f"{_hint_name(hint)} needs string keys and a value type, e.g. dict[str, int]"
            )
        return {"type": "object", "additionalProperties": schema_of(args[1], seen)}
    if isinstance(hint, type) and (dataclasses.is_dataclass(hint) or _is_pydantic_model(hint)):
        if hint in seen:
            raise DeclarationError(f"{hint.__name__} refers to itself; recursive types cannot be declared")
        return _object_schema(hint, (*seen, hint))
    raise DeclarationError(
        f"type {_hint_name(hint)} is not supported; use str, int, float, bool, Literal, an Enum, "
        "Optional, list[...], dict[str, ...], a dataclass or a pydantic model"
    )


def _literal(values: tuple[Any, ...]) -> dict[str, Any]:
    kinds = {_PRIMITIVES.get(type(v)) for v in values}
    if None in kinds or not values:
        raise DeclarationError(f"choices {values!r} must be strings, numbers or booleans")
    schema: dict[str, Any] = {"enum": list(values)}
    if len(kinds) == 1:
        schema = {"type": kinds.pop(), **schema}
    return schema


def _object_schema(cls: type, seen: tuple[Any, ...]) -> dict[str, Any]:
    """A dataclass or a pydantic model as an object schema: its fields, and its docstring's
    summary and field descriptions (a pydantic ``Field(description=…)`` wins)."""
    summary, described = parse_docstring(inspect.cleandoc(cls.__doc__ or ""))
    if summary.startswith(f"{cls.__name__}("):  # the dataclass's generated signature, not a docstring
        summary = ""
    fields: list[tuple[str, str, Any, bool, str | None]] = []  # key, name, hint, required, description
    if _is_pydantic_model(cls):
        for name, info in cls.model_fields.items():  # type: ignore[attr-defined]
            fields.append((info.alias or name, name, info.annotation, info.is_required(), info.description))
    else:
        hints = typing.get_type_hints(cls, include_extras=True)
        for item in dataclasses.fields(cls):
            needed = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
            fields.append((item.name, item.name, hints[item.name], needed, None))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for key, name, hint, needed, description in fields:
        try:
            field_schema = schema_of(hint, seen)
        except DeclarationError as exc:
            raise DeclarationError(f"{cls.__name__}.{name}: {exc}") from None
        description = description or described.get(name)
        properties[key] = {**field_schema, "description": description} if description else field_schema
        if needed:
            required.append(key)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if summary:
        schema["description"] = summary
    return schema


def _is_pydantic_model(cls: type) -> bool:
    return isinstance(getattr(cls, "model_fields", None), dict) and hasattr(cls, "model_validate")


def _hint_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or repr(hint).replace("typing.", "")


_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments|Other Parameters|Returns?|"
    r"Yields?|Raises|Examples?|Notes?|Attributes|See Also|References|Warnings?|Todo)\s*:?\s*$"
)
_PARAMETER_SECTIONS = frozenset(
    {
        "Args",
        "Arguments",
        "Parameters",
        "Params",
        "Keyword Args",
        "Keyword Arguments",
        "Other Parameters",
        "Attributes",
    }
)
_GOOGLE_ITEM = re.compile(r"^(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_NUMPY_ITEM = re.compile(r"^(\w+)\s*(?::\s*(.*))?$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The description (the text before the first section) and each parameter's description, from
    a Google-style ``Args:`` or NumPy-style ``Parameters`` section (also reST ``:param x:`` lines)."""
    lines = doc.expandtabs().splitlines()
    description: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    numpy_style = False
    current: str | None = None
    base_indent = 0
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        numpy_rule = index + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[index + 1].strip() or "x")
        heading = _SECTION.match(stripped)
        if heading and (stripped.endswith(":") or numpy_rule):
            section, current, numpy_style = heading.group(1), None, bool(numpy_rule)
            index += 2 if numpy_rule else 1
            base_indent = -1
            continue
        reST = re.match(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$", stripped)
        if reST:
            section, current = "reST", reST.group(1)
            params[current] = reST.group(2).strip()
        elif section is None:
            description.append(line)
        elif section in _PARAMETER_SECTIONS and stripped:
            indent = len(line) - len(line.lstrip())
            if base_indent < 0:
                base_indent = indent
            if indent <= base_indent:
                google = _GOOGLE_ITEM.match(stripped)
                numpy = _NUMPY_ITEM.match(stripped)
                if google and not numpy_style and (google.group(2) is not None or google.group(3)):
                    current = google.group(1).lstrip("*")
                    params[current] = google.group(3).strip()
                elif numpy:
                    current = numpy.group(1)
                    params[current] = ""
                else:
                    current = None
            elif current is not None:
                params[current] = f"{params[current]} {stripped}".strip()
        elif section == "reST" and stripped and current is not None:
            params[current] = f"{params[current]} {stripped}".strip()
        index += 1
    paragraphs = re.split(r"\n\s*\n", "\n".join(description).strip())
    summary = "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())  # lines unwrapped
    return summary, {name: text for name, text in params.items() if text}


# -- calling ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunctionCall:
    """One call the model asked for, as it came (``arguments`` may be anything: it is not trusted)."""

    call_id: str
    name: str
    arguments: Any

    @classmethod
    def of(cls, step: Mapping[str, Any]) -> FunctionCall:
        arguments = step.get("arguments")
        return cls(
            str(step.get("id") or ""), str(step.get("name") or ""), {} if arguments is None else arguments
        )


@dataclass(frozen=True)
class CallOutcome:
    """What a call did: the value sent back (``result``), whether it is an error, and the step."""

    call: FunctionCall
    result: Any
    is_error: bool = False
    declined: bool = False

    @property
    def step(self) -> dict[str, Any]:
        step: dict[str, Any] = {
            "type": "function_result",
            "call_id": self.call.call_id,
            "name": self.call.name,
            "result": self.result,
        }
        if self.is_error:
            step["is_error"] = True
        return step


Confirm = Callable[[FunctionCall], bool]


@dataclass(frozen=True)
class FunctionTool:
    """One callable the model may call, with its declaration."""

    func: Callable[..., Any]
    declaration: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.declaration["name"])

    @classmethod
    def of(cls, func: Callable[..., Any]) -> FunctionTool:
        return cls(func, declare(func))


class FunctionTools:
    """The functions one turn may call; nothing else ever runs."""

    def __init__(self, tools: Iterable[FunctionTool] = ()) -> None:
        self.tools: dict[str, FunctionTool] = {}
        for tool in tools:
            if tool.name in self.tools and self.tools[tool.name].func is not tool.func:
                raise DeclarationError(f"two different functions are named {tool.name!r}; rename one")
            self.tools[tool.name] = tool

    @classmethod
    def of(cls, funcs: Iterable[Callable[..., Any]]) -> FunctionTools:
        return cls(FunctionTool.of(func) for func in funcs)

    def __bool__(self) -> bool:
        return bool(self.tools)

    def __len__(self) -> int:
        return len(self.tools)

    @property
    def names(self) -> list[str]:
        return list(self.tools)

    def declarations(self) -> list[dict[str, Any]]:
        return [dict(tool.declaration) for tool in self.tools.values()]

    def call(self, step: Mapping[str, Any], confirm: Confirm | None = None) -> CallOutcome:
        """Run one ``function_call`` step in this thread; an ``async def`` runs to its end first."""
        call = FunctionCall.of(step)
        prepared = self._prepare(call, confirm)
        if isinstance(prepared, CallOutcome):
            return prepared
        func, kwargs = prepared
        try:
            value = func(**kwargs)
            if inspect.isawaitable(value):
                value = run_coroutine(value)
        except Exception as exc:
            return CallOutcome(call, error_value(exc), is_error=True)
        return CallOutcome(call, to_result(value))

    async def acall(self, step: Mapping[str, Any], confirm: Confirm | None = None) -> CallOutcome:
        """:meth:`call` on an event loop (a panel's worker): a sync function runs in a helper thread."""
        call = FunctionCall.of(step)
        prepared = self._prepare(call, confirm)
        if isinstance(prepared, CallOutcome):
            return prepared
        func, kwargs = prepared
        try:
            if inspect.iscoroutinefunction(func):
                value = await func(**kwargs)
            else:
                import asyncio

                value = await asyncio.to_thread(func, **kwargs)
                if inspect.isawaitable(value):
                    value = await value
        except Exception as exc:
            return CallOutcome(call, error_value(exc), is_error=True)
        return CallOutcome(call, to_result(value))

    def _prepare(
        self, call: FunctionCall, confirm: Confirm | None
    ) -> tuple[Callable[..., Any], dict[str, Any]] | CallOutcome:
        tool = self.tools.get(call.name)
        if tool is None:
            available = ", ".join(self.tools) or "none"
            message = f"there is no function named {call.name!r}; the functions available are: {available}"
            return CallOutcome(call, {"error": message}, is_error=True)
        try:
            kwargs = validate_arguments(tool.func, call.arguments)
        except ArgumentError as exc:
            return CallOutcome(call, {"error": f"invalid arguments for {call.name}: {exc}"}, is_error=True)
        if confirm is not None and not confirm(call):
            message = "the user declined this call; do not call it again unless they ask"
            return CallOutcome(call, {"error": message}, is_error=True, declined=True)
        return tool.func, kwargs


class ArgumentError(ValueError):
    """The model's arguments do not fit the function's signature."""


def validate_arguments(func: Callable[..., Any], arguments: Any) -> dict[str, Any]:
    """The keyword arguments to call ``func`` with, converted to its hints (a dict becomes the
    dataclass or pydantic model a parameter asks for); :class:`ArgumentError` says what is wrong."""
    from pydantic import TypeAdapter, ValidationError

    if not isinstance(arguments, dict):
        raise ArgumentError(f"arguments must be a JSON object, not {json.dumps(arguments)[:200]}")
    signature = inspect.signature(func)
    hints = _hints(func, getattr(func, "__name__", "function"))
    unknown = sorted(set(arguments) - set(signature.parameters))
    if unknown:
        raise ArgumentError(
            f"unexpected argument(s) {', '.join(unknown)}; it takes {', '.join(signature.parameters)}"
        )
    kwargs: dict[str, Any] = {}
    problems: list[str] = []
    for parameter in signature.parameters.values():
        if parameter.name not in arguments:
            if parameter.default is parameter.empty:
                problems.append(f"{parameter.name}: missing")
            continue
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(hints[parameter.name])
            kwargs[parameter.name] = adapter.validate_python(arguments[parameter.name])
        except ValidationError as exc:
            details = "; ".join(
                ": ".join([".".join(str(p) for p in error["loc"]), error["msg"]][not error["loc"] :])
                for error in exc.errors()
            )
            problems.append(f"{parameter.name}: {details}")
    if problems:
        raise ArgumentError("; ".join(problems))
    return kwargs


def to_result(value: Any) -> Any:
    """What goes back to the model: a dict or a string as it is, other JSON values as
    ``{"result": value}`` (the API takes an object, a string or content blocks), dataclasses and
    pydantic models as their fields, and anything else as its ``repr``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif hasattr(value, "model_dump") and not isinstance(value, type):
        try:
            value = value.model_dump(mode="json")
        except Exception:  # not a pydantic model after all: repr below
            return repr(value)
    if isinstance(value, str):
        return value
    try:
        value = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return repr(value)
    return value if isinstance(value, dict) else {"result": value}


def error_value(exc: BaseException) -> dict[str, Any]:
    return {"error": f"{type(exc).__name__}: {exc}"}


def run_coroutine(awaitable: Any) -> Any:
    """Run an awaitable to its end from sync code. In a thread whose event loop is running (an
    IPython kernel runs cells inside its loop) it runs on a helper thread with a loop of its own; a
    KeyboardInterrupt while waiting cancels it."""
    import asyncio  # not at module level: it is slow to import and only needed here

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaited(awaitable))
    loop = asyncio.new_event_loop()
    task = loop.create_task(_awaited(awaitable))
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def main() -> None:
        try:
            outcome["value"] = loop.run_until_complete(task)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            loop.close()
            done.set()

    threading.Thread(target=main, name="gemini-function", daemon=True).start()
    try:
        while not done.wait(0.1):
            pass
    except BaseException:
        loop.call_soon_threadsafe(task.cancel)
        done.wait(5.0)
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def function_calls(steps: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``function_call`` steps of one interaction, in order."""
    return [dict(step) for step in steps if step.get("type") == "function_call"]


def describe_arguments(arguments: Any, limit: int = 80) -> str:
    """``city='Paris', days=2`` for a one-line summary of a call."""
    if not isinstance(arguments, dict):
        text = json.dumps(arguments, ensure_ascii=False, default=repr)
    else:
        text = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False, default=repr)}" for k, v in arguments.items()
        )
    return text if len(text) <= limit else text[: limit - 1] + "…"

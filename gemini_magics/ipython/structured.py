"""``--schema X``: X looked up in the user's namespace, as a name or a Python expression.

The expression is the user's own code, evaluated in their namespace the way ``%timeit`` evaluates
its statement, so ``--schema 'list[Review]'`` and ``--schema schemas["review"]`` work. What the
object may be is decided by ``core/structured.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

from ..core.errors import redact


def resolve_schema(expression: str | None, namespace: Mapping[str, Any], secrets: list[str]) -> Any:
    """The object ``--schema expression`` names; None without one. A bad name, an expression that
    does not parse or that raises is a one-line UsageError naming it."""
    if expression is None:
        return None
    source = expression.strip()
    if not source:
        raise UsageError("--schema needs a type, e.g. --schema Review or --schema 'list[Review]'")
    try:
        code = compile(source, "<--schema>", "eval")
    except SyntaxError as exc:
        raise UsageError(
            f"--schema {source!r} is not a Python expression ({exc.msg}); quote it if it has spaces, "
            "e.g. --schema 'dict[str, int]'"
        ) from None
    try:
        scope = namespace if isinstance(namespace, dict) else dict(namespace)
        return eval(code, scope)  # noqa: S307 - the user's own expression, in their kernel
    except NameError as exc:
        raise UsageError(f"--schema {source}: {exc}; define it first") from None
    except Exception as exc:
        reason = redact(f"{type(exc).__name__}: {exc}".splitlines()[0], secrets)
        raise UsageError(f"--schema {source}: evaluating it failed with {reason}") from None

"""The package's exceptions for API and transport failures.

User mistakes found below the front ends (an unknown model, a missing key, an empty prompt) are an
:class:`InputError`; the IPython layer turns it into IPython's ``UsageError`` and a chat panel shows it
as a refusal, so cells and panels word them alike. Everything that goes wrong between us and the
server is a :class:`GeminiError`. Each one renders as a short, two-line traceback in
IPython (``_render_traceback_``) saying what happened and what to do next. Messages are scrubbed of the
API key before they are stored, so no repr, log or traceback can carry it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

REDACTED = "<redacted>"
Value = TypeVar("Value")


def is_cancellation(exc: BaseException | None) -> bool:
    """Whether ``exc`` is asyncio's CancelledError, without importing asyncio (it is slow to import,
    and an exception can only be one of its kind once asyncio is loaded)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each non-trivial secret in ``text`` with a placeholder."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub(value: Value, secrets: Iterable[str | None]) -> Value:
    """``value`` with every string inside it (dicts, lists, tuples) redacted; other values as they are."""
    keys = [s for s in secrets if s and len(s) >= 4]
    return _scrub(value, keys) if keys else value


def _scrub(value: Any, keys: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, keys)
    if isinstance(value, dict):
        return {k: _scrub(v, keys) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, keys) for v in value)
    return value


def error_body(body: object) -> tuple[str | None, str]:
    """``(code, message)`` of an error body ``{"error": {"code": …, "message": …}}`` (or its text)."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            code = error.get("code")
            return (str(code) if code is not None else None), str(error.get("message", ""))
    return None, str(body or "")


class KeyFilter(logging.Filter):
    """Scrubs the key out of the package's log records (installed per connection, removed on close)."""

    def __init__(self, secrets: Callable[[], list[str]]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets())
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class InputError(ValueError):
    """The user asked for something that cannot be sent; the message is one line saying what to do."""


class GeminiError(Exception):
    """Base class: a call to the Interactions API failed."""

    hint = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message

    def redacted(self, secrets: Iterable[str | None]) -> GeminiError:
        """Scrub the key out of this error's message, hint and args, in place; returns ``self``."""
        keys = list(secrets)
        self.message = redact(self.message, keys)
        if self.hint:
            self.hint = redact(self.hint, keys)
        self.args = scrub(self.args, keys)
        return self

    def _render_traceback_(self) -> list[str]:
        lines = [f"\x1b[31m{type(self).__name__}\x1b[0m: {self.message}"]
        if self.hint:
            lines.append(f"  → {self.hint}")
        return lines


class GeminiAPIError(GeminiError):
    """The server answered with an error status or an in-stream ``error`` event."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        prefix = " ".join(str(part) for part in (status, code) if part)
        super().__init__(f"{prefix}: {message}" if prefix else message, hint=hint)


class GeminiConnectionError(GeminiError):
    """The server could not be reached, or a stream kept dropping after the allowed resumes."""


class GeminiTurnIncomplete(GeminiError):
    """The interaction ended without completing (failed, cancelled, incomplete, ...)."""

    def __init__(self, status: str, message: str, *, hint: str | None = None) -> None:
        self.status = status
        super().__init__(message, hint=hint)


class FunctionRoundsExceeded(GeminiTurnIncomplete):
    """The model was still calling functions when the turn's cap on rounds was reached."""

    def __init__(self, rounds: int) -> None:
        super().__init__(
            "requires_action",
            f"stopped after {rounds} round(s) of function calls: the model was still asking for more",
            hint=(
                "raise --max-tool-rounds (or GeminiMagics.max_tool_rounds), or ask for something that "
                "needs fewer calls; the thread was left as it was"
            ),
        )
        self.rounds = rounds


class GeminiSchemaError(GeminiError):
    """The answer is not JSON, or does not fit the schema it was asked for (``--schema``/``--json``).

    ``problems`` lists what does not fit, one line each (where, and what is wrong); the raw answer is
    kept in the result's ``.text``.
    """

    def __init__(self, schema: str, problems: list[str], *, hint: str | None = None) -> None:
        self.schema = schema
        self.problems = list(problems)
        listed = "; ".join(self.problems[:3])
        more = f" (and {len(self.problems) - 3} more)" if len(self.problems) > 3 else ""
        super().__init__(
            f"the answer does not fit {schema}: {listed}{more}",
            hint=hint or "the raw answer is kept in the result's .text; ask again, or loosen the schema",
        )


class GeminiBatchStopped(GeminiError):
    """A batch (``--map``) was interrupted; the rows that finished are kept."""


class GeminiReplayMissing(GeminiError):
    """Strict replay: the cassette holds no recording of the prompt that was sent."""

    def in_thread(self, thread: str) -> GeminiReplayMissing:
        """Name the thread in the message: "… (thread T, turn N)"."""
        self.message = self.message.replace(" (turn ", f" (thread {thread}, turn ", 1)
        self.args = (self.message,)
        return self

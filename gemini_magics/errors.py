"""The package's exceptions for API and transport failures.

User mistakes are reported by the magics layer as IPython's ``UsageError``; everything that goes wrong
between us and the server is a :class:`GeminiError`. Each one renders as a short, two-line traceback in
IPython (``_render_traceback_``) saying what happened and what to do next. Messages are scrubbed of the
API key before they are stored, so no repr, log or traceback can carry it.
"""

from __future__ import annotations

from collections.abc import Iterable


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each non-trivial secret in ``text`` with a placeholder."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "<redacted>")
    return text


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

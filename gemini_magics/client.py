"""Building the ``genai.Client`` and translating its failures. No IPython imports.

The key is looked up the way the SDK does (``GOOGLE_API_KEY`` wins over ``GEMINI_API_KEY``), after a
key typed in with ``%gemini login``; ``GOOGLE_GEMINI_BASE_URL`` is honoured by the SDK itself unless a
base URL is configured explicitly. Offline mode starts the package's own emulator on loopback and
points this connection at it, so the code path is exactly the one used against Google.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import GeminiAPIError, GeminiConnectionError, GeminiError, redact

if TYPE_CHECKING:
    from google import genai

    from .emulator import Emulator

KEY_VARIABLES = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
OFFLINE_KEY = "offline-emulator"


@dataclass(frozen=True)
class ApiKey:
    """A key and where it came from; its repr never shows more than the last four characters."""

    value: str
    origin: str

    @property
    def masked(self) -> str:
        return f"…{self.value[-4:]}" if len(self.value) > 8 else "…"

    def __repr__(self) -> str:
        return f"ApiKey({self.masked}, from {self.origin})"

    __str__ = __repr__


class Connection:
    """Everything needed to talk to the Interactions API from one kernel."""

    def __init__(self, *, base_url: str = "", timeout_s: float | None = None) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        self._login_key: str | None = None
        self._emulator: Emulator | None = None
        self._client: genai.Client | None = None
        self._client_settings: tuple[Any, ...] | None = None

    def __repr__(self) -> str:
        return f"<Connection offline={self.offline} base_url={self.effective_base_url!r}>"

    # -- key -----------------------------------------------------------------------------------
    def login(self, key: str) -> None:
        self._login_key = key.strip() or None

    def api_key(self) -> ApiKey | None:
        if self._emulator is not None:
            return ApiKey(OFFLINE_KEY, "offline emulator")
        if self._login_key:
            return ApiKey(self._login_key, "%gemini login")
        for name in KEY_VARIABLES:
            if os.environ.get(name):
                return ApiKey(os.environ[name], f"${name}")
        return None

    def secrets(self) -> list[str]:
        return [self._login_key or "", *(os.environ.get(name, "") for name in KEY_VARIABLES)]

    # -- offline -------------------------------------------------------------------------------
    @property
    def offline(self) -> bool:
        return self._emulator is not None

    def go_offline(self) -> str:
        if self._emulator is None:
            from .emulator import Emulator

            self._emulator = Emulator().start()
        return self._emulator.base_url

    def go_online(self) -> None:
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None

    def close(self) -> None:
        self.go_online()
        self._client = None

    @property
    def effective_base_url(self) -> str:
        if self._emulator is not None:
            return self._emulator.base_url
        return self.base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL", "")

    # -- client --------------------------------------------------------------------------------
    def client(self) -> genai.Client:
        """The SDK client for the current settings, built on first use (importing google.genai)."""
        key = self.api_key()
        if key is None:
            raise LookupError("no API key")
        settings = (key.value, self.effective_base_url, self.timeout_s)
        if self._client is None or settings != self._client_settings:
            self._client = self.new_client()
            self._client_settings = settings
        return self._client

    def new_client(self) -> genai.Client:
        """A fresh client with the current settings (for a worker thread's own event loop)."""
        key = self.api_key()
        if key is None:
            raise LookupError("no API key")
        from google import genai
        from google.genai import types

        http_options = types.HttpOptions()
        if self.effective_base_url:
            http_options.base_url = self.effective_base_url
        if self.timeout_s:
            http_options.timeout = int(self.timeout_s * 1000)
        return genai.Client(api_key=key.value, http_options=http_options)

    def translate(self, exc: BaseException) -> GeminiError:
        """Turn an SDK exception into ours, with a hint and the key scrubbed out."""
        return translate_error(exc, self.secrets(), self.effective_base_url)


_HINTS = {
    400: "the request was rejected; check the options of this cell",
    401: "check your API key: set GEMINI_API_KEY or run `%gemini login`",
    403: "this key may not use that model or feature; check the key's project",
    404: "unknown model or interaction; `%gemini models` lists model ids, `%gemini reset` starts over",
    429: "rate limit or quota reached; wait a little and run the cell again",
}


def translate_error(exc: BaseException, secrets: list[str], base_url: str = "") -> GeminiError:
    from google.genai import _interactions as sdk_errors

    if isinstance(exc, GeminiError):
        return exc
    if isinstance(exc, sdk_errors.APIConnectionError):
        where = base_url or "the Gemini API"
        kind = "timed out" if isinstance(exc, sdk_errors.APITimeoutError) else "failed"
        return GeminiConnectionError(
            redact(f"connection to {where} {kind}: {exc}", secrets),
            hint="check your network (or `%gemini offline` to use the built-in emulator)",
        )
    if isinstance(exc, sdk_errors.APIStatusError):
        code, message = _error_body(exc.body)
        status = int(exc.status_code or 0)
        server_hint = "the server failed; run the cell again in a moment" if status >= 500 else None
        hint = _HINTS.get(status, server_hint)
        return GeminiAPIError(redact(message or str(exc), secrets), status=status, code=code, hint=hint)
    return GeminiError(redact(f"{type(exc).__name__}: {exc}", secrets))


def _error_body(body: object) -> tuple[str | None, str]:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            code = error.get("code")
            return (str(code) if code is not None else None), str(error.get("message", ""))
    return None, str(body or "")

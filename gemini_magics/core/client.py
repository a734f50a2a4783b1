"""Building the ``genai.Client`` and translating its failures. No IPython imports.

The key is looked up the way the SDK does (``GOOGLE_API_KEY`` wins over ``GEMINI_API_KEY``), after a
key typed in with ``%gemini login``; ``GOOGLE_GEMINI_BASE_URL`` is honoured by the SDK itself unless a
base URL is configured explicitly. Offline mode starts the package's own emulator on loopback and
points this connection at it, so the code path is exactly the one used against Google. Replay mode
starts it with a cassette's player (``recording.py``); recording tees every client's traffic into a
cassette.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from . import sdk
from .errors import (
    GeminiAPIError,
    GeminiConnectionError,
    GeminiError,
    GeminiReplayMissing,
    KeyFilter,
    error_body,
    redact,
    scrub,
)
from .recording import Recorder, Replay, open_cassette
from .retry import AsyncRetryingInteractions, RetryingInteractions, RetryPolicy, RetrySink

if TYPE_CHECKING:
    from google import genai

    from ..emulator import Emulator

Value = TypeVar("Value")
# The package's loggers that may see server text; a filter per connection scrubs the key from them.
LOGGERS = (
    "gemini_magics.core.events",
    "gemini_magics.core.retry",
    "gemini_magics.core.turns",
    "gemini_magics.core.research",
)

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

    def __init__(
        self, *, base_url: str = "", timeout_s: float | None = None, max_retry_wait: float = 60.0
    ) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retry_wait = max_retry_wait
        self._login_key: str | None = None
        self.other_secrets: tuple[str, ...] = ()  # e.g. MCP header values: scrubbed like the key
        self._emulator: Emulator | None = None
        self.replay: Replay | None = None  # the cassette the emulator answers from (replay mode)
        self.recorder: Recorder | None = None
        self._client: genai.Client | None = None
        self._client_settings: tuple[Any, ...] | None = None
        self._log_filter = KeyFilter(self.secrets)
        for name in LOGGERS:
            logging.getLogger(name).addFilter(self._log_filter)

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
        """Every key this kernel might send: typed in with `%gemini login`, or from the environment."""
        keys = [self._login_key or "", *(os.environ.get(name, "") for name in KEY_VARIABLES)]
        return [*keys, *self.other_secrets]

    def redact(self, text: str) -> str:
        return redact(text, self.secrets())

    def scrub(self, value: Value) -> Value:
        """``value`` (text, or dicts and lists of it, as server messages and steps are) without the key."""
        return scrub(value, self.secrets())

    # -- offline -------------------------------------------------------------------------------
    @property
    def offline(self) -> bool:
        return self._emulator is not None

    def go_offline(self) -> str:
        if self.replay is not None:
            self.go_online()
        if self._emulator is None:
            from ..emulator import Emulator

            self._emulator = Emulator().start()
        return self._emulator.base_url

    def go_online(self) -> None:
        self.replay = None
        if self._emulator is not None:
            self._emulator.stop()
            self._emulator = None

    def answer_origin(self, interaction_id: str | None) -> str:
        """``"replayed"`` (recorded in the cassette being replayed), ``"offline"`` (the built-in
        emulator's responder) or ``"live"``."""
        if self.replay is not None and interaction_id and self.replay.recorded(interaction_id):
            return "replayed"
        return "offline" if self.offline else "live"

    # -- record and replay ---------------------------------------------------------------------
    def go_replay(self, path: str, *, strict: bool = False, speed: float = 0.0) -> Replay:
        """Answer from the cassette at ``path`` through the emulator (InputError if it cannot be read)."""
        from ..emulator import Emulator
        from ..emulator.replay import Player

        cassette = open_cassette(path)
        self.go_online()
        self._emulator = Emulator(player=Player(cassette, strict=strict, speed=speed)).start()
        self.replay = Replay(cassette, strict, speed)
        return self.replay

    def start_recording(self, path: str) -> Recorder:
        self.stop_recording()
        self.recorder = Recorder(path, self.secrets)
        return self.recorder

    def stop_recording(self) -> Recorder | None:
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.stop()
        return recorder

    def close(self) -> None:
        self.stop_recording()
        self.go_online()
        self._client = None
        for name in LOGGERS:
            logging.getLogger(name).removeFilter(self._log_filter)

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
        settings = (key.value, self.effective_base_url, self.timeout_s, self.recorder)
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

        # Retries are ours (retry.py): visible, interruptible, and capped by max_retry_wait.
        http_options = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))
        if self.effective_base_url:
            http_options.base_url = self.effective_base_url
        if self.timeout_s:
            http_options.timeout = int(self.timeout_s * 1000)
        client = genai.Client(api_key=key.value, http_options=http_options)
        if self.recorder is not None:
            sdk.wrap_transports(client, self.recorder.wrap)
        return client

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_wait=self.max_retry_wait, redact=self.redact)

    def interactions(self, on_retry: RetrySink | None = None) -> RetryingInteractions:
        """``client().interactions``, retried by our policy; each wait is announced to ``on_retry``."""
        client = self.client()
        return RetryingInteractions(client.interactions, self.retry_policy(), on_retry, client)

    def async_interactions(
        self, on_retry: RetrySink | None = None, gate: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncRetryingInteractions:
        """``aio.interactions`` for a worker's own event loop, retried likewise; ``gate`` is awaited
        before every attempt (a batch's shared back-off). The SDK's async client keeps one connection
        pool per event loop, so the cached client serves every worker (building a client costs tens
        of milliseconds, SSL contexts included); while recording, the tee'd transport is one pool,
        so each worker gets a fresh client."""
        client = self.client() if self.recorder is None else self.new_client()
        policy = self.retry_policy()
        interactions = AsyncRetryingInteractions(client.aio.interactions, policy, on_retry, client)
        interactions.gate = gate
        interactions.owns_client = self.recorder is not None
        return interactions

    def translate(self, exc: BaseException) -> GeminiError:
        """Turn an SDK exception into ours, with a hint and the key scrubbed out (ours are scrubbed too)."""
        return translate_error(exc, self.secrets(), self.effective_base_url)


_HINTS = {
    400: "the request was rejected; check the options of this cell",
    401: "check your API key: set GEMINI_API_KEY or run `%gemini login`",
    402: "this model or feature needs billing; check the key's project in Google AI Studio",
    403: "this key may not use that model or feature; check the key's project",
    404: "unknown model or interaction; `%gemini models` lists model ids, `%gemini reset` starts over",
    408: "the server timed out waiting for the request; run the cell again",
    409: "the interaction changed meanwhile (conflict); run the cell again",
    413: "the request is too large; attach fewer or smaller files (`--attach`), or shorten the prompt",
    429: "rate limit or quota reached; wait a little and run the cell again",
}


def translate_error(exc: BaseException, secrets: list[str], base_url: str = "") -> GeminiError:
    sdk_errors = sdk.errors()

    if isinstance(exc, GeminiError):
        return exc.redacted(secrets)
    if isinstance(exc, sdk_errors.APIConnectionError):
        where = base_url or "the Gemini API"
        kind = "timed out" if isinstance(exc, sdk_errors.APITimeoutError) else "failed"
        return GeminiConnectionError(
            redact(f"connection to {where} {kind}: {exc}", secrets),
            hint="check your network (or `%gemini offline` to use the built-in emulator)",
        )
    if isinstance(exc, sdk_errors.APIStatusError):
        code, message = error_body(exc.body)
        if code == "recording_not_found":
            return GeminiReplayMissing(
                redact(message, secrets),
                hint="record it with `%gemini record PATH` while online, or replay without --strict",
            )
        status = int(exc.status_code or 0)
        server_hint = "the server failed; run the cell again in a moment" if status >= 500 else None
        hint = _HINTS.get(status, server_hint)
        gave_up = [note for note in getattr(exc, "__notes__", ()) if note.startswith("gave up after")]
        if hint and gave_up:
            hint = f"{hint} ({gave_up[-1]})"
        return GeminiAPIError(redact(message or str(exc), secrets), status=status, code=code, hint=hint)
    return GeminiError(redact(f"{type(exc).__name__}: {exc}", secrets))

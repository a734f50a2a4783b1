"""Our own retry policy for the calls that start or control an interaction. No IPython imports.

The SDK's retries are turned off (``HttpRetryOptions(attempts=1)``): it would sleep a server's whole
``Retry-After`` in silence, an hour for ``Retry-After: 3600``. Here the same statuses are retried
(408, 409, 429, 5xx), five attempts in all, with the SDK's backoff (0.5 s doubling, up to 25 % jitter,
8 s cap) unless the server says how long to wait. Each wait is announced as an
:class:`~gemini_magics.events.Retrying` event before it starts, and a wait longer than
``max_wait`` is not waited at all: the call fails at once, saying when to try again.

Only ``create``, ``get``, ``cancel``, ``delete`` and ``open_stream`` (a streamed ``create`` or ``get``
whose body :mod:`.events` decodes itself) are retried, i.e. until a response arrives;
a stream that breaks later is the resume loop's business. :class:`RetryingInteractions` (threads)
and :class:`AsyncRetryingInteractions` (event loops, where the wait is a cancellable
``asyncio.sleep``) share one :class:`RetryPolicy`; only the sleeping differs.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import events as ev
from . import sdk
from .errors import GeminiAPIError, error_body

log = logging.getLogger(__name__)
RETRIED_STATUSES = frozenset({408, 409, 429})
RetrySink = Callable[[ev.Retrying], None]


def retried(status: int) -> bool:
    return status in RETRIED_STATUSES or 500 <= status <= 599


def server_wait(headers: Any, now: dt.datetime | None = None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, or ``Retry-After`` in seconds or as
    an HTTP date), or None when it did not say (or said something unreadable)."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils  # only for HTTP-date Retry-After values; kept off the load path

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def try_again_at(seconds: float, now: dt.datetime | None = None) -> str:
    """Local time ``seconds`` from now, rounded up to the minute: "14:05" (with the date if not today)."""
    now = now or dt.datetime.now().astimezone()
    when = now + dt.timedelta(seconds=seconds)
    if when.second or when.microsecond:
        when = when.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return when.strftime("%H:%M") if when.date() == now.date() else when.strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry a failed call and how long to wait first; the same for sync and async callers."""

    max_wait: float = 60.0
    attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    redact: Callable[[str], str] = field(default=lambda text: text, compare=False)
    random: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, retry: int) -> float:
        """The SDK's delay before retry ``retry`` (0-based): 0.5 s × 2ⁿ less up to 25 %, capped."""
        delay = self.initial_delay * 2**retry * (1 - self.jitter * self.random())
        return min(delay, self.max_delay)

    def plan(self, exc: BaseException, attempt: int) -> ev.Retrying | None:
        """What to do after attempt ``attempt`` (1-based) failed with ``exc``.

        None: give up and let the caller raise. A :class:`Retrying`: wait that long, then try again.
        Raises :class:`GeminiAPIError` at once when the server asks for a wait longer than ``max_wait``.
        """
        status = _status_of(exc)
        if status is None or not retried(status) or attempt >= self.attempts:
            return None
        asked = server_wait(getattr(getattr(exc, "response", None), "headers", None))
        if asked is not None and asked > self.max_wait:
            raise self._too_long(exc, status, asked)
        seconds = asked if asked is not None else min(self.backoff(attempt - 1), self.max_wait)
        return ev.Retrying(seconds, status, self.redact(_server_message(exc)), attempt + 1, self.attempts)

    def _too_long(self, exc: BaseException, status: int, asked: float) -> GeminiAPIError:
        code, message = _code_and_message(exc)
        what = "rate limited" if status == 429 else f"server error {status}"
        shown = f"{asked:.3g} s" if asked < 120 else f"{asked / 60:.0f} min"
        text = (
            f"{self.redact(message) or what}; the server asked to wait {shown} before trying again, "
            f"longer than max_retry_wait ({self.max_wait:g} s): try again after {try_again_at(asked)}"
        )
        hint = f"or allow longer waits: `%config GeminiMagics.max_retry_wait = {math.ceil(asked)}`"
        return GeminiAPIError(text, status=status, code=code, hint=hint)


class _Retrying:
    def __init__(self, resource: Any, policy: RetryPolicy, on_retry: RetrySink | None, owner: Any) -> None:
        self._resource = resource
        self._policy = policy
        self._on_retry = on_retry
        self._owner = owner  # keeps the SDK client (and its connections) alive as long as we are

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resource, name)

    def _announce(self, exc: BaseException, attempt: int) -> ev.Retrying:
        retry = self._policy.plan(exc, attempt)
        if retry is None:
            if attempt > 1:
                exc.add_note(f"gave up after {attempt} attempts")
            raise exc
        log.info("%s", retry.note)
        if self._on_retry is not None:
            self._on_retry(retry)
        return retry


class RetryingInteractions(_Retrying):
    """``client.interactions`` whose ``create``/``get``/``cancel``/``delete`` retry by the policy."""

    def create(self, **kwargs: Any) -> Any:
        return self._call(self._resource.create, (), kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self._resource.get, args, kwargs)

    def cancel(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self._resource.cancel, args, kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(self._resource.delete, args, kwargs)

    def open_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``create``/``get`` with ``stream=True``, the response before decoding (see :mod:`.sdk`)."""
        return self._call(functools.partial(sdk.open_stream, self._resource, method), args, kwargs)

    def _call(self, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        attempt = 1
        while True:
            try:
                return method(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - re-raised unless the policy says retry
                retry = self._announce(exc, attempt)
            _sleep(retry.seconds)
            attempt += 1


class AsyncRetryingInteractions(_Retrying):
    """``client.aio.interactions`` with the same policy; cancelling the task ends a wait at once.

    ``gate``, when set, is awaited before every attempt: a batch's rows share one, so a 429 or 5xx
    seen by any row holds back the next request of every row.
    """

    gate: Callable[[], Awaitable[None]] | None = None
    owns_client = False  # the SDK client was made for this worker alone

    async def aclose(self) -> None:
        """Close the connections this event loop opened (before the loop ends)."""
        await sdk.aclose_loop_connections(self._owner, whole_client=self.owns_client)

    async def __aenter__(self) -> AsyncRetryingInteractions:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def create(self, **kwargs: Any) -> Any:
        return await self._call(self._resource.create, (), kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call(self._resource.get, args, kwargs)

    async def cancel(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call(self._resource.cancel, args, kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call(self._resource.delete, args, kwargs)

    async def open_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self._call(functools.partial(sdk.aopen_stream, self._resource, method), args, kwargs)

    async def _call(self, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        attempt = 1
        while True:
            if self.gate is not None:
                await self.gate()
            try:
                return await method(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - re-raised unless the policy says retry
                retry = self._announce(exc, attempt)
            import asyncio

            await asyncio.sleep(retry.seconds)
            attempt += 1


def _sleep(seconds: float) -> None:
    """Sleep in short slices: a kernel interrupt (real or ``_thread.interrupt_main``) ends it at once."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.1))


def _status_of(exc: BaseException) -> int | None:
    sdk_errors = sdk.errors()

    if isinstance(exc, sdk_errors.APIStatusError):
        return int(exc.status_code or 0)
    return None


def _code_and_message(exc: BaseException) -> tuple[str | None, str]:
    return error_body(getattr(exc, "body", None))


def _server_message(exc: BaseException) -> str:
    return _code_and_message(exc)[1]

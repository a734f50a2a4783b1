"""Recording what crosses the wire into a cassette, and what a replay session knows. No IPython.

``%gemini record PATH`` gives the connection a :class:`Recorder`; every SDK client built while it is
on sends through a transport that forwards each request unchanged and tees it into the cassette
(:mod:`gemini_magics.emulator.cassette` defines the format): the request without its headers and
without a ``key=`` query parameter, the response status and body, and for a stream every event as it
arrives, with its time. The key and the connection's other secrets are redacted in everything
written. The stream reaches the SDK chunk by chunk as it arrived; nothing is buffered on its way.

``%gemini replay PATH`` loads a cassette (a :class:`Replay`) and starts the emulator with its
player; :meth:`Replay.origin` tells a replayed answer (its interaction id was recorded) from one the
offline responder gave.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..emulator.cassette import SUFFIX, Cassette, CassetteError, CassetteWriter, load
from .errors import InputError, scrub

Secrets = Callable[[], list[str]]
REPLAY_ENV = "GEMINI_MAGICS_REPLAY"
SESSION_ENV = "JPY_SESSION_NAME"  # jupyter_server puts the notebook's path here


class Recorder:
    """Writes one cassette; ``wrap`` is handed to :func:`core.sdk.wrap_transports`."""

    def __init__(self, path: str | Path, secrets: Secrets) -> None:
        self.path = Path(path)
        self.secrets = secrets
        try:
            self.writer = CassetteWriter(self.path)
        except OSError as exc:
            raise InputError(
                f"cannot record to {self.path}: {exc.strerror or exc}; pick a writable path"
            ) from None

    @property
    def recording(self) -> bool:
        return not self.writer.closed

    def stop(self) -> None:
        self.writer.close()

    def clean(self, value: Any) -> Any:
        return scrub(value, self.secrets())

    def wrap(self, transport: Any, backend: Any, is_async: bool) -> Any:
        kind = _async_tee if is_async else _sync_tee
        return kind(backend)(transport, self, backend)

    # -- called by the transports ----------------------------------------------------------
    def begin(self, request: Any) -> int:
        query = {k: v for k, v in request.url.params.items() if k != "key"}
        raw = request.content
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        return self.writer.request(request.method, request.url.path, self.clean(query), self.clean(body))

    def failed(self, exchange: int, error: BaseException) -> None:
        """No response at all (connection refused, timed out): an ``end`` line says why."""
        self.writer.end(exchange, self.clean(f"{type(error).__name__}: {error}"))

    def started(self, exchange: int, response: Any) -> _Tap:
        return _Tap(self, exchange, response.status_code, response.headers.get("content-type", ""))


class _Tap:
    """Feeds one response's bytes, as they pass, into the cassette: SSE events one by one, any other
    body whole when it ends."""

    def __init__(self, recorder: Recorder, exchange: int, status: int, content_type: str) -> None:
        self.recorder = recorder
        self.exchange = exchange
        self.status = status
        self.content_type = content_type.split(";")[0].strip()
        self.streamed = self.content_type == "text/event-stream"
        self.buffer = b""
        self.done = False
        if self.streamed:
            recorder.writer.response(exchange, status, self.content_type)

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk
        if not self.streamed:
            return
        normalised = self.buffer.replace(b"\r\n", b"\n")
        *frames, self.buffer = normalised.split(b"\n\n")
        for frame in frames:
            self._event(frame)

    def _event(self, frame: bytes) -> None:
        lines = frame.decode("utf-8", "replace").split("\n")
        data = "\n".join(line[5:].removeprefix(" ") for line in lines if line.startswith("data:"))
        if not data:
            return
        try:
            value: Any = json.loads(data)
        except ValueError:
            value = data  # e.g. [DONE]
        self.recorder.writer.event(self.exchange, self.recorder.clean(value))

    def close(self, error: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        reason = self.recorder.clean(f"{type(error).__name__}: {error}") if error is not None else None
        if self.streamed:
            if self.buffer.strip():
                self._event(self.buffer)
            self.recorder.writer.end(self.exchange, reason)
            return
        try:
            body: Any = json.loads(self.buffer) if self.buffer else None
        except ValueError:
            body = self.buffer.decode("utf-8", "replace")
        self.recorder.writer.response(
            self.exchange, self.status, self.content_type, self.recorder.clean(body)
        )
        if reason:
            self.recorder.writer.end(self.exchange, reason)


_CLASSES: dict[tuple[str, bool], Any] = {}


def _sync_tee(backend: Any) -> Any:
    """A transport class of ``backend`` (httpx or httpx2) that tees into a recorder."""
    key = (backend.__name__, False)
    if key in _CLASSES:
        return _CLASSES[key]

    class TeeStream(backend.SyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, tap: _Tap) -> None:
            self.inner, self.tap = inner, tap

        def __iter__(self) -> Iterator[bytes]:
            try:
                for chunk in self.inner:
                    self.tap.feed(chunk)
                    yield chunk
            except BaseException as exc:
                self.tap.close(exc)
                raise
            self.tap.close()

        def close(self) -> None:
            self.tap.close()
            self.inner.close()

    class TeeTransport(backend.BaseTransport):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, recorder: Recorder, module: Any) -> None:
            self.inner, self.recorder, self.module = inner, recorder, module

        def handle_request(self, request: Any) -> Any:
            if not self.recorder.recording:
                return self.inner.handle_request(request)
            exchange = self.recorder.begin(request)
            try:
                response = self.inner.handle_request(request)
            except BaseException as exc:
                self.recorder.failed(exchange, exc)
                raise
            tap = self.recorder.started(exchange, response)
            return _rewrap(self.module, response, TeeStream(response.stream, tap), request)

        def close(self) -> None:
            self.inner.close()

    _CLASSES[key] = TeeTransport
    return TeeTransport


def _async_tee(backend: Any) -> Any:
    key = (backend.__name__, True)
    if key in _CLASSES:
        return _CLASSES[key]

    class TeeStream(backend.AsyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, tap: _Tap) -> None:
            self.inner, self.tap = inner, tap

        async def __aiter__(self) -> Any:
            try:
                async for chunk in self.inner:
                    self.tap.feed(chunk)
                    yield chunk
            except BaseException as exc:
                self.tap.close(exc)
                raise
            self.tap.close()

        async def aclose(self) -> None:
            self.tap.close()
            await self.inner.aclose()

    class TeeTransport(backend.AsyncBaseTransport):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, recorder: Recorder, module: Any) -> None:
            self.inner, self.recorder, self.module = inner, recorder, module

        async def handle_async_request(self, request: Any) -> Any:
            if not self.recorder.recording:
                return await self.inner.handle_async_request(request)
            exchange = self.recorder.begin(request)
            try:
                response = await self.inner.handle_async_request(request)
            except BaseException as exc:
                self.recorder.failed(exchange, exc)
                raise
            tap = self.recorder.started(exchange, response)
            return _rewrap(self.module, response, TeeStream(response.stream, tap), request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    _CLASSES[key] = TeeTransport
    return TeeTransport


def _rewrap(backend: Any, response: Any, stream: Any, request: Any) -> Any:
    return backend.Response(
        response.status_code,
        headers=response.headers,
        stream=stream,
        extensions=response.extensions,
        request=request,
    )


# -- replay ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Replay:
    """A loaded cassette the connection answers from."""

    cassette: Cassette
    strict: bool
    speed: float

    @property
    def name(self) -> str:
        return self.cassette.name

    def recorded(self, interaction_id: str | None) -> bool:
        return bool(interaction_id) and interaction_id in self.cassette.creates

    def mark(self, interaction_id: str) -> str:
        """The line every replayed answer shows."""
        cassette = self.cassette
        model, date = cassette.model_of(interaction_id), cassette.date_of(interaction_id)
        return f"replayed from a recording of {model} made on {date}"


def open_cassette(path: str | Path) -> Cassette:
    """A loaded cassette; a missing, corrupt or foreign one is an InputError naming file and line."""
    try:
        return load(path)
    except CassetteError as exc:
        raise InputError(str(exc)) from None


def cassette_for(setting: str, notebook: str | None) -> Path | None:
    """The cassette ``GEMINI_MAGICS_REPLAY`` names: a file, or a folder holding the cassette of the
    running notebook (``notebooks/01_quickstart.ipynb`` → ``01_quickstart.cassette.jsonl``, looked up
    in that folder by name, then beside the notebook). None when there is none for this notebook."""
    place = Path(setting).expanduser()
    if not place.is_dir():
        return place
    if not notebook:
        return None
    stem = Path(notebook).name.removesuffix(".ipynb")
    candidates = [
        place / f"{stem}{SUFFIX}",
        place / Path(notebook).with_suffix("").parent / f"{stem}{SUFFIX}",
    ]
    return next((c for c in candidates if c.is_file()), None)

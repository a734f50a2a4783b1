"""The loopback HTTP server: routing, auth, JSON errors, SSE, and the :class:`Emulator` API."""

from __future__ import annotations

import contextlib
import copy
import hmac
import json
import math
import re
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import offline
from .clock import Clock, WallClock
from .media import FILE_ROUTE, MediaFiles
from .replay import Player
from .research import research_reply
from .script import ApiError, Fault, Json, Reply
from .store import InteractionStore, StoredInteraction, input_steps

_ROUTE = re.compile(r"^(?:/v1|/v1beta|/v1alpha)?/interactions(?:/(?P<id>[^/]+)(?P<cancel>/cancel)?)?/?$")
_REDACTED = "<redacted>"
_KEY_IN_QUERY = re.compile(r"([?&]key=)[^&\s\"]*")
_SECRET_HEADERS = frozenset({"x-goog-api-key", "authorization"})


@dataclass
class RecordedRequest:
    """One request as the emulator received it, with credentials redacted."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class Emulator:
    """A programmable stand-in for the Gemini Interactions API on a loopback port.

    Example::

        with Emulator(api_key="test-key") as emu:
            emu.enqueue(Reply.text("Hello!", deltas=3))
            client = genai.Client(api_key="test-key", http_options={"base_url": emu.base_url})
            client.interactions.create(model="gemini-3.5-flash", input="Hi").output_text
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        validate: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "",
        research_seconds: float = 60.0,
        clock: Clock | None = None,
        player: Player | None = None,
    ) -> None:
        self.api_key = api_key
        self.player = player  # answers from a cassette first (replay mode)
        self.validate = validate
        self.research_seconds = research_seconds
        self.clock: Clock = clock or WallClock()
        self.host = host
        self.port = port
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.log_requests = False
        # seconds from a create request's arrival to its answer (on the emulator's clock); the
        # emulator's own parsing and checks count toward it, as a real server's work would
        self.latency = 0.0
        # answers create requests when nothing is queued: ``responder(body)`` returns a Reply, a
        # Fault, or None for the offline answer (e.g. an echo, or a slow or failing row by its prompt)
        self.responder: Callable[[Json], Reply | Fault | None] | None = None
        self._in_flight = 0
        self._peak_in_flight = 0
        self._connections_opened = 0
        self._lock = threading.Lock()
        self._queue: deque[Reply | Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._schema_errors: list[str] = []
        self._stopping = threading.Event()
        self._released = threading.Event()
        self._store = InteractionStore(self._stopping, self._check_event, lambda: self.clock)
        self._files = MediaFiles(lambda: self.base_url)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="gemini-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        self.clock.wake()
        self._store.close()
        server.shutdown()
        server.hang_up()  # idle keep-alive connections: their threads wait for a next request
        server.server_close()  # joins the request threads, which the stop flag has woken
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        host, port = str(self._server.server_address[0]), self._server.server_port
        return f"http://{host}:{port}{self.prefix}"

    # -- scripting and inspection -------------------------------------------------------

    def enqueue(self, *items: Reply | Fault) -> None:
        """Queue replies/faults; each create request consumes the next one (FIFO)."""
        for item in items:
            if not isinstance(item, Reply | Fault):
                raise TypeError(f"expected Reply or Fault, got {type(item).__name__}")
        with self._lock:
            self._queue.extend(items)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def schema_errors(self) -> list[str]:
        with self._lock:
            return list(self._schema_errors)

    @property
    def in_flight(self) -> int:
        """Create requests being answered now (waiting out the latency, or streaming)."""
        with self._lock:
            return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """The most create requests answered at once since the start (or :meth:`reset`)."""
        with self._lock:
            return self._peak_in_flight

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted since the start (or :meth:`reset`); a client that reuses its
        connections opens fewer than it sends requests."""
        with self._lock:
            return self._connections_opened

    @property
    def open_connections(self) -> int:
        """Client connections open now, idle keep-alive ones included."""
        server = self._server
        return 0 if server is None else server.open_connections

    def take_schema_errors(self) -> list[str]:
        """The schema problems seen so far, forgetting them (for a test that provokes them)."""
        with self._lock:
            problems, self._schema_errors = self._schema_errors, []
        return problems

    def interaction(self, interaction_id: str) -> Json:
        """The stored interaction (full timeline, with ``input``); KeyError if unknown."""
        try:
            record = self._store.get(interaction_id)
        except ApiError:
            raise KeyError(interaction_id) from None
        return copy.deepcopy(self._store.snapshot(record, timeline=True, include_input=True))

    def release_stalls(self) -> None:
        """End every stall now, and let later ones pass at once (until :meth:`reset`)."""
        self._released.set()
        self.clock.wake()

    def _stall(self, seconds: float | None) -> bool:
        """Hold a stream silent for ``seconds`` on the clock (None: until released); True if the
        emulator stops."""
        deadline = math.inf if seconds is None else self.clock.now() + seconds
        self.clock.wait_until(deadline, self._stopping, self._released)
        return self._stopping.is_set()

    def _stall_until(self, deadline: float) -> bool:
        """Wait until ``deadline`` on the clock; True if the emulator stops meanwhile."""
        self.clock.wait_until(deadline, self._stopping)
        return self._stopping.is_set()

    def reset(self) -> None:
        """Forget queued items, recorded requests, stored interactions and served files."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._peak_in_flight = self._in_flight
            self._connections_opened = 0
        self._released.clear()
        self._store.clear()
        self._files.clear()

    # -- used by the request handler ----------------------------------------------------

    def _next_item(self) -> Reply | Fault | None:
        with self._lock:
            if not self._queue:
                return None
            item = self._queue.popleft()
            if isinstance(item, Fault) and item.times > 1:
                self._queue.appendleft(replace(item, times=item.times - 1))
            return item

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _check_interaction(self, payload: Json) -> None:
        if self.validate:
            from .schema import validate_interaction

            self._add_schema_errors(validate_interaction(payload))

    def _check_request(self, body: Json) -> None:
        if self.validate:
            from .schema import validate_create_request

            self._add_schema_errors(validate_create_request(body))

    def _check_event(self, event: Json) -> None:
        if self.validate:
            from .schema import validate_event

            self._add_schema_errors(validate_event(event))

    def _add_schema_errors(self, problems: list[str]) -> None:
        if problems:
            with self._lock:
                self._schema_errors.extend(problems)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True
    # socketserver's default backlog is 5: a burst of new connections (a batch opens one per
    # streamed request) overflows it, and the client's SYN is retried only after a second.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        with self.emulator._lock:
            self.emulator._connections_opened += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    @property
    def open_connections(self) -> int:
        with self._open_lock:
            return len(self._open)

    def hang_up(self) -> None:
        """End every open connection: a thread waiting on an idle one for its next request returns."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "GeminiEmulator/1.0"
    # Connections stay open between requests, as the real API's do: a client's pool reuses them.
    # Replies go out in several writes (headers, then chunks); without TCP_NODELAY a reused
    # connection would wait on the client's delayed ACK (40 ms) between them.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 60  # per-socket; a client that stops reading cannot pin a thread forever
    _streaming = False
    _arrived = 0.0

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionResetError, BrokenPipeError):  # the client let go of an idle connection
            self.close_connection = True

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.log_requests:
            # The request line may carry ?key=...; never let it reach a log.
            message = _KEY_IN_QUERY.sub(r"\1" + _REDACTED, format % args)
            super().log_message("%s", message)

    @property
    def emulator(self) -> Emulator:
        return self.server.emulator

    def _handle(self) -> None:
        self._arrived = self.emulator.clock.now()  # latency counts from here: our own work is part of it
        self._streaming = False  # the handler serves every request of its connection
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        raw_body = self._read_body()
        try:
            body = json.loads(raw_body) if raw_body.strip() else None
            body_error = None
        except ValueError as exc:
            body, body_error = None, exc
        self.emulator._record(self._recorded(url.path, query, body))
        try:
            path = self._local_path(url.path)
            served = FILE_ROUTE.match(path) if self.command == "GET" else None
            if served is not None:  # URI-delivered media: public, like a signed download URL
                self._send_file(served["name"])
                return
            interaction_id, action = self._route(path, url.path)
            self._authenticate(query)
            if body_error is not None:
                raise ApiError(400, "invalid_request", f"Invalid JSON payload: {body_error}")
            player = self.emulator.player
            if (
                action != "create"
                and player is not None
                and player.answers(self, action, interaction_id, query)
            ):
                return
            if action == "create":
                with self.emulator._answering():
                    self._create(body)
            elif action == "get":
                self._get(interaction_id, query)
            elif action == "cancel":
                self._send_interaction(
                    self._store.snapshot(self._store.cancel(interaction_id), timeline=True)
                )
            else:
                self._store.delete(interaction_id)
                self._send_json(200, {})
        except ApiError as error:
            self._send_error(error)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as exc:
            # An emulator bug: answer like a server error (unless mid-stream), then re-raise
            # so socketserver prints the traceback.
            self.close_connection = True
            if not self._streaming:
                self._send_error(ApiError(500, "internal", f"Emulator failure: {exc!r}"))
            raise

    @property
    def _store(self) -> InteractionStore:
        return self.emulator._store

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _recorded(self, path: str, query: dict[str, str], body: Any) -> RecordedRequest:
        headers = {name.lower(): value for name, value in self.headers.items()}
        for name in _SECRET_HEADERS & headers.keys():
            headers[name] = _REDACTED
        redacted_query = {k: _REDACTED if k == "key" else v for k, v in query.items()}
        return RecordedRequest(self.command, path, redacted_query, headers, body)

    def _local_path(self, raw_path: str) -> str:
        """The request path with ``//`` collapsed and the emulator's prefix removed ("" if absent)."""
        path = re.sub(r"/{2,}", "/", raw_path)
        prefix = self.emulator.prefix
        if prefix and (path == prefix or path.startswith(prefix + "/")):
            return path[len(prefix) :]
        return "" if prefix else path

    def _route(self, path: str, raw_path: str) -> tuple[str, str]:
        match = _ROUTE.match(path)
        method = self.command
        if match is not None:
            interaction_id, cancel = match["id"], match["cancel"]
            if interaction_id is None and method == "POST":
                return "", "create"
            if interaction_id is not None and cancel and method == "POST":
                return interaction_id, "cancel"
            if interaction_id is not None and not cancel and method in ("GET", "DELETE"):
                return interaction_id, method.lower()
        raise ApiError(404, "not_found", f"No route for {method} {raw_path}.")

    def _authenticate(self, query: dict[str, str]) -> None:
        supplied = self.headers.get("x-goog-api-key") or query.get("key")
        if not supplied:
            raise ApiError(401, "authentication", "API key missing. Send it in the x-goog-api-key header.")
        expected = self.emulator.api_key
        if expected is not None and not hmac.compare_digest(supplied.encode(), expected.encode()):
            raise ApiError(401, "authentication", "API key not valid. Please pass a valid API key.")

    def _create(self, body: Any) -> None:
        from .schema import check_create_request

        check_create_request(body)
        self.emulator._check_request(body)
        if self.emulator.player is not None:
            offline_body = self.emulator.player.create(self, body)
            if offline_body is None:
                return
            body = offline_body
        parent_id = body.get("previous_interaction_id")
        if parent_id is not None:
            check_function_results(self._store.get(parent_id), body.get("input"))
        emulator = self.emulator
        item = emulator._next_item()
        if item is None and emulator.responder is not None:
            item = emulator.responder(body)
        if isinstance(item, Fault):
            self._wait_out_latency()
            raise item.error()
        if item is None and str(body.get("agent", "")).startswith("deep-research"):
            prompt = offline.prompt_text(body.get("input"))
            item = research_reply(prompt, duration=self.emulator.research_seconds)
        reply = item or offline.respond(
            body,
            self._store.chain_length(parent_id) + 1,
            self._store.chain_steps(parent_id),
            self.emulator._files,
        )
        record = self._store.create(body, reply)
        try:
            background, stream = body.get("background"), body.get("stream")
            paced = background or (stream and record.reply.delay > 0)  # a worker thread publishes it
            if not paced:
                self._store.run_now(record)  # an unpaced reply is all published at once
            self._wait_out_latency()
            if background:
                accepted = self._store.snapshot(record, timeline=False)
                self._store.start_run(record)
                if stream:
                    self._send_stream(record, 0)
                else:
                    self._send_interaction(accepted)
            elif stream:
                if paced:
                    self._store.start_run(record)
                self._send_stream(record, 0)
            else:
                self._send_interaction(self._store.snapshot(record, timeline=False))
        finally:
            if body.get("store") is False:
                with contextlib.suppress(ApiError):
                    self._store.delete(record.id)

    def _wait_out_latency(self) -> None:
        """Hold the answer until ``latency`` after the request arrived. The reply is worked out
        before waiting, so the first byte leaves at arrival + latency however busy this process is
        with other requests (its threads share one GIL)."""
        emulator = self.emulator
        if emulator.latency > 0:
            emulator.clock.wait_until(self._arrived + emulator.latency, emulator._stopping)

    def _get(self, interaction_id: str, query: dict[str, str]) -> None:
        record = self._store.get(interaction_id)
        if query.get("stream") == "true":
            self._send_stream(record, self._store.position_after(record, query.get("last_event_id")))
        else:
            include_input = query.get("include_input") == "true"
            self._send_interaction(self._store.snapshot(record, timeline=True, include_input=include_input))

    def _send_interaction(self, payload: Json) -> None:
        self.emulator._check_interaction(payload)
        self._send_json(200, payload)

    def _send_file(self, name: str) -> None:
        found = self.emulator._files.get(name)
        if found is None:
            raise ApiError(404, "not_found", f"File {name} not found.")
        data, mime_type = found
        self.send_response(200)
        self.send_header("Content-Type", mime_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "public, max-age=31536000, immutable")
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, error: ApiError) -> None:
        extra = {}
        if error.retry_after is not None:
            extra["Retry-After"] = f"{error.retry_after:g}"
        self._send_json(error.status, error.body(), extra)

    def _send_json(self, status: int, payload: Json, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, record: StoredInteraction, position: int) -> None:
        """Follow the interaction's log as SSE; apply the reply's delivery faults once."""
        faults = self._store.take_delivery_faults(record)
        self._begin_stream()
        drop_at = faults.drop_after if faults else None
        stall_at = faults.stall_after if faults else None
        shape = _WireShape(record.reply)
        sent = 0
        for batch in self._store.follow(record, position):
            frames = bytearray()
            for event in batch:
                if faults is not None and sent == drop_at:
                    self._write_chunk(frames)
                    self._drop(faults)
                    return
                if faults is not None and sent == stall_at:
                    self._write_chunk(frames)
                    frames.clear()
                    stall_at = None
                    if self.emulator._stall(faults.stall_seconds):
                        self.close_connection = True
                        return
                for sent_event in shape.wire_events(event):
                    frames += _sse_frame(sent_event)
                sent += 1
            self._write_chunk(frames)
        if faults is not None and sent == drop_at:  # right after the last event
            self._drop(faults)
            return
        if record.reply.hold_open and self.emulator._stall(None):
            self.close_connection = True
            return
        if record.reply.done_line:
            self._write_chunk(b"event: done\ndata: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _drop(self, faults: Reply) -> None:
        if faults.drop_mode == "eof":
            self.wfile.write(b"0\r\n\r\n")  # a clean end: the connection stays usable
        else:
            self.close_connection = True  # a truncated body: the connection is spent

    def _begin_stream(self) -> None:
        # Chunked HTTP/1.1 lets a drop be either a clean end of body or a truncated one.
        self._streaming = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _stream(self, events: Iterable[Any]) -> None:
        """Send ``events`` (event dicts, or a recorded ``[DONE]`` line) as SSE, each as it comes."""
        self._begin_stream()
        for event in events:
            if isinstance(event, dict):
                self.emulator._check_event(event)
                self._write_chunk(_sse_frame(event))
            else:
                self._write_chunk(f"event: done\ndata: {event}\n\n".encode())
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes | bytearray) -> None:
        if data:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))


class _WireShape:
    """How one delivery puts logged events on the wire: the reply's real-traffic shape options.

    The log stays canonical (and schema-checked); only what is sent is altered.
    """

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self._texts_started: set[int] = set()

    def wire_events(self, event: Json) -> list[Json]:
        reply = self.reply
        if not reply.event_ids:
            event = {key: value for key, value in event.items() if key != "event_id"}
        out = [event]
        if event["event_type"] == "step.delta":
            if reply.malformed == "null_text" and event["delta"].get("type") == "text":
                if event["index"] not in self._texts_started:
                    self._texts_started.add(event["index"])
                    null = {"event_type": "step.delta", "index": event["index"]}
                    out.insert(0, {**null, "delta": {"type": "text", "text": None}})
            elif reply.malformed == "no_index":
                out = [{key: value for key, value in event.items() if key != "index"}]
        if reply.repeat_events:
            out = [copy for item in out for copy in (item, item)]
        return out


def check_function_results(parent: StoredInteraction, raw_input: Any) -> None:
    """A turn after a ``requires_action`` interaction must answer each of its calls, once, by id and
    name (the real API wants both), and nothing else; 400 otherwise."""
    steps = input_steps(raw_input)
    results = [step for step in steps if step.get("type") == "function_result"]
    if parent.status != "requires_action":
        if results:
            raise ApiError(400, "invalid_argument", "function_result given, but no function call is pending.")
        return
    calls = {
        step["id"]: step.get("name") for step in parent.reply.steps if step.get("type") == "function_call"
    }
    answered = [str(step.get("call_id")) for step in results]
    problems = []
    if len(results) != len(steps):
        problems.append("only function_result steps may follow a requires_action interaction")
    if sorted(answered) != sorted(calls):
        problems.append(f"expected one result for each of the calls {sorted(calls)}, got {answered}")
    problems += [
        f"call {step.get('call_id')} is named {calls[step['call_id']]!r}, not {step.get('name')!r}"
        for step in results
        if step.get("call_id") in calls and step.get("name") != calls[step["call_id"]]
    ]
    if problems:
        raise ApiError(400, "invalid_argument", "Invalid input received: " + "; ".join(problems))


def _sse_frame(event: Json) -> bytes:
    data = json.dumps(event, separators=(",", ":"))
    return f"event: {event['event_type']}\ndata: {data}\n\n".encode()

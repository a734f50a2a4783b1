"""The one module that reaches into google-genai's private parts. No IPython imports.

The Interactions API's exception classes live in ``google.genai._interactions`` (they are not
re-exported publicly, api-facts §8.2); the validation context that makes the SDK's open unions
lenient, its lenient fallback decoder and its mapping of transport errors live under
``google.genai._gaos``, as do the request builder, hooks and body type a create is sent with
(:func:`open_stream`). Everything else in the package asks this module for them, so an SDK upgrade
that moves them is fixed here. Imported lazily: loading the extension must not import the SDK.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any


def errors() -> ModuleType:
    """``google.genai._interactions``: ``APIError``, ``APIStatusError``, ``APIConnectionError``, …"""
    from google.genai import _interactions

    return _interactions


@cache
def response_context() -> dict[str, Any]:
    """The validation context the SDK uses for server responses: an event or step it cannot
    validate becomes its ``Unknown…`` variant instead of an error."""
    from google.genai._gaos.utils.serializers import ALLOW_UNKNOWN_UNION_VARIANTS

    return {ALLOW_UNKNOWN_UNION_VARIANTS: True}


def construct_unvalidated(value: Any, typ: Any) -> Any:
    """The SDK's own fallback for a response body its types reject (built leniently, unvalidated)."""
    from google.genai._gaos.utils.serializers import construct_unvalidated as construct

    return construct(value, typ)


def sse_event_type() -> Any:
    """``InteractionSSEEvent``, the discriminated union of stream events."""
    from google.genai.interactions import InteractionSSEEvent

    return InteractionSSEEvent


@cache
def transport_errors() -> tuple[type[BaseException], ...]:
    """The httpx failures (``httpx`` or ``httpx2``, whichever the SDK runs on) a body read can raise."""
    from google.genai._gaos.lib import compat_errors

    return tuple(compat_errors._HTTPX_HTTP_ERRORS)


def transport_error(exc: BaseException) -> BaseException:
    """An httpx failure while reading a body, as the SDK reports it while iterating its own stream:
    ``APITimeoutError`` for a timeout, ``APIConnectionError`` for anything else."""
    from google.genai._gaos.lib.compat_errors import wrap_sdk_error

    return wrap_sdk_error(exc)


def open_stream(resource: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Send ``resource.<method>(*args, stream=True, **kwargs)`` through the SDK's transport (auth,
    headers, base URL, timeouts, error mapping) and return its response before any decoding:
    the status and headers are read, the body is still unread. HTTP errors raise the SDK's
    ``APIStatusError`` classes here, as ``create``/``get`` do. A ``create`` sends the body
    :func:`create_body` serialised (see :class:`_CreateCall`); anything else goes through
    ``with_streaming_response``."""
    if method == "create":
        call = _CreateCall(resource, kwargs, is_async=False)
        return _OpenedResponse(resource, resource.do_request(**call.send_args()))
    return getattr(resource.with_streaming_response, method)(*args, **kwargs).__enter__()


async def aopen_stream(resource: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """:func:`open_stream` for ``client.aio.interactions``."""
    if method == "create":
        call = _CreateCall(resource, kwargs, is_async=True)
        return await _AsyncOpenedResponse.opened(
            resource, await resource.do_request_async(**call.send_args())
        )
    return await getattr(resource.with_streaming_response, method)(*args, **kwargs).__aenter__()


# -- create, with the body serialised here -------------------------------------------------------
# SDK 3.4.0 serialises a create body by building two pydantic model classes around it
# (``_gaos/utils/serializers.py``: ``unmarshal`` of the keyword arguments, then ``marshal_json`` of
# the body, each a ``create_model``), about 9 ms of CPU per request: a batch at concurrency 8 then
# runs at the speed of one core building classes. Here the same body becomes the same bytes
# through one ``TypeAdapter`` over the SDK's own ``CreateInteractionRequestBody``, built on first
# use (validated and dumped exactly as the SDK's marshaller does), and the request goes out through
# the resource's own request builder and ``do_request``: the same URL, headers, auth hook, timeout,
# retry configuration, error hooks and httpx client (so a recorder's transport sees it too).

CREATE_PATH = "/{api_version}/interactions"
CALL_OPTIONS = frozenset({"api_version", "extra_headers", "extra_query", "extra_body", "timeout"})
ERROR_STATUSES = ["4XX", "5XX"]


@cache
def _create_body_adapter() -> Any:
    import pydantic
    from google.genai._gaos import models

    return pydantic.TypeAdapter(models.CreateInteractionRequestBody)


def create_body(body: dict[str, Any]) -> str:
    """The JSON text the SDK sends for ``interactions.create(**body)``: a content list as ``input``
    wrapped in a ``user_input`` step, iterables coerced to lists, unset fields left out, keys by
    alias in the SDK's field order. Raises the SDK's own ``TypeError``/``ValueError``/pydantic
    ``ValidationError`` for a body it would refuse before sending."""
    import json

    from google.genai._gaos import models
    from google.genai._gaos.google_genai import _normalize_create_body
    from google.genai._gaos.utils.serializers import _coerce_iterables_for_type

    _check_agent_or_model(body)
    normalized = _normalize_create_body(body)
    if not _plain_json(normalized):  # plain JSON is what coercing would give back, at a cost
        normalized = _coerce_iterables_for_type(normalized, models.CreateInteractionRequestBody)
    adapter = _create_body_adapter()
    value = adapter.validate_python(normalized)
    return json.dumps(adapter.dump_python(value, by_alias=True, mode="json"), separators=(",", ":"))


def _plain_json(value: Any) -> bool:
    """Only dicts with string keys, lists, strings, numbers, booleans and None."""
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return True
    if type(value) is list:
        return all(_plain_json(item) for item in value)
    if type(value) is dict:
        return all(type(key) is str and _plain_json(item) for key, item in value.items())
    return False


def _check_agent_or_model(body: dict[str, Any]) -> None:
    """The SDK's refusals before it sends a create (api-facts §2.1)."""
    for first, second in (
        ("cached_content", "agent"),
        ("cached_content", "agent_config"),
        ("generation_config", "agent"),
        ("generation_config", "agent_config"),
        ("model", "agent"),
        ("model", "agent_config"),
    ):
        if first in body and second in body:
            raise ValueError(f"Cannot supply both '{first}' and '{second}'.")


@cache
def _create_url(base_url: str, api_version: str | None) -> str:
    """The create URL as the SDK's ``generate_url`` makes it (slow: it reads type hints each time)."""
    from google.genai._gaos import models, utils

    globals_ = models.CreateInteractionGlobals(api_version=api_version)
    return str(utils.generate_url(base_url, CREATE_PATH, None, globals_))


class _CreateCall:
    """One ``POST /{api_version}/interactions``, built as the SDK's generated ``create`` builds it."""

    def __init__(self, resource: Any, kwargs: dict[str, Any], *, is_async: bool) -> None:
        from google.genai._gaos.utils.requestbodies import SerializedRequestBody

        body = {k: v for k, v in kwargs.items() if k not in CALL_OPTIONS}
        options = {k: v for k, v in kwargs.items() if k in CALL_OPTIONS}
        content = create_body(body)
        if options.get("extra_body"):
            import json

            content = json.dumps({**json.loads(content), **options["extra_body"]}, separators=(",", ":"))
        config = resource.sdk_configuration
        timeout_ms = resource._coerce_timeout_ms(options.get("timeout"))
        self.resource = resource
        self.is_async = is_async
        self.stream = body.get("stream") is True
        self.base_url = resource._get_url(None, None)
        api_version = options.get("api_version") or config.globals.api_version
        build = resource._build_request_async if is_async else resource._build_request
        self.request = build(
            method="POST",
            path=CREATE_PATH,
            base_url=self.base_url,
            url_variables=None,
            request=None,
            request_body_required=True,
            request_has_path_params=True,
            request_has_query_params=True,
            user_agent_header="user-agent",
            accept_header_value="text/event-stream" if self.stream else "application/json",
            http_headers=options.get("extra_headers"),
            extra_query_params=options.get("extra_query"),
            url_override=_create_url(self.base_url, api_version),
            security=config.security,
            get_serialized_body=lambda: SerializedRequestBody("application/json", content),
            allow_empty_value=None,
            timeout_ms=timeout_ms if timeout_ms is not None else config.timeout_ms,
        )

    def send_args(self) -> dict[str, Any]:
        from google.genai._gaos import utils
        from google.genai._gaos._hooks import HookContext, ResponseContext
        from google.genai._gaos.types import Security

        config = self.resource.sdk_configuration
        retries = config.retry_config
        return {
            "hook_ctx": HookContext(
                config=config,
                base_url=self.base_url or "",
                operation_id="CreateInteraction",
                oauth2_scopes=None,
                security_source=utils.get_security_from_env(config.security, Security),
                tags=["interactions"],
                extensions=None,
                response=ResponseContext(mode="streaming", execution="async" if self.is_async else "sync"),
            ),
            "request": self.request,
            "is_error_status_code": lambda code: utils.match_status_codes(ERROR_STATUSES, code),
            "stream": True,
            "retry_config": (retries, ["408", "409", "429", "5XX"])
            if isinstance(retries, utils.RetryConfig)
            else None,
        }


def _status_error(http_response: Any, text: str) -> BaseException:
    """An error status as the SDK raises it from ``create``: its ``APIStatusError`` class."""
    from google.genai._gaos.errors import GenAiDefaultError
    from google.genai._gaos.lib.compat_errors import wrap_sdk_error

    return wrap_sdk_error(GenAiDefaultError("API error occurred", http_response, text))


def _interaction(http_response: Any, text: str) -> Any:
    """A 200 body that is not an event stream, as the SDK's ``parse()`` reads it: an ``Interaction``
    from JSON (built leniently if its types reject it), its ``APIError`` for anything else."""
    from google.genai._gaos.errors import GenAiDefaultError
    from google.genai._gaos.lib.compat_errors import wrap_sdk_error
    from google.genai._gaos.utils import match_response
    from google.genai._gaos.utils.unmarshal_json_response import unmarshal_json_response
    from google.genai.interactions import Interaction

    if match_response(http_response, "200", "application/json"):
        try:
            return unmarshal_json_response(Interaction, http_response, text, validate=False)
        except Exception as exc:  # noqa: BLE001 - raised as the SDK would raise it
            raise wrap_sdk_error(exc) from exc
    raise wrap_sdk_error(GenAiDefaultError("Unexpected response received", http_response, text))


def _sdk_stream(resource: Any, http_response: Any, is_async: bool) -> Any:
    """The SDK's own ``Stream`` (``AsyncStream``) of decoded events over a 200 event stream, as its
    ``parse()`` returns it, or None for any other response."""
    from google.genai._gaos.lib import compat_errors
    from google.genai._gaos.types.interactions import InteractionSSEStreamEvent
    from google.genai._gaos.utils import match_response
    from google.genai._gaos.utils.eventstreaming import AsyncStream, Stream
    from google.genai._gaos.utils.unmarshal_json_response import unmarshal_json_response

    if not match_response(http_response, "200", "text/event-stream"):
        return None

    def decoder(raw: str) -> Any:
        return unmarshal_json_response(InteractionSSEStreamEvent, http_response, raw, validate=False).data

    if is_async:
        stream = AsyncStream(http_response, decoder, sentinel="[DONE]", client_ref=resource)
        return compat_errors.wrap_async_stream_errors(stream)
    return compat_errors.wrap_stream_errors(
        Stream(http_response, decoder, sentinel="[DONE]", client_ref=resource)
    )


class _OpenedResponse:
    """A create's response with its body unread, as ``with_streaming_response`` hands it over:
    ``http_response``, ``headers``, ``read()``, ``parse()`` (the SDK's ``Stream`` for an event stream,
    an ``Interaction`` for JSON), ``close()``."""

    def __init__(self, resource: Any, http_response: Any) -> None:
        from google.genai._gaos import utils

        self.resource = resource
        self.http_response = http_response
        if utils.match_status_codes(ERROR_STATUSES, http_response.status_code):
            http_response.read()
            raise _status_error(http_response, http_response.text)

    @property
    def headers(self) -> Any:
        return self.http_response.headers

    def read(self) -> bytes:
        return bytes(self.http_response.read())

    def parse(self) -> Any:
        stream = _sdk_stream(self.resource, self.http_response, is_async=False)
        if stream is not None:
            return stream
        self.read()
        return _interaction(self.http_response, self.http_response.text)

    def close(self) -> None:
        self.http_response.close()


class _AsyncOpenedResponse:
    """:class:`_OpenedResponse` for the async client; built by :meth:`opened`."""

    def __init__(self, resource: Any, http_response: Any) -> None:
        self.resource = resource
        self.http_response = http_response

    @classmethod
    async def opened(cls, resource: Any, http_response: Any) -> _AsyncOpenedResponse:
        from google.genai._gaos import utils

        if utils.match_status_codes(ERROR_STATUSES, http_response.status_code):
            await http_response.aread()
            raise _status_error(http_response, http_response.text)
        return cls(resource, http_response)

    @property
    def headers(self) -> Any:
        return self.http_response.headers

    async def read(self) -> bytes:
        return bytes(await self.http_response.aread())

    async def parse(self) -> Any:
        stream = _sdk_stream(self.resource, self.http_response, is_async=True)
        if stream is not None:
            return stream
        await self.read()
        return _interaction(self.http_response, self.http_response.text)

    async def close(self) -> None:
        await self.http_response.aclose()


async def aclose_loop_connections(client: Any, *, whole_client: bool) -> None:
    """Close the connections ``client`` (a ``genai.Client``) keeps open for the running event loop.

    Pooled keep-alive connections belong to the loop that opened them; a worker's loop ends with
    its run, so what it opened is closed here rather than left to the garbage collector. The
    async client keeps one inner pool per loop (only this loop's is closed); a client whose
    transport was wrapped (``whole_client``: one made for this worker alone) is closed whole.
    """
    import asyncio

    http_client = client._api_client._async_httpx_client
    if http_client is None:
        return
    if not getattr(http_client, "_per_loop", False):
        if whole_client:
            await http_client.aclose()
        return
    with http_client._loop_clients_lock:
        inner = http_client._loop_clients.pop(asyncio.get_running_loop(), None)
    if inner is not None:
        await inner.aclose()


def wrap_transports(client: Any, wrap: Any) -> None:
    """Route every request of ``client`` (a ``genai.Client``) through ``wrap(transport, backend,
    is_async)``, which returns a transport that forwards to the one it was given.

    The SDK's httpx clients are wrapped in place (their transport and any proxy mounts), so its SSL
    and proxy settings stay as they are; ``backend`` is the httpx module they run on (``httpx2`` or
    ``httpx``). The async client otherwise sends through one inner client per event loop; the
    package gives each worker loop its own client, so that indirection is turned off.
    """
    import sys

    api = client._api_client
    for http_client, is_async in ((api._httpx_client, False), (api._async_httpx_client, True)):
        if http_client is None:
            continue
        library = next(c.__module__ for c in type(http_client).__mro__ if c.__module__.startswith("httpx"))
        backend = sys.modules[library.split(".")[0]]
        if is_async and hasattr(http_client, "_per_loop"):
            http_client._per_loop = False
        http_client._transport = wrap(http_client._transport, backend, is_async)
        http_client._mounts = {
            pattern: None if transport is None else wrap(transport, backend, is_async)
            for pattern, transport in http_client._mounts.items()
        }

"""The one module that reaches into google-genai's private parts. No IPython imports.

The Interactions API's exception classes live in ``google.genai._interactions`` (they are not
re-exported publicly, api-facts §8.2); the validation context that makes the SDK's open unions
lenient, its lenient fallback decoder and its mapping of transport errors live under
``google.genai._gaos``. Everything else in the package asks this module for them, so an SDK upgrade
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
    ``with_streaming_response`` has read the status and headers, the body is still unread.
    HTTP errors raise the SDK's ``APIStatusError`` classes here, as ``create``/``get`` do."""
    return getattr(resource.with_streaming_response, method)(*args, **kwargs).__enter__()


async def aopen_stream(resource: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """:func:`open_stream` for ``client.aio.interactions``."""
    return await getattr(resource.with_streaming_response, method)(*args, **kwargs).__aenter__()


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

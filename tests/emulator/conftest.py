"""Fixtures for the emulator tests: a strict emulator and the real SDK pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from google import genai

from gemini_magics.emulator import Emulator

from ..support import TEST_KEY as KEY

ClientFactory = Callable[..., genai.Client]
# The `emulator` fixture (strict, keyed with KEY) comes from tests/conftest.py.


@pytest.fixture
def make_client(emulator: Emulator) -> ClientFactory:
    """Build SDK clients for the emulator, e.g. ``make_client(api_version="v1beta")``.

    Retries are off unless asked for; ``attempts=None`` keeps the SDK's default policy.
    """

    def build(
        *, attempts: int | None = 1, base_url: str | None = None, key: str = KEY, **options: Any
    ) -> genai.Client:
        options["base_url"] = base_url or emulator.base_url
        if attempts is not None:
            options["retry_options"] = {"attempts": attempts}
        return genai.Client(api_key=key, http_options=options)

    return build


@pytest.fixture
def client(make_client: ClientFactory) -> genai.Client:
    return make_client()


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One plain HTTP client for raw wire checks (building one per request is slow)."""
    with httpx.Client(timeout=10) as session:
        yield session


@pytest.fixture
def raw(emulator: Emulator, http: httpx.Client) -> Callable[..., httpx.Response]:
    """Send a raw request to the emulator: ``raw("GET", "/v1/interactions/x", key=None)``."""

    def send(method: str, path: str, *, key: str | None = KEY, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["x-goog-api-key"] = key
        return http.request(method, emulator.base_url + path, headers=headers, **kwargs)

    return send

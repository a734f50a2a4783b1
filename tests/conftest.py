"""Layered fixtures: emulator → fresh strict shell → extension loaded and pointed at the emulator."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gemini_magics.emulator import Emulator

from .support import TEST_KEY, StrictShell, fresh_shell, release_shell

EmulatorFactory = Callable[..., Emulator]


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves non-daemon threads running."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    assert not leaked, f"threads leaked: {leaked}"


@pytest.fixture
def make_emulator() -> Iterator[EmulatorFactory]:
    """Start emulators for one test: ``make_emulator(clock=StepClock())``, ``make_emulator(validate=False)``.

    Defaults: the test key and ``validate=True``, so a response the SDK's models would not accept,
    or a create request the SDK's request types would not accept, fails the test at teardown (a test
    that provokes such problems on purpose takes them with ``emu.take_schema_errors()``).
    ``validate=False`` is for hostile servers that send what the SDK does not declare. Every
    emulator is stopped at teardown.
    """
    started: list[Emulator] = []

    def make(**options: Any) -> Emulator:
        options.setdefault("api_key", TEST_KEY)
        options.setdefault("validate", True)
        emu = Emulator(**options).start()
        started.append(emu)
        return emu

    try:
        yield make
    finally:
        for emu in started:
            emu.stop()
    problems = [problem for emu in started if emu.validate for problem in emu.schema_errors]
    assert problems == [], "the emulator saw traffic the SDK's models do not declare"


@pytest.fixture
def emulator_options() -> dict[str, Any]:
    """Options for the `emulator` fixture; a module overrides this fixture to change them (a clock)."""
    return {}


@pytest.fixture
def emulator(make_emulator: EmulatorFactory, emulator_options: dict[str, Any]) -> Emulator:
    """The test's emulator: validating, keyed with TEST_KEY, real time unless emulator_options say."""
    return make_emulator(**emulator_options)


@pytest.fixture
def bare_shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[StrictShell]:
    """A fresh InteractiveShell whose cells re-raise, history in memory; released at teardown.

    Each shell registers ``atexit_operations`` (and a history thread would register another): they
    run now and are unregistered, so hundreds of shells do not pile up work for the end of the
    session (tests/test_shell_fixture.py shows it).
    """
    for name in (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_GEMINI_BASE_URL",
        "GEMINI_MAGICS_OFFLINE",
        "GEMINI_MAGICS_TOKEN_BUDGET",
    ):
        monkeypatch.delenv(name, raising=False)
    shell = fresh_shell()
    try:
        yield StrictShell(shell)
    finally:
        release_shell(shell)


@pytest.fixture
def ip(bare_shell: StrictShell, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> StrictShell:
    """The extension loaded in a fresh shell, with a key, pointed at the test emulator."""
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    bare_shell.shell.config.GeminiMagics.stream_interval = 0.0
    bare_shell.run("%load_ext gemini_magics")
    return bare_shell

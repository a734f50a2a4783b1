"""Layered fixtures: emulator → fresh strict shell → extension loaded and pointed at the emulator."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

from gemini_magics.emulator import Emulator

from .support import TEST_KEY, StrictShell


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves non-daemon threads running."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    assert not leaked, f"threads leaked: {leaked}"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator(api_key=TEST_KEY, validate=True).start()
    try:
        yield emu
        assert emu.schema_errors == []
    finally:
        emu.stop()


@pytest.fixture
def bare_shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[StrictShell]:
    for name in (
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GOOGLE_GEMINI_BASE_URL",
        "GEMINI_MAGICS_OFFLINE",
    ):
        monkeypatch.delenv(name, raising=False)
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    shell.history_manager.enabled = False
    strict = StrictShell(shell)
    try:
        yield strict
    finally:
        magics = shell.magics_manager.registry.get("GeminiMagics")
        if magics is not None:
            magics.close()
        InteractiveShell.clear_instance()


@pytest.fixture
def ip(bare_shell: StrictShell, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> StrictShell:
    """The extension loaded in a fresh shell, with a key, pointed at the test emulator."""
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    bare_shell.shell.config.GeminiMagics.stream_interval = 0.0
    bare_shell.run("%load_ext gemini_magics")
    return bare_shell

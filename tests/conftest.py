"""Layered fixtures: emulator → fresh strict shell → extension loaded and pointed at the emulator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

from gemini_magics.emulator import Emulator

TEST_KEY = "test-key-9f3a-SECRET-7d21"


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


@dataclass
class Cell:
    """What one cell produced."""

    outputs: list[dict[str, Any]]
    stdout: str


class StrictShell:
    """A fresh InteractiveShell whose cells re-raise their errors, with display outputs captured."""

    def __init__(self, shell: InteractiveShell) -> None:
        self.shell = shell
        self.publisher = CapturingDisplayPublisher()
        shell.display_pub = self.publisher

    @property
    def user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns

    @property
    def magics(self) -> Any:
        return self.shell.magics_manager.registry["GeminiMagics"]

    def run(self, code: str, *, cell_id: str | None = None) -> Cell:
        start = len(self.publisher.outputs)
        import contextlib
        import io

        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            result = self.shell.run_cell(code, store_history=True, cell_id=cell_id)
        result.raise_error()
        return Cell(self.publisher.outputs[start:], stdout.getvalue())


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


def markdown_of(cell: Cell) -> str:
    """The latest Markdown shown by each display output of a cell, in order, joined."""
    latest: dict[Any, str] = {}
    order: list[Any] = []
    for n, output in enumerate(cell.outputs):
        key = (output.get("transient") or {}).get("display_id") or f"anonymous-{n}"
        if key not in latest:
            order.append(key)
        if "text/markdown" in output["data"]:
            latest[key] = output["data"]["text/markdown"]
    return "".join(latest.get(key, "") for key in order)


def creates(emulator: Emulator) -> list[Any]:
    return [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/interactions")]

"""Shared test helpers: the strict shell wrapper and readers of what a cell displayed."""

from __future__ import annotations

import atexit
import contextlib
import html
import io
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

TEST_KEY = "test-key-9f3a-SECRET-7d21"
T = TypeVar("T")
_MAIN = sys.modules["__main__"]  # a shell makes its user module __main__; released, it gives it back


def wait_for(condition: Callable[[], T], timeout: float = 10.0, message: str = "") -> T:
    """Poll ``condition`` until it returns something truthy, and return that; fail after ``timeout``.

    The one way a test waits for something another thread does: every wait has a deadline and says
    what it was waiting for. The sleep only paces the polling; it never decides the outcome.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            what = message or getattr(condition, "__qualname__", repr(condition))
            raise AssertionError(f"timed out after {timeout:g} s waiting for: {what}")
        time.sleep(0.01)


def fresh_shell() -> InteractiveShell:
    """A new singleton InteractiveShell with its history in memory: no sqlite file in ~/.ipython
    (shared by every test process) and no history-saving thread."""
    InteractiveShell.clear_instance()
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.history_manager.enabled = False
    return shell


def release_shell(shell: InteractiveShell) -> None:
    """Close the extension and the shell's history, and drop the shell's atexit hooks (its own, and
    the one IPython's %%script magics register per shell), which would keep every test's shell alive
    until the session ends. Not ``shell.atexit_operations()``: its ``reset`` runs a full
    ``gc.collect()``, about half a second per test in a big test process. The shell is garbage after
    this (tests/test_shell_fixture.py)."""
    magics = shell.magics_manager.registry.get("GeminiMagics")
    if magics is not None:
        magics.close()
    script_magics = shell.magics_manager.registry.get("ScriptMagics")
    if script_magics is not None:
        script_magics.kill_bg_processes()
        atexit.unregister(script_magics.kill_bg_processes)
    atexit.unregister(shell.atexit_operations)
    if shell.history_manager is not None:
        shell.history_manager.close()
    if sys.modules.get("__main__") is shell.user_module:
        sys.modules["__main__"] = _MAIN
    InteractiveShell.clear_instance()


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
        stdout = io.StringIO()
        try:
            with contextlib.redirect_stdout(stdout):
                result = self.shell.run_cell(code, store_history=True, cell_id=cell_id)
        finally:
            self.last_stdout = stdout.getvalue()  # readable even when the cell raised
        result.raise_error()
        return Cell(self.publisher.outputs[start:], stdout.getvalue())


def _latest(cell: Cell, mime: str) -> str:
    """For each display output of a cell, in order, the last ``mime`` value it showed; joined."""
    latest: dict[Any, str] = {}
    order: list[Any] = []
    for n, output in enumerate(cell.outputs):
        key = (output.get("transient") or {}).get("display_id") or f"anonymous-{n}"
        if key not in order:
            order.append(key)
        if mime in output["data"]:
            latest[key] = output["data"][mime]
    return "".join(latest.get(key, "") for key in order)


def markdown_of(cell: Cell) -> str:
    """The text each display output of a cell ended with: for answers, the Markdown source (their
    final update carries it as text/plain beside the rendered HTML)."""
    return _latest(cell, "text/plain")


def html_of(cell: Cell) -> str:
    """The HTML each display output of a cell ended with, in order, joined."""
    return _latest(cell, "text/html")


def creates(emulator: Any) -> list[Any]:
    return [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/interactions")]


def text_of(data: dict[str, Any]) -> str:
    """What a display bundle says as text: its text/plain, else its HTML without tags."""
    if "text/plain" in data:
        return str(data["text/plain"])
    return html.unescape(re.sub(r"<[^>]*>", "", str(data.get("text/html", ""))))


def run_coroutine_on_its_own_thread(make: Callable[[], Any], timeout: float = 30.0) -> Any:
    """``asyncio.run(make())`` on a thread of its own, returning its value or raising its error.

    After the browser tests, Playwright's sync API keeps an event loop running on the main thread,
    where ``asyncio.run`` is refused; a test that needs its own loop runs it here instead.
    """
    import asyncio
    import threading

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(make())
        except BaseException as exc:  # handed to the test's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"the coroutine did not finish within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def refused(ip: Any, line: str) -> str:
    """Run ``line``, which must fail with a one-line UsageError; returns the message."""
    import pytest
    from IPython.core.error import UsageError

    with pytest.raises(UsageError) as caught:
        ip.run(line)
    message = str(caught.value)
    assert "\n" not in message, message
    return message

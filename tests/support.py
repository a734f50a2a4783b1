"""Shared test helpers: the strict shell wrapper and readers of what a cell displayed."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

from IPython.core.displaypub import CapturingDisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

TEST_KEY = "test-key-9f3a-SECRET-7d21"


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


def creates(emulator: Any) -> list[Any]:
    return [r for r in emulator.requests if r.method == "POST" and r.path.endswith("/interactions")]

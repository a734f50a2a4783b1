"""Shared test helpers: the strict shell wrapper and readers of what a cell displayed."""

from __future__ import annotations

import contextlib
import html
import io
import re
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

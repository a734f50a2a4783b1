"""What every front end implements to show a turn as it streams. Pure.

The notebook cell renderer, the terminal renderer (``ipython/display.py``) and a chat panel's growing
message (``widgets/messages.py: StreamingReply``) all take the same normalised events from
``core/events.py``; front ends hand ``renderer.handle`` to ``Session.run``/``Session.start`` as the event
sink, and can swap one renderer for another.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..core.events import Event


@runtime_checkable
class Renderer(Protocol):
    def handle(self, event: Event) -> None:
        """Show one normalised event (text, thought, media, retry note, …); called per delta."""

    def flush(self, *, final: bool = True) -> None:
        """Show whatever was held back; ``final`` once the turn has ended."""

    def note(self, message: str) -> None:
        """A short line of the package's own (offline, retired model, saved files, …)."""


@runtime_checkable
class CellRenderer(Renderer, Protocol):
    def footer(self, info: dict[str, Any]) -> None:
        """The line under an answer in a cell: model, thread, tokens, status, interaction id."""

    def show_value(self, value: Any) -> None:
        """A structured answer's validated value, in place of its streamed JSON (``--schema``)."""

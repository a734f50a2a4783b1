"""Named conversation threads over the server-side ``previous_interaction_id`` chain. No IPython.

A thread is the list of its completed turns; its head is the last turn's interaction id. A turn
carries the Jupyter cell id it came from, so re-running that cell rewinds the thread to just before
it: the new turn's parent is the turn before, and on completion the old turn and everything after it
are dropped from the thread (they stay on the server, unreferenced). Nothing changes until a turn
completes, so an interrupted or failed turn leaves the thread exactly as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Turn:
    prompt: str
    interaction_id: str
    parent_id: str | None
    model: str
    cell_id: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    status: str = "completed"
    image_output: dict[str, Any] | None = None
    images: int = 0
    answer: str = ""  # the answer's text, so a chat panel opened later can show the conversation

    @property
    def snippet(self) -> str:
        line = " ".join(self.prompt.split())
        return line if len(line) <= 60 else line[:57] + "…"

    @property
    def total_tokens(self) -> int | None:
        return self.usage.get("total_tokens")


class ThreadBusy(RuntimeError):
    """Another turn of this thread is still running."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"thread {name!r} is busy with another turn (a cell, a chat panel or a research run)"
        )
        self.name = name


@dataclass
class Thread:
    name: str
    turns: list[Turn] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def head(self) -> str | None:
        return self.turns[-1].interaction_id if self.turns else None

    def _position_of(self, cell_id: str | None) -> int | None:
        if cell_id is None:
            return None
        for position, turn in enumerate(self.turns):
            if turn.cell_id == cell_id:
                return position
        return None

    def parent_for(self, cell_id: str | None) -> str | None:
        """The interaction a new turn from ``cell_id`` continues from."""
        position = self._position_of(cell_id)
        if position is None:
            return self.head
        return self.turns[position - 1].interaction_id if position > 0 else None

    def turn(self, interaction_id: str | None) -> Turn | None:
        return next((t for t in self.turns if t.interaction_id == interaction_id), None)

    def commit(self, turn: Turn) -> None:
        """Record a completed turn, dropping the turn it replaces (same cell) and all after it."""
        position = self._position_of(turn.cell_id)
        if position is not None:
            del self.turns[position:]
        if self.head != turn.parent_id:
            # the thread moved on (or was reset) while this turn ran: keep only what it continues
            ids = [t.interaction_id for t in self.turns]
            del self.turns[ids.index(turn.parent_id) + 1 if turn.parent_id in ids else 0 :]
        self.turns.append(turn)

    def reset(self) -> None:
        self.turns.clear()

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def acquire(self) -> ThreadLease:
        if not self._lock.acquire(blocking=False):
            raise ThreadBusy(self.name)
        return ThreadLease(self._lock)


class ThreadLease:
    """Held while one turn of a thread runs; releases on exit."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> ThreadLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class Threads:
    """All threads of one kernel, created on first use."""

    def __init__(self) -> None:
        self._threads: dict[str, Thread] = {}

    def __getitem__(self, name: str) -> Thread:
        if name not in self._threads:
            self._threads[name] = Thread(name)
        return self._threads[name]

    def __contains__(self, name: object) -> bool:
        return name in self._threads

    def __iter__(self) -> Iterator[Thread]:
        return iter(list(self._threads.values()))

    def __len__(self) -> int:
        return len(self._threads)

    def reset_all(self) -> None:
        for thread in self._threads.values():
            thread.reset()

"""Named conversation threads over the server-side ``previous_interaction_id`` chain. No IPython.

A thread is the list of its completed turns; its head is the last turn's interaction id. A turn
carries the Jupyter cell id and the execution it came from. The first turn of a cell execution
rewinds: re-running that cell continues from just before its earlier turns, and on completion those
turns and everything after them are dropped from the thread (they stay on the server, unreferenced).
Later turns of the same execution (two ``%gemini`` lines, a loop) chain after it, so a re-run leaves
the thread as if the cell had run once. Nothing changes until a turn completes, so an interrupted or
failed turn leaves the thread exactly as it was.

Thread settings (system instruction, generation config, tools) are scoped to one interaction by the
API, so the thread keeps them: each turn records the settings it was sent with, and the thread's
settings are its head turn's. A turn starts from the settings of the turn it continues (so a re-run
cell uses the settings as they were for that turn), changes what it was given, and the change sticks
when the turn completes; a reset or ``--new`` clears them with the turns.

Where a turn goes is fixed when it starts, as a :class:`Slot`. A reset bumps the thread's
generation, and a turn started in an earlier generation never joins: a reset always wins, also over
a chat panel turn or a research run that was still running when it happened.

Front ends that show a thread (chat panels) subscribe to it: ``thread.subscribe(listener)`` calls
``listener(thread, change)`` with ``"commit"``, ``"reset"``, ``"busy"`` or ``"idle"``, from whichever
Python thread made the change, after the thread's own state lock is released.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

log = logging.getLogger(__name__)
Listener = Callable[["Thread", str], None]

DEFAULT = "default"  # given for a setting, takes it back to the model's default (``-s ''`` too)


@dataclass(frozen=True)
class ThreadSettings:
    """Interaction-scoped settings a thread re-sends on every turn until they are changed."""

    system: str | None = None
    thinking: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    # the tools every turn is sent with (core/tools.py); None: GeminiMagics.tools, () : none at all
    tools: tuple[dict[str, Any], ...] | None = None

    def updated(self, **given: Any) -> ThreadSettings:
        """These settings with the given ones changed; ``None`` leaves one as it is, ``DEFAULT``
        (or ``''`` for the system instruction) clears it."""
        changes = {}
        for name, value in given.items():
            if value is None:
                continue
            if value == DEFAULT or (name == "system" and value == ""):
                value = _DEFAULTS[name]
            changes[name] = value
        return replace(self, **changes) if changes else self

    def describe(self) -> str:
        """One line for ``status`` and ``history``: what every turn of the thread is sent with."""
        parts = []
        if self.system is not None:
            line = " ".join(self.system.split())
            parts.append(f"system {line if len(line) <= 60 else line[:57] + '…'!r}")
        for name in ("thinking", "temperature", "max_output_tokens"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name.replace('_', '-')} {value}")
        if self.tools is not None:
            from .tools import describe

            parts.append("tools " + (describe(self.tools) or "none"))
        return " · ".join(parts) if parts else "model defaults"

    def __bool__(self) -> bool:
        return self != ThreadSettings()


_DEFAULTS = {f.name: f.default for f in fields(ThreadSettings)}


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
    execution: int | None = None  # which run of its cell made it (turns of one run chain)
    settings: ThreadSettings | None = None  # what it was sent with; None: as the turn it continues
    # the answer's steps (scrubbed; pictures inline, citations) and thoughts, for exports
    steps: list[dict[str, Any]] = field(default_factory=list, repr=False)
    thoughts: str = field(default="", repr=False)
    origin: str = ""  # "live", "offline" or "replayed"

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


_NAME = re.compile(r"\w[\w .+-]*")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a thread (None when it can). Names become ``--save`` file names, so
    nothing that could point outside a folder: no path separators, no leading dot, no drive colon."""
    if not name.strip():
        return "a thread name cannot be empty"
    if not _NAME.fullmatch(name):
        return (
            f"thread name {name!r} is not allowed: it is used in file names, so use letters, digits, "
            "spaces, '.', '-', '_' or '+', starting with a letter or digit (no '/', '\\' or ':')"
        )
    return None


@dataclass(frozen=True)
class Slot:
    """Where a turn joins its thread, fixed when the turn starts."""

    parent_id: str | None
    generation: int
    cell_id: str | None = None
    execution: int | None = None


@dataclass
class Thread:
    name: str
    turns: list[Turn] = field(default_factory=list)
    generation: int = 0  # bumped by every reset; a turn from an older generation never joins
    server: str | None = None  # where its interactions are stored (the base URL its turns went to)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _state: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    _listeners: list[Listener] = field(default_factory=list, repr=False, compare=False)

    @property
    def head(self) -> str | None:
        turns = self.turns
        return turns[-1].interaction_id if turns else None

    @property
    def settings(self) -> ThreadSettings:
        """The settings the next turn at the head is sent with (those of the head turn)."""
        return self.settings_after(self.head)

    def settings_after(self, interaction_id: str | None) -> ThreadSettings:
        """The settings in force after turn ``interaction_id`` (none: the model's defaults)."""
        turn = self.turn(interaction_id)
        return turn.settings if turn is not None and turn.settings is not None else ThreadSettings()

    def _position_of(self, cell_id: str | None) -> int | None:
        if cell_id is None:
            return None
        for position, turn in enumerate(self.turns):
            if turn.cell_id == cell_id:
                return position
        return None

    def _chains(self, cell_id: str | None, execution: int | None) -> bool:
        """True when this cell execution already has a turn here: the next one chains after it."""
        return cell_id is not None and any(
            t.cell_id == cell_id and t.execution == execution for t in self.turns
        )

    def parent_for(self, cell_id: str | None, execution: int | None = None) -> str | None:
        """The interaction a new turn from ``cell_id`` (in run ``execution``) continues from."""
        with self._state:
            position = None if self._chains(cell_id, execution) else self._position_of(cell_id)
            if position is None:
                return self.head
            return self.turns[position - 1].interaction_id if position > 0 else None

    def slot(self, cell_id: str | None = None, execution: int | None = None) -> Slot:
        """Where a turn starting now joins: its parent, this generation, and its cell."""
        with self._state:
            return Slot(self.parent_for(cell_id, execution), self.generation, cell_id, execution)

    def turn(self, interaction_id: str | None) -> Turn | None:
        return next((t for t in self.turns if t.interaction_id == interaction_id), None)

    def commit(self, turn: Turn, generation: int | None = None) -> bool:
        """Record a completed turn, dropping the turns it replaces (same cell) and all after them.

        False, and nothing changes, when the thread was reset since the turn started (``generation``
        is the one its :class:`Slot` saw): the reset wins.
        """
        with self._state:
            if generation is not None and generation != self.generation:
                return False
            turns = list(self.turns)
            if not self._chains(turn.cell_id, turn.execution):
                position = self._position_of(turn.cell_id)
                if position is not None:
                    del turns[position:]
            if (turns[-1].interaction_id if turns else None) != turn.parent_id:
                # the thread moved on while this turn ran: keep only what it continues
                ids = [t.interaction_id for t in turns]
                del turns[ids.index(turn.parent_id) + 1 if turn.parent_id in ids else 0 :]
            if turn.settings is None:  # e.g. a research report: it keeps the settings it continues
                parent = next((t for t in turns if t.interaction_id == turn.parent_id), None)
                turn.settings = parent.settings if parent is not None else None
            turns.append(turn)
            self.turns = turns  # one assignment: readers on other threads see before or after
        self._notify("commit")
        return True

    def reset(self) -> None:
        """Start over. A turn still running on this thread will not join it when it completes."""
        with self._state:
            self.turns = []
            self.generation += 1
        self._notify("reset")

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def acquire(self) -> ThreadLease:
        if not self._lock.acquire(blocking=False):
            raise ThreadBusy(self.name)
        self._notify("busy")
        return ThreadLease(self._lock, lambda: self._notify("idle"))

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(thread, change)`` on every change; returns the function that unsubscribes."""
        with self._state:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._state:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, change: str) -> None:
        with self._state:
            listeners = list(self._listeners)
        for listener in listeners:  # outside the lock: a listener may read the thread or start a turn
            try:
                listener(self, change)
            except Exception:  # a broken front end must not break the turn that changed the thread
                log.exception("thread %r: a listener failed on %s", self.name, change)


class ThreadLease:
    """Held while one turn of a thread runs; releases on exit, then calls ``on_release``."""

    def __init__(self, lock: threading.Lock, on_release: Callable[[], None] | None = None) -> None:
        self._lock = lock
        self._on_release = on_release

    def __enter__(self) -> ThreadLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        if self._on_release is not None:
            self._on_release()


class Threads:
    """All threads of one kernel, created on first use."""

    def __init__(self) -> None:
        self._threads: dict[str, Thread] = {}

    def __getitem__(self, name: str) -> Thread:
        if name not in self._threads:
            self._threads[name] = Thread(name)
        return self._threads[name]

    def get(self, name: str) -> Thread | None:
        return self._threads.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._threads)

    def __contains__(self, name: object) -> bool:
        return name in self._threads

    def __iter__(self) -> Iterator[Thread]:
        return iter(list(self._threads.values()))

    def __len__(self) -> int:
        return len(self._threads)

    def reset_all(self) -> None:
        for thread in self._threads.values():
            thread.reset()

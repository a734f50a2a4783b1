"""One base for work that streams in the background: chat panels' turns, research runs, batches.

A :class:`BackgroundStream` owns a worker thread with its own event loop (the kernel's loop is busy
running cells, and nest_asyncio would let a panel's stream re-enter a cell's), the lease on the
conversation thread it writes to, cancellation from any thread (the task is cancelled on its loop,
which interrupts even a read that waits on a silent server), and the ``done``/``settled`` events and
listeners that front ends wait on. Subclasses say what to run (:meth:`_run`) and how to settle the
outcome (:meth:`_settle`). No IPython imports.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from .threads import Thread

if TYPE_CHECKING:
    import asyncio


class BackgroundStream:
    """A coroutine on its own worker thread and event loop, stoppable from any thread.

    Lifecycle: :meth:`start` takes the lease on ``lease_on`` (raising ``ThreadBusy`` at once when the
    thread has a turn running) and starts the worker; the worker runs :meth:`_run`, hands its outcome
    to :meth:`_settle` (``None``, or the exception that ended it: ``asyncio.CancelledError`` after
    :meth:`interrupt`), releases the lease, sets :attr:`done`, tells every listener, then sets the
    *settled* event (:meth:`wait_settled`), so a waiter knows the listeners have seen the end.
    """

    def __init__(self, lease_on: Thread | None, *, name: str) -> None:
        self.lease_on = lease_on
        self.interrupted = False  # interrupt() was called
        self._lease: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._settled = threading.Event()  # done, and every listener has seen it
        self._listeners: list[Callable[[Self], None]] = []
        self._worker = threading.Thread(target=self._main, name=name, daemon=True)

    # -- the handle ------------------------------------------------------------------------------
    def start(self) -> Self:
        if self.lease_on is not None:
            self._lease = self.lease_on.acquire()
        self._worker.start()
        return self

    @property
    def running(self) -> bool:
        return self._worker.is_alive()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end; True when it has."""
        self._worker.join(timeout)
        return not self._worker.is_alive()

    def wait_for_end(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True once the run has ended (listeners may still be told)."""
        return self._done.wait(timeout)

    def wait_settled(self, timeout: float | None = None) -> bool:
        """Block until the run ended and every listener has been told; True when it has."""
        return self._settled.wait(timeout)

    def subscribe(self, listener: Callable[[Self], None]) -> None:
        """Call ``listener(self)`` on the worker after each change a subclass announces, and at the end."""
        self._listeners.append(listener)

    def interrupt(self) -> None:
        """Cancel the task now, from any thread; a read waiting on the network ends at once."""
        with self._lock:
            self.interrupted = True
            if self._loop is not None and self._task is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)

    # -- for subclasses ---------------------------------------------------------------------------
    async def _run(self) -> None:
        raise NotImplementedError

    def _settle(self, error: BaseException | None) -> None:
        """Record the outcome (on the worker, before the lease is released and listeners are told)."""

    def _notify(self: Self) -> None:
        for listener in list(self._listeners):
            listener(self)

    # -- the worker -------------------------------------------------------------------------------
    def _main(self) -> None:
        error: BaseException | None = None
        try:
            import asyncio  # here, not at import: loading the extension must stay cheap

            asyncio.run(self._guarded())
        except BaseException as exc:  # noqa: BLE001 - handed to _settle, never lost
            error = exc
        try:
            self._settle(error)
        finally:
            if self._lease is not None:
                self._lease.__exit__(None, None, None)
            self._done.set()
        try:
            self._notify()
        finally:
            self._settled.set()

    async def _guarded(self) -> None:
        import asyncio

        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            if self.interrupted:  # interrupted before the loop existed
                raise asyncio.CancelledError
        try:
            await self._run()
        finally:
            with self._lock:  # the loop closes after this: interrupt() must not call into it then
                self._loop = self._task = None

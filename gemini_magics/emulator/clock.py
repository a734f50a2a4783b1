"""The emulator's sense of time: what paces streams and background runs, and how long stalls last.

Everything the emulator *waits for* (the ``delay`` between a reply's events, a ``stall_seconds``
pause, a simulated Deep Research run spread over ``duration`` seconds) is measured on its clock:

* :class:`WallClock` (the default) is real time, optionally sped up: ``WallClock(speed=20)`` plays a
  minute-long research run in three seconds. Offline mode and the standalone server use real time.
* :class:`StepClock` stands still until a test moves it: ``emu.clock.advance(5)`` releases every
  event due within the next five emulated seconds, so a long simulation runs as fast as the client
  can read it and each intermediate state can be looked at, deterministically.

A paced run schedules each event at an absolute time on the clock (start + n × delay), so advancing a
step clock by the whole duration releases the whole run, and a wall clock does not drift.
"""

from __future__ import annotations

import threading
import time

_EPSILON = 1e-9  # start + n × (duration / n) may land a hair after start + duration


class Clock:
    """What the emulator asks of a clock: the time, and a way to wait until a time or a stop."""

    def now(self) -> float:
        raise NotImplementedError

    def wait_until(self, deadline: float, *stops: threading.Event) -> bool:
        """Block until the clock reads ``deadline`` or one of ``stops`` is set; True if one is set.

        Whoever sets one of the events calls :meth:`wake` too.
        """
        raise NotImplementedError

    def wake(self) -> None:
        """Wake every waiter so it looks at its stop events again."""


class WallClock(Clock):
    """Real time, ``speed`` times faster (``speed=1``: the real pace)."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed

    def now(self) -> float:
        return time.monotonic() * self.speed

    def wait_until(self, deadline: float, *stops: threading.Event) -> bool:
        if len(stops) == 1:
            return stops[0].wait(max(0.0, (deadline - self.now()) / self.speed))
        while not any(stop.is_set() for stop in stops):
            left = (deadline - self.now()) / self.speed
            if left <= 0:
                return False
            stops[0].wait(min(left, 0.02))
        return True

    def __repr__(self) -> str:
        return f"WallClock(speed={self.speed:g})"


class StepClock(Clock):
    """A clock that only moves when told to: :meth:`advance` (step mode, for tests).

    ``waiting`` counts the emulator threads parked on a time still ahead; after an ``advance`` it
    drops while they catch up and comes back once they are parked again, so a test waits for it
    (``wait_for(lambda: clock.waiting == 1)``) before it looks at what the step released.
    """

    def __init__(self) -> None:
        self._now = 0.0
        self._deadlines: list[float] = []
        self._cond = threading.Condition()

    def now(self) -> float:
        with self._cond:
            return self._now

    @property
    def waiting(self) -> int:
        with self._cond:
            return sum(deadline > self._now + _EPSILON for deadline in self._deadlines)

    @property
    def waiters(self) -> int:
        """Threads inside :meth:`wait_until`, including those whose time has come but that have
        not woken yet (0: every thread that waited has moved on)."""
        with self._cond:
            return len(self._deadlines)

    def advance(self, seconds: float) -> None:
        """Move the clock forward; every wait due by then ends."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._cond:
            self._now += seconds
            self._cond.notify_all()

    def wait_until(self, deadline: float, *stops: threading.Event) -> bool:
        with self._cond:
            self._deadlines.append(deadline)
            try:
                while self._now + _EPSILON < deadline and not any(stop.is_set() for stop in stops):
                    self._cond.wait(0.05)  # wake() makes this prompt; the bound covers a missed one
            finally:
                self._deadlines.remove(deadline)
        return any(stop.is_set() for stop in stops)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def __repr__(self) -> str:
        return f"StepClock(now={self.now():g}, waiting={self.waiting})"

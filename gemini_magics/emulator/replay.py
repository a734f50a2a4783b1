"""Answering from a cassette: the emulator's replay responder.

``Emulator(player=Player(cassette.load(path), strict=False, speed=0.0))`` answers each create request
whose key (thread position + request hash, see :mod:`.cassette`) was recorded with the recorded
response, byte for byte as JSON; streams send the recorded events, each at its recorded time ×
``speed`` (1: the original pacing, 0: at once). ``GET`` (plain, or a stream resumed after
``last_event_id``) and ``cancel`` of a recorded interaction are answered from what was recorded about
it. A create that was not recorded goes to the offline responder, or with ``strict=True`` gets a 404
whose code is ``recording_not_found``.
"""

from __future__ import annotations

import copy
import threading
from typing import TYPE_CHECKING, Any

from .cassette import Cassette, Exchange
from .script import ApiError

if TYPE_CHECKING:
    from .server import _Handler

MISSING_CODE = "recording_not_found"


class Player:
    """Serves one loaded cassette; shared by the emulator's request threads."""

    def __init__(self, cassette: Cassette, *, strict: bool = False, speed: float = 0.0) -> None:
        if speed < 0:
            raise ValueError("speed must be 0 or more")
        self.cassette = cassette
        self.strict = strict
        self.speed = speed
        self._lock = threading.Lock()
        self._served: dict[tuple[int, str], int] = {}
        self._started: dict[str, float] = {}  # interaction id -> when its replay began (emulator clock)

    def miss_message(self, body: dict[str, Any]) -> str:
        position = self.cassette.position_after(body.get("previous_interaction_id"))
        where = f"turn {position + 1}" if position is not None else "a turn continuing an unrecorded answer"
        return f"no recording of this prompt in {self.cassette.name} ({where})"

    # -- create --------------------------------------------------------------------------------
    def create(self, handler: _Handler, body: dict[str, Any]) -> dict[str, Any] | None:
        """Answer ``body`` from the cassette (returns None), or return the body the offline responder
        should answer instead (without a recorded parent it would not know); strict: a 404."""
        exchange = self._take(body)
        if exchange is None:
            if self.strict:
                raise ApiError(404, MISSING_CODE, self.miss_message(body))
            parent = body.get("previous_interaction_id")
            if parent is not None and parent in self.cassette.creates:
                body = {k: v for k, v in body.items() if k != "previous_interaction_id"}
            return body
        made = exchange.interaction_id
        started = handler.emulator.clock.now()
        if made:
            with self._lock:
                self._started[made] = started
        self._send(handler, exchange, started)
        return None

    def _take(self, body: dict[str, Any]) -> Exchange | None:
        key = self.cassette.key(body)
        if key is None:
            return None
        candidates = [e for e in self.cassette.by_key.get(key, []) if e.status is not None]
        if not candidates:
            return None
        with self._lock:
            served = self._served.get(key, 0)
            self._served[key] = served + 1
        return candidates[min(served, len(candidates) - 1)]

    # -- get, cancel, delete -------------------------------------------------------------------
    def answers(self, handler: _Handler, action: str, interaction_id: str, query: dict[str, str]) -> bool:
        """Answer a request about a recorded interaction; False when it is not one (the store answers)."""
        creator = self.cassette.creates.get(interaction_id)
        if creator is None:
            return False
        if action == "delete":
            handler._send_json(200, {})
        elif action == "cancel":
            handler._send_interaction(self._cancelled(interaction_id, creator))
        elif query.get("stream") == "true":
            self._resume(handler, interaction_id, creator, query.get("last_event_id"))
        else:
            handler._send_interaction(self._snapshot(handler, interaction_id, creator))
        return True

    def _began(self, handler: _Handler, interaction_id: str) -> float:
        with self._lock:
            return self._started.setdefault(interaction_id, handler.emulator.clock.now())

    def _log(self, interaction_id: str, creator: Exchange) -> list[tuple[float, Any]]:
        """Every event recorded for the interaction (its create stream, then resumed streams), each
        with its time since the create; an event seen twice (by event_id) is kept once."""
        log: list[tuple[float, Any]] = []
        seen: set[str] = set()
        sources = [creator, *self.cassette.exchanges_about(interaction_id, "get")]
        for exchange in sources:
            if not exchange.streamed or exchange.status != 200:
                continue
            for offset, data in exchange.events:
                event_id = data.get("event_id") if isinstance(data, dict) else None
                if event_id is not None:
                    if event_id in seen:
                        continue
                    seen.add(event_id)
                log.append((exchange.at - creator.at + offset, data))
        return log

    def _resume(self, handler: _Handler, interaction_id: str, creator: Exchange, after: str | None) -> None:
        log = self._log(interaction_id, creator)
        ids = [data.get("event_id") if isinstance(data, dict) else None for _, data in log]
        start = ids.index(after) + 1 if after is not None and after in ids else 0
        handler._stream(self._paced(handler, log[start:], self._began(handler, interaction_id)))

    def _snapshot(self, handler: _Handler, interaction_id: str, creator: Exchange) -> Any:
        """The latest recorded plain GET of the interaction that had happened by now at this speed."""
        gets = [
            e
            for e in self.cassette.exchanges_about(interaction_id, "get")
            if not e.streamed and e.status == 200 and isinstance(e.response, dict)
        ]
        if not gets:
            raise ApiError(
                404, MISSING_CODE, f"{self.cassette.name} has no recorded state of {interaction_id}"
            )
        elapsed = handler.emulator.clock.now() - self._began(handler, interaction_id)
        due = [e for e in gets if self.speed == 0 or (e.at - creator.at) * self.speed <= elapsed]
        return copy.deepcopy((due or gets[:1])[-1].response)

    def _cancelled(self, interaction_id: str, creator: Exchange) -> Any:
        recorded = [e for e in self.cassette.exchanges_about(interaction_id, "cancel") if e.status == 200]
        if recorded:
            return copy.deepcopy(recorded[-1].response)
        known = [
            e.response
            for e in [creator, *self.cassette.exchanges_about(interaction_id, "get")]
            if isinstance(e.response, dict)
        ]
        known += [
            data["interaction"]
            for _, data in creator.events
            if isinstance(data, dict)
            and isinstance(data.get("interaction"), dict)
            and data["interaction"].get("id")
        ]
        if not known:
            raise ApiError(404, "not_found", f"Interaction {interaction_id} not found.")
        return {**copy.deepcopy(known[0]), "status": "cancelled"}

    # -- sending -------------------------------------------------------------------------------
    def _send(self, handler: _Handler, exchange: Exchange, started: float) -> None:
        status = exchange.status or 500
        if status != 200:
            handler._send_json(status, exchange.response if exchange.response is not None else {})
        elif exchange.streamed:
            handler._stream(self._paced(handler, exchange.events, started))
        else:
            handler._send_interaction(copy.deepcopy(exchange.response))

    def _paced(self, handler: _Handler, events: list[tuple[float, Any]], started: float) -> Any:
        """The events, each released at ``started`` + its recorded time × speed (None if stopping)."""
        emulator = handler.emulator
        for offset, data in events:
            if self.speed > 0 and emulator._stall_until(started + offset * self.speed):
                return
            yield data

"""Stored interactions: the previous_interaction_id chain, runs, cancel and replayable event logs.

Every interaction, streamed or not, gets the same treatment: at create time its whole event
sequence is *planned*; a run then *publishes* the planned events one by one into the
interaction's log (paced by the reply's ``delay`` for streams and background runs, at full
speed for plain unary calls). SSE responses never write planned events directly, they
follow the log. That single mechanism gives resume-after-drop, background polling, live
following of a background run and cancellation for free.
"""

from __future__ import annotations

import itertools
import math
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .clock import Clock
from .script import STEP_TYPES, ApiError, Json, Reply

ECHOED_REQUEST_FIELDS = (
    "previous_interaction_id",
    "system_instruction",
    "generation_config",
    "agent_config",
    "tools",
    "response_format",
    "webhook_config",
    "service_tier",
    "safety_settings",
    "labels",
)
_MEDIA_TYPES = frozenset({"image", "audio", "video", "document"})
_TOKENS_PER_MEDIA_BLOCK = 258
_UNCOUNTED_KEYS = frozenset({"type", "signature", "mime_type", "id", "call_id", "resolution"})


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_interaction_id() -> str:
    return "v1_" + secrets.token_urlsafe(24)


def input_steps(raw_input: Any) -> list[Json]:
    """The timeline steps a create request's ``input`` stands for.

    A string or a content block becomes one ``user_input`` step; a list keeps its steps and
    wraps each run of bare content blocks into a ``user_input`` step.
    """
    if raw_input is None:
        return []
    if isinstance(raw_input, str):
        return [{"type": "user_input", "content": [{"type": "text", "text": raw_input}]}]
    items = raw_input if isinstance(raw_input, list) else [raw_input]
    steps: list[Json] = []
    for is_step, group in itertools.groupby(items, key=lambda item: item.get("type") in STEP_TYPES):
        if is_step:
            steps.extend(group)
        else:
            steps.append({"type": "user_input", "content": list(group)})
    return steps


def count_tokens(value: Any) -> int:
    """A deterministic stand-in for tokenisation: ~4 characters a token, flat rate for media."""
    if isinstance(value, str):
        return math.ceil(len(value) / 4)
    if isinstance(value, list):
        return sum(count_tokens(item) for item in value)
    if isinstance(value, dict):
        if value.get("type") in _MEDIA_TYPES and ("data" in value or "uri" in value):
            return _TOKENS_PER_MEDIA_BLOCK
        return sum(count_tokens(v) for k, v in value.items() if k not in _UNCOUNTED_KEYS)
    return 0 if value is None else 1


@dataclass(eq=False)
class StoredInteraction:
    id: str
    request: Json
    reply: Reply
    input_steps: list[Json]
    parent_id: str | None
    history_tokens: int
    created: str
    updated: str
    status: str = "in_progress"
    planned: list[Json] = field(default_factory=list)
    log: list[Json] = field(default_factory=list)
    steps_done: int = 0
    errors: list[Json] = field(default_factory=list)
    finished: bool = False
    removed: bool = False
    delivery_faults_pending: bool = False

    @property
    def actor(self) -> tuple[str, str]:
        """("model", id) or ("agent", id): whichever the request named."""
        if "agent" in self.request:
            return "agent", self.request["agent"]
        return "model", self.request["model"]


class InteractionStore:
    """Thread-safe home of all stored interactions; one condition guards them all."""

    def __init__(
        self, stopping: threading.Event, on_event: Callable[[Json], None], clock: Callable[[], Clock]
    ) -> None:
        self._stopping = stopping
        self._clock = clock
        self._on_event = on_event
        self._cond = threading.Condition()
        self._records: dict[str, StoredInteraction] = {}
        self._workers: list[threading.Thread] = []

    # -- lookup -------------------------------------------------------------------------

    def get(self, interaction_id: str) -> StoredInteraction:
        with self._cond:
            record = self._records.get(interaction_id)
        if record is None:
            raise ApiError(404, "not_found", f"Interaction {interaction_id} not found.")
        return record

    def chain_length(self, interaction_id: str | None) -> int:
        """How many stored interactions the previous_interaction_id chain has, this one included."""
        length = 0
        with self._cond:
            while interaction_id in self._records and length <= len(self._records):
                length += 1
                interaction_id = self._records[interaction_id].parent_id
        return length

    def chain_steps(self, interaction_id: str | None) -> list[Json]:
        """The timeline of the chain ending at ``interaction_id``, oldest step first.

        Each stored interaction contributes its input steps and the steps generated so far.
        """
        records: list[StoredInteraction] = []
        with self._cond:
            while interaction_id in self._records and len(records) <= len(self._records):
                record = self._records[interaction_id]
                records.append(record)
                interaction_id = record.parent_id
            return [
                step
                for record in reversed(records)
                for step in (*record.input_steps, *record.reply.steps[: record.steps_done])
            ]

    # -- lifecycle ----------------------------------------------------------------------

    def create(self, request: Json, reply: Reply) -> StoredInteraction:
        parent_id = request.get("previous_interaction_id")
        history_tokens = 0
        if parent_id is not None:
            usage = self._usage(self.get(parent_id))
            history_tokens = usage["total_input_tokens"] + usage["total_output_tokens"]
        now = utc_now()
        record = StoredInteraction(
            id=new_interaction_id(),
            request=request,
            reply=reply,
            input_steps=input_steps(request.get("input")),
            parent_id=parent_id,
            history_tokens=history_tokens,
            created=now,
            updated=now,
            delivery_faults_pending=reply.has_delivery_faults,
        )
        record.planned = self._plan(record)
        with self._cond:
            self._records[record.id] = record
        return record

    def run_now(self, record: StoredInteraction) -> None:
        """Publish every planned event at once (a plain unary create)."""
        self._run(record, paced=False)

    def start_run(self, record: StoredInteraction) -> None:
        """Publish the planned events from a worker thread, paced by the reply's delay."""
        worker = threading.Thread(
            target=self._run,
            args=(record, True),
            name=f"gemini-emulator-run-{record.id[:12]}",
            daemon=True,
        )
        with self._cond:
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
        worker.start()

    def cancel(self, interaction_id: str) -> StoredInteraction:
        """Stop a running interaction; a finished one is left as it is."""
        record = self.get(interaction_id)
        with self._cond:
            if not record.finished:
                self._publish(
                    record,
                    {
                        "event_type": "interaction.status_update",
                        "interaction_id": record.id,
                        "status": "cancelled",
                    },
                )
                self._publish(record, _completed_template("cancelled"))
        return record

    def delete(self, interaction_id: str) -> None:
        record = self.get(interaction_id)
        with self._cond:
            record.removed = True
            self._records.pop(record.id, None)
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            for record in self._records.values():
                record.removed = True
            self._records.clear()
            self._cond.notify_all()

    def close(self, timeout: float = 2.0) -> None:
        """Wake every follower and worker (``stopping`` is already set) and wait for workers."""
        with self._cond:
            self._cond.notify_all()
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.join(timeout)

    # -- reading ------------------------------------------------------------------------

    def snapshot(self, record: StoredInteraction, *, timeline: bool, include_input: bool = False) -> Json:
        """The Interaction JSON: generated steps only (create) or the full timeline (get)."""
        with self._cond:
            generated = record.reply.steps[: record.steps_done]
            body: Json = self._summary(record)
            body["steps"] = [*record.input_steps, *generated] if timeline else list(generated)
            for name in ECHOED_REQUEST_FIELDS:
                if name in record.request:
                    body[name] = record.request[name]
            if record.errors:
                body["errors"] = list(record.errors)
            if include_input and "input" in record.request:
                body["input"] = record.request["input"]
        return body

    def position_after(self, record: StoredInteraction, last_event_id: str | None) -> int:
        """Index in the log just after ``last_event_id`` (0 = replay from the beginning).

        The reply's ``resume_from`` can make it replay the named event too (``"at"``), or ignore
        the id and replay everything (``"start"``), as servers that do not honour it would.
        """
        if not last_event_id:
            return 0
        with self._cond:
            for position, event in enumerate(record.log):
                if event["event_id"] == last_event_id:
                    resume_from = record.reply.resume_from
                    return {"after": position + 1, "at": position}.get(resume_from, 0)
        raise ApiError(
            400, "invalid_request", f"last_event_id {last_event_id!r} is not an event of {record.id}."
        )

    def follow(self, record: StoredInteraction, position: int) -> Iterator[list[Json]]:
        """Yield batches of logged events from ``position`` on, live, until the run ends."""
        while True:
            with self._cond:
                while position >= len(record.log) and not self._is_over(record):
                    self._cond.wait(timeout=1.0)
                batch = record.log[position:]
                over = self._is_over(record)
            if batch:
                position += len(batch)
                yield batch
            elif over:
                return

    def take_delivery_faults(self, record: StoredInteraction) -> Reply | None:
        """The reply whose drop/stall options apply: the first SSE delivery, or all with repeat_faults."""
        with self._cond:
            pending, record.delivery_faults_pending = record.delivery_faults_pending, False
        repeat = record.reply.repeat_faults and record.reply.has_delivery_faults
        return record.reply if pending or repeat else None

    # -- internals ----------------------------------------------------------------------

    def _is_over(self, record: StoredInteraction) -> bool:
        return record.finished or record.removed or self._stopping.is_set()

    def _plan(self, record: StoredInteraction) -> list[Json]:
        actor_key, actor = record.actor
        reply = record.reply
        created = {
            "id": record.id,
            "object": "interaction",
            "status": "in_progress",
            actor_key: actor,
            "created": record.created,
            "updated": record.updated,
        }
        events: list[Json] = [
            {"event_type": "interaction.created", "interaction": created},
            {
                "event_type": "interaction.status_update",
                "interaction_id": record.id,
                "status": "in_progress",
            },
            *reply.step_events(),
            _completed_template(reply.status),
        ]
        if reply.error_after is not None:
            error = {"code": reply.error_code, "message": reply.error_message}
            events = [*events[: min(reply.error_after, len(events) - 1)]]
            events.append({"event_type": "error", "error": error})
        return events

    def _run(self, record: StoredInteraction, paced: bool) -> None:
        delay = record.reply.delay if paced else 0.0
        if delay <= 0:
            # One lock hold for the whole run: publishing event by event would make every
            # follower wake (and fight for the lock) once per event, which is very slow.
            with self._cond:
                for event in record.planned:
                    if self._is_over(record):
                        return
                    self._publish(record, event)
            return
        clock = self._clock()
        start = clock.now()  # each event is due at start + position × delay, on the emulator's clock
        for position, event in enumerate(record.planned):
            if position and clock.wait_until(start + position * delay, self._stopping):
                return
            with self._cond:
                if self._is_over(record):
                    return
                self._publish(record, event)

    def _publish(self, record: StoredInteraction, template: Json) -> None:
        """Append one event to the log (caller holds the lock) and update the record."""
        event_type = template["event_type"]
        record.updated = utc_now()
        if event_type == "step.stop":
            record.steps_done = max(record.steps_done, template["index"] + 1)
        elif event_type == "error":
            record.status, record.errors, record.finished = "failed", [template["error"]], True
        elif event_type == "interaction.completed":
            record.status, record.finished = template["interaction"]["status"], True
            template = {**template, "interaction": self._summary(record)}
        event = {"event_type": event_type, "event_id": f"{record.id}:{len(record.log) + 1}"}
        event.update((key, value) for key, value in template.items() if key != "event_type")
        self._on_event(event)
        record.log.append(event)
        self._cond.notify_all()

    def _summary(self, record: StoredInteraction) -> Json:
        """The fields every Interaction JSON carries (a completed event's summary has just these)."""
        actor_key, actor = record.actor
        return {
            "id": record.id,
            "object": "interaction",
            "status": record.status,
            actor_key: actor,
            "created": record.created,
            "updated": record.updated,
            "usage": self._usage(record),
        }

    def _usage(self, record: StoredInteraction) -> Json:
        input_tokens = (
            record.history_tokens
            + count_tokens(record.input_steps)
            + count_tokens(record.request.get("system_instruction"))
        )
        generated = record.reply.steps[: record.steps_done]
        thought_tokens = sum(count_tokens(s) for s in generated if s["type"] == "thought")
        output_tokens = sum(count_tokens(s) for s in generated if s["type"] != "thought")
        usage: Json = {
            "total_input_tokens": input_tokens,
            "total_output_tokens": output_tokens,
            "total_thought_tokens": thought_tokens,
            "total_cached_tokens": 0,
            "total_tool_use_tokens": 0,
            "total_tokens": input_tokens + output_tokens + thought_tokens,
            "input_tokens_by_modality": [{"modality": "text", "tokens": input_tokens}],
        }
        usage.update(record.reply.usage or {})
        return usage


def _completed_template(status: str) -> Json:
    return {"event_type": "interaction.completed", "interaction": {"status": status}}

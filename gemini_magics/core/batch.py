"""One prompt over many rows (``--map``): bounded concurrency, shared back-off, resume. No display.

:func:`inputs_of` turns what the user maps over (a list, tuple, dict, pandas Series or DataFrame,
or a glob of files) into rows; :func:`prepare_batch` prepares one turn per row through
:meth:`Session.prepare` with all the cell's options (``{{item}}`` filled per row), skipping rows the
session already answered for the same request; :class:`BatchRun` sends them on a worker's event loop
through the async client, at most ``concurrency`` at once. A 429 or 5xx seen by any row holds back
every row's next request for the wait the server asked for (:class:`BackoffGate`); a row fails only
once its retries are spent, and keeps its error. The token budget is checked before each row is sent:
once the kernel has used it, the rows not yet sent fail with the budget's message (rows in flight
finish; ``BatchRun.budget_refused`` counts the refused rows). Rows are off every thread unless
``thread_per_item``: each row then continues its own thread, ``<thread>-<i>``.

    result = batch("Label this review: {{item}}", reviews, concurrency=8)
    result.texts, result.errors, result.to_pandas()
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import glob
import hashlib
import json
import os
import time
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import events as ev
from .background import BackgroundStream
from .errors import GeminiError, GeminiSchemaError, InputError, is_cancellation
from .request import build_request
from .results import GeminiResult
from .threads import ThreadBusy
from .turns import AsyncTurn, TurnRecorder, commit
from .usage import budget_problem

if TYPE_CHECKING:
    from .session import PreparedTurn, Session, TurnRequest

DEFAULT_AS = "item"
KEPT_ANSWERS = 10_000  # answers a session keeps for re-runs; the oldest go first
PREVIEW_ROWS = 5
SETTLE_TIMEOUT = 10.0  # seconds to wait for rows in flight to wind down after a stop


class Entry(NamedTuple):
    """One item of a mapped dict: ``{{item}}`` reads ``key: value``; ``{{item.key}}``, ``{{item.value}}``."""

    key: Any
    value: Any

    def __str__(self) -> str:
        return f"{self.key}: {self.value}"


@dataclass
class Inputs:
    """The rows of a batch: what ``{{item}}`` is, the input's columns for ``to_pandas``, files to attach."""

    items: list[Any]
    columns: list[dict[str, Any]]
    files: list[str | None]
    index: list[Any] | None = None  # a Series' or DataFrame's own index

    def __len__(self) -> int:
        return len(self.items)


def inputs_of(value: Any, *, what: str = "the items", as_name: str = DEFAULT_AS) -> Inputs:
    """The rows of ``value``; a str or Path is a glob of files (each row attaches one file)."""
    if isinstance(value, str | os.PathLike):
        pattern = os.path.expanduser(os.fspath(value))
        paths = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not paths:
            raise InputError(f"{what}: no files match {pattern!r}; check the pattern, e.g. 'data/*.pdf'")
        return Inputs(list(paths), [{"path": p} for p in paths], list(paths))
    module = type(value).__module__
    if module.startswith("pandas") and hasattr(value, "iterrows"):
        rows = [row for _, row in value.iterrows()]
        return _checked(
            Inputs(rows, [dict(row) for row in rows], [None] * len(rows), list(value.index)), what
        )
    if module.startswith("pandas") and hasattr(value, "items") and hasattr(value, "index"):
        name = value.name if value.name is not None else as_name
        values = list(value)
        return _checked(
            Inputs(values, [{name: v} for v in values], [None] * len(values), list(value.index)), what
        )
    if isinstance(value, Mapping):
        entries = [Entry(k, v) for k, v in value.items()]
        return _checked(
            Inputs(list(entries), [{"key": k, "value": v} for k, v in entries], [None] * len(entries)), what
        )
    if isinstance(value, bytes | bytearray) or not isinstance(value, Iterable):
        raise InputError(
            f"{what} is a {type(value).__name__}; map over a list, tuple, dict, pandas Series or "
            "DataFrame, or a glob of files such as 'data/*.pdf'"
        )
    items = list(value)
    columns = [dict(item) if isinstance(item, Mapping) else {as_name: item} for item in items]
    return _checked(Inputs(items, columns, [None] * len(items)), what)


def _checked(inputs: Inputs, what: str) -> Inputs:
    if not inputs.items:
        raise InputError(f"{what} is empty: there is nothing to send")
    return inputs


@dataclass
class BatchResult:
    """The outcome of a batch, aligned with its input: one entry per row.

    ``statuses`` are ``completed``, ``failed``, ``cancelled`` (stopped before it finished) or
    ``pending`` (not finished yet); ``errors`` hold a failed row's message.
    """

    prompt: str
    inputs: Inputs = field(repr=False)
    results: list[GeminiResult | None] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)
    reused: int = 0  # rows answered by an earlier run of the same request, not sent again

    def __post_init__(self) -> None:
        rows = len(self.inputs)
        self.results = self.results or [None] * rows
        self.statuses = self.statuses or ["pending"] * rows
        self.errors = self.errors or [None] * rows

    def __len__(self) -> int:
        return len(self.results)

    def count(self, status: str) -> int:
        return self.statuses.count(status)

    @property
    def texts(self) -> list[str | None]:
        """Each row's answer (None for a row without one)."""
        return [r.text if r is not None else None for r in self.answered]

    @property
    def answered(self) -> list[GeminiResult | None]:
        """Each row's result if it completed, else None."""
        return [r if s == "completed" else None for r, s in zip(self.results, self.statuses, strict=True)]

    @property
    def parsed(self) -> list[Any]:
        """Each row's structured answer (with a schema; None without one)."""
        return [r.parsed if r is not None else None for r in self.answered]

    @property
    def usage(self) -> dict[str, int]:
        """Token counts summed over the rows."""
        total: dict[str, int] = {}
        for result in self.results:
            for key, value in (result.usage if result is not None else {}).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    total[key] = total.get(key, 0) + value
        return total

    def summary(self) -> str:
        counts = [
            f"{self.count(s)} {s}" for s in ("completed", "failed", "cancelled", "pending") if self.count(s)
        ]
        reused = f" ({self.reused} from an earlier run)" if self.reused else ""
        return f"{len(self)} rows: {', '.join(counts)}{reused}"

    def preview_table(self, limit: int = PREVIEW_ROWS) -> tuple[list[str], list[list[str]]]:
        """The header and the first ``limit`` rows, shortened, for a table: row, input, status, then
        the answer. A structured answer gives one column per field (as in :meth:`to_pandas`), with an
        ``error`` column when a row failed; otherwise one ``answer`` column holds the text or error."""
        shown = range(min(limit, len(self)))
        fields = {i: _fields(self.parsed[i]) for i in shown}
        names = list(dict.fromkeys(name for i in shown for name in fields[i]))
        failed = any(self.statuses[i] == "failed" for i in shown)
        header = ["row", "input", "status", *(names + (["error"] if failed else []) if names else ["answer"])]
        rows = []
        for i in shown:
            row = [str(i), _short(str(self.inputs.items[i])), self.statuses[i]]
            error = self.errors[i] if self.statuses[i] == "failed" else None
            if names:
                row += [_short(_cell(fields[i][name])) if name in fields[i] else "" for name in names]
                row += [_short(error or "")] if failed else []
            else:
                row.append(_short(error or self.texts[i] or ""))
            rows.append(row)
        return header, rows

    def __repr__(self) -> str:
        header, rows = self.preview_table()
        names = header[3:]
        lines = [f"<BatchResult {self.summary()}>"]
        for index, item, status, *answer in rows:
            fields = zip(names, answer, strict=True)
            shown = answer[0] if names == ["answer"] else ", ".join(f"{n}={v}" for n, v in fields if v)
            lines.append(f"  [{index}] {status:<9} {item!r} → {shown!r}")
        if len(self) > PREVIEW_ROWS:
            lines.append(f"  … {len(self) - PREVIEW_ROWS} more")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("BatchResult(...)" if cycle else repr(self))

    def to_pandas(self) -> Any:
        """A DataFrame, one row per input: the input's columns, the answer (``text``, or the parsed
        fields of a structured answer as columns), then ``status`` and ``error``."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                "to_pandas() needs pandas, an optional dependency: pip install pandas "
                "(or read .texts, .parsed, .errors and .statuses)"
            ) from None
        structured = any(value is not None for value in self.parsed)
        records = []
        for i, columns in enumerate(self.inputs.columns):
            record = dict(columns)
            answer = _fields(self.parsed[i]) if structured else {"text": self.texts[i]}
            for name, value in answer.items():
                record[f"{name}_answer" if name in columns else name] = value
            record["status"], record["error"] = self.statuses[i], self.errors[i]
            records.append(record)
        return pandas.DataFrame.from_records(records, index=self.inputs.index)


def _fields(parsed: Any) -> dict[str, Any]:
    """A structured answer's fields: a pydantic model, a dataclass or a dict; anything else is one.
    Enum members become their values, so a column reads ``praise``, not ``RequestKind.PRAISE``."""
    if parsed is None:
        return {}
    if hasattr(parsed, "model_dump"):
        fields = dict(parsed.model_dump())
    elif dataclasses.is_dataclass(parsed) and not isinstance(parsed, type):
        fields = dataclasses.asdict(parsed)
    elif isinstance(parsed, Mapping):
        fields = dict(parsed)
    else:
        fields = {"parsed": parsed}
    return {name: value.value if isinstance(value, enum.Enum) else value for name, value in fields.items()}


def _cell(value: Any) -> str:
    """A field's value as a table shows it: a list as its items, a mapping as JSON."""
    if isinstance(value, list | tuple):
        return ", ".join(_cell(item) for item in value)
    if isinstance(value, Mapping):
        return json.dumps(value, default=str, ensure_ascii=False)
    return "" if value is None else str(value)


def _short(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- preparing -----------------------------------------------------------------------------------
@dataclass
class Row:
    index: int
    prepared: PreparedTurn
    key: str
    own_thread: bool  # thread_per_item: the row continues its own thread and joins it


def row_key(prepared: PreparedTurn, own_thread: bool) -> str:
    """What makes two rows the same question: the request as sent (prompt, attachments, model,
    settings, tools, response format), without the thread's head, plus the thread when it is the row's."""
    request = build_request(replace(prepared.options, previous_interaction_id=None))
    text = json.dumps(request, sort_keys=True, default=repr)
    if own_thread:
        text += "\0" + prepared.thread.name
    return hashlib.sha256(text.encode()).hexdigest()


def prepare_batch(
    session: Session,
    request: TurnRequest,
    inputs: Inputs,
    namespace: Mapping[str, Any] | None = None,
    *,
    as_name: str = DEFAULT_AS,
    thread_per_item: bool = False,
    refresh: bool = False,
) -> tuple[BatchResult, list[Row], list[str]]:
    """The batch's result (rows answered before filled in, unless ``refresh``), the rows to send, and
    notes to show; raises InputError, naming the row, before anything is sent."""
    if not as_name.isidentifier():
        raise InputError(f"--as needs a name such as row, not {as_name!r}")
    base = request.thread or session.settings.thread
    values = dict(namespace or {})  # copied once; each row adds its item in front
    result: BatchResult | None = None
    rows: list[Row] = []
    notes: list[str] = []
    for i, item in enumerate(inputs.items):
        path = inputs.files[i]
        row_request = replace(
            request,
            new=False,
            thread=f"{base}-{i}" if thread_per_item else request.thread,
            files={**request.files, path: Path(path)} if path else request.files,
        )
        try:
            prepared = session.prepare(row_request, ChainMap({as_name: item}, values))
        except InputError as exc:
            raise InputError(f"row {i}: {exc}") from None
        if not thread_per_item:
            prepared.options = replace(prepared.options, previous_interaction_id=None)
            prepared.result.thread = ""
        if result is None:
            result = BatchResult(prepared.result.prompt if len(inputs) == 1 else request.text.strip(), inputs)
            notes = list(prepared.notes)
        key = row_key(prepared, thread_per_item)
        earlier = None if refresh else session.batch_answers.get(key)
        if earlier is not None:
            result.results[i], result.statuses[i] = earlier, "completed"
            result.reused += 1
        else:
            result.results[i] = prepared.result
            rows.append(Row(i, prepared, key, thread_per_item))
    assert result is not None  # inputs are never empty
    return result, rows, notes


# -- running -------------------------------------------------------------------------------------
class BackoffGate:
    """One pause for the whole batch: a 429 or 5xx seen by any row holds back every row's next
    request until the wait the server asked for (or the policy's backoff) is over."""

    def __init__(self) -> None:
        self.resume_at = 0.0  # time.monotonic()
        self.retries = 0
        self.last: ev.Retrying | None = None

    def hold(self, retry: ev.Retrying) -> None:
        """A row is about to wait ``retry.seconds`` before trying again: everyone waits as long."""
        self.retries += 1
        self.last = retry
        self.resume_at = max(self.resume_at, time.monotonic() + retry.seconds)

    async def wait(self) -> None:
        import asyncio

        while (left := self.resume_at - time.monotonic()) > 0:
            await asyncio.sleep(left)

    @property
    def waiting(self) -> float:
        """Seconds left before requests go out again (0 when they flow)."""
        return max(0.0, self.resume_at - time.monotonic())


def _ignore(event: ev.Event) -> None:
    pass


class BatchRun(BackgroundStream):
    """The rows of a batch on a worker's event loop, at most ``concurrency`` at once; ``stop()``
    cancels the rows in flight and keeps every finished one. Listeners hear after each row."""

    def __init__(
        self,
        session: Session,
        result: BatchResult,
        rows: list[Row],
        *,
        concurrency: int,
    ) -> None:
        super().__init__(None, name="gemini-batch")
        if concurrency < 1:
            raise InputError(f"--concurrency must be at least 1, not {concurrency}")
        self.session = session
        self.result = result
        self.rows = rows
        self.concurrency = concurrency
        self.gate = BackoffGate()
        self.error: BaseException | None = None  # what ended the whole run, other than a stop
        self.budget_refused = 0  # rows not sent because the token budget was used up
        self.budget_message = ""

    @property
    def finished(self) -> int:
        """Rows with an outcome (answered, failed or cancelled), including those answered before."""
        return len(self.result) - self.result.count("pending")

    def stop(self) -> None:
        self.interrupt()

    async def _run(self) -> None:
        connection = self.session.connection
        async with connection.async_interactions(
            on_retry=self.gate.hold, gate=self.gate.wait
        ) as interactions:
            await self._run_rows(interactions)

    async def _run_rows(self, interactions: Any) -> None:
        import asyncio

        limit = asyncio.Semaphore(self.concurrency)

        async def bounded(row: Row) -> None:
            async with limit:
                await self._row(row, interactions)

        tasks = [asyncio.ensure_future(bounded(row)) for row in self.rows]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _row(self, row: Row, interactions: Any) -> None:
        import asyncio

        session, result = self.session, self.result
        prepared = row.prepared
        over_budget = budget_problem(session.settings.token_budget, session.usage.used())
        if over_budget:
            prepared.result.status = "failed"  # never sent: it counts no tokens
            self.budget_refused += 1
            self.budget_message = over_budget
            self._failed(row, over_budget)
            self._notify()
            return
        recorder = TurnRecorder(prepared.result, session.connection.scrub, session.connection.answer_origin)
        turn = AsyncTurn(session.turns, prepared.options, recorder, _ignore)
        lease: Any = contextlib.nullcontext()
        try:
            if row.own_thread:
                lease = prepared.thread.acquire()
            with lease:
                await turn.run(interactions)
                recorder.close()
                if prepared.result.status == "completed" and row.own_thread:
                    commit(prepared.thread, prepared.options, prepared.result, prepared.slot)
        except asyncio.CancelledError:
            recorder.close(failed=asyncio.CancelledError(), state=turn.state)
            result.statuses[row.index] = "cancelled"
            raise
        except ThreadBusy as exc:
            self._failed(row, f"{exc}; wait for it to finish")
        except Exception as exc:  # noqa: BLE001 - the row keeps its error, the others go on
            recorder.close(failed=exc, state=turn.state)
            self._failed(row, str(session.connection.translate(exc)))
        else:
            try:
                recorder.parse(prepared.options, session.connection.secrets())
            except GeminiSchemaError as exc:  # the answer is kept in .results, the row fails
                self._failed(row, str(exc))
            else:
                self._ended(row, prepared.result)
        finally:
            self._notify()

    def _ended(self, row: Row, answer: GeminiResult) -> None:
        if answer.status == "completed":
            self.result.statuses[row.index] = "completed"
            self.session.keep_batch_answer(row.key, answer)
            return
        details = "; ".join(str(e.get("message", "")) for e in answer.errors if e)
        self._failed(row, f"the interaction ended {answer.status}" + (f": {details}" if details else ""))

    def _failed(self, row: Row, message: str) -> None:
        self.result.statuses[row.index] = "failed"
        self.result.errors[row.index] = self.session.connection.redact(message)

    def _settle(self, error: BaseException | None) -> None:
        statuses = self.result.statuses
        for i, status in enumerate(statuses):
            if status == "pending":
                statuses[i] = "cancelled"
        if error is not None and not is_cancellation(error):
            self.error = self.session.connection.translate(error)


def follow(run: BatchRun, on_progress: Callable[[BatchRun], None], interval: float = 0.1) -> None:
    """Block until ``run`` ends, calling ``on_progress(run)`` every ``interval`` seconds and at the end.

    A KeyboardInterrupt while waiting stops the run, waits for its rows in flight to wind down, and
    is re-raised (the finished rows are kept in ``run.result``).
    """
    try:
        while not run.wait_for_end(interval):
            on_progress(run)
    except KeyboardInterrupt:
        run.stop()
        run.wait_settled(SETTLE_TIMEOUT)
        on_progress(run)
        raise
    run.wait_settled(SETTLE_TIMEOUT)
    on_progress(run)


def stopped_error(result: BatchResult, where: str) -> GeminiError:
    from .errors import GeminiBatchStopped

    return GeminiBatchStopped(
        f"stopped: {result.count('completed')} of {len(result)} rows answered, kept in {where}",
        hint="run it again to send only the rows without an answer",
    )


def batch(
    prompt: str,
    items: Any,
    *,
    concurrency: int | None = None,
    as_name: str = DEFAULT_AS,
    thread_per_item: bool = False,
    refresh: bool = False,
    progress: bool | Callable[[int, int], Any] = True,
    variables: Mapping[str, Any] | None = None,
    session: Session | None = None,
    **options: Any,
) -> BatchResult:
    """Send ``prompt`` once per item of ``items`` (see :func:`inputs_of`) and wait for every row.

    ``{{item}}`` (or ``{{<as_name>}}``) is the row; other ``{{name}}`` come from ``variables``.
    ``options`` are :class:`~.session.TurnRequest` fields: ``model``, ``system``, ``thinking``,
    ``tools`` (names or Python functions), ``schema`` where structured output is available, ….
    Without ``session`` a new one is used and closed; pass one to keep answers across calls, so a
    second call sends only the rows without one. ``progress`` shows tqdm's text bar on stderr, or
    the bar ``progress(total, already_answered)`` makes (a tqdm bar).
    Ctrl-C stops the batch and raises :class:`~.errors.GeminiBatchStopped` (rows kept in its
    ``result`` attribute).
    """
    from .session import Session, TurnRequest

    own = session is None
    session = Session() if session is None else session
    try:
        inputs = inputs_of(items, as_name=as_name)
        request = TurnRequest(prompt, origin="panel", **options)
        result, rows, _ = prepare_batch(
            session,
            request,
            inputs,
            variables,
            as_name=as_name,
            thread_per_item=thread_per_item,
            refresh=refresh,
        )
        run = BatchRun(session, result, rows, concurrency=concurrency or session.settings.concurrency)
        session.start_background(run)
        make_bar = progress if callable(progress) else _text_bar if progress else None
        bar = make_bar(len(result), result.reused) if make_bar is not None else None
        try:
            follow(run, lambda r: advance(bar, r) if bar is not None else None)
        except KeyboardInterrupt:
            error = stopped_error(result, "the exception's .result")
            error.result = result  # type: ignore[attr-defined]
            raise error from None
        finally:
            if bar is not None:
                bar.close()
        if run.error is not None:
            raise run.error
        return result
    finally:
        if own:
            session.close()


def _text_bar(total: int, initial: int) -> Any:
    from tqdm.std import tqdm

    return tqdm(total=total, initial=initial, unit="row", desc="gemini")


def advance(bar: Any, run: BatchRun) -> None:
    """Bring a tqdm bar up to the run's progress (tqdm computes the rate and the time left)."""
    failed = run.result.count("failed")
    waiting = run.gate.waiting
    postfix = f"failed={failed}" if failed else ""
    if waiting and run.gate.last is not None:
        why = "rate limited" if run.gate.last.status == 429 else f"server error {run.gate.last.status}"
        postfix = ", ".join(filter(None, [postfix, f"paused {waiting:.0f}s ({why})"]))
    if bar.n < run.finished or postfix != getattr(bar, "postfix", None):
        bar.set_postfix_str(postfix, refresh=False)
        bar.update(run.finished - bar.n)

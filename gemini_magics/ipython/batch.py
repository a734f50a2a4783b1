"""``%%gemini --map ITEMS``: one prompt per row, a progress bar, a table preview.

The batch itself (rows, concurrency, back-off, re-runs) is :mod:`gemini_magics.core.batch`; this module
reads the options, evaluates the ``--map`` expression in the user's namespace, shows tqdm's notebook
bar where a widget front end listens (its text bar on stdout elsewhere) and the table at the end.
The cell blocks until every row is done; an interrupt stops the rows in flight and keeps the others.
"""

from __future__ import annotations

import glob
import os
import sys
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.display import display

from ..core.batch import (
    DEFAULT_AS,
    BatchResult,
    BatchRun,
    advance,
    follow,
    inputs_of,
    prepare_batch,
    stopped_error,
)
from ..core.errors import GeminiTurnIncomplete
from ..render.batch import batch_table
from . import usage_errors

if TYPE_CHECKING:
    from .magics import GeminiMagics

BATCH_ONLY = ("--as", "--concurrency", "--thread-per-item", "--refresh")
NOT_WITH_MAP = {"new": "--new", "confirm": "--confirm", "save": "--save"}


def run(magics: GeminiMagics, args: Any, text: str) -> BatchResult:
    """Run the batch the parsed line asks for, blocking with a progress bar; returns its result."""
    from .magics import check_options

    if args.map is None:
        raise UsageError(f"{', '.join(BATCH_ONLY)} go with --map; add --map ITEMS or drop them")
    for name, flag in NOT_WITH_MAP.items():
        if getattr(args, name, None):
            raise UsageError(f"{flag} does not go with --map (rows join no thread and cannot ask); drop it")
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, not {args.concurrency}")
    check_options(args)
    session = magics.session
    as_name = args.as_name or DEFAULT_AS
    with usage_errors():
        inputs = inputs_of(_evaluate(magics.ip, args.map), what=f"--map {args.map}", as_name=as_name)
        result, rows, notes = prepare_batch(
            session,
            magics.request(args, text),
            inputs,
            magics.ip.user_ns,
            as_name=as_name,
            thread_per_item=args.thread_per_item,
            refresh=args.refresh,
        )
        batch = BatchRun(session, result, rows, concurrency=args.concurrency or magics.concurrency)
        session.start_background(batch)
    magics.ip.user_ns["_gemini"] = result
    if args.out:
        magics.ip.user_ns[args.out] = result
    renderer = magics._renderer(show_thoughts=False)
    for note in notes:
        renderer.note(note)
    bar = progress_bar(magics.widget_frontend, len(result), result.reused)
    try:
        follow(batch, lambda progress: advance(bar, progress))
    except KeyboardInterrupt:
        bar.close()
        _show(result)
        raise stopped_error(result, args.out or "_gemini") from None
    bar.close()
    _show(result)
    if batch.error is not None:
        raise batch.error
    if batch.budget_refused:
        where = args.out or "_gemini"
        raise UsageError(
            f"{batch.budget_message}, then run the cell again to send only the {batch.budget_refused} of "
            f"{len(result)} rows that were not sent (kept as failed in {where})"
        )
    sent = len(result) - result.reused
    if sent and result.count("failed") == sent:
        raise GeminiTurnIncomplete(
            "failed",
            f"every row failed; the first: {next(e for e in result.errors if e)}",
            hint="fix the cause and run the cell again (only rows without an answer are sent)",
        )
    return result


def _evaluate(shell: Any, expression: str) -> Any:
    """The value ``--map`` names; a pattern that is no expression but matches files is a glob."""
    try:
        return shell.ev(expression)
    except (NameError, SyntaxError) as exc:
        if glob.glob(os.path.expanduser(expression), recursive=True):
            return expression
        raise UsageError(
            f"--map {expression}: {type(exc).__name__}: {exc}; give a variable (a list, dict, Series, "
            "DataFrame) or a glob that matches files"
        ) from None
    except Exception as exc:
        reason = magics_redact(shell, f"{type(exc).__name__}: {exc}")
        raise UsageError(f"--map {expression}: evaluating it failed with {reason}") from None


def magics_redact(shell: Any, text: str) -> str:
    return str(shell.magics_manager.registry["GeminiMagics"].connection.redact(text))


def progress_bar(widgets: bool, total: int, initial: int) -> Any:
    """tqdm's notebook bar where a widget front end listens; its text bar on stdout elsewhere."""
    if widgets:
        from tqdm.notebook import tqdm as notebook_bar

        return notebook_bar(total=total, initial=initial, unit="row", desc="gemini")
    from tqdm.std import tqdm as text_bar

    return text_bar(total=total, initial=initial, unit="row", desc="gemini", file=sys.stdout)


def _show(result: BatchResult) -> None:
    display({"text/html": batch_table(result), "text/plain": repr(result)}, raw=True)

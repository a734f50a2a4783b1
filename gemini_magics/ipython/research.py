"""``%%gemini --research`` and ``%gemini research``: start, show, wait for, resume and cancel runs.

The ``%gemini research`` line is parsed in ``commands/research.py``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.display import display

from ..core.errors import GeminiTurnIncomplete
from ..core.research import ResearchRun, default_agent
from ..render.progress import TextProgress, outcome_message, report_bundles
from . import usage_errors

if TYPE_CHECKING:
    from .magics import GeminiMagics


def start(magics: GeminiMagics, args: Any, text: str) -> ResearchRun:
    """``%%gemini --research``: the session prepares the agent turn like any other, then runs it."""
    from .magics import check_options

    unsupported = [
        flag
        for flag, given in (
            ("-m", args.model is not None),
            ("-s", args.system is not None),
            ("--image", args.image),
            ("--aspect", args.aspect is not None),
            ("--size", args.size is not None),
            ("--save", args.save is not None),
            ("--no-stream", args.no_stream),
            ("--thinking", args.thinking is not None),
            ("--show-thoughts", args.show_thoughts),
            ("--temperature", args.temperature is not None),
            ("--max-output-tokens", args.max_output_tokens is not None),
        )
        if given
    ]
    if unsupported:
        raise UsageError(
            f"--research does not take {', '.join(unsupported)}; it takes -t, -o, --new, --agent, --max, "
            "--wait and --attach"
        )
    check_options(args)
    agent = args.agent or default_agent(thorough=args.max)
    prepared = magics.prepare(replace(magics.request(args, text), agent=agent))
    with usage_errors():
        run = magics.session.start_research(prepared)
    _publish(magics, run, args.out)
    show(magics, run, wait=args.wait, title=prepared.result.prompt)
    return run


def show(magics: GeminiMagics, run: ResearchRun, *, wait: bool, title: str) -> None:
    """A live panel when a widget front end listens; otherwise block with short text progress."""
    if not wait and magics.widget_frontend:
        from ..widgets.research import ResearchPanel

        display(ResearchPanel(run, title=title, origin=magics.session.origin_note))
        return
    if magics.connection.offline and magics.connection.replay is None:
        print("Offline: this research comes from the built-in emulator, not Gemini.")
    progress = TextProgress(run, sys.stdout)
    try:
        while not run.done:
            run.wait_for_end(0.5)
            progress.tick()
    except KeyboardInterrupt:
        rid = run.interaction_id
        print(
            f"\nStopped waiting; the research goes on. Wait again with `_gemini.wait()`, reattach with "
            f"`%gemini research --resume {rid}`, or cancel it with `%gemini research --cancel {rid}`."
        )
        raise
    progress.tick()
    provenance = magics.session.provenance(run.result, run.options)
    for bundle in report_bundles(run):
        display(bundle, raw=True, metadata={"gemini_magics": {**provenance, "part": "report"}})
    print(outcome_message(run))
    origin = magics.session.origin_note(run.result)
    if origin:
        print(origin)
    if run.error is not None:
        raise run.error
    if run.result.status == "failed":
        raise GeminiTurnIncomplete("failed", outcome_message(run), hint="start the research again")


def resume(
    magics: GeminiMagics,
    interaction_id: str,
    *,
    wait: bool = False,
    out: str | None = None,
    thread: str | None = None,
) -> ResearchRun:
    """Reattach to a run; with ``thread`` the completed report becomes that thread's head."""
    from .magics import check_variable_name

    if out is not None:
        check_variable_name(out)
    with usage_errors():
        run = magics.session.reattach(interaction_id, thread=thread, cell=magics.cell)
    _publish(magics, run, out)
    target = run.thread
    if target is not None:
        turns = len(target.turns)
        after = f"after its {turns} turn(s)" if turns else "as its first turn"
        print(
            f"Reattached to {interaction_id}; when it completes, the report joins thread {target.name!r} "
            f"as its head, {after}."
        )
    show(magics, run, wait=wait, title=f"reattached to {interaction_id}")
    return run


def cancel(magics: GeminiMagics, interaction_id: str) -> None:
    with usage_errors():
        status = magics.session.cancel_research(interaction_id, on_retry=lambda retry: print(retry.note))
    print(f"research {interaction_id}: {status}")


def _publish(magics: GeminiMagics, run: ResearchRun, out: str | None) -> None:
    magics.ip.user_ns["_gemini"] = run
    if out:
        magics.ip.user_ns[out] = run

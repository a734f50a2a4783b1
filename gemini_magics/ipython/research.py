"""``%%gemini --research`` and ``%gemini research``: start, show, wait for, resume and cancel runs.

The ``%gemini research`` line is parsed in ``commands/research.py``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.display import display

from ..core.errors import GeminiTurnIncomplete
from ..core.request import TurnOptions
from ..core.research import ResearchRun, default_agent
from ..core.results import GeminiResult
from ..core.threads import ThreadBusy
from ..render.progress import TextProgress, outcome_message, report_bundles

if TYPE_CHECKING:
    from .magics import GeminiMagics

AGENT_CONFIG = {"type": "deep-research", "thinking_summaries": "auto", "visualization": "auto"}


def start(magics: GeminiMagics, args: Any, prompt: str) -> ResearchRun:
    from .magics import busy_error, check_options

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
    attachments = magics._attachments(args.attach or [])
    magics._require_key()
    thread = magics.thread_named(args.thread)
    if thread.busy:
        raise busy_error(ThreadBusy(thread.name))
    if args.new:
        thread.reset()
    slot = magics.slot(thread)  # re-running the cell rewinds, as for any other turn
    options = TurnOptions(
        model=None,
        prompt=prompt,
        previous_interaction_id=slot.parent_id,
        attachments=tuple(attachments),
        agent=agent,
        agent_config=dict(AGENT_CONFIG),
    )
    result = GeminiResult(prompt=prompt, thread=thread.name, model=agent)
    run = ResearchRun(
        magics.connection,
        thread,
        options,
        result,
        max_resumes=magics.max_resumes,
        stall_timeout=magics.stall_timeout,
        poll_interval=magics.research_poll_interval,
        slot=slot,
    )
    try:
        run.start()
    except ThreadBusy as exc:
        raise busy_error(exc) from None
    _publish(magics, run, args.out)
    show(magics, run, wait=args.wait, title=prompt)
    return run


def show(magics: GeminiMagics, run: ResearchRun, *, wait: bool, title: str) -> None:
    """A live panel when a widget front end listens; otherwise block with short text progress."""
    if not wait and _widget_frontend(magics.shell):
        from ..widgets.research import ResearchPanel

        display(ResearchPanel(run, title=title))
        return
    if magics.connection.offline:
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
    for bundle in report_bundles(run):
        display(bundle, raw=True)
    print(outcome_message(run))
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
    from .magics import busy_error, check_variable_name

    if out is not None:
        check_variable_name(out)
    magics._require_key()
    target = magics.thread_named(thread) if thread is not None else None
    if target is not None and target.busy:
        raise busy_error(ThreadBusy(target.name))
    slot = magics.slot(target) if target is not None else None
    label = f"(research {interaction_id}, reattached)"
    result = GeminiResult(
        prompt=label if target else "",
        thread=target.name if target else "",
        model="",
        interaction_id=interaction_id,
    )
    options = None
    if target is not None and slot is not None:
        # nothing is sent from these options: they only describe the turn the report becomes
        options = TurnOptions(
            model=None, prompt=label, previous_interaction_id=slot.parent_id, agent="deep-research"
        )
    run = ResearchRun(
        magics.connection,
        target,
        options,
        result,
        max_resumes=magics.max_resumes,
        stall_timeout=magics.stall_timeout,
        poll_interval=magics.research_poll_interval,
        existing_id=interaction_id,
        slot=slot,
    )
    try:
        run.start()
    except ThreadBusy as exc:
        raise busy_error(exc) from None
    _publish(magics, run, out)
    if target is not None:
        after = f"after its {len(target.turns)} turn(s)" if target.turns else "as its first turn"
        print(
            f"Reattached to {interaction_id}; when it completes, the report joins thread {target.name!r} "
            f"as its head, {after}."
        )
    show(magics, run, wait=wait, title=f"reattached to {interaction_id}")
    return run


def cancel(magics: GeminiMagics, interaction_id: str) -> None:
    magics._require_key()
    try:
        interactions = magics.connection.interactions(on_retry=lambda retry: print(retry.note))
        interaction = interactions.cancel(interaction_id)
    except Exception as exc:
        raise magics.connection.translate(exc) from None
    print(f"research {interaction_id}: {interaction.status}")


def _publish(magics: GeminiMagics, run: ResearchRun, out: str | None) -> None:
    magics.ip.user_ns["_gemini"] = run
    if out:
        magics.ip.user_ns[out] = run


def _widget_frontend(shell: Any) -> bool:
    """True in a live notebook front end. nbclient and nbconvert execute cells with stdin disabled,
    and terminal IPython has no kernel at all: there nobody would see a widget update."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None or not getattr(kernel, "_allow_stdin", False):
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True

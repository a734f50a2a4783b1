"""``%%gemini --research`` and ``%gemini research``: start, show, wait for, resume and cancel runs."""

from __future__ import annotations

import shlex
import sys
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.display import display

from .errors import GeminiTurnIncomplete
from .render.progress import ResearchPanel, TextProgress, outcome_message, report_bundles
from .request import TurnOptions
from .research import ResearchRun, default_agent
from .result import GeminiResult
from .threads import ThreadBusy

if TYPE_CHECKING:
    from .magics import GeminiMagics

AGENT_CONFIG = {"type": "deep-research", "thinking_summaries": "auto", "visualization": "auto"}


def start(magics: GeminiMagics, args: Any, prompt: str) -> ResearchRun:
    agent = args.agent or default_agent(thorough=args.max)
    if args.image or args.no_stream or args.thinking or args.temperature is not None:
        raise UsageError(
            "--research takes -t, -o, --agent, --max, --wait and --attach; drop the other options"
        )
    attachments = magics._attachments(args.attach or [])
    magics._require_key()
    thread = magics.threads[args.thread or magics.thread]
    options = TurnOptions(
        model=None,
        prompt=prompt,
        previous_interaction_id=thread.parent_for(magics._cell_id),
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
    )
    try:
        run.start()
    except ThreadBusy as exc:
        from .magics import busy_error

        raise busy_error(exc) from None
    _publish(magics, run, args.out)
    show(magics, run, wait=args.wait, title=prompt)
    return run


def show(magics: GeminiMagics, run: ResearchRun, *, wait: bool, title: str) -> None:
    """A live panel when a widget front end listens; otherwise block with short text progress."""
    if not wait and _widget_frontend(magics.shell):
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


def command(magics: GeminiMagics, words: list[str]) -> None:
    """``%gemini research PROMPT…``, ``research --resume ID`` and ``research --cancel ID``."""
    if words[:1] in (["--resume"], ["--cancel"]):
        if len(words) != 2:
            raise UsageError(
                f"usage: %gemini research {words[0]} INTERACTION_ID (or a variable holding a run)"
            )
        held = magics.shell.user_ns.get(words[1])  # a variable holding a run, e.g. `report`
        interaction_id = getattr(held, "interaction_id", None) or words[1]
        (resume if words[0] == "--resume" else cancel)(magics, interaction_id)
        return
    from .magics import _parse

    args = _parse(magics.gemini, " ".join(shlex.quote(w) for w in ["--research", *words]))
    prompt = " ".join(args.prompt)
    if not prompt.strip():
        raise UsageError("usage: %gemini research [--agent ID] [--max] [--wait] PROMPT…")
    start(magics, args, magics._prompt(args, prompt))


def resume(magics: GeminiMagics, interaction_id: str) -> ResearchRun:
    magics._require_key()
    result = GeminiResult(prompt="", thread="", model="", interaction_id=interaction_id)
    run = ResearchRun(
        magics.connection,
        None,
        None,
        result,
        max_resumes=magics.max_resumes,
        stall_timeout=magics.stall_timeout,
        poll_interval=magics.research_poll_interval,
        existing_id=interaction_id,
    ).start()
    _publish(magics, run, None)
    show(magics, run, wait=False, title=f"reattached to {interaction_id}")
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
    magics.shell.user_ns["_gemini"] = run
    if out:
        magics.shell.user_ns[out] = run


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

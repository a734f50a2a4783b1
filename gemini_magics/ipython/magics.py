"""``%%gemini`` and ``%gemini``: parse, call the layers below, route the result.

State (the connection, threads, running background work) lives in the instance's ``session``
(:class:`~gemini_magics.core.session.Session`), which prepares every turn; the traits feed its
settings. Other front ends reach it through :func:`gemini_magics.ipython.current_session`.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import keyword
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import magic_arguments
from traitlets import Dict, Enum, Float, Int, List, TraitError, Unicode, default, observe, validate

from ..core import models
from ..core.client import Connection
from ..core.errors import GeminiSchemaError, GeminiTurnIncomplete, InputError, redact
from ..core.fix import Failure, record_failure
from ..core.functions import DEFAULT_MAX_ROUNDS, FunctionCall, describe_arguments
from ..core.recording import REPLAY_ENV, SESSION_ENV, cassette_for
from ..core.results import GeminiResult
from ..core.session import SETTING_NAMES, PreparedTurn, Session, Settings, TurnRequest
from ..core.threads import Thread, Threads
from ..core.tools import Headers, hidden_headers
from ..core.turns import TurnRunner
from ..core.usage import BUDGET_ENV, parse_budget
from ..render.markdown import first_code_block
from ..render.protocol import CellRenderer
from . import commands, usage_errors
from . import research as research_magic
from .args import gemini_arguments, parse_line
from .display import NotebookRenderer, TextRenderer, register_formatters
from .structured import resolve_schema

OFFLINE_ENV = "GEMINI_MAGICS_OFFLINE"
_LINE_MAGIC = re.compile(r"^(\s*)%gemini(\s.*)$")
# names the shell itself relies on: -o must not overwrite them
_SHELL_NAMES = frozenset({"get_ipython", "In", "Out", "exit", "quit", "_gemini", "_", "__", "___"})
_SHELL_NAME_PATTERN = re.compile(r"_\d+|_i+|_i\d+|_[iod]h")


def route_questions_to_the_magic(lines: list[str]) -> list[str]:
    """Send ``%gemini … why?`` to the magic: IPython would read a trailing ``?`` as a help request."""
    routed = []
    for line in lines:
        match = _LINE_MAGIC.match(line.rstrip("\n"))
        argument = match.group(2).strip() if match else ""
        if match and argument and argument.strip("?"):
            newline = "\n" if line.endswith("\n") else ""
            line = f"{match.group(1)}get_ipython().run_line_magic('gemini', {argument!r}){newline}"
        routed.append(line)
    return routed


@magics_class
class GeminiMagics(Magics):
    """Talk to Gemini from notebook cells; conversations continue across cells."""

    model = Unicode(models.DEFAULT_MODEL, help="Model id used when a cell gives no -m.").tag(config=True)
    thread = Unicode("default", help="Thread used when a cell gives no -t.").tag(config=True)
    base_url = Unicode(
        "",
        help="API base URL; empty means $GOOGLE_GEMINI_BASE_URL or Google's default endpoint.",
    ).tag(config=True)
    stream_interval = Float(0.1, min=0.0, help="Seconds between in-place updates of a streaming answer.").tag(
        config=True
    )
    image_model = Unicode(
        models.DEFAULT_IMAGE_MODEL, help="Model used for --image when the cell gives no -m."
    ).tag(config=True)
    research_poll_interval = Float(
        5.0, min=0.01, help="Seconds between status checks when a research stream cannot be resumed."
    ).tag(config=True)
    max_resumes = Int(
        3,
        min=0,
        help="How many resumes in a row may bring nothing new before a dropped or stalled stream fails.",
    ).tag(config=True)

    max_retry_wait = Float(
        60.0,
        min=0.0,
        help="Longest wait, in seconds, before retrying a rate-limited (429) or failed (408, 409, 5xx) "
        "call when the server asks for one (Retry-After); a longer wait fails at once, saying when to "
        "try again. Calls are tried 5 times in all.",
    ).tag(config=True)
    stall_timeout = Float(
        60.0,
        min=0.0,
        help=(
            "Seconds a stream may stay silent (not a byte) before it counts as dropped and is resumed; "
            "0 waits forever. Unary (--no-stream) calls are not bounded by it."
        ),
    ).tag(config=True)

    tools = List(
        Unicode(),
        help=(
            "Tools a thread uses until a cell gives --tools: built-in names (search, url, code, maps) "
            "or names of Python functions in the namespace, e.g. ['search', 'url']."
        ),
    ).tag(config=True)
    mcp_headers = Dict(
        help=(
            "HTTP headers for MCP servers added with --mcp NAME=URL, by server name, e.g. "
            "{'weather': {'Authorization': 'Bearer …'}}. Never printed; values are scrubbed from output."
        ),
    ).tag(config=True)
    max_tool_rounds = Int(
        DEFAULT_MAX_ROUNDS,
        min=1,
        help=(
            "Most rounds of calls to your Python functions in one turn; a model still asking for more "
            "after that is stopped with a message (--max-tool-rounds overrides it for one cell)."
        ),
    ).tag(config=True)

    concurrency = Int(
        4,
        min=1,
        help="Rows of a --map batch sent at once (--concurrency overrides it for one cell).",
    ).tag(config=True)

    token_budget = Int(
        None,
        allow_none=True,
        min=0,
        help=(
            "Tokens this kernel may use (all threads, models, panels, research and batches); once used, "
            "new turns are refused, and a turn already running finishes. None: no budget. Defaults to "
            f"${BUDGET_ENV} when set, so a hub or Binder admin can set it for everyone."
        ),
    ).tag(config=True)

    widgets = Enum(
        ["auto", "on", "off"],
        "auto",
        help=(
            "Live widgets (the research progress panel): 'auto' shows them when a notebook front end "
            "is connected (not a terminal, not nbconvert or nbclient, which run with stdin disabled), "
            "'on' always, 'off' never (text progress instead)."
        ),
    ).tag(config=True)

    @default("token_budget")
    def _budget_from_environment(self) -> int | None:
        with usage_errors():  # an unreadable value fails %load_ext: a cap must not vanish silently
            return parse_budget(os.environ.get(BUDGET_ENV, ""))

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.session = Session(Settings(**{name: getattr(self, name) for name in SETTING_NAMES}))
        self._cell_id: str | None = None
        self._execution = 0  # counts cell executions: the turns of one execution chain
        self.last_failure: Failure | None = None  # the latest cell that failed, for %gemini fix
        if shell is not None:
            register_formatters(shell)
            shell.events.register("pre_run_cell", self._remember_cell)
            shell.events.register("post_run_cell", self._remember_failure)
            shell.input_transformer_manager.line_transforms.append(route_questions_to_the_magic)
        if os.environ.get(REPLAY_ENV):
            cassette = cassette_for(os.environ[REPLAY_ENV], os.environ.get(SESSION_ENV))
            if cassette is not None:
                with usage_errors():
                    self.connection.go_replay(str(cassette))
        if self.connection.replay is None and os.environ.get(OFFLINE_ENV, "").lower() in ("1", "true", "yes"):
            self.connection.go_offline()

    # the session's parts, for sub-commands and tests
    @property
    def connection(self) -> Connection:
        return self.session.connection

    @property
    def threads(self) -> Threads:
        return self.session.threads

    @property
    def turns(self) -> TurnRunner:
        return self.session.turns

    @property
    def ip(self) -> InteractiveShell:
        """The shell this instance serves (always set once the extension is loaded)."""
        if self.shell is None:
            raise UsageError("gemini_magics is not loaded in an IPython shell: run %load_ext gemini_magics")
        return self.shell

    def close(self) -> None:
        """Unhook from the shell and close the session: background work and panel timers stop."""
        if self.shell is not None:
            with contextlib.suppress(ValueError):
                self.shell.events.unregister("pre_run_cell", self._remember_cell)
            with contextlib.suppress(ValueError):
                self.shell.events.unregister("post_run_cell", self._remember_failure)
            with contextlib.suppress(ValueError):
                self.shell.input_transformer_manager.line_transforms.remove(route_questions_to_the_magic)
        self.session.close()

    @validate("mcp_headers")
    def _hide_headers(self, proposal: dict[str, Any]) -> Headers:
        """Kept in a mapping whose repr hides the values (``%config GeminiMagics`` prints reprs)."""
        try:
            return hidden_headers(proposal["value"])
        except InputError as exc:
            raise TraitError(str(exc)) from None

    @observe(*SETTING_NAMES)
    def _setting_changed(self, change: dict[str, Any]) -> None:
        if hasattr(self, "session"):  # traits set from config arrive before __init__ builds it
            self.session.configure(**{change["name"]: change["new"]})

    def _remember_cell(self, info: Any) -> None:
        self._cell_id = getattr(info, "cell_id", None)
        self._execution += 1

    def _remember_failure(self, result: Any) -> None:
        """Keep a failed cell's source and traceback as text (no frames kept alive) for %gemini fix."""
        error = result.error_in_exec or result.error_before_exec
        source = getattr(result.info, "raw_cell", None) or ""
        if error is None or commands.is_fix(source):  # a failed fix keeps the cell it was fixing
            return
        self.last_failure = record_failure(
            source, error, self.connection.secrets(), getattr(result, "execution_count", None)
        )

    @property
    def cell(self) -> tuple[str | None, int | None]:
        """The running cell's id and execution count: where its turns join their threads."""
        return self._cell_id, self._execution

    @property
    def widget_frontend(self) -> bool:
        """Whether live widgets would be seen (the ``widgets`` trait; ``auto`` asks the kernel)."""
        if self.widgets != "auto":
            return bool(self.widgets == "on")
        return _kernel_shows_widgets(self.shell)

    def progress_bar(self, total: int, initial: int = 0) -> Any:
        """A batch's tqdm bar: the notebook bar where live widgets are seen, the text bar elsewhere."""
        from . import batch as batch_ui

        return batch_ui.progress_bar(self.widget_frontend, total, initial)

    def _command_context(self) -> commands.CommandContext:
        """What sub-commands see: built here only, so handing them a Session instead is one line."""
        return commands.CommandContext(shell=self.ip, host=self)

    # -- the magic ---------------------------------------------------------------------------------
    @no_var_expand
    @magic_arguments()
    @gemini_arguments
    @line_cell_magic
    def gemini(self, line: str, cell: str | None = None) -> None:
        """Send a prompt to Gemini; the answer streams in as Markdown.

        Cell magic: the cell body is the prompt. The next cell continues the same thread::

            %%gemini -t lesson
            Explain Python generators to a first-year student, with one short example.

        Line magic: ``%gemini PROMPT`` sends one line, or runs a sub-command:
        ``status``, ``models``, ``threads``, ``history [THREAD]``, ``reset [THREAD|--all]``,
        ``chat [THREAD]``, ``research``, ``fix [--code]``, ``login``, ``offline``, ``online``, ``usage``,
        ``export [THREAD] PATH``, ``record PATH``, ``replay PATH``; ``%gemini --help`` lists them and
        ``%gemini reset --help`` shows one's usage. Use ``%gemini -- PROMPT`` for a prompt that starts
        with one of those words.

        ``{{name}}``, ``{{obj.attr}}``, ``{{items[0]}}`` and ``{{Out[3]}}`` are replaced by the
        value's text from your namespace; other braces are sent untouched (``--raw`` sends all
        as is). The last result is ``_gemini`` (``-o VAR`` stores it in ``VAR`` too): ``.text``,
        ``.thoughts``, ``.interaction_id``, ``.usage``, ``.status``, ``.steps``, ``.images``.

        ``-s``, ``--thinking``, ``--temperature`` and ``--max-output-tokens`` stay with the thread
        and are sent on its later turns (cells and chat panels) until changed: ``-s ''`` or
        ``--temperature default`` clears one; ``--new`` and ``%gemini reset`` clear them all.

        Tools: ``%%gemini --tools search url`` grounds the answer in Google Search and pages it reads
        (also ``code``, ``maps``; ``--mcp NAME=URL`` adds an MCP server). Each tool step is shown as a
        line, citations become numbered links with a sources list, and ``_gemini.tool_calls`` and
        ``_gemini.sources`` hold them. Tools stay with the thread; ``--tools none`` turns them off.

        Pictures: ``%%gemini --image --aspect 16:9`` asks for one; the next cell on the thread
        edits it. ``--attach fig`` sends a figure, image, array, bytes or file along.

        Functions: ``%%gemini --tools convert`` lets the model call ``convert`` in this kernel
        (its hints and docstring describe it); each call is shown collapsed and the answer goes on.
        ``--confirm`` asks before each call; ``--max-tool-rounds N`` caps the rounds of calls.

        Structured output: ``%%gemini --schema Review -o r`` asks for JSON that fits ``Review`` (a
        pydantic model, dataclass, TypedDict or Enum, ``'list[Review]'``, or a JSON Schema dict); it
        streams as a JSON block, then shows as a table (a list of records) or as JSON, and
        ``r.parsed`` holds the validated value. ``--json`` asks for any JSON. An answer that does
        not fit fails the cell; its text stays in ``r.text``.

        Batches: ``%%gemini --map reviews -o labelled`` sends the prompt once per item, ``{{item}}``
        filled per row, a few at once (``--concurrency N``) with a progress bar; ``labelled.texts``,
        ``.errors`` and ``.to_pandas()`` hold the rows. Re-running sends only rows without an answer.

        Code: ``%%gemini --code`` asks for code only and puts the answer's code block in a new cell
        below, not run; after a cell fails, ``%gemini fix`` explains its error (``--code``: a corrected
        cell below).

        Research: ``%%gemini --research -o report`` runs the Deep Research agent in the
        background with a live progress panel; ``report.wait()`` blocks until it is done.
        """
        if commands.dispatch(self._command_context(), line, cell=cell is not None):
            return
        args = parse_line(self.gemini.parser, line, cell=cell is not None)
        if args.research and (args.schema is not None or args.json):
            flag = "--schema" if args.schema is not None else "--json"
            raise UsageError(f"research agents write reports, not JSON; leave {flag} out")
        if not args.research and (args.agent is not None or args.max or args.wait):
            raise UsageError("--agent, --max and --wait go with --research; add --research or drop them")
        if cell is not None and args.prompt:
            raise UsageError(
                f"unexpected words on the %%gemini line: {' '.join(args.prompt)!r}; "
                "put the prompt in the cell body"
            )
        text = cell if cell is not None else " ".join(args.prompt)
        if args.research:
            research_magic.start(self, args, text)
            return
        if args.map is not None or _batch_only_options(args):
            from . import batch as batch_magic  # here: loading the extension stays cheap

            batch_magic.run(self, args, text)
            return
        self.run_turn(args, text)

    # -- one turn ------------------------------------------------------------------------------
    def request(self, args: Any, text: str) -> TurnRequest:
        """What the parsed magic line (and cell body ``text``) asks for, for the session."""
        return TurnRequest(
            text=text,
            origin="cell" if getattr(args, "cell", True) else "line",
            thread=args.thread,
            model=args.model,
            new=args.new,
            system=args.system,
            thinking=args.thinking,
            temperature=args.temperature,
            max_output_tokens=args.max_output_tokens,
            show_thoughts=args.show_thoughts,
            raw=args.raw,
            image=args.image,
            aspect=args.aspect,
            size=args.size,
            attach=tuple(args.attach or ()),
            tools=tuple(args.tools) if args.tools else None,
            mcp=tuple(args.mcp or ()),
            max_tool_rounds=args.max_tool_rounds,
            confirm=bool(args.confirm),
            schema=resolve_schema(getattr(args, "schema", None), self.ip.user_ns, self.connection.secrets()),
            json=bool(getattr(args, "json", False)),
            code=bool(getattr(args, "code", False)),
        )

    def _ask(self, call: FunctionCall) -> bool:
        """--confirm: ask in the cell (the kernel's input() goes to the front end); only yes runs it."""
        try:
            answer = builtins.input(f"Run {call.name}({describe_arguments(call.arguments, 200)})? [y/N] ")
        except Exception:  # no stdin after all: nothing runs
            return False
        return answer.strip().lower() in ("y", "yes")

    def prepare(self, request: TurnRequest) -> PreparedTurn:
        """The session prepares the turn with this shell's namespace and running cell."""
        with usage_errors():
            return self.session.prepare(request, self.ip.user_ns, cell=self.cell)

    def run_turn(self, args: Any, text: str, *, notes: tuple[str, ...] = ()) -> GeminiResult:
        check_options(args)
        if getattr(args, "confirm", False) and not _can_ask(self.shell):
            raise UsageError(
                "--confirm asks before each call, but this kernel cannot read input (run by nbclient or "
                "nbconvert?); leave --confirm out, or run the notebook in a front end"
            )
        prepared = self.prepare(self.request(args, text))
        structured = prepared.options.output_schema is not None
        renderer = self._renderer(show_thoughts=args.show_thoughts, prepared=prepared)
        for note in (*notes, *prepared.notes):
            renderer.note(note)
        result, thread = prepared.result, prepared.thread
        self._publish(result, args.out)
        save_error: UsageError | None = None
        parsed = False
        try:
            with usage_errors():
                self.session.run(prepared, on_event=renderer.handle, unary=args.no_stream, confirm=self._ask)
            parsed = structured and result.status == "completed"
        except GeminiSchemaError as exc:
            exc.hint = f"the raw answer is in {args.out or '_gemini'}.text; ask again, or loosen the schema"
            raise
        finally:
            if parsed:
                renderer.show_value(result.parsed)
            renderer.flush(final=True)
            if args.save and result.images:
                save_error = self._save_images(result, Path(args.save), thread, prepared.parent, renderer)
            renderer.footer(self.session.provenance(result, prepared.options))
        if result.status == "completed" and thread.turn(result.interaction_id) is None:
            renderer.note("The thread was reset while this answer streamed, so it was not added to it.")
        origin = self.session.origin_note(result)
        if origin:
            renderer.note(origin)
        self._report_outcome(result, renderer)
        if getattr(args, "code", False):
            self._put_code_below(result, renderer)
        if save_error is not None:
            raise save_error
        return result

    def _put_code_below(self, result: GeminiResult, renderer: CellRenderer) -> None:
        """--code: the answer's first code block (else the whole answer) goes into a new cell below.
        It is model output: it is shown there for the user to read and run, never run by us."""
        code = first_code_block(result.text)
        code = (result.text if code is None else code).strip("\n")
        if not code.strip():
            renderer.note("The answer holds no code, so no cell was added.")
            return
        self.ip.set_next_input(code, replace=False)
        where = "a new cell below" if getattr(self.ip, "kernel", None) is not None else "the next prompt"
        renderer.note(f"The code is in {where}, not run: read it, then run it if it is right.")

    def thread_named(self, name: str | None) -> Thread:
        """The thread ``-t name`` (or the configured default) asks for; a bad name is a UsageError."""
        with usage_errors():
            return self.session.thread(name)

    def _save_images(
        self, result: GeminiResult, folder: Path, thread: Any, parent: str | None, renderer: CellRenderer
    ) -> UsageError | None:
        """Write the turn's pictures into ``folder`` (made with its parents, like ``mkdir -p``).

        A failure is returned, not raised, so the answer's footer and outcome are still shown.
        """
        turn_number = next((i + 2 for i, t in enumerate(thread.turns) if t.interaction_id == parent), 1)
        saved: list[str] = []
        target = folder
        try:
            if folder.exists() and not folder.is_dir():
                raise NotADirectoryError(f"{folder} is a file, not a folder")
            folder.mkdir(parents=True, exist_ok=True)
            for image in result.images:
                target = folder / f"{thread.name}-{turn_number:03d}-{image.index}.{image.extension}"
                if target.parent != folder:  # name_problem keeps thread names to one path part
                    raise ValueError(f"{target.name} would be written outside {folder}")
                saved.append(str(image.save(target)))
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if saved:
                renderer.note("Saved " + ", ".join(saved))
            return UsageError(
                f"--save {folder}: could not write {target} ({reason}); the answer is kept in _gemini: "
                "pick a writable folder, or save with _gemini.images[0].save(PATH)"
            )
        renderer.note("Saved " + ", ".join(saved))
        return None

    def _report_outcome(self, result: GeminiResult, renderer: CellRenderer) -> None:
        if result.status == "incomplete":
            renderer.note("The answer stopped early (incomplete); the thread was left as it was.")
        elif result.status != "completed":
            details = "; ".join(str(e.get("message", "")) for e in result.errors if e)
            raise GeminiTurnIncomplete(
                result.status,
                f"the interaction ended {result.status}" + (f": {details}" if details else ""),
                hint="run the cell again; the thread was left as it was",
            ).redacted(self.connection.secrets())

    # -- helpers -------------------------------------------------------------------------------
    def _renderer(self, *, show_thoughts: bool, prepared: PreparedTurn | None = None) -> CellRenderer:
        structured = prepared is not None and prepared.options.output_schema is not None
        secrets = [s for s in self.connection.secrets() if s]
        scrub = functools.partial(redact, secrets=secrets)
        if type(self.ip.display_pub) is DisplayPublisher:
            holdback = max((len(s) for s in secrets), default=1) - 1
            return TextRenderer(
                show_thoughts=show_thoughts, scrub=scrub, holdback=holdback, structured=structured
            )
        provenance: Callable[[], dict[str, Any]] = dict
        if prepared is not None:
            provenance = functools.partial(self.session.provenance, prepared.result, prepared.options)
        return NotebookRenderer(
            interval=self.stream_interval,
            show_thoughts=show_thoughts,
            scrub=scrub,
            structured=structured,
            provenance=provenance,
        )

    def _publish(self, result: GeminiResult, out: str | None) -> None:
        self.ip.user_ns["_gemini"] = result
        if out:
            self.ip.user_ns[out] = result


def check_options(args: Any) -> None:
    """Refuse option values the API or the shell cannot take, each with one actionable line."""
    if args.model is not None and not args.model.strip():
        raise UsageError("-m needs a model id, e.g. -m gemini-3.5-flash (`%gemini models` lists them)")
    if args.thread is not None and not args.thread.strip():
        raise UsageError("-t needs a thread name, e.g. -t lesson (`%gemini threads` lists them)")
    if args.out is not None:
        check_variable_name(args.out)
    if getattr(args, "save", None) is not None and not args.save.strip():
        raise UsageError("--save needs a folder, e.g. --save pictures")
    # --temperature and --max-output-tokens are checked by the session, for panels too


def _batch_only_options(args: Any) -> bool:
    """Options that only a batch takes (then --map must be there too)."""
    batch_only = (args.as_name, args.concurrency, args.thread_per_item or None, args.refresh or None)
    return any(value is not None for value in batch_only)


def _can_ask(shell: Any) -> bool:
    """Whether input() can reach a person: a terminal, or a kernel whose front end allows stdin."""
    kernel = getattr(shell, "kernel", None)
    return kernel is None or bool(getattr(kernel, "_allow_stdin", False))


def _kernel_shows_widgets(shell: Any) -> bool:
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


def check_variable_name(name: str) -> None:
    """``-o NAME``: a plain identifier the shell does not rely on."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"-o needs a variable name, not {name!r}; e.g. -o answer")
    if name in _SHELL_NAMES or _SHELL_NAME_PATTERN.fullmatch(name):
        raise UsageError(f"-o {name}: IPython itself uses {name}; pick another name, e.g. -o answer")

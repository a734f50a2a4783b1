"""One kernel's conversation state and the one way to prepare a turn. No IPython, no ipywidgets.

A :class:`Session` owns the connection, the threads, the turn runner, the settings (fed by the
magics' traits) and the background work that is running (chat turns, research runs). Every front
end — a cell, a chat panel, a research run, a batch — describes what the user asked as a
:class:`TurnRequest` and asks :meth:`Session.prepare` for a :class:`PreparedTurn`: the prompt cleaned
and filled in, the key checked, the model resolved, attachments turned into content blocks, the
turn's place in its thread fixed, and the thread's settings applied. Mistakes raise
:class:`~.errors.InputError` with one line saying what to do, worded the same for every front end.

    session = Session()
    prepared = session.prepare(TurnRequest("Explain generators.", system="Be terse."))
    session.run(prepared, on_event=print)
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from . import models
from .attachments import AttachError, content_blocks
from .client import Connection
from .errors import GeminiReplayMissing, InputError, redact
from .fix import with_code_instruction
from .functions import DEFAULT_MAX_ROUNDS, Confirm, DeclarationError, FunctionTool, FunctionTools
from .prompt import UnknownVariable, resolve, substitute
from .provenance import provenance_record
from .request import THINKING_LEVELS, TurnOptions, image_choices
from .research import ResearchRun, default_agent
from .results import GeminiResult
from .retry import RetrySink
from .structured import OutputSchema
from .threads import DEFAULT, Slot, Thread, ThreadBusy, Threads, ThreadSettings, Turn, name_problem
from .tools import hidden_headers, mcp_server, resolve_tools, with_mcp
from .turns import BackgroundTurn, EventSink, TurnRunner
from .usage import UsageLedger, budget_problem

if TYPE_CHECKING:
    from .batch import BatchRun

NO_KEY = (
    "no API key: set GEMINI_API_KEY, or run `%gemini login` (or `%gemini offline` for the built-in emulator)"
)
EMPTY_PROMPT = {
    "cell": "empty prompt: write it on the lines below %%gemini",
    "line": "empty prompt: write it after %gemini, or use a %%gemini cell",
    "panel": "empty prompt: type a question first",
}
RESEARCH_AGENT_CONFIG = {"type": "deep-research", "thinking_summaries": "auto", "visualization": "auto"}
CLOSE_TIMEOUT = 5.0  # seconds close() waits for background work to end


@dataclass
class Settings:
    """What the magics' traits configure; read at the moment each turn is prepared or started."""

    model: str = models.DEFAULT_MODEL
    image_model: str = models.DEFAULT_IMAGE_MODEL
    thread: str = "default"
    base_url: str = ""
    stream_interval: float = 0.1
    stall_timeout: float = 60.0
    max_resumes: int = 3
    max_retry_wait: float = 60.0
    research_poll_interval: float = 5.0
    tools: tuple[str, ...] = ()  # default tool names for threads that chose none (GeminiMagics.tools)
    mcp_headers: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # server name -> headers
    max_tool_rounds: int = DEFAULT_MAX_ROUNDS
    concurrency: int = 4  # rows of a batch (--map) sent at once
    token_budget: int | None = None  # tokens this kernel may use; new turns are refused past it


SETTING_NAMES = tuple(f.name for f in fields(Settings))


@dataclass(frozen=True)
class TurnRequest:
    """What the user asked for, as any front end collects it (flags, a panel's widgets, a batch row).

    ``system``, ``thinking``, ``temperature`` and ``max_output_tokens`` change the thread's settings:
    ``None`` keeps them, ``"default"`` (or ``""`` for ``system``) clears one.
    """

    text: str
    origin: str = "cell"  # "cell", "line" or "panel": only the empty-prompt message differs
    thread: str | None = None
    model: str | None = None
    new: bool = False
    system: str | None = None
    thinking: str | None = None
    temperature: float | str | None = None
    max_output_tokens: int | str | None = None
    show_thoughts: bool = False
    raw: bool = False
    image: bool = False
    aspect: str | None = None
    size: str | None = None
    attach: tuple[str, ...] = ()  # names of values in the namespace
    files: Mapping[str, Any] = field(default_factory=dict)  # values given directly (a panel's uploads)
    agent: str | None = None  # a background agent (Deep Research) instead of a model
    # tool names (core/tools.py) for the thread from now on: None keeps them, ("none",) turns them
    # off, ("default",) goes back to GeminiMagics.tools; callables may be given directly (a panel)
    tools: tuple[Any, ...] | None = None
    mcp: tuple[str, ...] = ()  # NAME=URL: remote MCP servers added to the thread's tools
    functions: tuple[Callable[..., Any], ...] = ()  # Python functions the model may call, this turn
    max_tool_rounds: int | None = None  # None: the session's setting
    confirm: bool = False  # ask before each function call (cells only)
    # structured output, this turn only: the user's type or JSON Schema dict (looked up already), or
    # json=True for any JSON; the result's .parsed holds the validated value
    schema: Any = None
    json: bool = False
    code: bool = False  # ask for one fenced code block only (this turn; the thread keeps its system)


@dataclass
class PreparedTurn:
    """A turn ready to run: what to send, the result to fill, where it joins, notes to show first."""

    options: TurnOptions
    result: GeminiResult
    thread: Thread
    slot: Slot
    notes: list[str] = field(default_factory=list)

    @property
    def parent(self) -> str | None:
        return self.slot.parent_id


class Session:
    """The connection, threads, runner, settings and running background work of one kernel."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.connection = Connection(
            base_url=self.settings.base_url, max_retry_wait=self.settings.max_retry_wait
        )
        self._hide_headers()
        self.threads = Threads()
        self.turns = TurnRunner(
            self.connection, lambda: self.settings.max_resumes, lambda: self.settings.stall_timeout
        )
        self.usage = UsageLedger()  # every prepared turn's tokens, by thread and model
        self._running = _Running()
        # batch rows answered, by request (core/batch.py: row_key): a re-run sends only the others
        self.batch_answers: dict[str, GeminiResult] = {}
        # close() at unload, or at interpreter exit for a session nobody closed (finalize runs atexit)
        self._finalizer = weakref.finalize(self, _shutdown, self._running, self.connection)

    # -- settings ------------------------------------------------------------------------------
    def configure(self, **values: Any) -> None:
        """Change settings (the magics call this when a trait changes)."""
        for name, value in values.items():
            if name not in SETTING_NAMES:
                raise TypeError(f"unknown setting {name!r}")
            setattr(self.settings, name, value)
        if "base_url" in values:
            self.connection.base_url = values["base_url"]
        if "max_retry_wait" in values:
            self.connection.max_retry_wait = values["max_retry_wait"]
        if "mcp_headers" in values:
            self._hide_headers()

    def _hide_headers(self) -> None:
        """MCP headers hide their values in reprs, and are scrubbed from output like the key."""
        self.settings.mcp_headers = hidden_headers(self.settings.mcp_headers)
        self.connection.other_secrets = _header_secrets(self.settings.mcp_headers)

    # -- checks every front end shares ---------------------------------------------------------
    def require_key(self) -> None:
        if self.connection.api_key() is None:
            raise InputError(NO_KEY)

    def check_budget(self) -> None:
        """Refuse a new turn once this kernel has used its token budget (a running turn finishes)."""
        problem = budget_problem(self.settings.token_budget, self.usage.used())
        if problem:
            raise InputError(problem)

    def thread(self, name: str | None = None) -> Thread:
        """The thread ``name`` (default: the configured one); a bad name is an InputError."""
        name = self.settings.thread if name is None else name
        problem = name_problem(name)
        if problem:
            raise InputError(problem)
        return self.threads[name]

    def resolve_model(self, requested: str | None = None) -> tuple[str, list[str]]:
        """The model to use and notes to show: a retired id becomes the default (with a note), an
        unknown one is refused with a suggestion."""
        requested = requested or self.settings.model
        if models.is_legacy(requested):
            model = models.DEFAULT_MODEL
            return model, [f"{requested} is retired; using {model} instead."]
        if not models.looks_like_model_id(requested):
            guess = models.suggest(requested)
            hint = f"did you mean {guess}?" if guess else "`%gemini models` lists them"
            raise InputError(f"unknown model {requested!r}; {hint}")
        return requested, []

    def fill(self, text: str, namespace: Mapping[str, Any] | None) -> str:
        """``{{name}}`` references in ``text`` replaced by values from ``namespace``."""
        try:
            return substitute(text, namespace or {})
        except UnknownVariable as exc:
            reason = redact(exc.reason, self.connection.secrets())
            if exc.raised:
                raise InputError(
                    f"reading {{{{{exc.reference}}}}} failed with {reason}; fix it, or use --raw "
                    "to send the braces as they are"
                ) from None
            raise InputError(f"{reason} in {{{{{exc.reference}}}}}; define it first, or use --raw") from None

    def prompt(self, request: TurnRequest, namespace: Mapping[str, Any] | None = None) -> str:
        """The prompt to send: leading blank lines and trailing space dropped, ``{{vars}}`` filled."""
        text = re.sub(r"\A(?:[ \t]*\n)+", "", request.text).rstrip()
        prompt = text if request.raw else self.fill(text, namespace)
        if not prompt.strip():
            if request.origin == "line" and request.attach:
                raise InputError(
                    "empty prompt: --attach takes every word after it, so write the prompt first: "
                    "%gemini PROMPT --attach NAME"
                )
            if request.origin == "line" and (request.tools or request.mcp):
                flag = "--tools NAME" if request.tools else "--mcp NAME=URL"
                raise InputError(
                    f"empty prompt: {flag.split()[0]} takes every word after it, so write the prompt "
                    f"first: %gemini PROMPT {flag}"
                )
            raise InputError(EMPTY_PROMPT.get(request.origin, EMPTY_PROMPT["panel"]))
        return prompt

    def attachments(
        self,
        names: tuple[str, ...],
        namespace: Mapping[str, Any] | None,
        files: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Content blocks for the named values and the given files, within the size budget."""
        values: dict[str, Any] = dict(files or {})
        for name in names:
            try:
                values[name] = resolve(name, namespace or {})
            except UnknownVariable as exc:
                if exc.raised:
                    reason = redact(exc.reason, self.connection.secrets())
                    raise InputError(f"--attach {name}: reading it failed with {reason}") from None
                raise InputError(f"--attach {name}: {exc.reason}; define it first") from None
        try:
            return content_blocks(values)
        except AttachError as exc:
            raise InputError(str(exc)) from None
        except Exception as exc:  # e.g. a figure whose savefig raises
            reason = redact(f"{type(exc).__name__}: {exc}", self.connection.secrets())
            raise InputError(f"--attach: converting {', '.join(values)} failed with {reason}") from None

    # -- preparing a turn ------------------------------------------------------------------------
    def prepare(
        self,
        request: TurnRequest,
        namespace: Mapping[str, Any] | None = None,
        *,
        cell: tuple[str | None, int | None] = (None, None),
    ) -> PreparedTurn:
        """Everything a turn needs before it is sent; raises InputError for the user's mistakes.

        ``namespace`` holds the values ``{{name}}`` and ``attach`` refer to; ``cell`` is the running
        cell's id and execution count, so a re-run cell rewinds (a panel passes none: it continues
        from the head).
        """
        check_settings(request)
        output_schema = self.output_schema(request)
        prompt = self.prompt(request, namespace)
        self.require_key()
        self.check_budget()
        blocks = self.attachments(request.attach, namespace, request.files)
        functions = self.functions(request)
        thread = self.thread(request.thread)
        if thread.busy:
            raise busy_error(ThreadBusy(thread.name))
        # A thread starts over (a move to another server, --new) only once nothing can refuse the turn.
        moved = self._moved_note(thread)
        starts_over = moved is not None or request.new
        cell_id, execution = cell
        execution = execution if cell_id else None
        slot = (
            Slot(None, thread.generation, cell_id, execution)
            if starts_over
            else thread.slot(cell_id, execution)
        )
        before = thread.settings_after(slot.parent_id)
        settings = before.updated(
            system=self.fill(request.system, namespace) if request.system else request.system,
            thinking=request.thinking,
            temperature=request.temperature,
            max_output_tokens=request.max_output_tokens,
            tools=self._tools(request, before, namespace),
        )
        chosen = self.default_tools(namespace) if settings.tools is None else settings.tools
        # the thread's tools hold built-in tool dicts and Python functions (FunctionTool) side by side
        tools = tuple(tool for tool in chosen if not isinstance(tool, FunctionTool))
        functions = _unique_functions(*functions, *(t for t in chosen if isinstance(t, FunctionTool)))
        if functions and request.agent is not None:
            raise InputError("research agents cannot call your functions; leave the functions out")
        if output_schema is not None and request.agent is not None:
            raise InputError(f"research agents write reports, not JSON; leave {_schema_flag(request)} out")
        if request.code and (request.agent is not None or request.image):
            what = "research" if request.agent is not None else "--image"
            raise InputError(f"--code asks for a code block, which {what} does not give; drop one of them")
        if request.code and output_schema is not None:
            raise InputError(
                f"--code asks for a code block, {_schema_flag(request)} for JSON; drop one of them"
            )
        notes: list[str] = [moved] if moved else []
        if request.agent is not None:
            options = TurnOptions(
                model=None,
                prompt=prompt,
                previous_interaction_id=slot.parent_id,
                attachments=tuple(blocks),
                agent=request.agent or default_agent(),
                agent_config=dict(RESEARCH_AGENT_CONFIG),
                settings=settings,  # agents take none of them; the thread keeps them for later turns
            )
            model_name = options.agent or ""
        else:
            model, image_output = self._model_and_images(request, thread.turn(slot.parent_id), notes)
            options = TurnOptions(
                model=model,
                prompt=prompt,
                previous_interaction_id=slot.parent_id,
                system=with_code_instruction(settings.system) if request.code else settings.system,
                thinking=settings.thinking,
                show_thoughts=request.show_thoughts,
                temperature=settings.temperature,
                max_output_tokens=settings.max_output_tokens,
                attachments=tuple(blocks),
                image_output=image_output,
                settings=settings,
                tools=tools,
                functions=functions,
                max_tool_rounds=(
                    self.settings.max_tool_rounds
                    if request.max_tool_rounds is None
                    else request.max_tool_rounds
                ),
                confirm=request.confirm,
                output_schema=output_schema,
            )
            if output_schema is not None and image_output is not None:
                raise InputError(
                    f"{_schema_flag(request)} asks for a JSON answer, but this turn makes a picture "
                    f"({model}); drop --image, or start a text thread (-t OTHER or --new)"
                )
            model_name = model
        if self.connection.offline and self.connection.replay is None:
            what = "research" if request.agent is not None else "answer"
            notes.append(f"Offline: this {what} comes from the built-in emulator, not Gemini.")
        if starts_over:
            thread.reset()
            slot = thread.slot(cell_id, execution)
        thread.server = self.connection.effective_base_url
        result = GeminiResult(prompt=prompt, thread=thread.name, model=model_name)
        result.origin = self.answer_origin(result)  # until the server names the interaction
        self.usage.track(result)
        return PreparedTurn(options, result, thread, slot, notes)

    def _moved_note(self, thread: Thread) -> str | None:
        """A thread continues interactions stored on the server that answered them; after a move
        (``%gemini offline``, ``online``, ``replay``) the new server does not know them, so the thread
        starts over on its next turn (its history stays until then, for export), with a note."""
        server = self.connection.effective_base_url
        if not (thread.turns and thread.server is not None and thread.server != server):
            return None
        return (
            f"Thread {thread.name!r} starts over: its earlier turns are stored on the server it used "
            "before (offline, online and replay each use their own)."
        )

    def output_schema(self, request: TurnRequest) -> OutputSchema | None:
        """The JSON the turn asks for: ``schema`` checked and described, or any JSON (``json``)."""
        if request.schema is not None:
            return OutputSchema.from_object(request.schema)
        return OutputSchema.json_only() if request.json else None

    def _tools(
        self, request: TurnRequest, before: ThreadSettings, namespace: Mapping[str, Any] | None
    ) -> tuple[dict[str, Any], ...] | str | None:
        """The thread's tools after this turn: None keeps them, DEFAULT goes back to the trait's."""
        given = request.tools
        back_to_defaults = given is not None and [str(n).strip().lower() for n in given] == [DEFAULT]
        if not request.mcp:
            if back_to_defaults:
                return DEFAULT
            return None if given is None else tuple(resolve_tools(given, namespace))
        servers = [mcp_server(spec, self.settings.mcp_headers) for spec in request.mcp]
        if given is not None and not back_to_defaults:
            current: Any = resolve_tools(given, namespace)
        elif before.tools is not None and not back_to_defaults:
            current = before.tools
        else:
            current = self.default_tools(namespace)
        return tuple(with_mcp(current, servers))

    def default_tools(self, namespace: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], ...]:
        """The tools of a thread that chose none: ``GeminiMagics.tools``."""
        if not self.settings.tools:
            return ()
        try:
            return tuple(resolve_tools(self.settings.tools, namespace))
        except InputError as exc:
            raise InputError(f"GeminiMagics.tools: {exc}") from None

    def functions(self, request: TurnRequest) -> tuple[FunctionTool, ...]:
        """The functions given on the turn with their declarations; one that cannot be declared is
        refused, naming the function and the parameter (functions kept by the thread come with its
        tools)."""
        rounds = request.max_tool_rounds
        if rounds is not None and (not isinstance(rounds, int) or rounds < 1):
            raise InputError(f"--max-tool-rounds must be a positive whole number, not {rounds}")
        if not request.functions:
            return ()
        if request.agent is not None:
            raise InputError("research agents cannot call your functions; leave the functions out")
        try:
            return tuple(FunctionTools.of(request.functions).tools.values())
        except DeclarationError as exc:
            raise InputError(f"cannot offer {exc}") from None

    def _model_and_images(
        self, request: TurnRequest, parent: Turn | None, notes: list[str]
    ) -> tuple[str, dict[str, Any] | None]:
        """The model for this turn, and the image output it asks for (None: text only).

        A turn that continues an image turn keeps its model and image settings unless told
        otherwise, so "make the lighting warmer" edits the picture above it.
        """
        model, resolved = self.resolve_model(request.model)
        notes += resolved
        asked = bool(request.image or request.aspect or request.size)
        continuing = parent is not None and parent.image_output is not None and not request.model
        if continuing and parent is not None:
            model = parent.model
            notes.append(f"Editing the picture above with {model}; use -m or -t to change that.")
        elif asked and not models.makes_images(model):
            if request.model:
                raise InputError(
                    f"{model} does not make images; use an image model such as "
                    f"{models.DEFAULT_IMAGE_MODEL}, or leave -m out"
                )
            model, resolved = self.resolve_model(self.settings.image_model)
            notes += resolved
        if not (asked or continuing or models.makes_images(model)):
            return model, None
        output = dict(parent.image_output or {}) if continuing and parent is not None else {}
        aspects, sizes = image_choices()
        for flag, value, valid, key in (
            ("--aspect", request.aspect, aspects, "aspect_ratio"),
            ("--size", request.size, sizes, "image_size"),
        ):
            if value is None:
                continue
            if value not in valid:
                raise InputError(f"{flag} {value!r} is not accepted; use one of: {', '.join(valid)}")
            output[key] = value
        return model, output

    # -- provenance --------------------------------------------------------------------------------
    def provenance(self, result: GeminiResult, options: TurnOptions | None) -> dict[str, Any]:
        """What an answer's outputs record about it (ids, model, thread, options, usage, origin)."""
        return provenance_record(result, options, self.answer_origin(result))

    # -- running ---------------------------------------------------------------------------------
    def run(
        self,
        prepared: PreparedTurn,
        *,
        on_event: EventSink,
        unary: bool = False,
        confirm: Confirm | None = None,
    ) -> GeminiResult:
        """Run a prepared turn in the calling thread (a cell); a kernel interrupt stops it.

        The turn's functions run here; with ``TurnRequest(confirm=True)``, ``confirm(call)`` decides
        each call (a cell asks through the shell's ``input``)."""
        if prepared.options.confirm and confirm is None:
            raise InputError("--confirm needs a way to ask: this front end cannot ask questions")
        try:
            return self.turns.run(
                prepared.thread,
                prepared.options,
                prepared.result,
                on_event=on_event,
                slot=prepared.slot,
                unary=unary,
                confirm=confirm,
            )
        except ThreadBusy as exc:
            raise busy_error(exc) from None
        except GeminiReplayMissing as exc:
            raise exc.in_thread(prepared.thread.name) from None

    def start(
        self,
        prepared: PreparedTurn,
        *,
        on_event: EventSink,
        on_done: Callable[[GeminiResult, BaseException | None], None],
    ) -> BackgroundTurn:
        """Run a prepared turn on a worker thread (a panel, a batch); close() stops it."""
        self._check_open()
        if prepared.options.confirm:
            raise InputError("--confirm asks in the cell; a panel's turn cannot ask, so leave it out")
        try:
            turn = self.turns.start(
                prepared.thread,
                prepared.options,
                prepared.result,
                on_event=on_event,
                on_done=on_done,
                slot=prepared.slot,
            )
        except ThreadBusy as exc:
            raise busy_error(exc) from None
        self._track(turn)
        return turn

    def start_research(self, prepared: PreparedTurn) -> ResearchRun:
        """Start a prepared agent turn (``TurnRequest(agent=…)``) as a background research run."""
        self._check_open()
        run = ResearchRun(
            self.connection,
            prepared.thread,
            prepared.options,
            prepared.result,
            max_resumes=self.settings.max_resumes,
            stall_timeout=self.settings.stall_timeout,
            poll_interval=self.settings.research_poll_interval,
            slot=prepared.slot,
        )
        return self._start_run(run)

    def reattach(
        self,
        interaction_id: str,
        *,
        thread: str | None = None,
        cell: tuple[str | None, int | None] = (None, None),
    ) -> ResearchRun:
        """Follow a research run started earlier; with ``thread`` its report joins that thread."""
        self.require_key()
        target = self.thread(thread) if thread is not None else None
        if target is not None and target.busy:
            raise busy_error(ThreadBusy(target.name))
        cell_id, execution = cell
        slot = target.slot(cell_id, execution if cell_id else None) if target is not None else None
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
            self.connection,
            target,
            options,
            result,
            max_resumes=self.settings.max_resumes,
            stall_timeout=self.settings.stall_timeout,
            poll_interval=self.settings.research_poll_interval,
            existing_id=interaction_id,
            slot=slot,
        )
        return self._start_run(run)

    def cancel_research(self, interaction_id: str, on_retry: RetrySink | None = None) -> str:
        """Ask the server to cancel a research run; returns its status afterwards."""
        self.require_key()
        try:
            interaction = self.connection.interactions(on_retry=on_retry).cancel(interaction_id)
        except Exception as exc:
            raise self.connection.translate(exc) from None
        return str(interaction.status)

    def start_background(self, work: BatchRun) -> None:
        """Start background work (a batch) that close() stops."""
        self._check_open()
        work.start()
        self._track(work)

    def keep_batch_answer(self, key: str, result: GeminiResult) -> None:
        """Remember a batch row's answer for re-runs (the oldest are forgotten past KEPT_ANSWERS)."""
        from .batch import KEPT_ANSWERS

        answers = self.batch_answers
        answers.pop(key, None)
        answers[key] = result
        while len(answers) > KEPT_ANSWERS:
            del answers[next(iter(answers))]

    def _start_run(self, run: ResearchRun) -> ResearchRun:
        try:
            run.start()
        except ThreadBusy as exc:
            raise busy_error(exc) from None
        self._track(run)
        return run

    # -- where answers come from -------------------------------------------------------------
    def answer_origin(self, result: GeminiResult) -> str:
        """``"replayed"`` (from the cassette being replayed), ``"offline"`` (the built-in emulator's
        responder) or ``"live"``."""
        return self.connection.answer_origin(result.interaction_id)

    def origin_note(self, result: GeminiResult) -> str | None:
        """In replay mode, the line shown under an answer: where it was recorded, or that it was not."""
        replay = self.connection.replay
        if replay is None or not result.interaction_id:
            return None
        if replay.recorded(result.interaction_id):
            return replay.mark(result.interaction_id)
        thread = self.threads.get(result.thread) if result.thread else None
        turns = [t.interaction_id for t in thread.turns] if thread is not None else []
        number = turns.index(result.interaction_id) + 1 if result.interaction_id in turns else len(turns) + 1
        where = f"thread {result.thread}, turn {number}" if result.thread else f"turn {number}"
        return f"no recording of this prompt in {replay.name} ({where}); answered by the offline emulator"

    # -- background work and closing ---------------------------------------------------
    @property
    def running(self) -> list[BackgroundTurn | ResearchRun | BatchRun]:
        """Background work still running (chat turns, research runs)."""
        running = self._running
        with running.lock:
            running.work = [work for work in running.work if not _ended(work)]
            return list(running.work)

    @property
    def closed(self) -> bool:
        return self._running.closed

    def _track(self, work: BackgroundTurn | ResearchRun | BatchRun) -> None:
        running = self._running
        with running.lock:
            running.work = [w for w in running.work if not _ended(w)] + [work]

    def on_close(self, callback: Callable[[], Any]) -> Callable[[], None]:
        """Call ``callback`` when the session closes (a panel stops its timers); returns an undo."""
        return _subscribe(self._running.closers, self._running.lock, callback)

    def close(self) -> None:
        """Stop background work (chat turns stop; research runs are cancelled, on the server too),
        tell front ends to stop their timers, wait up to ``CLOSE_TIMEOUT`` seconds for the workers,
        and close the connection. Runs at interpreter exit too when nobody called it."""
        self._finalizer()

    def _check_open(self) -> None:
        if self.closed:
            raise InputError("gemini_magics was unloaded: run %load_ext gemini_magics again")


class _Running:
    """The background work and closers of a session; apart from it, so the exit-time
    finalizer can stop them without keeping the session alive."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.work: list[BackgroundTurn | ResearchRun | BatchRun] = []
        self.closers: list[Callable[[], Any]] = []
        self.closed = False


def _shutdown(running: _Running, connection: Connection) -> None:
    with running.lock:
        running.closed = True
        work, running.work = list(running.work), []
        closers, running.closers = list(running.closers), []
    for item in work:
        with contextlib.suppress(Exception):
            if isinstance(item, ResearchRun):
                item.cancel()
            else:
                item.stop()
    for callback in closers:
        with contextlib.suppress(Exception):
            callback()
    deadline = time.monotonic() + CLOSE_TIMEOUT
    for item in work:
        left = max(0.0, deadline - time.monotonic())
        if isinstance(item, ResearchRun):
            item.wait_for_end(left)
        else:
            item.join(left)
    connection.close()


def _ended(work: BackgroundTurn | ResearchRun | BatchRun) -> bool:
    return work.done if isinstance(work, ResearchRun) else not work.running


def _subscribe(
    callbacks: list[Callable[[], Any]], lock: threading.Lock, callback: Callable[[], Any]
) -> Callable[[], None]:
    with lock:
        callbacks.append(callback)

    def undo() -> None:
        with lock, contextlib.suppress(ValueError):
            callbacks.remove(callback)

    return undo


def _unique_functions(*tools: FunctionTool) -> tuple[FunctionTool, ...]:
    """The functions a turn may call, each once (given on the turn, or kept by the thread)."""
    try:
        return tuple(FunctionTools(tools).tools.values())
    except DeclarationError as exc:
        raise InputError(f"cannot offer {exc}") from None


def _schema_flag(request: TurnRequest) -> str:
    return "--schema" if request.schema is not None else "--json"


def busy_error(exc: ThreadBusy) -> InputError:
    return InputError(f"{exc}; wait for it to finish, or use another thread (-t OTHER)")


def check_settings(request: TurnRequest) -> None:
    """Refuse setting values the API cannot take, each with one actionable line."""
    if request.thinking is not None and request.thinking not in (*THINKING_LEVELS, DEFAULT):
        raise InputError(
            f"--thinking {request.thinking!r} is not a level; use one of: {', '.join(THINKING_LEVELS)}, "
            f"or {DEFAULT}"
        )
    temperature = request.temperature
    if temperature is not None and temperature != DEFAULT and not _in_range(temperature):
        raise InputError(f"--temperature must be a number from 0 to 2, not {temperature}")
    tokens = request.max_output_tokens
    if tokens is not None and tokens != DEFAULT and (not isinstance(tokens, int) or tokens <= 0):
        raise InputError(f"--max-output-tokens must be a positive number of tokens, not {tokens}")


def _header_secrets(headers: Mapping[str, Mapping[str, str]]) -> tuple[str, ...]:
    """MCP header values long enough to be credentials: scrubbed from everything shown, like the key."""
    return tuple(
        str(value)
        for server in (headers or {}).values()
        for value in (server or {}).values()
        if len(str(value)) >= 8
    )


def _in_range(temperature: Any) -> bool:
    return isinstance(temperature, int | float) and math.isfinite(temperature) and 0.0 <= temperature <= 2.0

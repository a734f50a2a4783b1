"""``%%gemini`` and ``%gemini``: parse, call the layers below, route the result.

State (threads, the connection, the last result) lives on the ``GeminiMagics`` instance, reachable as
``get_ipython().magics_manager.registry["GeminiMagics"]``.
"""

from __future__ import annotations

import contextlib
import functools
import keyword
import math
import os
import re
import weakref
from pathlib import Path
from typing import Any

from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import magic_arguments
from traitlets import Float, Int, Unicode, observe

from ..core import models
from ..core.attachments import AttachError, content_blocks
from ..core.client import Connection
from ..core.errors import GeminiTurnIncomplete, redact
from ..core.prompt import UnknownVariable, resolve, substitute
from ..core.request import TurnOptions, image_choices
from ..core.results import GeminiResult
from ..core.threads import Thread, ThreadBusy, Threads, Turn, name_problem
from ..core.turns import TurnRunner
from . import commands
from . import research as research_magic
from .args import gemini_arguments, parse_line
from .display import NotebookRenderer, TextRenderer, register_formatters

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

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.connection = Connection(base_url=self.base_url, max_retry_wait=self.max_retry_wait)
        self.threads = Threads()
        self.turns = TurnRunner(self.connection, lambda: self.max_resumes, lambda: self.stall_timeout)
        self.last_result: GeminiResult | None = None
        self._cell_id: str | None = None
        self._execution = 0  # counts cell executions: the turns of one execution chain
        self._finalizer = weakref.finalize(self, self.connection.close)
        if shell is not None:
            register_formatters(shell)
            shell.events.register("pre_run_cell", self._remember_cell)
            shell.input_transformer_manager.line_transforms.append(route_questions_to_the_magic)
        if os.environ.get(OFFLINE_ENV, "").lower() in ("1", "true", "yes"):
            self.connection.go_offline()

    @property
    def ip(self) -> InteractiveShell:
        """The shell this instance serves (always set once the extension is loaded)."""
        if self.shell is None:
            raise UsageError("gemini_magics is not loaded in an IPython shell: run %load_ext gemini_magics")
        return self.shell

    def close(self) -> None:
        if self.shell is not None:
            with contextlib.suppress(ValueError):
                self.shell.events.unregister("pre_run_cell", self._remember_cell)
                self.shell.input_transformer_manager.line_transforms.remove(route_questions_to_the_magic)
        self._finalizer()

    @observe("base_url")
    def _base_url_changed(self, change: dict[str, Any]) -> None:
        self.connection.base_url = change["new"]

    @observe("max_retry_wait")
    def _max_retry_wait_changed(self, change: dict[str, Any]) -> None:
        self.connection.max_retry_wait = change["new"]

    def _remember_cell(self, info: Any) -> None:
        self._cell_id = getattr(info, "cell_id", None)
        self._execution += 1

    def slot(self, thread: Thread) -> Any:
        """Where a turn from the running cell joins ``thread`` (the first turn of a run rewinds)."""
        return thread.slot(self._cell_id, self._execution if self._cell_id else None)

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
        ``chat [THREAD]``, ``research``, ``login``, ``offline``, ``online``; ``%gemini --help``
        lists them and ``%gemini reset --help`` shows one's usage. Use ``%gemini -- PROMPT`` for a
        prompt that starts with one of those words.

        ``{{name}}``, ``{{obj.attr}}``, ``{{items[0]}}`` and ``{{Out[3]}}`` are replaced by the
        value's text from your namespace; other braces are sent untouched (``--raw`` sends all
        as is). The last result is ``_gemini`` (``-o VAR`` stores it in ``VAR`` too): ``.text``,
        ``.thoughts``, ``.interaction_id``, ``.usage``, ``.status``, ``.steps``, ``.images``.

        Pictures: ``%%gemini --image --aspect 16:9`` asks for one; the next cell on the thread
        edits it. ``--attach fig`` sends a figure, image, array, bytes or file along.

        Research: ``%%gemini --research -o report`` runs the Deep Research agent in the
        background with a live progress panel; ``report.wait()`` blocks until it is done.
        """
        if commands.dispatch(self._command_context(), line, cell=cell is not None):
            return
        args = parse_line(self.gemini.parser, line, cell=cell is not None)
        if not args.research and (args.agent is not None or args.max or args.wait):
            raise UsageError("--agent, --max and --wait go with --research; add --research or drop them")
        if cell is not None and args.prompt:
            raise UsageError(
                f"unexpected words on the %%gemini line: {' '.join(args.prompt)!r}; "
                "put the prompt in the cell body"
            )
        text = cell if cell is not None else " ".join(args.prompt)
        if args.research:
            research_magic.start(self, args, self._prompt(args, text))
            return
        self.run_turn(args, text)

    # -- one turn ------------------------------------------------------------------------------
    def run_turn(self, args: Any, text: str) -> GeminiResult:
        check_options(args)
        prompt = self._prompt(args, text)
        self._require_key()
        attachments = self._attachments(args.attach or [])
        thread = self.thread_named(args.thread)
        renderer = self._renderer(show_thoughts=args.show_thoughts)
        if thread.busy:
            raise busy_error(ThreadBusy(thread.name))
        if args.new:
            thread.reset()
        slot = self.slot(thread)
        parent = slot.parent_id
        model, image_output = self._model_and_images(args, thread.turn(parent), renderer)
        if self.connection.offline:
            renderer.note("Offline: this answer comes from the built-in emulator, not Gemini.")
        options = TurnOptions(
            model=model,
            prompt=prompt,
            previous_interaction_id=parent,
            system=self._substitute(args.system) if args.system else None,
            thinking=args.thinking,
            show_thoughts=args.show_thoughts,
            temperature=args.temperature,
            max_output_tokens=args.max_output_tokens,
            attachments=tuple(attachments),
            image_output=image_output,
        )
        result = GeminiResult(prompt=prompt, thread=thread.name, model=model)
        self._publish(result, args.out)
        save_error: UsageError | None = None
        try:
            self.turns.run(thread, options, result, on_event=renderer.handle, slot=slot, unary=args.no_stream)
        except ThreadBusy as exc:
            raise busy_error(exc) from None
        finally:
            renderer.flush(final=True)
            if args.save and result.images:
                save_error = self._save_images(result, Path(args.save), thread, parent, renderer)
            renderer.footer(self._footer_info(result))
        if result.status == "completed" and thread.turn(result.interaction_id) is None:
            renderer.note("The thread was reset while this answer streamed, so it was not added to it.")
        self._report_outcome(result, renderer)
        if save_error is not None:
            raise save_error
        return result

    def thread_named(self, name: str | None) -> Thread:
        """The thread ``-t name`` (or the configured default) asks for; a bad name is a UsageError."""
        name = self.thread if name is None else name
        problem = name_problem(name)
        if problem:
            raise UsageError(problem)
        return self.threads[name]

    def _require_key(self) -> None:
        if self.connection.api_key() is None:
            raise UsageError(
                "no API key: set GEMINI_API_KEY, or run `%gemini login` "
                "(or `%gemini offline` for the built-in emulator)"
            )

    def _prompt(self, args: Any, text: str) -> str:
        text = re.sub(r"\A(?:[ \t]*\n)+", "", text).rstrip()
        prompt = text if args.raw else self._substitute(text)
        if not prompt.strip():
            if getattr(args, "cell", True):
                raise UsageError("empty prompt: write it on the lines below %%gemini")
            if args.attach:
                raise UsageError(
                    "empty prompt: --attach takes every word after it, so write the prompt first: "
                    "%gemini PROMPT --attach NAME"
                )
            raise UsageError("empty prompt: write it after %gemini, or use a %%gemini cell")
        return prompt

    def _model_and_images(self, args: Any, parent: Turn | None, renderer: Any) -> tuple[str, Any]:
        """The model for this turn, and the image output it asks for (None: text only).

        A turn that continues an image turn keeps its model and image settings unless told
        otherwise, so "make the lighting warmer" edits the picture above it.
        """
        requested = args.model or self.model
        model = self._model(requested)
        if model != requested:
            renderer.note(f"{requested} is retired; using {model} instead.")
        asked = bool(args.image or args.aspect or args.size)
        continuing = parent is not None and parent.image_output is not None and not args.model
        if continuing and parent is not None:
            model = parent.model
            renderer.note(f"Editing the picture above with {model}; use -m or -t to change that.")
        elif asked and not models.makes_images(model):
            if args.model:
                raise UsageError(
                    f"{model} does not make images; use an image model such as "
                    f"{models.DEFAULT_IMAGE_MODEL}, or leave -m out"
                )
            model = self._model(self.image_model)
        if not (asked or continuing or models.makes_images(model)):
            return model, None
        output = dict(parent.image_output or {}) if continuing and parent is not None else {}
        aspects, sizes = image_choices()
        for flag, value, valid, key in (
            ("--aspect", args.aspect, aspects, "aspect_ratio"),
            ("--size", args.size, sizes, "image_size"),
        ):
            if value is None:
                continue
            if value not in valid:
                raise UsageError(f"{flag} {value!r} is not accepted; use one of: {', '.join(valid)}")
            output[key] = value
        return model, output

    def _attachments(self, names: list[str]) -> list[dict[str, Any]]:
        values = {}
        for name in names:
            try:
                values[name] = resolve(name, self.ip.user_ns)
            except UnknownVariable as exc:
                if exc.raised:
                    reason = redact(exc.reason, self.connection.secrets())
                    raise UsageError(f"--attach {name}: reading it failed with {reason}") from None
                raise UsageError(f"--attach {name}: {exc.reason}; define it first") from None
        try:
            return content_blocks(values)
        except AttachError as exc:
            raise UsageError(str(exc)) from None
        except Exception as exc:  # e.g. a figure whose savefig raises
            reason = redact(f"{type(exc).__name__}: {exc}", self.connection.secrets())
            raise UsageError(f"--attach: converting {', '.join(values)} failed with {reason}") from None

    def _save_images(
        self, result: GeminiResult, folder: Path, thread: Any, parent: str | None, renderer: Any
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

    def _report_outcome(self, result: GeminiResult, renderer: Any) -> None:
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
    def _substitute(self, text: str) -> str:
        try:
            return substitute(text, self.ip.user_ns)
        except UnknownVariable as exc:
            reason = redact(exc.reason, self.connection.secrets())
            if exc.raised:
                raise UsageError(
                    f"reading {{{{{exc.reference}}}}} failed with {reason}; fix it, or use --raw "
                    "to send the braces as they are"
                ) from None
            raise UsageError(f"{reason} in {{{{{exc.reference}}}}}; define it first, or use --raw") from None

    def _model(self, requested: str | None) -> str:
        model = requested or self.model
        if models.is_legacy(model):
            return models.DEFAULT_MODEL
        if not models.looks_like_model_id(model):
            guess = models.suggest(model)
            hint = f"did you mean {guess}?" if guess else "`%gemini models` lists them"
            raise UsageError(f"unknown model {model!r}; {hint}")
        return model

    def _renderer(self, *, show_thoughts: bool) -> Any:
        secrets = [s for s in self.connection.secrets() if s]
        scrub = functools.partial(redact, secrets=secrets)
        if type(self.ip.display_pub) is DisplayPublisher:
            holdback = max((len(s) for s in secrets), default=1) - 1
            return TextRenderer(show_thoughts=show_thoughts, scrub=scrub, holdback=holdback)
        return NotebookRenderer(interval=self.stream_interval, show_thoughts=show_thoughts, scrub=scrub)

    def _publish(self, result: GeminiResult, out: str | None) -> None:
        self.last_result = result
        self.ip.user_ns["_gemini"] = result
        if out:
            self.ip.user_ns[out] = result

    def _footer_info(self, result: GeminiResult) -> dict[str, Any]:
        return {
            "model": result.model,
            "thread": result.thread,
            "usage": result.usage,
            "status": result.status,
            "interaction_id": result.interaction_id,
            "offline": self.connection.offline,
        }


def busy_error(exc: ThreadBusy) -> UsageError:
    return UsageError(f"{exc}; wait for it to finish, or use -t OTHER")


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
    temperature = getattr(args, "temperature", None)
    if temperature is not None and not (math.isfinite(temperature) and 0.0 <= temperature <= 2.0):
        raise UsageError(f"--temperature must be a number from 0 to 2, not {temperature}")
    tokens = getattr(args, "max_output_tokens", None)
    if tokens is not None and tokens <= 0:
        raise UsageError(f"--max-output-tokens must be a positive number of tokens, not {tokens}")


def check_variable_name(name: str) -> None:
    """``-o NAME``: a plain identifier the shell does not rely on."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"-o needs a variable name, not {name!r}; e.g. -o answer")
    if name in _SHELL_NAMES or _SHELL_NAME_PATTERN.fullmatch(name):
        raise UsageError(f"-o {name}: IPython itself uses {name}; pick another name, e.g. -o answer")

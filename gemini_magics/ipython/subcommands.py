"""The ``%gemini`` sub-commands: small functions over the magics instance's state."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.display import display

from ..core import models
from ..render.markdown import escape_markdown, to_html

if TYPE_CHECKING:
    from .magics import GeminiMagics


def _no_arguments(name: str, words: list[str]) -> None:
    if words:
        raise UsageError(f"%gemini {name} takes no arguments (got {' '.join(words)!r})")


def status(magics: GeminiMagics, words: list[str]) -> None:
    _no_arguments("status", words)
    key = magics.connection.api_key()
    lines = [f"model:   {magics.model}"]
    if magics.connection.offline:
        lines.append("mode:    offline (built-in emulator; nothing leaves this machine)")
    lines.append(f"key:     {key.masked} from {key.origin}" if key else "key:     not set")
    if magics.connection.effective_base_url:
        lines.append(f"server:  {magics.connection.effective_base_url}")
    for thread in magics.threads:
        lines.append(f"thread:  {thread.name} — {len(thread.turns)} turn(s), head {thread.head}")
        if thread.settings:
            lines.append(f"         settings: {thread.settings.describe()}")
    print("\n".join(lines))


def list_models(magics: GeminiMagics, words: list[str]) -> None:
    _no_arguments("models", words)
    for model in models.known_models():
        marker = " (default)" if model == magics.model else ""
        print(f"{model}{marker}")
    print("agents: " + ", ".join(models.known_agents()))


def list_threads(magics: GeminiMagics, words: list[str]) -> None:
    _no_arguments("threads", words)
    if not len(magics.threads):
        print("no threads yet; a %%gemini cell starts 'default'")
    for thread in magics.threads:
        print(f"{thread.name}: {len(thread.turns)} turn(s), head {thread.head}")


def history(magics: GeminiMagics, words: list[str]) -> None:
    if len(words) > 1:
        raise UsageError("usage: %gemini history [THREAD]")
    name = words[0] if words else magics.thread
    if name not in magics.threads:
        raise UsageError(f"no thread named {name!r}; {_existing(magics)}")
    thread = magics.threads[name]
    turns = thread.turns
    rows = [
        (
            str(i),
            (t.cell_id or "-")[:8],
            t.snippet,
            t.model,
            str(t.images or "-"),
            str(t.total_tokens or "-"),
            t.interaction_id,
        )
        for i, t in enumerate(turns, 1)
    ]
    header = ("#", "cell", "prompt", "model", "images", "tokens", "interaction")
    plain = "\n".join("  ".join(row) for row in [header, *rows])
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += ["| " + " | ".join(escape_markdown(cell) for cell in row) + " |" for row in rows]
    settings = f"settings: {thread.settings.describe()}"
    title = f"**Thread {escape_markdown(name)}**: {len(turns)} turn(s); {escape_markdown(settings)}\n\n"
    plain = f"{settings}\n{plain}"
    display({"text/html": to_html(title + "\n".join(table)), "text/plain": plain}, raw=True)


def reset(magics: GeminiMagics, words: list[str]) -> None:
    """Start a thread (or all) over. A turn still running on it finishes but does not join it."""
    if words == ["--all"]:
        busy = [thread.name for thread in magics.threads if thread.busy]
        magics.threads.reset_all()
        print("all threads start over" + _still_running(busy))
        return
    if len(words) > 1:
        raise UsageError("usage: %gemini reset [THREAD|--all]")
    name = words[0] if words else magics.thread
    thread = magics.threads.get(name)
    if thread is None:
        if words:
            raise UsageError(f"no thread named {name!r}; {_existing(magics)}")
        print(f"thread {name!r} has no turns yet")
        return
    busy = [name] if thread.busy else []
    thread.reset()
    print(f"thread {name!r} starts over" + _still_running(busy))


def _existing(magics: GeminiMagics) -> str:
    names = magics.threads.names
    return "existing threads: " + ", ".join(map(repr, names)) if names else "there are no threads yet"


def _still_running(busy: list[str]) -> str:
    if not busy:
        return ""
    names = ", ".join(map(repr, busy))
    return (
        f"; the turn still running on {names} (a chat panel or a research run) will finish but not be added"
    )


def login(magics: GeminiMagics, words: list[str]) -> None:
    _no_arguments("login", words)
    try:
        key = getpass.getpass("Gemini API key (kept in this kernel's memory only): ")
    except StdinNotImplementedError:
        raise UsageError(
            "this frontend cannot ask for input; set GEMINI_API_KEY in the environment instead"
        ) from None
    if not key.strip():
        raise UsageError("no key entered; run `%gemini login` again")
    magics.connection.go_online()
    magics.connection.login(key)
    print(f"key {magics.connection.api_key().masked} stored for this kernel")  # type: ignore[union-attr]


def offline(magics: GeminiMagics, words: list[str]) -> None:
    _no_arguments("offline", words)
    url = magics.connection.go_offline()
    print(f"offline: answers now come from the built-in emulator at {url}, not from Gemini")


def online(magics: GeminiMagics, words: list[str]) -> None:
    _no_arguments("online", words)
    magics.connection.go_online()
    key = magics.connection.api_key()
    where = f"key {key.masked} from {key.origin}" if key else "no key set yet (`%gemini login`)"
    print(f"online: talking to Gemini; {where}")


def chat(magics: GeminiMagics, words: list[str]) -> None:
    if len(words) > 1:
        raise UsageError("usage: %gemini chat [THREAD]")
    from ..widgets.chat import show_chat

    show_chat(magics.shell, magics.thread_named(words[0] if words else None).name)


def research(magics: GeminiMagics, words: list[str]) -> None:
    from . import research as research_magic

    research_magic.command(magics, words)


COMMANDS: dict[str, Callable[[Any, list[str]], None]] = {
    "research": research,
    "chat": chat,
    "status": status,
    "models": list_models,
    "threads": list_threads,
    "history": history,
    "reset": reset,
    "login": login,
    "offline": offline,
    "online": online,
}

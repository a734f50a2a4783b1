"""``%gemini status`` and ``%gemini models``: what this kernel talks to, and with what."""

from __future__ import annotations

from ...core import models
from .context import CommandContext
from .parser import CommandParser


def status(ctx: CommandContext, rest: str) -> None:
    """Show the default model, the mode, the key (masked), the server and the threads."""
    CommandParser("status", "", status.__doc__ or "").parse(rest)
    key = ctx.connection.api_key()
    lines = [f"model:   {ctx.default_model}"]
    replay, recorder = ctx.connection.replay, ctx.connection.recorder
    if replay is not None:
        strict = ", strict" if replay.strict else ""
        lines.append(f"mode:    replaying {replay.cassette.path} (speed {replay.speed:g}{strict})")
    elif ctx.connection.offline:
        lines.append("mode:    offline (built-in emulator; nothing leaves this machine)")
    if recorder is not None:
        lines.append(f"record:  every interaction goes to {recorder.path}")
    if ctx.connection.offline:  # the emulator takes a placeholder; the user's key is not sent
        lines.append("key:     none needed")
    else:
        lines.append(f"key:     {key.masked} from {key.origin}" if key else "key:     not set")
    if ctx.connection.effective_base_url:
        lines.append(f"server:  {ctx.connection.effective_base_url}")
    for thread in ctx.threads:
        lines.append(f"thread:  {thread.name} — {len(thread.turns)} turn(s), head {thread.head}")
        if thread.settings:
            lines.append(f"         settings: {thread.settings.describe()}")
    print("\n".join(lines))


def list_models(ctx: CommandContext, rest: str) -> None:
    """List the model ids this version knows (the default marked) and the research agents."""
    CommandParser("models", "", list_models.__doc__ or "").parse(rest)
    for model in models.known_models():
        marker = " (default)" if model == ctx.default_model else ""
        print(f"{model}{marker}")
    print("agents: " + ", ".join(models.known_agents()))

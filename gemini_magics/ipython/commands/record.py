"""``%gemini record PATH`` and ``%gemini record stop``: write this kernel's traffic to a cassette."""

from __future__ import annotations

from pathlib import Path

from ...core.recording import SUFFIX
from .. import usage_errors
from .context import CommandContext
from .parser import CommandParser

EPILOG = f"""\
PATH without a suffix gets {SUFFIX}; an existing file is replaced. Requests are written without
their headers (no API key) and the key is removed from everything written. Replay it with
`%gemini replay PATH`."""


def record(ctx: CommandContext, rest: str) -> None:
    """Record every interaction this kernel makes to a cassette file (`record stop` ends it)."""
    parser = CommandParser("record", "PATH | stop", record.__doc__ or "", EPILOG)
    parser.add_argument("target", nargs="?", metavar="PATH|stop", help="The cassette file, or stop.")
    target = parser.parse(rest).target
    connection = ctx.connection
    if target is None:
        recorder = connection.recorder
        print(f"recording to {recorder.path}" if recorder else "not recording; `%gemini record PATH` starts")
        return
    if target == "stop":
        stopped = connection.stop_recording()
        print(f"recording stopped; the cassette is {stopped.path}" if stopped else "was not recording")
        return
    path = Path(target).expanduser()
    if not path.suffix:
        path = path.with_name(path.name + SUFFIX)
    with usage_errors():
        recorder = connection.start_recording(str(path))
    print(f"recording every interaction of this kernel to {recorder.path}; `%gemini record stop` ends it")

"""``%gemini replay PATH`` and ``%gemini replay stop``: answer from a recorded cassette."""

from __future__ import annotations

from IPython.core.error import UsageError

from .. import usage_errors
from .context import CommandContext
from .parser import CommandParser

EPILOG = """\
Each prompt is looked up by its place in its thread and a hash of what it sends; the recorded answer
is served by the built-in emulator over HTTP, marked "replayed from a recording of MODEL made on
DATE". A prompt that was not recorded is answered by the offline emulator, with a note (--strict:
an error). GEMINI_MAGICS_REPLAY=PATH (a cassette, or a folder of NOTEBOOK.cassette.jsonl files) turns
this on when the kernel starts."""


def replay(ctx: CommandContext, rest: str) -> None:
    """Answer from a cassette made with `%gemini record` (`replay stop` talks to Gemini again)."""
    parser = CommandParser("replay", "PATH [--strict] [--speed S] | stop", replay.__doc__ or "", EPILOG)
    parser.add_argument("target", nargs="?", metavar="PATH|stop", help="The cassette file, or stop.")
    parser.add_argument(
        "--strict", action="store_true", help="A prompt that was not recorded fails instead of going offline."
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=0.0,
        metavar="S",
        help="Recorded pacing × S: 1 plays streams and research at their original pace, "
        "0 (the default) at once.",
    )
    args = parser.parse(rest)
    connection = ctx.connection
    if args.target is None:
        now = connection.replay
        print(f"replaying {now.name}" if now else "not replaying; `%gemini replay PATH` starts")
        return
    if args.target == "stop":
        was = connection.replay
        connection.go_online()
        print(f"replay of {was.name} stopped; talking to Gemini again" if was else "was not replaying")
        return
    if args.speed < 0:
        raise UsageError(f"--speed must be 0 or more, not {args.speed:g}")
    with usage_errors():
        loaded = connection.go_replay(args.target, strict=args.strict, speed=args.speed)
    count = len(loaded.cassette.creates)
    mode = "strict" if args.strict else "unrecorded prompts go to the offline emulator"
    print(
        f"replaying {count} recorded interaction(s) from {loaded.name} ({mode}); "
        "`%gemini replay stop` ends it"
    )

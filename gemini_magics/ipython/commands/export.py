"""``%gemini export [THREAD] PATH``: write a thread as Markdown, a notebook or JSON (by extension)."""

from __future__ import annotations

import json
from pathlib import Path

from IPython.core.error import UsageError

from ...core.transcript import Transcript, build_transcript, transcript_json
from ...render.export import markdown_transcript, notebook_transcript
from .context import CommandContext
from .parser import CommandParser

FORMATS = (".md", ".ipynb", ".json")
EPILOG = """\
.md     prompts, answers and sources; pictures go into a folder next to it (NAME_files/)
.ipynb  a %%gemini cell per turn with the answer as its outputs (and its provenance)
.json   every turn: ids, model, prompt, answer, thoughts, pictures (base64), sources, usage"""


def export(ctx: CommandContext, rest: str) -> None:
    """Write a thread's turns to PATH as Markdown (.md), a notebook (.ipynb) or JSON (.json)."""
    parser = CommandParser("export", "[THREAD] PATH", export.__doc__ or "", EPILOG)
    parser.add_argument("first", nargs="?", metavar="THREAD", help="The thread (default: the default one).")
    parser.add_argument("second", nargs="?", metavar="PATH", help="The file to write.")
    args = parser.parse(rest)
    words = [word for word in (args.first, args.second) if word is not None]
    if not words:
        parser.error("give the file to write, e.g. %gemini export lesson.md")
    *named, where = words
    path = Path(where).expanduser()
    kind = path.suffix.lower()
    if kind not in FORMATS:
        raise UsageError(
            f"%gemini export: {where!r} must end in .md, .ipynb or .json (the extension picks the format)"
        )
    name = named[0] if named else ctx.default_thread
    thread = ctx.threads.get(name)
    if thread is None:
        names = ", ".join(map(repr, ctx.threads.names)) or "none yet"
        raise UsageError(f"no thread named {name!r} to export; existing threads: {names}")
    if not thread.turns:
        raise UsageError(f"thread {name!r} has no turns to export yet; run a %%gemini cell on it first")
    transcript = build_transcript(thread)
    try:
        written = _write(ctx, transcript, path, kind)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"%gemini export: could not write {path} ({reason}); pick a writable path") from None
    extra = f" and {written} file(s) in {path.stem}_files/" if written else ""
    print(f"wrote {len(transcript.turns)} turn(s) of thread {name!r} to {path}{extra}")


def _write(ctx: CommandContext, transcript: Transcript, path: Path, kind: str) -> int:
    """Write the file (and the Markdown's media files); returns how many media files were written."""
    scrub = ctx.connection.redact  # turns were scrubbed when they ended; this catches anything since
    if kind == ".json":
        path.write_text(
            scrub(json.dumps(transcript_json(transcript), indent=1, ensure_ascii=False)) + "\n",
            encoding="utf-8",
        )
        return 0
    if kind == ".ipynb":
        notebook = notebook_transcript(transcript)
        path.write_text(scrub(json.dumps(notebook, indent=1, ensure_ascii=False)) + "\n", encoding="utf-8")
        return 0
    folder = f"{path.stem}_files"
    text, files = markdown_transcript(transcript, folder)
    if files:
        (path.parent / folder).mkdir(exist_ok=True)
    for name, media in files:
        (path.parent / name).write_bytes(media.data)
    path.write_text(scrub(text), encoding="utf-8")
    return len(files)

"""A user's mistake on the magic line gets one actionable line (a UsageError), never a raw exception."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from PIL import Image

from gemini_magics.emulator import Reply

from .support import TEST_KEY, creates, markdown_of


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 200, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def refused(ip, code: str, match: str) -> str:
    """Run ``code``; it must fail with a one-line UsageError containing ``match``."""
    with pytest.raises(UsageError) as caught:
        ip.run(code)
    message = str(caught.value)
    assert match in message, message
    assert "\n" not in message and message.strip() == message
    return message


class Raises:
    @property
    def prop(self):
        raise ValueError(f"database {TEST_KEY} is locked")


@pytest.mark.parametrize(
    ("code", "match"),
    [
        # unbalanced quotes
        ("%%gemini -s 'Be terse.\nQ", "the %%gemini line has an unbalanced quote"),
        ('%gemini -s "Be terse. Why?', "the %gemini line has an unbalanced quote"),
        # numbers the API cannot take
        ("%gemini --temperature nan hi", "--temperature must be a number from 0 to 2, not nan"),
        ("%gemini --temperature inf hi", "--temperature must be a number from 0 to 2, not inf"),
        ("%gemini --temperature -0.5 hi", "--temperature must be a number from 0 to 2, not -0.5"),
        ("%gemini --temperature 2.1 hi", "--temperature must be a number from 0 to 2, not 2.1"),
        (
            "%gemini --temperature warm hi",
            "argument --temperature: use a number from 0 to 2, or 'default' to clear it; not 'warm'",
        ),
        ("%gemini --max-output-tokens 0 hi", "--max-output-tokens must be a positive number"),
        ("%gemini --max-output-tokens -5 hi", "--max-output-tokens must be a positive number"),
        # empty names
        ("%gemini -m '' hi", "-m needs a model id"),
        ('%%gemini -m ""\nQ', "-m needs a model id"),
        ("%gemini -t '' hi", "-t needs a thread name"),
        ("%gemini --save '' --image hi", "--save needs a folder"),
        # -o with a keyword or a name the shell relies on
        ("%gemini -o class hi", "-o needs a variable name, not 'class'"),
        ("%gemini -o 2x hi", "-o needs a variable name, not '2x'"),
        *(
            (f"%gemini -o {name} hi", f"-o {name}: IPython itself uses {name}; pick another name")
            for name in ("get_ipython", "In", "Out", "exit", "quit", "_gemini", "_", "__", "___", "_1", "_i2")
        ),
        # thread names that would write outside a --save folder
        ("%gemini -t ../x hi", "thread name '../x' is not allowed"),
        ("%gemini -t a/b hi", "thread name 'a/b' is not allowed"),
        ("%gemini -t /etc/x hi", "thread name '/etc/x' is not allowed"),
        ("%gemini -t 'a\\b' hi", "thread name 'a\\\\b' is not allowed"),
        ("%gemini -t .hidden hi", "thread name '.hidden' is not allowed"),
        ("%gemini chat ../x", "thread name '../x' is not allowed"),
        # sub-commands and options that do not go together
        ("%gemini reset nope", "no thread named 'nope'; there are no threads yet"),
        ("%gemini history nope", "no thread named 'nope'; there are no threads yet"),
        ("%gemini --agent deep-research-preview-04-2026 hi", "--agent, --max and --wait go with --research"),
        ("%gemini --wait hi", "--agent, --max and --wait go with --research"),
        ("%%gemini --research --temperature 1\nQ", "--research does not take --temperature"),
        ("%%gemini --research -m gemini-3.5-flash --image\nQ", "--research does not take -m, --image"),
        ("%gemini --attach img", "empty prompt: --attach takes every word after it"),
        ("%gemini -t x", "empty prompt: write it after %gemini"),
        # {{references}} that fail
        ("%gemini {{boom.prop}}", "reading {{boom.prop}} failed with ValueError: database <redacted> is"),
        ("%gemini --attach boom.prop -- hi", "--attach boom.prop: reading it failed with ValueError"),
    ],
)
def test_bad_magic_lines_are_one_usage_line(ip, emulator, code, match):
    ip.user_ns["boom"] = Raises()
    message = refused(ip, code, match)
    assert TEST_KEY not in message
    assert creates(emulator) == []


def test_an_apostrophe_in_a_line_prompt_is_just_text(ip, emulator):
    emulator.enqueue(Reply.text("Paris."))
    ip.run("%gemini what's the capital of France")
    assert creates(emulator)[0].body["input"] == "what's the capital of France"


def test_reset_of_an_unknown_thread_lists_the_existing_ones(ip, emulator):
    emulator.enqueue(Reply.text("a"), Reply.text("b"))
    ip.run("%gemini hello")
    ip.run("%gemini -t maths hello")
    refused(ip, "%gemini reset nope", "no thread named 'nope'; existing threads: 'default', 'maths'")
    assert len(ip.magics.threads["maths"].turns) == 1  # nothing was reset
    assert "nope" not in ip.magics.threads


def test_a_str_that_raises_names_the_reference(ip, emulator):
    class Loud:
        def __str__(self):
            raise RuntimeError("cannot print")

    ip.user_ns["loud"] = Loud()
    refused(
        ip, "%gemini tell me {{loud}}", "reading {{loud}} failed with str() raised RuntimeError: cannot print"
    )


# -- attachments whose content does not match their name -----------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        (
            "notes.png",
            b"Meeting notes: ship on Friday.\n",
            "notes.png is named like image/png but holds text",
        ),
        (
            "scan.pdf",
            b"\x00\x01\x02\x03garbage",
            "scan.pdf is named like application/pdf but holds unrecognised",
        ),
        ("empty.jpg", b"", "empty.jpg is named like image/jpeg but holds nothing (the file is empty)"),
        ("song.mp3", b"la la la", "song.mp3 is named like audio/mpeg but holds text"),
    ],
)
def test_an_attachment_whose_content_does_not_match_its_name(ip, emulator, tmp_path, name, content, match):
    (tmp_path / name).write_bytes(content)
    ip.user_ns["f"] = tmp_path / name
    message = refused(ip, "%%gemini --attach f\nWhat is this?", match)
    assert "attach the real file" in message
    assert creates(emulator) == []


def test_attached_bytes_that_are_text_say_so(ip, emulator):
    ip.user_ns["raw"] = b"just some words"
    refused(ip, "%%gemini --attach raw\nQ", "raw: these bytes are text ('just some words')")


def test_a_jpeg_named_png_is_sent_as_what_it_is(ip, emulator, tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="JPEG")
    (tmp_path / "photo.png").write_bytes(buffer.getvalue())
    ip.user_ns["photo"] = tmp_path / "photo.png"
    emulator.enqueue(Reply.text("A black square."))
    ip.run("%%gemini --attach photo\nWhat is this?")
    (step,) = creates(emulator)[0].body["input"]
    assert step["content"][1]["mime_type"] == "image/jpeg"


# -- --save problems: the answer is still shown and kept, then the cell fails ---------------------
def _read_only_folder(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o500)
        return folder / "pictures"
    if not sys.platform.startswith("linux"):
        pytest.skip("needs a place root cannot write to")
    return Path("/sys/gemini-magics-test-pictures")  # sysfs refuses new folders, even to root


@pytest.mark.parametrize("problem", ["a file", "read-only"])
def test_save_failure_still_shows_the_answer_then_names_the_path(ip, emulator, tmp_path, problem):
    if problem == "a file":
        target = tmp_path / "taken.txt"
        target.write_text("already here")
    else:
        target = _read_only_folder(tmp_path)
    emulator.enqueue(Reply.image(_png(), text="A green square."))
    start = len(ip.publisher.outputs)
    message = refused(
        ip, f"%%gemini --image --save {target}\nA green square", f"--save {target}: could not write"
    )
    assert "_gemini.images[0].save(PATH)" in message
    shown = ip.publisher.outputs[start:]
    result = ip.user_ns["_gemini"]
    footers = [o for o in shown if "gemini_magics" in (o.get("metadata") or {})]
    assert footers and footers[-1]["metadata"]["gemini_magics"]["interaction_id"] == result.interaction_id
    assert any("image/png" in o["data"] for o in shown)
    assert result.status == "completed" and result.images
    assert [t.interaction_id for t in ip.magics.threads["default"].turns] == [result.interaction_id]


def test_save_creates_missing_parent_folders(ip, emulator, tmp_path):
    emulator.enqueue(Reply.image(_png()))
    folder = tmp_path / "does" / "not" / "exist"
    cell = ip.run(f"%%gemini --image --save {folder} -t fox\nA fox")
    assert (folder / "fox-001-1.png").read_bytes() == _png()
    assert f"Saved {folder / 'fox-001-1.png'}" in markdown_of(cell)

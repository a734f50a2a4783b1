"""Images out (generation, editing, --save) and kernel objects in (--attach)."""

from __future__ import annotations

import base64
import io
import wave

import numpy as np
import pytest
from IPython.core.error import UsageError
from PIL import Image

from gemini_magics.emulator import Reply

from .support import creates, html_of, markdown_of


def _png(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def _mimes(cell) -> list[str]:
    """The kind of each output of a cell, in order (image, text, note, footer)."""
    kinds = []
    for output in cell.outputs:
        if output.get("update"):
            continue
        data = output["data"]
        if any(m.startswith("image/") for m in data):
            kinds.append("image")
        elif (output.get("metadata") or {}).get("gemini_magics", {}).get("part") == "footer":
            kinds.append("footer")
        else:
            kinds.append("text")
    return kinds


def test_image_is_requested_and_shown_inline_as_image_data(ip, emulator):
    emulator.enqueue(Reply.image(_png(), text="Here is your fox."))
    cell = ip.run("%%gemini --image --aspect 16:9 --size 2K\nA watercolor fox reading a notebook")
    body = creates(emulator)[0].body
    assert body["model"] == "gemini-3.1-flash-image"
    assert body["response_format"] == [
        {"type": "text"},
        {"type": "image", "aspect_ratio": "16:9", "image_size": "2K"},
    ]
    (image_output,) = [o for o in cell.outputs if "image/png" in o["data"]]
    assert base64.b64decode(image_output["data"]["image/png"]) == _png()
    assert "![" not in markdown_of(cell) and "base64" not in markdown_of(cell)
    assert _mimes(cell) == ["text", "image", "footer"]
    image = ip.user_ns["_gemini"].images[0]
    assert image.data == _png() and image.mime_type == "image/png"
    assert image.pil.size == (40, 20)


def test_text_and_images_keep_their_order(ip, emulator):
    content = [
        {"type": "text", "text": "First picture:\n\n"},
        {"type": "image", "data": base64.b64encode(_png((1, 2, 3))).decode(), "mime_type": "image/png"},
        {"type": "text", "text": "Second picture:\n\n"},
        {"type": "image", "data": base64.b64encode(_png((4, 5, 6))).decode(), "mime_type": "image/png"},
        {"type": "text", "text": "Done."},
    ]
    emulator.enqueue(Reply([{"type": "model_output", "content": content}]))
    cell = ip.run("%%gemini -m gemini-3-pro-image\nTwo pictures")
    assert _mimes(cell) == ["text", "image", "text", "image", "text", "footer"]
    images = ip.user_ns["_gemini"].images
    assert [img.pil.getpixel((0, 0)) for img in images] == [(1, 2, 3), (4, 5, 6)]
    assert ip.user_ns["_gemini"].text == "First picture:\n\nSecond picture:\n\nDone."


def test_image_by_uri_is_shown_too(ip, emulator):
    block = {"type": "image", "uri": "https://example.com/fox.png?a=1&b=2", "mime_type": "image/png"}
    emulator.enqueue(Reply([{"type": "model_output", "content": [block]}]))
    cell = ip.run("%%gemini --image\nA fox")
    (shown,) = [o["data"]["text/html"] for o in cell.outputs if "<img" in o["data"].get("text/html", "")]
    assert shown == '<img src="https://example.com/fox.png?a=1&amp;b=2" alt="generated image">'
    assert ip.user_ns["_gemini"].images[0].uri == block["uri"]


def test_follow_up_cell_edits_the_picture_through_the_thread(ip, emulator):
    emulator.enqueue(Reply.image(_png()), Reply.image(_png((250, 120, 30))))
    ip.run("%%gemini --image --aspect 16:9\nA fox under a lamp", cell_id="gen")
    first = ip.user_ns["_gemini"].interaction_id
    ip.run("%%gemini\nMake the lighting warmer", cell_id="edit")
    body = creates(emulator)[1].body
    assert body["previous_interaction_id"] == first
    assert body["model"] == "gemini-3.1-flash-image"
    assert body["response_format"][1] == {"type": "image", "aspect_ratio": "16:9"}
    assert body["input"] == "Make the lighting warmer"  # no re-upload
    history = html_of(ip.run("%gemini history"))
    assert "<th>images</th>" in history and "<td>gemini-3.1-flash-image</td>\n<td>1</td>" in history


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("--image --aspect 7:5", "--aspect '7:5' is not accepted; use one of: 1:1, 2:3"),
        ("--image --size 3K", "--size '3K' is not accepted; use one of: 512, 1K, 2K, 4K"),
        ("--image -m gemini-3.5-flash", "gemini-3.5-flash does not make images"),
    ],
)
def test_bad_image_options_are_usage_errors(ip, emulator, options, message):
    with pytest.raises(UsageError, match=message):
        ip.run(f"%%gemini {options}\nA fox")
    assert creates(emulator) == []


def test_save_writes_predictable_file_names(ip, emulator, tmp_path):
    emulator.enqueue(Reply.image(_png()), Reply.image(_png((0, 0, 255)), text="Bluer."))
    ip.run(f"%%gemini --image --save {tmp_path}\nA fox", cell_id="one")
    cell = ip.run(f"%%gemini -t default --save {tmp_path}\nBluer", cell_id="two")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default-001-1.png", "default-002-1.png"]
    assert (tmp_path / "default-002-1.png").read_bytes() == _png((0, 0, 255))
    assert f"Saved {tmp_path / 'default-002-1.png'}" in markdown_of(cell)


def test_a_large_image_is_held_once(ip, emulator):
    big = bytes(range(256)) * (12 * 1024 * 1024 // 256)  # the size of a 4K PNG; content is irrelevant
    emulator.enqueue(Reply.image(big))
    cell = ip.run("%%gemini --image --size 4K\nA big fox")
    result = ip.user_ns["_gemini"]
    held = result.images[0].base64_data
    shown = [o["data"]["image/png"] for o in cell.outputs if "image/png" in o["data"]]
    in_steps = [b["data"] for s in result.steps for b in s.get("content", []) if b.get("type") == "image"]
    assert len(shown) == 1 and shown[0] is held  # sent once, never re-sent by an update
    assert len(in_steps) == 1 and in_steps[0] is held  # the steps share the same text object


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 800)
    return buffer.getvalue()


def test_every_kind_of_attachment_reaches_the_wire_as_the_right_block(ip, emulator, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    (tmp_path / "chart.png").write_bytes(_png())
    (tmp_path / "paper.bin").write_bytes(b"%PDF-1.4\n%%EOF\n")  # sniffed, not guessed from the name
    (tmp_path / "talk.wav").write_bytes(_wav())
    (tmp_path / "clip.mov").write_bytes(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00" + b"\x00" * 64)
    ip.user_ns.update(
        pil=Image.new("RGB", (8, 6), (9, 9, 9)),
        array=np.zeros((5, 7, 3), dtype=np.uint8),
        floats=np.full((4, 4), 0.5),
        raw=_png(),
        chart=tmp_path / "chart.png",
        pdf=str(tmp_path / "paper.bin"),
        audio=tmp_path / "talk.wav",
        video=tmp_path / "clip.mov",
    )
    ip.run("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n_ = ax.plot([1, 3, 2])")
    emulator.enqueue(Reply.text("I see them."))
    ip.run("%%gemini --attach fig pil array floats raw chart pdf audio video\nWhat do you see?")
    (step,) = creates(emulator)[0].body["input"]
    blocks = step["content"]
    assert step["type"] == "user_input" and blocks[0] == {"type": "text", "text": "What do you see?"}
    assert [(b["type"], b["mime_type"]) for b in blocks[1:]] == [
        ("image", "image/png"),
        ("image", "image/png"),
        ("image", "image/png"),
        ("image", "image/png"),
        ("image", "image/png"),
        ("image", "image/png"),
        ("document", "application/pdf"),
        ("audio", "audio/wav"),
        ("video", "video/quicktime"),
    ]
    decoded = [base64.b64decode(b["data"]) for b in blocks[1:]]
    assert Image.open(io.BytesIO(decoded[0])).format == "PNG"  # the figure itself, rendered
    assert Image.open(io.BytesIO(decoded[1])).size == (8, 6)
    assert Image.open(io.BytesIO(decoded[2])).size == (7, 5)
    assert Image.open(io.BytesIO(decoded[3])).getpixel((0, 0)) == 128
    assert decoded[4] == decoded[5] == _png()
    assert decoded[7] == _wav()


@pytest.mark.parametrize(
    ("setup", "attach", "message"),
    [
        ("", "missing", "--attach missing: no variable named 'missing'; define it first"),
        ("n = 42", "n", "n is a int; attach a matplotlib figure, PIL image"),
        ("b = b'hello world'", "b", "b: these bytes are text"),
        ("s = 'not a file'", "s", "s is a string but not the path of a file"),
        ("import numpy as np; a = np.zeros((2, 2, 2))", "a", "an image array must be H×W, H×W×3"),
    ],
)
def test_bad_attachments_are_usage_errors(ip, emulator, setup, attach, message):
    if setup:
        ip.run(setup)
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        ip.run(f"%%gemini --attach {attach}\nWhat is it?")
    assert creates(emulator) == []


def test_too_large_and_unknown_files_say_what_to_do(ip, emulator, tmp_path):
    huge = tmp_path / "huge.png"
    with huge.open("wb") as out:
        out.truncate(21 * 1024 * 1024)
    (tmp_path / "notes.qqq").write_bytes(b"just some text")
    ip.user_ns.update(huge=huge, notes=tmp_path / "notes.qqq")
    with pytest.raises(UsageError, match=r"huge is 21.0 MB, more than the 20 MB .* shrink it"):
        ip.run("%%gemini --attach huge\nQ")
    with pytest.raises(UsageError, match="cannot tell what kind of file notes.qqq is"):
        ip.run("%%gemini --attach notes\nQ")

"""Images in and out of the offline responder, driven through the real SDK over HTTP.

Pictures are decoded with Pillow when it is installed (it is in the dev venv), otherwise
with the emulator's own decoder, so these tests never trust the encoder to check itself
where an independent decoder exists.
"""

from __future__ import annotations

import base64
import io
import struct
import time
from typing import Any

import httpx
import pytest
from google.genai import _interactions as gi

from gemini_magics.emulator import Reply
from gemini_magics.emulator.imaging import Picture, output_size
from gemini_magics.emulator.media import sniff_image
from gemini_magics.emulator.offline import image_models
from gemini_magics.emulator.schema import image_format_values

try:
    from PIL import Image
except ImportError:  # pragma: no cover - Pillow is a dev dependency
    Image = None

IMAGE_MODEL = "gemini-3.1-flash-image"
TEXT_MODEL = "gemini-3.5-flash"
PROMPT = "A watercolor fox"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n"
    b"4 0 obj << /Type/Page /Parent 2 0 R >> endobj\n"
    b"5 0 obj <</Type/Page/Parent 2 0 R>> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)
# Longest side 512, the other rounded: written out by hand, not computed like the emulator does.
SIZES_AT_512 = {
    "1:1": (512, 512),
    "2:3": (341, 512),
    "3:2": (512, 341),
    "3:4": (384, 512),
    "4:3": (512, 384),
    "4:5": (410, 512),
    "5:4": (512, 410),
    "9:16": (288, 512),
    "16:9": (512, 288),
    "21:9": (512, 219),
    "1:8": (64, 512),
    "8:1": (512, 64),
    "1:4": (128, 512),
    "4:1": (512, 128),
}


def image_format(**fields: Any) -> dict[str, Any]:
    return {"type": "image", **fields}


def decode(png: bytes) -> tuple[tuple[int, int], bytes]:
    """(size, RGB bytes) of a PNG, decoded by Pillow if available."""
    assert png.startswith(PNG_SIGNATURE)
    if Image is not None:
        with Image.open(io.BytesIO(png)) as image:
            assert image.format == "PNG"
            rgb = image.convert("RGB")
            return rgb.size, rgb.tobytes()
    picture = Picture.from_png(png)
    assert picture is not None
    return (picture.width, picture.height), bytes(picture.pixels)


def output_png(interaction: Any) -> bytes:
    assert interaction.output_image is not None, interaction.output_text
    assert interaction.output_image.mime_type == "image/png"
    return base64.b64decode(interaction.output_image.data)


def means(rgb: bytes) -> tuple[float, float, float]:
    count = len(rgb) // 3
    return sum(rgb[0::3]) / count, sum(rgb[1::3]) / count, sum(rgb[2::3]) / count


def changed_fraction(one: bytes, two: bytes) -> float:
    assert len(one) == len(two)
    pixels = len(one) // 3
    same = sum(one[i : i + 3] == two[i : i + 3] for i in range(0, len(one), 3 * 7))
    return 1 - same / len(range(0, pixels, 7))


def pillow_image(fmt: str, size: tuple[int, int]) -> bytes:
    pil = pytest.importorskip("PIL.Image")
    image = pil.new("RGB", size, (200, 40, 90))
    image.paste((10, 180, 60), (0, 0, size[0] // 2, size[1] // 3))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def media_block(kind: str, data: bytes, mime_type: str) -> dict[str, str]:
    return {"type": kind, "data": base64.b64encode(data).decode(), "mime_type": mime_type}


# -- generation ---------------------------------------------------------------------------


def test_generation_reply_is_a_short_offline_text_then_a_png(emulator, client):
    reply = client.interactions.create(model=IMAGE_MODEL, input=PROMPT, response_format=image_format())
    blocks = reply.steps[-1].content
    assert [block.type for block in blocks] == ["text", "image"]
    text = blocks[0].text
    assert text.startswith("*Offline emulator — ")
    assert f"here is a picture for: {PROMPT}" in text.splitlines()[0]
    assert "1024×1024 PNG" in text and "turn 1 of this thread" in text
    assert reply.output_text == text
    size, _ = decode(output_png(reply))
    assert size == (1024, 1024)  # the default image size is 1K, 1:1
    assert emulator.schema_errors == []


def test_the_image_models_come_from_the_sdk_literal():
    expected = {
        "gemini-3.1-flash-image",
        "gemini-3-pro-image",
        "nano-banana-pro-preview",
        "gemini-nano-banana-2.1",
        "gemini-3.1-flash-lite-image",
        "gemini-2.5-flash-image",
    }
    assert expected <= image_models()
    assert TEXT_MODEL not in image_models()


@pytest.mark.parametrize("model", sorted(image_models()))
def test_every_image_model_draws_without_a_response_format(client, model):
    reply = client.interactions.create(model=model, input=PROMPT)
    assert decode(output_png(reply))[0] == (1024, 1024)


@pytest.mark.parametrize(
    "response_format",
    [image_format(), [{"type": "text"}, image_format(aspect_ratio="1:1")]],
    ids=["object", "list"],
)
def test_an_image_response_format_makes_a_text_model_draw(client, response_format):
    reply = client.interactions.create(model=TEXT_MODEL, input=PROMPT, response_format=response_format)
    assert decode(output_png(reply))[0] == (1024, 1024)


def test_a_text_only_response_format_gets_no_picture(client):
    reply = client.interactions.create(model=IMAGE_MODEL, input=PROMPT, response_format={"type": "text"})
    assert reply.output_image is None
    assert reply.output_text.startswith("*Offline emulator")


def test_every_sdk_aspect_ratio_is_covered_here():
    assert set(SIZES_AT_512) == image_format_values()["aspect_ratio"]


@pytest.mark.parametrize(("ratio", "expected"), sorted(SIZES_AT_512.items()))
def test_aspect_ratios(client, ratio, expected):
    reply = client.interactions.create(
        model=IMAGE_MODEL, input=PROMPT, response_format=image_format(aspect_ratio=ratio, image_size="512")
    )
    assert decode(output_png(reply))[0] == expected
    assert output_size(ratio, "512") == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("512", (512, 288)),
        ("1K", (1024, 576)),
        ("2K", (2048, 1152)),
        ("4K", (4096, 2304)),
        (None, (1024, 576)),
    ],
)
def test_image_sizes(client, size, expected):
    fmt = image_format(aspect_ratio="16:9") | ({"image_size": size} if size else {})
    reply = client.interactions.create(model=IMAGE_MODEL, input=PROMPT, response_format=fmt)
    assert decode(output_png(reply))[0] == expected


@pytest.mark.parametrize("ratio", ["1:1", "16:9", "1:8"])
def test_a_4k_picture_is_generated_quickly(client, ratio):
    client.interactions.create(model=TEXT_MODEL, input="warm up the SDK and the schema checks")
    started = time.monotonic()
    reply = client.interactions.create(
        model=IMAGE_MODEL, input=PROMPT, response_format=image_format(aspect_ratio=ratio, image_size="4K")
    )
    elapsed = time.monotonic() - started
    size, rgb = decode(output_png(reply))
    assert max(size) == 4096 and size == output_size(ratio, "4K")
    assert elapsed < 1.5, f"4K {ratio} took {elapsed:.2f} s"
    assert len(set(rgb[::9973])) > 5  # a scene, not a flat fill


def test_streamed_generation_sends_text_deltas_then_one_image_delta(emulator, client):
    events = list(
        client.interactions.create(
            model=IMAGE_MODEL,
            input=PROMPT,
            response_format=image_format(aspect_ratio="3:4", image_size="512"),
            stream=True,
        )
    )
    deltas = [event.delta for event in events if event.event_type == "step.delta"]
    kinds = [delta.type for delta in deltas]
    assert kinds[-1] == "image" and set(kinds[:-1]) == {"text"} and len(kinds) > 2
    text = "".join(delta.text for delta in deltas[:-1])
    assert text.startswith("*Offline emulator") and PROMPT in text
    assert deltas[-1].mime_type == "image/png"
    png = base64.b64decode(deltas[-1].data)
    assert decode(png)[0] == (384, 512)
    stored = client.interactions.get(events[0].interaction.id)
    assert output_png(stored) == png and stored.output_text == text
    assert emulator.schema_errors == []


def test_same_prompt_same_bytes_different_prompt_different_pixels(client):
    def draw(prompt: str) -> bytes:
        fmt = image_format(aspect_ratio="4:3", image_size="512")
        return output_png(client.interactions.create(model=IMAGE_MODEL, input=prompt, response_format=fmt))

    first, again, other = draw(PROMPT), draw(PROMPT), draw("A lighthouse in a storm")
    assert first == again
    (size, one), (other_size, two) = decode(first), decode(other)
    assert size == other_size
    assert changed_fraction(one, two) > 0.3


# -- editing ------------------------------------------------------------------------------


def test_an_edit_along_the_chain_keeps_the_size_and_warms_the_picture(client):
    fmt = image_format(aspect_ratio="16:9", image_size="512")
    first = client.interactions.create(model=IMAGE_MODEL, input=PROMPT, response_format=fmt)
    warmer = client.interactions.create(
        model=IMAGE_MODEL,
        input="Keep everything, but make the lighting warmer",
        previous_interaction_id=first.id,
        response_format=fmt,
    )
    assert "Edited the previous picture: warmer lighting" in warmer.output_text
    assert "turn 2 of this thread" in warmer.output_text
    (size, before), (edited_size, after) = decode(output_png(first)), decode(output_png(warmer))
    assert size == edited_size == (512, 288)
    assert changed_fraction(before, after) > 0.5
    red, _, blue = means(before)
    warm_red, _, warm_blue = means(after)
    assert warm_red - warm_blue > red - blue + 20


def test_a_follow_up_to_an_image_turn_edits_even_on_a_text_model(client):
    first = client.interactions.create(model=IMAGE_MODEL, input=PROMPT)
    night = client.interactions.create(
        model=TEXT_MODEL, input="Now at night", previous_interaction_id=first.id
    )
    assert "Edited the previous picture: darker" in night.output_text
    before, after = decode(output_png(first))[1], decode(output_png(night))[1]
    assert sum(means(after)) < 0.6 * sum(means(before))


def test_cooler_and_unrecognised_edits(client):
    first = client.interactions.create(model=IMAGE_MODEL, input=PROMPT)
    before = decode(output_png(first))[1]
    cooler = client.interactions.create(
        model=IMAGE_MODEL, input="cooler, more blue", previous_interaction_id=first.id
    )
    after = decode(output_png(cooler))[1]
    assert means(after)[2] - means(after)[0] > means(before)[2] - means(before)[0] + 20
    hat = client.interactions.create(model=IMAGE_MODEL, input="add a hat", previous_interaction_id=first.id)
    assert "Edited the previous picture: tinted towards #" in hat.output_text
    assert changed_fraction(before, decode(output_png(hat))[1]) > 0.5


def test_the_latest_picture_is_found_across_a_text_turn(client):
    fmt = image_format(aspect_ratio="3:2", image_size="512")
    first = client.interactions.create(model=IMAGE_MODEL, input=PROMPT, response_format=fmt)
    chat = client.interactions.create(
        model=IMAGE_MODEL,
        input="Why a fox?",
        previous_interaction_id=first.id,
        response_format={"type": "text"},
    )
    assert chat.output_image is None and "turn 2 of this thread" in chat.output_text
    third = client.interactions.create(
        model=IMAGE_MODEL,
        input="warmer please",
        previous_interaction_id=chat.id,
        response_format=image_format(image_size="1K"),
    )
    assert "Edited the previous picture" in third.output_text
    assert "not the requested 1024×1024" in third.output_text
    assert decode(output_png(third))[0] == (512, 341)


def test_a_text_turn_after_a_text_turn_stays_text(client):
    first = client.interactions.create(model=TEXT_MODEL, input="hello")
    second = client.interactions.create(model=TEXT_MODEL, input="warmer", previous_interaction_id=first.id)
    assert second.output_image is None


def test_an_undecodable_latest_picture_gets_a_fresh_one_not_an_older_edit(emulator, client):
    drawn = client.interactions.create(
        model=IMAGE_MODEL, input=PROMPT, response_format=image_format(image_size="512")
    )
    emulator.enqueue(Reply.image(pillow_image("PNG", (40, 30)), text="scripted"))
    scripted = client.interactions.create(model=IMAGE_MODEL, input="again", previous_interaction_id=drawn.id)
    third = client.interactions.create(model=IMAGE_MODEL, input="warmer", previous_interaction_id=scripted.id)
    assert "here is a picture for: warmer" in third.output_text
    assert "Edited" not in third.output_text
    assert decode(output_png(third))[0] == (1024, 1024)


# -- image inputs -------------------------------------------------------------------------


def test_media_inputs_are_reported_with_sizes_and_dimensions(emulator, client):
    png, jpeg = pillow_image("PNG", (640, 480)), pillow_image("JPEG", (320, 200))
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)
    blocks = [
        {"type": "text", "text": "What are these?"},
        media_block("image", png, "image/png"),
        media_block("image", jpeg, "image/jpeg"),
        media_block("document", PDF, "application/pdf"),
        media_block("audio", wav, "audio/wav"),
        {"type": "video", "uri": "https://example.com/clip.mp4", "mime_type": "video/mp4"},
    ]
    reply = client.interactions.create(model=TEXT_MODEL, input=blocks)
    lines = reply.output_text.splitlines()
    assert lines[0].startswith("*Offline emulator")
    reported = [line for line in lines if line.startswith("- **Input ")]
    assert reported == [
        f"- **Input image:** Received image/png 640×480 ({len(png):,} bytes)",
        f"- **Input image:** Received image/jpeg 320×200 ({len(jpeg):,} bytes)",
        f"- **Input document:** Received application/pdf 3 pages ({len(PDF):,} bytes)",
        f"- **Input audio:** Received audio/wav ({len(wav):,} bytes)",
        "- **Input video:** Received video/mp4 by URI https://example.com/clip.mp4 (not fetched offline)",
    ]
    assert reply.output_image is None
    assert emulator.schema_errors == []


def test_an_input_picture_of_the_emulator_is_edited(client):
    source = output_png(
        client.interactions.create(
            model=IMAGE_MODEL,
            input=PROMPT,
            response_format=image_format(aspect_ratio="4:5", image_size="512"),
        )
    )
    reply = client.interactions.create(
        model=IMAGE_MODEL,
        input=[{"type": "text", "text": "make it darker"}, media_block("image", source, "image/png")],
    )
    assert "Edited the input picture: darker" in reply.output_text
    assert f"Received image/png 410×512 ({len(source):,} bytes)" in reply.output_text
    (size, after), before = decode(output_png(reply)), decode(source)[1]
    assert size == (410, 512) and sum(means(after)) < 0.6 * sum(means(before))


def test_another_input_picture_is_reported_and_a_new_one_drawn(client):
    photo = pillow_image("PNG", (64, 48))
    reply = client.interactions.create(
        model=IMAGE_MODEL,
        input=[{"type": "text", "text": "a fox like this"}, media_block("image", photo, "image/png")],
    )
    assert "here is a picture for: a fox like this" in reply.output_text
    assert f"Received image/png 64×48 ({len(photo):,} bytes)" in reply.output_text
    assert decode(output_png(reply))[0] == (1024, 1024)


def test_header_sniffing_without_pillow():
    progressive_jpeg = (
        b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + bytes(9)
        + b"\xff\xff\xc2" + struct.pack(">HBHHB", 11, 8, 300, 700, 3) + bytes(6)
    )  # fmt: skip
    assert sniff_image(progressive_jpeg) == ("image/jpeg", 700, 300)
    assert sniff_image(b"GIF89a" + struct.pack("<HH", 33, 17) + bytes(4)) == ("image/gif", 33, 17)
    png = Picture.blank(7, 5).to_png()
    assert sniff_image(png) == ("image/png", 7, 5)
    assert sniff_image(png[:20]) is None
    assert sniff_image(b"\xff\xd8\xff\xda\x00\x02") is None
    assert sniff_image(b"not an image at all") is None


# -- URI delivery -------------------------------------------------------------------------


def test_uri_delivery_is_served_by_the_emulator_without_a_key(emulator, client, http):
    reply = client.interactions.create(
        model=IMAGE_MODEL,
        input=PROMPT,
        response_format=image_format(aspect_ratio="9:16", image_size="512", delivery="uri"),
    )
    image = reply.output_image
    assert image.data is None and image.mime_type == "image/png"
    assert image.uri.startswith(emulator.base_url + "/files/") and image.uri.endswith(".png")
    served = http.get(image.uri)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert decode(served.content)[0] == (288, 512)

    missing = http.get(emulator.base_url + "/files/" + "0" * 32 + ".png")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    edited = client.interactions.create(model=IMAGE_MODEL, input="warmer", previous_interaction_id=reply.id)
    assert "Edited the previous picture: warmer lighting" in edited.output_text
    assert decode(output_png(edited))[0] == (288, 512)
    assert emulator.schema_errors == []


def test_streamed_uri_delivery_and_a_path_prefix(make_emulator, make_client):
    emu = make_emulator(prefix="/api")
    client = make_client(base_url=emu.base_url)
    events = list(
        client.interactions.create(
            model=IMAGE_MODEL, input=PROMPT, response_format=image_format(delivery="uri"), stream=True
        )
    )
    images = [e.delta for e in events if e.event_type == "step.delta" and e.delta.type == "image"]
    assert len(images) == 1 and images[0].data is None
    assert images[0].uri.startswith(emu.base_url + "/files/") and "/api/files/" in images[0].uri
    assert decode(httpx.get(images[0].uri).content)[0] == (1024, 1024)
    assert emu.schema_errors == []


# -- request checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields", [{"aspect_ratio": "7:3"}, {"image_size": "1k"}, {"delivery": "email"}], ids=str
)
def test_unknown_image_format_values_are_rejected(client, fields):
    with pytest.raises(gi.BadRequestError) as caught:
        client.interactions.create(model=IMAGE_MODEL, input=PROMPT, response_format=image_format(**fields))
    assert caught.value.status_code == 400
    assert next(iter(fields)) in str(caught.value)

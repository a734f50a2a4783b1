"""Pictures, sound and video from the server are shown by allowlist, never by the server's MIME type."""

from __future__ import annotations

import base64
import json

import pytest

from gemini_magics.core.events import MediaDelta
from gemini_magics.emulator import Reply
from gemini_magics.render.media import media_bundle

SCRIPT = base64.b64encode(b"<script>window.__gm_pwned=1</script>").decode()
SVG = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>').decode()
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nrest").decode()


@pytest.mark.parametrize(
    "mime", ["text/html", "application/javascript", "text/markdown", "image/x-icon", None]
)
def test_other_types_are_refused_with_a_line_of_text(mime):
    bundle = media_bundle(MediaDelta("image", SCRIPT, mime))
    assert list(bundle) == ["text/plain"] and "not shown" in bundle["text/plain"]


def test_raster_images_are_image_outputs_and_svg_only_an_img():
    assert media_bundle(MediaDelta("image", PNG, "image/png"))["image/png"] == PNG
    assert media_bundle(MediaDelta("image", PNG, "IMAGE/JPG; q=1"))["image/jpeg"] == PNG
    svg = media_bundle(MediaDelta("image", SVG, "image/svg+xml"))
    assert set(svg) == {"text/html", "text/plain"}
    assert svg["text/html"] == f'<img src="data:image/svg+xml;base64,{SVG}" alt="generated image">'


def test_data_that_is_not_base64_is_refused():
    bundle = media_bundle(MediaDelta("image", '"><script>x</script>', "image/png"))
    assert list(bundle) == ["text/plain"] and "not base64" in bundle["text/plain"]


def test_audio_and_video_become_players_and_pcm_becomes_wav():
    video = media_bundle(MediaDelta("video", PNG, "video/mp4"))["text/html"]
    assert video == f'<video controls src="data:video/mp4;base64,{PNG}"></video>'
    pcm = base64.b64encode(bytes([0, 1, 0, 2])).decode()
    audio = media_bundle(MediaDelta("audio", pcm, "audio/L16;codec=pcm;rate=24000"))["text/html"]
    wav = base64.b64decode(audio.split("base64,")[1].split('"')[0])
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and wav.endswith(bytes([1, 0, 2, 0]))
    assert list(media_bundle(MediaDelta("audio", pcm, "audio/x-unknown"))) == ["text/plain"]


def test_a_server_sending_html_as_an_image_shows_nothing_of_it(ip, make_emulator):
    block = {"type": "image", "data": SCRIPT, "mime_type": "text/html"}
    hostile = make_emulator(validate=False)  # it sends a type the SDK does not declare
    hostile.enqueue(Reply([{"type": "model_output", "content": [block]}]))
    ip.run(f"%config GeminiMagics.base_url = {hostile.base_url!r}")
    cell = ip.run("%%gemini --image\nA fox")
    everything = json.dumps([o["data"] for o in cell.outputs])
    carrying_it = {key for o in cell.outputs for key, value in o["data"].items() if SCRIPT in str(value)}
    assert carrying_it == set()
    assert "'text/html' is not a type shown here" in everything
    assert ip.user_ns["_gemini"].images[0].mime_type == "text/html"  # kept on the result, as sent

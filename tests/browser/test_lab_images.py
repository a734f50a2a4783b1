"""A generated picture is rendered inline in JupyterLab, as a person would see it."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _picture() -> bytes:
    """A 320×180 picture: a red disc on a blue sky over green grass."""
    image = Image.new("RGB", (320, 180), (40, 90, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 130, 320, 180), fill=(30, 160, 60))
    draw.ellipse((120, 50, 200, 130), fill=(230, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_generated_image_is_rendered_inline(notebook, emulator):
    from gemini_magics.emulator import Reply

    emulator.reset()
    emulator.enqueue(Reply.image(_picture(), text="Here is the fox's sunset. PICTURE-MARKER."))
    nb = notebook(["%load_ext gemini_magics", "%%gemini --image --aspect 16:9\nA watercolor fox at sunset"])
    nb.run_cell_and_wait(0)
    nb.run_cell_and_wait(1)
    output = nb.output_area(1)
    expect(output).to_contain_text("PICTURE-MARKER")
    picture = output.locator("img")
    expect(picture).to_have_count(1)
    size = picture.evaluate("img => [img.naturalWidth, img.naturalHeight, img.complete]")
    assert size == [320, 180, True]  # decoded by the browser, not a broken image
    picture.scroll_into_view_if_needed()
    nb.screenshot("image")
    seen = Image.open(io.BytesIO(picture.screenshot())).convert("RGB")
    width, height = seen.size
    red, green, blue = seen.getpixel((width // 2, int(height * 0.5)))
    assert red > 180 and green < 90 and blue < 90, (red, green, blue)  # the disc, in the middle
    sky = seen.getpixel((int(width * 0.1), int(height * 0.2)))
    assert sky[2] > 180 and sky[0] < 90, sky
    # text first, then the picture, then the footer: the order the model wrote them in
    order = output.evaluate(
        "area => [...area.querySelectorAll('.jp-OutputArea-output')].map(o =>"
        " o.querySelector('img') ? 'image'"
        " : (o.textContent.includes('PICTURE-MARKER') ? 'text' : 'other'))"
    )
    assert order.index("text") < order.index("image"), order

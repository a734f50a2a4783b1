"""Display bundles for pictures, sound and video from the server, by allowlist. No IPython imports.

The server's ``mime_type`` is never used as a display key as it is: a front end renders whatever a
bundle's key says, so ``text/html`` or ``application/javascript`` from the wire would run. Raster
images become image bundles; SVG is shown only through ``<img>`` (where its scripts cannot run);
audio and video become HTML5 players over ``data:`` URLs built here; raw PCM (``audio/L16``, what
speech models send) is wrapped into WAV so browsers can play it. Anything else is refused with a
line of text, and so is data that is not base64.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import re
import wave
from typing import Any

RASTER_IMAGES = {"image/png": "image/png", "image/jpeg": "image/jpeg", "image/jpg": "image/jpeg"}
RASTER_IMAGES |= {"image/gif": "image/gif", "image/webp": "image/webp"}
SVG = "image/svg+xml"
PLAYABLE = {
    "audio": {
        "audio/wav": "audio/wav",
        "audio/x-wav": "audio/wav",
        "audio/wave": "audio/wav",
        "audio/mpeg": "audio/mpeg",
        "audio/mp3": "audio/mpeg",
        "audio/ogg": "audio/ogg",
        "audio/opus": "audio/ogg",
        "audio/webm": "audio/webm",
        "audio/flac": "audio/flac",
        "audio/aac": "audio/aac",
        "audio/mp4": "audio/mp4",
        "audio/m4a": "audio/mp4",
    },
    "video": {"video/mp4": "video/mp4", "video/webm": "video/webm", "video/ogg": "video/ogg"},
}
_BASE64 = re.compile(r"[A-Za-z0-9+/\s]*={0,2}\s*")
_PCM = "audio/l16"


def _essence(mime_type: str | None) -> tuple[str, dict[str, str]]:
    """``"audio/L16; rate=24000"`` → ``("audio/l16", {"rate": "24000"})``."""
    kind, *params = (mime_type or "").split(";")
    parsed = {}
    for param in params:
        key, _, value = param.partition("=")
        parsed[key.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), parsed


def is_base64(data: str) -> bool:
    return _BASE64.fullmatch(data) is not None


def _size(data: str) -> str:
    return f"{len(data) * 3 // 4 / 1024:,.0f} KB"


def pcm_to_wav(data: str, params: dict[str, str]) -> str:
    """Base64 of a WAV file holding the signed 16-bit big-endian PCM of ``data`` (base64)."""
    try:
        rate, channels = int(params.get("rate", "24000")), int(params.get("channels", "1"))
        if not (1000 <= rate <= 384_000 and 1 <= channels <= 8):
            raise ValueError("unusual PCM parameters")
        samples = bytearray(base64.b64decode(data))
    except (ValueError, binascii.Error):
        raise ValueError("the PCM audio could not be read") from None
    samples[0::2], samples[1::2] = samples[1::2], samples[0::2]  # L16 is big-endian; WAV little
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(samples[: len(samples) - len(samples) % (2 * channels)]))
    return base64.b64encode(out.getvalue()).decode()


def refused(kind: str, mime_type: str | None, why: str = "is not a type shown here") -> dict[str, Any]:
    label = (mime_type or "no type")[:60]
    return {"text/plain": f"[{kind} not shown: {label!r} {why}]"}


def media_bundle(media: Any) -> dict[str, Any]:
    """A display bundle for a picture, sound or video (anything with ``kind``, ``base64_data``,
    ``mime_type`` and ``uri``), or a line saying why it is not shown."""
    kind, data, mime_type, uri = media.kind, media.base64_data, media.mime_type, media.uri
    essence, params = _essence(mime_type)
    if data is None:
        return _by_uri(kind, uri)
    if not is_base64(data):
        return refused(kind, mime_type, "came with data that is not base64")
    plain = f"[{kind} {essence or 'of unknown type'}, {_size(data)}]"
    if kind == "image":
        if essence in RASTER_IMAGES:
            return {RASTER_IMAGES[essence]: data, "text/plain": plain}
        if essence == SVG:
            source = f"data:{SVG};base64,{''.join(data.split())}"
            return {"text/html": f'<img src="{source}" alt="generated image">', "text/plain": plain}
        return refused(kind, mime_type)
    if kind == "audio" and essence == _PCM:
        try:
            data, essence = pcm_to_wav(data, params), "audio/wav"
        except ValueError as exc:
            return refused(kind, mime_type, str(exc).replace("the PCM audio", "whose data"))
    allowed = PLAYABLE.get(kind, {})
    if essence not in allowed:
        return refused(kind, mime_type)
    source = f"data:{allowed[essence]};base64,{''.join(data.split())}"
    player = f'<{kind} controls src="{source}"></{kind}>'
    return {"text/html": player, "text/plain": plain}


def _by_uri(kind: str, uri: str | None) -> dict[str, Any]:
    """Media the server delivered by URI: a link-like element for http(s), else just the text."""
    uri = uri or ""
    plain = {"text/plain": f"[{kind}: {uri}]"}
    if not uri.lower().startswith(("https://", "http://")):
        return plain
    source = html.escape(uri, quote=True)
    if kind == "image":
        return {"text/html": f'<img src="{source}" alt="generated image">', **plain}
    if kind in PLAYABLE:
        return {"text/html": f'<{kind} controls src="{source}"></{kind}>', **plain}
    return plain

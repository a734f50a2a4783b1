"""Media around the offline responder: served files, input reports, images along a thread.

:class:`MediaFiles` holds the images the emulator delivers by URI (``response_format``
``delivery="uri"``) and serves them at ``GET {base_url}/files/<name>.png``. The functions
below read media content blocks: what an input block is (kind, MIME type, size, pixel
dimensions, sniffed from PNG, JPEG, GIF and BMP headers) and which image a turn should edit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import threading
from collections.abc import Callable, Iterable, Sequence

from .imaging import PNG_SIGNATURE, Picture
from .script import Json

MEDIA_KINDS = ("image", "document", "audio", "video")
FILE_ROUTE = re.compile(r"^/files/(?P<name>[A-Za-z0-9_-]{1,64}\.png)$")
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class MediaFiles:
    """Thread-safe store of URI-delivered files, named by a hash of their content."""

    def __init__(self, base_url: Callable[[], str]) -> None:
        self._base_url = base_url
        self._lock = threading.Lock()
        self._files: dict[str, tuple[bytes, str]] = {}

    def publish(self, data: bytes, mime_type: str = "image/png") -> str:
        """Keep ``data`` and return the absolute URL it is served at."""
        name = hashlib.sha256(data).hexdigest()[:32] + ".png"
        with self._lock:
            self._files[name] = (data, mime_type)
        return f"{self._base_url()}/files/{name}"

    def get(self, name: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._files.get(name)

    def resolve(self, uri: str) -> bytes | None:
        """The bytes behind a URL this store published (None for any other URI)."""
        name = uri.rsplit("/", 1)[-1]
        found = self.get(name)
        return found[0] if found is not None and uri.endswith(f"/files/{name}") else None

    def clear(self) -> None:
        with self._lock:
            self._files.clear()


def block_bytes(block: Json, files: MediaFiles | None = None) -> bytes | None:
    """The decoded content of a media block: inline base64, or a file this emulator serves."""
    data = block.get("data")
    if isinstance(data, str):
        try:
            return base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError):
            return None
    uri = block.get("uri")
    if isinstance(uri, str) and files is not None:
        return files.resolve(uri)
    return None


def media_blocks(steps: Iterable[Json], step_types: Sequence[str] = ("user_input",)) -> list[Json]:
    """Media content blocks of the given step types, in timeline order."""
    return [
        block
        for step in steps
        if step.get("type") in step_types
        for block in step.get("content") or []
        if isinstance(block, dict) and block.get("type") in MEDIA_KINDS
    ]


def describe_block(block: Json, files: MediaFiles | None = None) -> str:
    """One line about an input block, e.g. ``Received image/png 640×480 (12,345 bytes)``."""
    kind = block.get("type", "media")
    data = block_bytes(block, files)
    sniffed = sniff_image(data) if data is not None and kind == "image" else None
    mime = block.get("mime_type") or (sniffed[0] if sniffed else f"{kind} of unknown type")
    if data is None:
        uri = block.get("uri")
        where = f"by URI {uri}" if isinstance(uri, str) else "with no data"
        return f"Received {mime} {where} (not fetched offline)"
    details = [f"{sniffed[1]}×{sniffed[2]}"] if sniffed else []
    if kind == "document" and data.startswith(b"%PDF"):
        pages = len(_PDF_PAGE.findall(data))
        details.append(f"{pages} page{'s' if pages != 1 else ''}")
    return " ".join(["Received", mime, *details, f"({len(data):,} bytes)"])


def last_turn_had_image(history: Sequence[Json]) -> bool:
    """Whether the model output after the last ``user_input`` of ``history`` has an image."""
    for step in reversed(history):
        if step.get("type") == "user_input":
            return False
        if step.get("type") == "model_output" and any(
            block.get("type") == "image" for block in media_blocks([step], ("model_output",))
        ):
            return True
    return False


def latest_picture(steps: Sequence[Json], files: MediaFiles | None = None) -> tuple[Picture, str] | None:
    """The timeline's most recent image, decoded, and who made it ("model" or "user").

    None when there is no image or the latest one does not decode: only this emulator's own
    PNGs (unfiltered 8-bit RGB) do, inline or served by ``files``.
    """
    for step in reversed(steps):
        kind = step.get("type")
        if kind not in ("model_output", "user_input"):
            continue
        images = [block for block in media_blocks([step], (kind,)) if block.get("type") == "image"]
        if images:
            data = block_bytes(images[-1], files)
            picture = Picture.from_png(data) if data else None
            return None if picture is None else (picture, "model" if kind == "model_output" else "user")
    return None


# -- header sniffing ------------------------------------------------------------------------


def sniff_image(data: bytes) -> tuple[str, int, int] | None:
    """(mime type, width, height) from a PNG, JPEG, GIF or BMP header; None otherwise."""
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "image/png", width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "image/gif", width, height
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return "image/bmp", abs(width), abs(height)
    if data.startswith(b"\xff\xd8"):
        size = _jpeg_size(data)
        return None if size is None else ("image/jpeg", *size)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG marker segments up to the first SOFn frame header."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD9)):  # stand-alone markers carry no length
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _JPEG_SOF and position + 9 <= len(data):
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        if marker == 0xDA or length < 2:  # scan data before any frame header: give up
            return None
        position += 2 + length
    return None

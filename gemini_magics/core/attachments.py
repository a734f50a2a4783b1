"""Turning kernel objects into multimodal content blocks for ``--attach``. No IPython imports.

Accepted: matplotlib figures, PIL images, NumPy image arrays, ``bytes``, and paths (``pathlib.Path`` or
``str``) to image, PDF, audio, video or UTF-8 text files. The MIME type is sniffed from the content's
leading bytes; the file extension is only a fallback. Media is sent inline as base64, so the total is
capped (:data:`MAX_INLINE_BYTES`); a text file (``.txt``, ``.md``, ``.csv``, …) is sent as a text block
headed by its name, which every model reads (the API takes no ``text/plain`` document).
"""

from __future__ import annotations

import base64
import io
import mimetypes
import os
from pathlib import Path
from typing import Any

MAX_INLINE_BYTES = 20 * 1024 * 1024
KINDS = {"image": "image", "application": "document", "audio": "audio", "video": "video"}
DOCUMENT_TYPES = frozenset({"application/pdf"})


class AttachError(ValueError):
    """An object cannot be attached; the message says what to do instead."""


def sniff(data: bytes) -> str | None:
    """The MIME type from a file's leading bytes, for the formats the API takes inline."""
    head = data[:64]
    signatures = (
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"BM", "image/bmp"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
        (b"%PDF-", "application/pdf"),
        (b"ID3", "audio/mp3"),
        (b"fLaC", "audio/flac"),
        (b"OggS", "audio/ogg"),
        (b"\x1a\x45\xdf\xa3", "video/webm"),
        (b"FORM", "audio/aiff"),
    )
    for signature, mime in signatures:
        if head.startswith(signature):
            return mime
    if head[:4] == b"RIFF":
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/avi"}.get(head[8:12])
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim"):
            return "image/heic"
        if brand in (b"mif1", b"msf1"):
            return "image/heif"
        if brand.startswith(b"M4A"):
            return "audio/m4a"
        return "video/quicktime" if brand == b"qt  " else "video/mp4"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mp3"  # an MPEG audio frame header without an ID3 tag
    return None


# types whose files always start with a signature :func:`sniff` knows: unsniffable content is not one
SIGNED_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff", "application/pdf"}
)


def describe(data: bytes) -> str:
    """What some bytes look like, for a message: their type, text, or their first bytes."""
    mime = sniff(data)
    if mime is not None:
        return mime
    if not data:
        return "nothing (the file is empty)"
    head = data[:512]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = head[: exc.start].decode("utf-8") if exc.start >= len(head) - 3 else ""
    if text and "\x00" not in text:
        line = " ".join(text.split())
        return f"text ({line[:40] + '…' if len(line) > 40 else line!r})" if line else "blank text"
    return "unrecognised data starting " + " ".join(f"{b:02x}" for b in data[:8])


def _block(data: bytes, mime: str, name: str) -> dict[str, Any]:
    kind = KINDS.get(mime.split("/")[0])
    if kind is None or (kind == "document" and mime not in DOCUMENT_TYPES):
        raise AttachError(f"{name}: {mime} cannot be sent; attach images, PDFs, audio or video")
    return {"type": kind, "data": base64.b64encode(data).decode("ascii"), "mime_type": mime}


def _text_block(data: bytes, path: Path, name: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AttachError(
            f"{name}: {path.name} is not UTF-8 text; save it as UTF-8 and attach it again"
        ) from None
    return {"type": "text", "text": f"Attached file {path.name}:\n\n{text}"}


def _png_of_figure(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _png_of_pil(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _png_of_array(array: Any, name: str) -> bytes:
    try:
        import numpy as np
        from PIL import Image
    except ImportError:
        raise AttachError(f"{name}: attaching arrays needs Pillow; `pip install pillow`") from None
    values = np.asarray(array)
    if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[2] not in (1, 3, 4)):
        raise AttachError(f"{name}: an image array must be H×W, H×W×3 or H×W×4, not {values.shape}")
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[:, :, 0]
    if values.dtype.kind == "f":
        values = (np.clip(values, 0.0, 1.0) * 255).round()
    elif values.dtype.kind not in "ub" or values.max(initial=0) > 255 or values.min(initial=0) < 0:
        raise AttachError(f"{name}: array values must be 0–255 integers or 0–1 floats")
    return _png_of_pil(Image.fromarray(values.astype(np.uint8)))


def _file(path: Path, name: str) -> tuple[bytes, str]:
    if not path.is_file():
        raise AttachError(f"{name}: no file at {path}")
    size = path.stat().st_size
    if size > MAX_INLINE_BYTES:
        raise AttachError(_too_large(name, size))
    data = path.read_bytes()
    sniffed, named = sniff(data), mimetypes.guess_type(path.name)[0]
    if sniffed is None and named is not None:
        found = describe(data)
        texty = found.startswith(("text", "blank", "nothing")) and named != "image/svg+xml"
        if named in SIGNED_TYPES or (named.split("/")[0] in KINDS and texty):
            raise AttachError(
                f"{name}: {path.name} is named like {named} but holds {found}; "
                "attach the real file, or put text in the prompt with {{{{variable}}}}"
            )
    mime = sniffed or named
    if mime is None:
        raise AttachError(
            f"{name}: cannot tell what kind of file {path.name} is (it holds {describe(data)}); "
            "attach images, PDFs, audio or video"
        )
    return data, mime


def _too_large(name: str, size: int) -> str:
    return (
        f"{name} is {size / 2**20:.1f} MB, more than the {MAX_INLINE_BYTES // 2**20} MB that can be sent "
        "inline; shrink it (a smaller image, fewer pages) or send an excerpt"
    )


def content_block(value: Any, name: str) -> dict[str, Any]:
    """The content block for one attached object; ``name`` is how the user referred to it."""
    module = type(value).__module__
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        mime = sniff(data)
        if mime is None:
            raise AttachError(
                f"{name}: these bytes are {describe(data)}, not an image, PDF, audio or video file; "
                "attach one of those, or put text in the prompt with {{{{variable}}}}"
            )
        return _checked(data, mime, name)
    if isinstance(value, (str, os.PathLike)):
        path = Path(os.fspath(value)).expanduser()
        if isinstance(value, str) and not path.exists():
            raise AttachError(f"{name} is a string but not the path of a file: {value[:60]!r}")
        data, mime = _file(path, name)
        if mime.startswith("text/"):
            return _text_block(data, path, name)
        return _block(data, mime, name)
    if module.startswith("matplotlib") and hasattr(value, "savefig"):
        return _checked(_png_of_figure(value), "image/png", name)
    if module.startswith("PIL") and hasattr(value, "save"):
        return _checked(_png_of_pil(value), "image/png", name)
    if hasattr(value, "__array_interface__"):
        return _checked(_png_of_array(value, name), "image/png", name)
    raise AttachError(
        f"{name} is a {type(value).__name__}; attach a matplotlib figure, PIL image, image array, "
        "bytes, or a file path"
    )


def _checked(data: bytes, mime: str, name: str) -> dict[str, Any]:
    if len(data) > MAX_INLINE_BYTES:
        raise AttachError(_too_large(name, len(data)))
    return _block(data, mime, name)


def content_blocks(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Blocks for several attachments, in order, within the inline size budget."""
    blocks = [content_block(value, name) for name, value in values.items()]
    total = sum(len(block["data"]) * 3 // 4 if "data" in block else len(block["text"]) for block in blocks)
    if total > MAX_INLINE_BYTES:
        raise AttachError(_too_large("together, the attachments", total))
    return blocks

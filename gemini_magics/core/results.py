"""The object a turn leaves in ``_gemini`` (and in ``VAR`` with ``-o VAR``). No IPython imports.

How results look in a notebook (safe HTML, media by allowlist) is the display layer's business:
``ipython/display.py`` registers formatters for these types when the extension loads.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(eq=False)
class GeneratedMedia:
    """A picture, sound or video from a turn: the wire's base64 text is the only copy; bytes decode on use."""

    base64_data: str | None
    mime_type: str
    uri: str | None = None
    index: int = 0
    kind: str = "image"

    @property
    def data(self) -> bytes:
        if self.base64_data is None:
            raise ValueError(f"this image was delivered by URI, not inline: {self.uri}")
        return base64.b64decode(self.base64_data)

    @property
    def extension(self) -> str:
        subtype = self.mime_type.split("/")[-1].lower()
        return {"jpeg": "jpg", "svg+xml": "svg"}.get(subtype, subtype)

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        if self.base64_data is None:
            if not (self.uri or "").lower().startswith(("https://", "http://")):
                raise ValueError(f"only http(s) addresses are fetched, not {self.uri!r}")
            import urllib.request

            with urllib.request.urlopen(self.uri or "", timeout=60) as response:  # noqa: S310 (http(s) only)
                target.write_bytes(response.read())
        else:
            target.write_bytes(self.data)
        return target

    def __repr__(self) -> str:
        where = f"{len(self.base64_data) * 3 // 4:,} bytes" if self.base64_data else self.uri
        return f"<{type(self).__name__} {self.mime_type} {where}>"


class GeneratedImage(GeneratedMedia):
    """A generated picture; ``.pil`` opens it with Pillow."""

    @property
    def pil(self) -> Any:
        """A ``PIL.Image`` (None when Pillow is not installed)."""
        try:
            from PIL import Image
        except ImportError:
            return None
        return Image.open(io.BytesIO(self.data))


@dataclass
class GeminiResult:
    """One turn's outcome: the answer text, thoughts, ids, usage and the steps timeline."""

    text: str = ""
    thoughts: str = ""
    interaction_id: str | None = None
    thread: str = "default"
    model: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    status: str = "in_progress"
    steps: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    images: list[GeneratedImage] = field(default_factory=list)
    audio: list[GeneratedMedia] = field(default_factory=list)
    videos: list[GeneratedMedia] = field(default_factory=list)
    prompt: str = field(default="", repr=False)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        size = f"{len(self.text)} chars" + (f", {len(self.images)} image(s)" if self.images else "")
        return (
            f"<GeminiResult {self.status} {size} model={self.model!r} thread={self.thread!r} "
            f"id={self.interaction_id!r}>"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text if not cycle else "GeminiResult(...)")

"""The object a turn leaves in ``_gemini`` (and in ``VAR`` with ``-o VAR``). No IPython imports."""

from __future__ import annotations

import base64
import io
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(eq=False)
class GeneratedImage:
    """One image from a turn: the base64 text from the wire is the only copy kept; bytes decode on use."""

    base64_data: str | None
    mime_type: str
    uri: str | None = None
    index: int = 0

    @property
    def data(self) -> bytes:
        if self.base64_data is None:
            raise ValueError(f"this image was delivered by URI, not inline: {self.uri}")
        return base64.b64decode(self.base64_data)

    @property
    def pil(self) -> Any:
        """A ``PIL.Image`` (None when Pillow is not installed)."""
        try:
            from PIL import Image
        except ImportError:
            return None
        return Image.open(io.BytesIO(self.data))

    @property
    def extension(self) -> str:
        subtype = self.mime_type.split("/")[-1].lower()
        return {"jpeg": "jpg", "svg+xml": "svg"}.get(subtype, subtype)

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        if self.base64_data is None:
            with urllib.request.urlopen(self.uri or "", timeout=60) as response:  # noqa: S310 (http(s) only)
                target.write_bytes(response.read())
        else:
            target.write_bytes(self.data)
        return target

    def __repr__(self) -> str:
        where = f"{len(self.base64_data) * 3 // 4:,} bytes" if self.base64_data else self.uri
        return f"<GeneratedImage {self.mime_type} {where}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        if self.base64_data is None:
            return {"text/plain": repr(self)}
        return {self.mime_type: self.base64_data, "text/plain": repr(self)}


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
    prompt: str = field(default="", repr=False)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        size = f"{len(self.text)} chars" + (f", {len(self.images)} image(s)" if self.images else "")
        return (
            f"<GeminiResult {self.status} {size} model={self.model!r} thread={self.thread!r} "
            f"id={self.interaction_id!r}>"
        )

    def _repr_markdown_(self) -> str:
        from .render.blocks import neutralise_html

        return neutralise_html(self.text)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text if not cycle else "GeminiResult(...)")

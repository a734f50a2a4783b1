"""The object a turn leaves in ``_gemini`` (and in ``VAR`` with ``-o VAR``). No IPython imports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    prompt: str = field(default="", repr=False)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        size = f"{len(self.text)} chars"
        return (
            f"<GeminiResult {self.status} {size} model={self.model!r} thread={self.thread!r} "
            f"id={self.interaction_id!r}>"
        )

    def _repr_markdown_(self) -> str:
        from .render.blocks import neutralise_html

        return neutralise_html(self.text)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text if not cycle else "GeminiResult(...)")

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


@dataclass(frozen=True)
class ToolCall:
    """One tool step of a turn: a search, a page read, a code run, a Maps lookup, an MCP or function call.

    ``name`` is the tool (``google_search``, ``url_context``, ``code_execution``, ``google_maps``, the
    MCP tool's or the function's name); ``status`` is ``completed``, ``error`` or ``no result``.
    """

    name: str
    arguments: Any
    result: Any = None
    status: str = "no result"
    kind: str = ""  # the step family: google_search, url_context, code_execution, mcp_server_tool, ...
    id: str | None = None
    server: str | None = None  # the MCP server, for MCP tool calls


@dataclass(frozen=True)
class Source:
    """A source the answer cites: its title and address (``url`` is None for a file without one)."""

    title: str
    url: str | None
    kind: str = "url_citation"

    @property
    def key(self) -> str:
        return self.url or self.title


def source_of(annotation: dict[str, Any]) -> Source | None:
    """The source an annotation cites (url, place and file citations); None for other annotations."""
    kind = annotation.get("type")
    if kind == "url_citation" and annotation.get("url"):
        url = str(annotation["url"])
        return Source(str(annotation.get("title") or url), url, kind)
    if kind == "place_citation" and (annotation.get("url") or annotation.get("name")):
        place = annotation.get("url")
        return Source(str(annotation.get("name") or place), str(place) if place else None, kind)
    if kind == "file_citation":
        uri = annotation.get("document_uri")
        title = annotation.get("file_name") or annotation.get("source") or uri
        if not title:
            return None
        if annotation.get("page_number") is not None:
            title = f"{title}, p. {annotation['page_number']}"
        is_web = isinstance(uri, str) and uri.lower().startswith(("https://", "http://"))
        return Source(str(title), uri if is_web else None, kind)
    return None


def answer_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps this turn generated: those after the last user input."""
    last_input = max((i for i, s in enumerate(steps) if s.get("type") == "user_input"), default=-1)
    return steps[last_input + 1 :]


def sources_of(steps: list[dict[str, Any]]) -> list[Source]:
    """Every source the answer cites, once, in order of first citation (the numbering shown)."""
    seen: dict[str, Source] = {}
    for step in answer_steps(steps):
        if step.get("type") != "model_output":
            continue
        for block in step.get("content") or []:
            for annotation in block.get("annotations") or [] if block.get("type") == "text" else []:
                source = source_of(annotation)
                if source is not None and source.key not in seen:
                    seen[source.key] = source
    return list(seen.values())


def _family(kind: str) -> str:
    if kind in ("function_call", "function_result"):
        return "function"
    return kind.removesuffix("_call").removesuffix("_result")


def tool_calls_of(steps: list[dict[str, Any]]) -> list[ToolCall]:
    """The tool steps of a turn, each call paired with its result (by ``call_id``), in call order."""
    calls: list[dict[str, Any]] = []
    results: dict[str, dict[str, Any]] = {}
    for step in answer_steps(steps):
        kind = str(step.get("type", ""))
        if kind.endswith("_call"):
            calls.append(step)
        elif kind.endswith("_result"):
            results[str(step.get("call_id", ""))] = step
    out = []
    for call in calls:
        kind = _family(str(call["type"]))
        result = results.pop(str(call.get("id", "")), None)
        name = call.get("name") if kind in ("function", "mcp_server_tool") else kind
        status = "no result"
        if result is not None:
            status = "error" if result.get("is_error") else "completed"
        out.append(
            ToolCall(
                str(name or kind),
                call.get("arguments"),
                None if result is None else result.get("result"),
                status,
                kind,
                call.get("id"),
                call.get("server_name"),
            )
        )
    for call_id, result in results.items():  # a result whose call is not in this turn
        kind = _family(str(result["type"]))
        status = "error" if result.get("is_error") else "completed"
        name = result.get("name") or kind
        out.append(ToolCall(str(name), None, result.get("result"), status, kind, call_id or None))
    return out


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
    # the answer validated against --schema (a model, a list of them, JSON values); None without one
    parsed: Any = field(default=None, repr=False)
    origin: str = field(default="", repr=False)  # "live", "offline" or "replayed" (Session.answer_origin)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The turn's tool steps (name, arguments, result, status), read from ``steps``."""
        return tool_calls_of(self.steps)

    @property
    def sources(self) -> list[Source]:
        """The sources the answer cites (title, URL), numbered as shown, read from ``steps``."""
        return sources_of(self.steps)

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

"""The dependency rule, enforced: widgets → ipython → render → core; the emulator stands alone.

core/ and render/ import neither IPython nor ipywidgets (not even lazily), core/ imports nothing above
it, and only core/sdk.py reaches into the SDK's private modules.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gemini_magics"
LAYERS = ("core", "render", "ipython", "widgets")
FRONT_END_LIBRARIES = ("IPython", "ipywidgets", "ipykernel", "traitlets", "anywidget")


def _imports(path: Path) -> list[str]:
    """Every module a file imports, at the top or inside functions, as absolute dotted names."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
                found += [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
            else:
                found.append(node.module or "")
    return found


def _files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ["core", "render"])
def test_core_and_render_never_import_a_front_end(layer):
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in _files(layer)
        for name in _imports(path)
        if name.split(".")[0] in FRONT_END_LIBRARIES
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("layer", "may_not_import"),
    [
        ("core", ("render", "ipython", "widgets")),  # offline mode starts the emulator: allowed
        ("render", ("ipython", "widgets", "emulator")),
        ("emulator", ("core", "render", "ipython", "widgets")),
    ],
)
def test_arrows_point_down_only(layer, may_not_import):
    forbidden = tuple(f"gemini_magics.{name}" for name in may_not_import)
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in _files(layer)
        for name in _imports(path)
        if name.startswith(forbidden)
    ]
    assert offenders == []


def test_only_ipython_imports_the_magics_class():
    offenders = [
        str(path.relative_to(PACKAGE))
        for layer in ("core", "render", "widgets", "emulator")
        for path in _files(layer)
        if any(name.startswith("gemini_magics.ipython.magics") for name in _imports(path))
    ]
    assert offenders == []


def test_only_core_sdk_reaches_into_the_sdks_private_modules():
    offenders = [
        str(path.relative_to(PACKAGE))
        for layer in LAYERS
        for path in _files(layer)
        if any(name.startswith("google.genai._") for name in _imports(path))
        and path != PACKAGE / "core" / "sdk.py"
    ]
    assert offenders == []


def test_importing_every_core_and_render_module_loads_no_front_end():
    modules = [
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for layer in ("core", "render")
        for path in _files(layer)
    ]
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name.removesuffix('.__init__'))\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FRONT_END_LIBRARIES!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_cells_terminals_and_panels_share_one_renderer_protocol():
    from gemini_magics.ipython.display import NotebookRenderer, TextRenderer
    from gemini_magics.render.protocol import CellRenderer, Renderer
    from gemini_magics.widgets.messages import StreamingReply

    for renderer in (NotebookRenderer, TextRenderer, StreamingReply):
        assert issubclass(renderer, Renderer), renderer
    assert issubclass(NotebookRenderer, CellRenderer) and issubclass(TextRenderer, CellRenderer)

"""Front ends without widgets or HTML (VS Code's text view, GitHub's renderer, nbconvert) show something
sensible: a notebook touching every kind of output is run with nbclient and a real ipykernel, saved,
read back, and every output in the file has a text/plain form (or is a stream or an error)."""

from __future__ import annotations

from collections.abc import Iterator

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import MarkdownExporter

from gemini_magics.emulator import Emulator

from .support import TEST_KEY

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CELLS = [
    ("%load_ext gemini_magics", ()),
    ("%%gemini --show-thoughts --thinking low\nExplain Python generators. ANSWER-CELL", ()),
    ("%%gemini -t pictures --image --aspect 16:9\nA watercolor fox at sunset", ()),
    ("%%gemini -t search --tools search url\nWhat is new in Python 3.14?", ()),
    ("%%gemini -t wait --research --wait\nTPUs versus GPUs", ()),
    ("%config GeminiMagics.widgets = 'on'", ()),
    ("%%gemini -t panel --research -o report\nCPUs versus GPUs", ()),
    ("report.wait(60).status", ()),
    ("%gemini chat side", ()),
    ("%gemini history", ()),
    ("%gemini status", ()),
    ("_gemini", ()),
    ("%gemini -m gemini-9-nonsense hello", ("raises-exception",)),
    ("1 / 0", ("raises-exception",)),
    ("%gemini fix", ()),
    ("%%gemini --code\nA function that squares a number.", ()),
]


@pytest.fixture(scope="module")
def saved_notebook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nbformat.NotebookNode]:
    """The notebook above, run once for this module's tests against a validating emulator, saved,
    and read back from the file."""
    folder = tmp_path_factory.mktemp("fallbacks")
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)}) for source, tags in CELLS]
    )
    with (
        Emulator(api_key=TEST_KEY, validate=True, research_seconds=2) as emulator,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setenv("GEMINI_API_KEY", TEST_KEY)
        mp.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
        mp.delenv("GOOGLE_API_KEY", raising=False)
        mp.delenv("GEMINI_MAGICS_OFFLINE", raising=False)
        NotebookClient(
            notebook, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        ).execute()
    assert emulator.schema_errors == []
    path = folder / "saved.ipynb"
    nbformat.write(notebook, path)
    saved = nbformat.read(path, as_version=4)
    nbformat.validate(saved)
    yield saved


def _outputs(notebook: nbformat.NotebookNode) -> list[tuple[str, dict]]:
    return [(cell.source, output) for cell in notebook.cells for output in cell.get("outputs", [])]


@pytest.mark.notebook
def test_every_saved_output_has_a_text_fallback(saved_notebook):
    outputs = _outputs(saved_notebook)
    without_text = [
        (source.splitlines()[0], sorted(output.get("data", {})))
        for source, output in outputs
        if output["output_type"] not in ("stream", "error") and "text/plain" not in output.get("data", {})
    ]
    assert without_text == []
    kinds = {mime for _, output in outputs for mime in output.get("data", {})}
    assert {"text/html", "image/png", WIDGET_VIEW} <= kinds  # the notebook did reach every kind
    assert "text/markdown" not in kinds  # model text is never handed to a Markdown renderer
    assert TEST_KEY not in nbformat.writes(saved_notebook)


def _plain(notebook: nbformat.NotebookNode, first_line: str) -> str:
    cell = next(cell for cell in notebook.cells if cell.source.splitlines()[0] == first_line)
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        parts.append(str(output.get("data", {}).get("text/plain", "")))
        parts.append("\n".join(output.get("traceback", [])))
    return "\n".join(parts)


@pytest.mark.notebook
def test_the_text_forms_say_what_each_output_is(saved_notebook):
    answer = _plain(saved_notebook, "%%gemini --show-thoughts --thinking low")
    assert "## Offline reply" in answer and "ANSWER-CELL" in answer  # the answer's Markdown source
    assert "Reading the prompt" in answer  # the thoughts
    assert "gemini-3.5-flash · default" in answer  # the footer
    picture = _plain(saved_notebook, "%%gemini -t pictures --image --aspect 16:9")
    assert "image/png" in picture or "image" in picture.lower()
    search = _plain(saved_notebook, "%%gemini -t search --tools search url")
    assert "Sources" in search or "http" in search
    waited = _plain(saved_notebook, "%%gemini -t wait --research --wait")
    assert "Research complete." in waited
    panel = _plain(saved_notebook, "%%gemini -t panel --research -o report")
    assert panel.strip().startswith("Deep Research — CPUs versus GPUs")
    assert "Research complete." in panel  # updated when the run ended, with the report below
    assert "VBox(" not in panel
    chat = _plain(saved_notebook, "%gemini chat side")
    assert "Gemini chat panel (thread 'side')" in chat and "VBox(" not in chat
    assert "ANSWER-CELL" in _plain(saved_notebook, "%gemini history")
    assert "did you mean" in _plain(saved_notebook, "%gemini -m gemini-9-nonsense hello")
    fixed = _plain(saved_notebook, "%gemini fix")
    assert "Explaining cell" in fixed and "ZeroDivisionError" in fixed
    code = _plain(saved_notebook, "%%gemini --code")
    assert "The code is in a new cell below, not run" in code


@pytest.mark.notebook
def test_nbconvert_to_markdown_shows_the_answers_not_widget_reprs(saved_notebook):
    markdown, resources = MarkdownExporter().from_notebook_node(saved_notebook)
    assert "ANSWER-CELL" in markdown
    assert "Deep Research — CPUs versus GPUs" in markdown
    assert "Gemini chat panel (thread 'side')" in markdown
    assert "Research complete." in markdown
    assert "VBox(" not in markdown and "HBox(" not in markdown
    assert any(name.endswith(".png") for name in resources.get("outputs", {}))  # the picture
    assert TEST_KEY not in markdown

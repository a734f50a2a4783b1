"""Binder, checked: an environment built from ``binder/`` files only runs every notebook with no key.

As repo2docker does, the repository is copied and ``pip install -r binder/requirements.txt`` runs from
its root into a clean virtual environment (nothing from the test venv is shared). The kernel is that
environment's Python, started through ``binder/start`` (the environment the hook exports reaches the
kernel), and each notebook runs top to bottom with nbclient. Whatever the notebooks need must come
from ``binder/`` and ``pyproject.toml``, or this test fails. One check records a notebook against the
emulator during the run, puts the cassette beside it in the copy, and sees Binder replay it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from gemini_magics.emulator import Reply

from .support import TEST_KEY

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# The environment a Binder user has: no key, no base URL, nothing of ours set beforehand.
UNSET = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "PYTHONPATH", "VIRTUAL_ENV")
KERNEL = "binder-check"

pytestmark = [pytest.mark.notebook, pytest.mark.slow]


def _clean_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name not in UNSET and not name.startswith("GEMINI_MAGICS_")
    }


def _copy_repository(target: Path) -> None:
    """The files repo2docker would see: tracked ones and new ones not ignored (no .venv, no build)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def binder_kernel(tmp_path_factory) -> Path:
    """Build the Binder environment; return the repository copy. Registers the kernel ``KERNEL``."""
    root = tmp_path_factory.mktemp("binder")
    repo, venv, kernels = root / "repo", root / "venv", root / "jupyter" / "kernels" / KERNEL
    _copy_repository(repo)
    environment = _clean_environment()
    base_python = getattr(sys, "_base_executable", sys.executable)  # not this test venv's
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True, env=environment)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        + ["-r", "binder/requirements.txt"],
        cwd=repo,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    exported = subprocess.run(
        ["bash", "binder/start", "env", "-0"], cwd=repo, env=environment, capture_output=True, check=True
    ).stdout.decode()
    started = dict(line.split("=", 1) for line in exported.split("\0") if "=" in line)
    kernels.mkdir(parents=True)
    spec = {
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Binder check",
        "language": "python",
        # what binder/start added or changed reaches the kernel, as under a real Binder
        "env": {name: value for name, value in started.items() if environment.get(name) != value},
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    os.environ["JUPYTER_PATH"] = str(root / "jupyter")  # read by the kernel spec lookup at each call
    yield repo
    del os.environ["JUPYTER_PATH"]


def _outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def _text(output: dict) -> str:
    return output.get("text", "") + output.get("data", {}).get("text/plain", "")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_binder_without_a_key(binder_kernel, path, monkeypatch):
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    repo = binder_kernel
    notebook = nbformat.read(repo / "notebooks" / path.name, as_version=4)
    notebook.cells.append(
        nbformat.v4.new_code_cell("import sys, gemini_magics\nprint(sys.prefix, gemini_magics.__file__)")
    )
    NotebookClient(
        notebook, timeout=240, kernel_name=KERNEL, resources={"metadata": {"path": str(repo / "notebooks")}}
    ).execute()
    where = notebook.cells[-1].outputs[0]["text"]
    assert where.split()[0] == str(repo.parent / "venv"), "the kernel is not the Binder environment's Python"
    assert where.split()[1].startswith(str(repo / "gemini_magics")), "not installed from the copy"
    texts = [_text(output) for output in _outputs(notebook)]
    assert any("offline" in text.lower() or "replayed from a recording" in text for text in texts)


def test_a_recorded_cassette_next_to_a_notebook_is_replayed_on_binder(
    binder_kernel, make_emulator, monkeypatch, tmp_path
):
    """A teacher's recording, committed beside the notebook: binder/start turns replay on, and the
    notebook shows the recorded answers, marked as replayed, instead of offline ones."""
    repo, notebook_name = binder_kernel, "01_quickstart.ipynb"
    recorded = _record_with_the_emulator(
        repo / "notebooks" / notebook_name, make_emulator, monkeypatch, tmp_path
    )
    cassette = repo / "notebooks" / "01_quickstart.cassette.jsonl"
    shutil.copy(recorded, cassette)
    try:
        for name in UNSET:
            monkeypatch.delenv(name, raising=False)
        environment = _clean_environment()
        exported = subprocess.run(
            ["bash", "binder/start", "env", "-0"], cwd=repo, env=environment, capture_output=True, check=True
        ).stdout.decode()
        started = dict(line.split("=", 1) for line in exported.split("\0") if "=" in line)
        assert started["GEMINI_MAGICS_REPLAY"] == str(repo / "notebooks")
        spec_file = Path(os.environ["JUPYTER_PATH"]) / "kernels" / KERNEL / "kernel.json"
        replaying = Path(os.environ["JUPYTER_PATH"]) / "kernels" / f"{KERNEL}-replay" / "kernel.json"
        replaying.parent.mkdir(parents=True, exist_ok=True)
        spec = json.loads(spec_file.read_text())
        spec["env"] = {name: value for name, value in started.items() if environment.get(name) != value}
        replaying.write_text(json.dumps(spec))
        # jupyter_server tells the kernel which notebook it runs
        monkeypatch.setenv("JPY_SESSION_NAME", str(repo / "notebooks" / notebook_name))
        notebook = nbformat.read(repo / "notebooks" / notebook_name, as_version=4)
        NotebookClient(
            notebook,
            timeout=240,
            kernel_name=f"{KERNEL}-replay",
            resources={"metadata": {"path": str(repo / "notebooks")}},
        ).execute()
    finally:
        cassette.unlink()
    texts = "\n".join(_text(output) for output in _outputs(notebook))
    assert texts.count("replayed from a recording of gemini-3.5-flash made on ") == 4
    for n in range(1, 5):
        assert f"Recorded answer {n}." in texts
    assert f"mode:    replaying {cassette}" in texts  # %gemini status
    assert "Offline: this answer comes from the built-in emulator" not in texts
    assert "Offline emulator" not in texts


def _record_with_the_emulator(notebook_path: Path, make_emulator, monkeypatch, folder: Path) -> Path:
    """Run the notebook in this test environment's kernel against the emulator with a key, recording
    it as a teacher would (a record cell first, a stop cell last); return the cassette."""
    emulator = make_emulator()
    emulator.enqueue(*(Reply.text(f"Recorded answer {n}.") for n in range(1, 5)))
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    notebook = nbformat.read(notebook_path, as_version=4)
    cassette = folder / "01_quickstart.cassette.jsonl"
    loaded = next(n for n, cell in enumerate(notebook.cells) if cell.source == "%load_ext gemini_magics")
    notebook.cells.insert(loaded + 1, nbformat.v4.new_code_cell(f"%gemini record {cassette}"))
    notebook.cells.append(nbformat.v4.new_code_cell("%gemini record stop"))
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    assert TEST_KEY.encode() not in cassette.read_bytes()
    return cassette

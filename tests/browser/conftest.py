"""Browser-test harness: a real JupyterLab driven by headless Chromium (Playwright).

Session-scoped pieces, started once for the whole browser suite:

* ``emulator``   - the offline Gemini emulator (gemini_magics.emulator) in this process;
* ``lab``        - JupyterLab as a subprocess on a free loopback port, with a random
  token, its own root/settings/workspaces/config/data/runtime dirs in a tmp dir,
  JupyterLab's network chatter (news, update checks, PyPI extension manager) off,
  and the kernel environment pointing google-genai at the emulator;
* ``browser``    - Debian's chromium launched by Playwright (it cannot download its own).

Per test: ``page`` (a fresh browser context, 1280x900) and ``notebook`` (a factory that
writes a .ipynb into the lab root and opens it; see :class:`NotebookUI`). Screenshots
go to ``test-artifacts/browser/<test-name>-<step>.png``; a failing test also leaves
``<test-name>-failure.png`` and ``<test-name>-console.log`` there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts" / "browser"
API_KEY = "browser-test-key"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}

LAB_START_TIMEOUT_S = 90.0
KERNEL_IDLE_TIMEOUT_MS = 60_000
CELL_TIMEOUT_MS = 60_000

# User settings written into the throwaway settings dir: never ask about, fetch or
# check Jupyter news/updates (the first-start "news" toast would otherwise cover
# the notebook and try to reach the internet).
LAB_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


# --------------------------------------------------------------------------- threads


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Browser variant of the leak check in tests/conftest.py (same name, so it replaces it).

    Playwright's sync API runs an asyncio loop for the whole session whose default
    executor starts worker threads ("asyncio_N") on demand and keeps them until the
    session ends; those are not leaks. Any other new non-daemon thread still fails.
    """
    before = set(threading.enumerate())
    yield
    leaked = [
        t
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.daemon and not t.name.startswith("asyncio_")
    ]
    assert not leaked, f"threads leaked: {leaked}"


# --------------------------------------------------------------------------- emulator


@dataclass
class _EmulatorSlot:
    emulator: Any = None
    error: str | None = None


@pytest.fixture(scope="session")
def _emulator_slot() -> Iterator[_EmulatorSlot]:
    """Start the emulator if it can be imported; otherwise remember why not.

    JupyterLab is started either way, so harness-only tests (like the print(6*7)
    sanity check) run even while gemini_magics.emulator is unavailable.
    """
    slot = _EmulatorSlot()
    try:
        from gemini_magics.emulator import Emulator
    except Exception as exc:  # any import problem is reported by the `emulator` fixture
        slot.error = f"cannot import gemini_magics.emulator: {exc!r}"
        yield slot
        return
    emu = Emulator(api_key=API_KEY)
    started = emu.start()
    slot.emulator = started if started is not None else emu
    try:
        yield slot
    finally:
        slot.emulator.stop()


@pytest.fixture(scope="session")
def emulator(_emulator_slot: _EmulatorSlot) -> Any:
    """The running in-process Gemini emulator that the lab's kernels talk to."""
    if _emulator_slot.emulator is None:
        pytest.fail(_emulator_slot.error or "emulator unavailable", pytrace=False)
    return _emulator_slot.emulator


# --------------------------------------------------------------------------- jupyterlab


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    base_url: str
    token: str
    root_dir: Path
    log_path: Path
    proc: subprocess.Popen = field(repr=False)

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        """Call the Jupyter server REST API; returns the decoded JSON (or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def notebook7_url(self, notebook: str) -> str:
        return f"{self.base_url}/notebooks/{notebook}?token={self.token}"

    def lab_url(self, notebook: str, workspace: str) -> str:
        # A workspace per test keeps tabs opened by earlier tests out of the way.
        return f"{self.base_url}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def shutdown_kernels(self) -> None:
        try:
            for kernel in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=20)
        except (OSError, urllib.error.URLError, ValueError):
            pass


def _lab_env(home: Path, emulator_base_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("GOOGLE_API_KEY", "GEMINI_MAGICS_OFFLINE", "JUPYTER_TOKEN", "JUPYTER_PATH"):
        env.pop(name, None)
    env["GEMINI_API_KEY"] = API_KEY
    if emulator_base_url:
        env["GOOGLE_GEMINI_BASE_URL"] = emulator_base_url
    else:
        env.pop("GOOGLE_GEMINI_BASE_URL", None)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
        ("MPLCONFIGDIR", "matplotlib"),
    ):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # Loopback must never go through a proxy (the emulator and the lab are local).
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
    env["NO_PROXY"] = env["no_proxy"] = no_proxy
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_for_lab(server: LabServer, deadline: float) -> None:
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {server.proc.returncode} before answering.\n"
                f"--- {server.log_path} ---\n{server.log_tail()}"
            )
        try:
            server.api("GET", "/api/status", timeout=2)
            return
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last_error = exc
            time.sleep(0.2)
    raise RuntimeError(
        f"JupyterLab did not answer /api/status in time ({last_error!r}).\n"
        f"--- {server.log_path} ---\n{server.log_tail()}"
    )


def _stop_process_group(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group, if any
    proc.wait(timeout=5)


@contextlib.contextmanager
def _jupyter_server(
    home: Path, emulator: Any, app: str, app_args: Sequence[str], label: str
) -> Iterator[LabServer]:
    """Run ``python -m <app>`` (jupyterlab, or notebook for Notebook 7) on a free loopback port with a
    random token and throwaway dirs under ``home``; its log is copied to the artifacts as ``label.log``."""
    root_dir = home / "root"
    settings_dir = home / "user-settings"
    workspaces_dir = home / "workspaces"
    for d in (root_dir, settings_dir, workspaces_dir):
        d.mkdir()
    for rel, values in LAB_USER_SETTINGS.items():
        target = settings_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))

    env = _lab_env(home, emulator.base_url if emulator is not None else None)
    token = secrets.token_hex(16)
    port = _free_port()
    app_class = {"jupyterlab": "LabApp", "notebook": "JupyterNotebookApp"}[app]
    cmd = [
        sys.executable,
        "-m",
        app,
        "--no-browser",
        f"--port={port}",
        "--port-retries=0",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        f"--{app_class}.user_settings_dir={settings_dir}",
        f"--{app_class}.workspaces_dir={workspaces_dir}",
        "--LanguageServerManager.autodetect=False",
        *app_args,
    ]
    if os.geteuid() == 0:  # CI and these machines run as root
        cmd.append("--allow-root")
    log_path = home / f"{label}.log"
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        cmd,
        cwd=root_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group, so teardown can kill it whole
    )
    server = LabServer(
        base_url=f"http://127.0.0.1:{port}",
        token=token,
        root_dir=root_dir,
        log_path=log_path,
        proc=proc,
    )
    STARTED_SERVERS.append(server)
    try:
        _wait_for_lab(server, time.monotonic() + LAB_START_TIMEOUT_S)
        yield server
    finally:
        STARTED_SERVERS.remove(server)
        server.shutdown_kernels()  # kernels run in their own sessions
        _stop_process_group(proc)
        log_file.close()
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log_path, ARTIFACTS_DIR / f"{label}.log")


STARTED_SERVERS: list[LabServer] = []  # for the failure report of a test, whichever server it used


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, _emulator_slot: _EmulatorSlot) -> Iterator[LabServer]:
    """A JupyterLab server for the whole browser session (see module docstring)."""
    lab_args = [
        # no network chatter: news feed, update check, PyPI-backed extension manager
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    home = tmp_path_factory.mktemp("jupyterlab")
    with _jupyter_server(home, _emulator_slot.emulator, "jupyterlab", lab_args, "jupyterlab") as server:
        yield server


# --------------------------------------------------------------------------- playwright


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        message = "Debian's chromium is not installed (bash scripts/test.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _artifact_stem(node: pytest.Item) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node.name)


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context per test; on failure, leaves a screenshot and the page
    console in test-artifacts/browser and prints their tails (for CI logs)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    pg = context.new_page()
    console: list[str] = []
    pg.on("console", lambda msg: console.append(f"[{msg.type}] {msg.text}"))
    pg.on("pageerror", lambda exc: console.append(f"[pageerror] {exc}"))
    try:
        yield pg
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
            stem = _artifact_stem(request.node)
            with contextlib.suppress(Exception):  # best effort
                pg.screenshot(path=str(ARTIFACTS_DIR / f"{stem}-failure.png"))
            (ARTIFACTS_DIR / f"{stem}-console.log").write_text("\n".join(console) + "\n")
            print(f"--- browser console (last 30 of {len(console)} lines) ---")
            print("\n".join(console[-30:]))
            for server in STARTED_SERVERS:
                print(f"--- {server.log_path} (tail) ---\n{server.log_tail(30)}")
            print(f"--- screenshots: {ARTIFACTS_DIR}/{stem}-*.png ---")
        context.close()


# --------------------------------------------------------------------------- notebook UI

_PROMPT_DONE = re.compile(r"^\[\d+\]:$")


class NotebookUI:
    """Drives one notebook in JupyterLab: open, run cells, read outputs, screenshots."""

    def __init__(self, page: Any, lab: LabServer, name: str, shot_stem: str) -> None:
        self.page = page
        self.lab = lab
        self.name = name
        self.shot_stem = shot_stem
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").filter(
            has=page.locator(".jp-Notebook")
        )

    # -- navigation

    SHELL = ".jp-LabShell"

    def url(self, workspace: str) -> str:
        return self.lab.lab_url(self.name, workspace)

    def open(self, workspace: str) -> NotebookUI:
        self.page.goto(self.url(workspace), wait_until="domcontentloaded")
        self.page.locator(self.SHELL).wait_for(state="visible", timeout=60_000)
        self.cells.first.wait_for(state="visible", timeout=60_000)
        self.dismiss_popups()
        self.collapse_left_sidebar()
        self.wait_kernel_idle()
        self.dismiss_popups()
        return self

    @property
    def cells(self) -> Any:
        return self.panel.locator(".jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Any:
        return self.cells.nth(index)

    def output_area(self, index: int) -> Any:
        return self.cell(index).locator(".jp-OutputArea")

    # -- kernel

    def wait_kernel_idle(self, timeout_ms: int = KERNEL_IDLE_TIMEOUT_MS) -> None:
        """Wait until the front end's ``idle_indicator`` shows idle and the server agrees.

        In JupyterLab that is the status bar's "<kernel name> | Idle" (the toolbar's execution
        indicator says "idle" before a kernel even exists); Notebook 7 has no status bar and uses the
        toolbar's indicator, with the server's sessions saying a kernel exists and is idle.
        """
        self.idle_indicator().first.wait_for(state="visible", timeout=timeout_ms)
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            states = [
                s["kernel"]["execution_state"]
                for s in self.lab.api("GET", "/api/sessions")
                if s.get("path", "").endswith(self.name) and s.get("kernel")
            ]
            if states and all(state == "idle" for state in states):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"kernel for {self.name} not idle: {states}")
            time.sleep(0.1)

    def idle_indicator(self) -> Any:
        return self.page.locator(".jp-StatusBar-TextItem").filter(
            has_text=re.compile(r"^(?!No Kernel).+ \| Idle$")
        )

    # -- cells

    def run_cell(self, index: int) -> None:
        """Select a cell (command mode, via its prompt) and press Shift+Enter."""
        self.dismiss_popups()
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputPrompt").first.click()
        self.page.keyboard.press("Shift+Enter")
        # The prompt turns into [*]: while queued/running; wait until that is visible
        # or the cell already finished (fast cells).
        prompt = cell.locator(".jp-InputArea-prompt").first
        self.page.wait_for_function(
            "el => /^\\[(\\*|\\d+)\\]:$/.test(el.textContent.trim())",
            arg=prompt.element_handle(),
            timeout=10_000,
        )

    def wait_cell_done(self, index: int, timeout_ms: int = CELL_TIMEOUT_MS) -> None:
        prompt = self.cell(index).locator(".jp-InputArea-prompt").first
        self.page.wait_for_function(
            "el => /^\\[\\d+\\]:$/.test(el.textContent.trim())",
            arg=prompt.element_handle(),
            timeout=timeout_ms,
        )

    def run_cell_and_wait(self, index: int, timeout_ms: int = CELL_TIMEOUT_MS) -> str:
        self.run_cell(index)
        self.wait_cell_done(index, timeout_ms)
        return self.output_text(index)

    def prompt_text(self, index: int) -> str:
        return self.cell(index).locator(".jp-InputArea-prompt").first.inner_text().strip()

    def output_text(self, index: int) -> str:
        area = self.output_area(index)
        if area.count() == 0:
            return ""
        return area.first.inner_text()

    def start_output_recorder(self, index: int, interval_ms: int = 100) -> None:
        """Record the cell's rendered output text every interval_ms inside the page."""
        self.cell(index).evaluate(
            """(cell, interval) => {
                 if (window.__gmRecorder) clearInterval(window.__gmRecorder);
                 window.__gmSnaps = [];
                 const t0 = performance.now();
                 window.__gmRecorder = setInterval(() => {
                   const area = cell.querySelector('.jp-OutputArea');
                   window.__gmSnaps.push({
                     t: Math.round(performance.now() - t0),
                     text: area ? area.innerText : '',
                     html: area ? area.innerHTML.length : 0,
                   });
                 }, interval);
               }""",
            interval_ms,
        )

    def stop_output_recorder(self) -> list[dict[str, Any]]:
        return self.page.evaluate(
            """() => { clearInterval(window.__gmRecorder); window.__gmRecorder = null;
                       return window.__gmSnaps || []; }"""
        )

    def run_cell_streaming(
        self,
        index: int,
        is_partial: Callable[[str], bool],
        is_complete: Callable[[str], bool],
        shot_step: str = "streaming",
        timeout_s: float = 60.0,
    ) -> tuple[list[str], Path | None]:
        """Run a cell whose output grows, watching it like a person would.

        The page records the output area's rendered text every 100 ms; meanwhile the
        first state that ``is_partial`` accepts is screenshotted as ``shot_step``.
        Returns (recorded texts, that screenshot or None) once the cell has finished
        and ``is_complete`` holds for its output.
        """
        self.start_output_recorder(index, interval_ms=100)
        self.run_cell(index)
        shot = None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.output_text(index)
            if shot is None and is_partial(text):
                shot = self.screenshot(shot_step)
            if is_complete(text) or _PROMPT_DONE.match(self.prompt_text(index)):
                break
            time.sleep(0.1)
        self.wait_cell_done(index, timeout_ms=int(max(1.0, deadline - time.monotonic()) * 1000))
        snapshots = [snap["text"] for snap in self.stop_output_recorder()]
        snapshots.append(self.output_text(index))
        return snapshots, shot

    # -- popups and screenshots

    def collapse_left_sidebar(self) -> None:
        """Hide the file browser so screenshots show more of the notebook."""
        current = self.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
        if current.count():
            current.first.click()
            self.page.locator("#jp-left-stack").wait_for(state="hidden", timeout=5_000)

    def dismiss_popups(self) -> None:
        """Close modal dialogs and toast notifications that could cover the notebook."""
        page = self.page
        for _ in range(5):
            dialog = page.locator(".jp-Dialog")
            if dialog.count() == 0 or not dialog.first.is_visible():
                break
            reject = dialog.first.locator(".jp-Dialog-button.jp-mod-reject")
            if reject.count():
                reject.first.click()
            else:
                page.keyboard.press("Escape")
            dialog.first.wait_for(state="detached", timeout=5_000)
        toasts = page.locator(".Toastify__toast .jp-toast-dismiss, .Toastify__close-button")
        for i in reversed(range(toasts.count())):
            with contextlib.suppress(Exception):  # a toast may vanish on its own meanwhile
                toasts.nth(i).click(timeout=2_000)

    def screenshot(self, step: str) -> Path:
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS_DIR / f"{self.shot_stem}-{step}.png"
        self.page.screenshot(path=str(path))
        return path


def write_notebook(root_dir: Path, name: str, cells: Sequence[str]) -> Path:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(src) for src in cells],
        metadata={
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
    )
    path = root_dir / name
    nbformat.write(nb, path)
    return path


def _prepare_artifacts(request: pytest.FixtureRequest) -> str:
    stem = _artifact_stem(request.node)
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS_DIR.glob(f"{stem}-*"):
        old.unlink()
    return stem


@pytest.fixture
def notebook(
    page: Any, lab: LabServer, request: pytest.FixtureRequest
) -> Callable[[Sequence[str]], NotebookUI]:
    """Factory: ``notebook(["print(1)", ...])`` writes the notebook and opens it."""
    return _opener(
        page, lab, request, NotebookUI, lambda stem: re.sub(r"[^A-Za-z0-9-]+", "-", stem).strip("-") or "ws"
    )


def _opener(
    page: Any,
    server: LabServer,
    request: pytest.FixtureRequest,
    ui_class: type[NotebookUI],
    workspace: Callable[[str], str],
) -> Callable[..., NotebookUI]:
    """``make(cells, name=None)``: write a notebook on ``server`` and open it with ``ui_class``."""
    stem = _prepare_artifacts(request)

    def make(cells: Sequence[str], name: str | None = None) -> NotebookUI:
        nb_name = name or f"{stem}.ipynb"
        write_notebook(server.root_dir, nb_name, cells)
        return ui_class(page, server, nb_name, stem).open(workspace=workspace(stem))

    return make


# --------------------------------------------------------------------------- Notebook 7


class Notebook7UI(NotebookUI):
    """The same driver in the Notebook 7 interface (``jupyter notebook``): one notebook per browser
    tab, JupyterLab's cells and outputs, no status bar (the kernel's state comes from the server)."""

    SHELL = "#main-panel"

    def url(self, workspace: str) -> str:
        return self.lab.notebook7_url(self.name)

    def idle_indicator(self) -> Any:
        return self.page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")


@pytest.fixture(scope="module")
def notebook7_server(
    tmp_path_factory: pytest.TempPathFactory, _emulator_slot: _EmulatorSlot
) -> Iterator[LabServer]:
    """A Notebook 7 server (``jupyter notebook``), shared by the tests of one module."""
    home = tmp_path_factory.mktemp("notebook7")
    with _jupyter_server(home, _emulator_slot.emulator, "notebook", [], "notebook7") as server:
        yield server


@pytest.fixture
def notebook7(
    page: Any, notebook7_server: LabServer, request: pytest.FixtureRequest
) -> Callable[[Sequence[str]], NotebookUI]:
    """Factory like ``notebook``, opening the notebook in the Notebook 7 interface."""
    return _opener(page, notebook7_server, request, Notebook7UI, lambda stem: "")

"""Deep Research in the background: progress, cancel, resume, reattach, outcomes, text fallback."""

from __future__ import annotations

import _thread
import subprocess
import sys
import threading
import time

import pytest

from gemini_magics.core.errors import GeminiTurnIncomplete
from gemini_magics.emulator import StepClock, WallClock
from gemini_magics.emulator.research import research_reply
from gemini_magics.ipython import research as research_magic
from gemini_magics.widgets.research import ResearchPanel

from .support import TEST_KEY, creates, markdown_of, wait_for


@pytest.fixture
def emulator_options():
    """Research durations below are emulated seconds, played ten times faster; a test that steps
    through a run sets ``emulator.clock = StepClock()``."""
    return {"clock": WallClock(speed=10)}


@pytest.fixture
def panels(ip, monkeypatch):
    """Pretend a widget front end listens, and collect the panels the magic shows."""
    shown: list[ResearchPanel] = []
    ip.run("%config GeminiMagics.widgets = 'on'")
    original = ResearchPanel.__init__

    def remember(self, run, **kwargs):
        original(self, run, **kwargs)
        shown.append(self)

    monkeypatch.setattr(ResearchPanel, "__init__", remember)
    return shown


def _gets(emulator):
    return [r for r in emulator.requests if r.method == "GET"]


def test_blocking_research_prints_short_progress_and_renders_the_report(ip, emulator):
    emulator.enqueue(research_reply("TPUs vs GPUs", duration=15))  # 1.5 s: text progress ticks twice a second
    cell = ip.run("%%gemini --research -o report\nCompare TPUs and GPUs for transformer training.")
    report = ip.user_ns["report"]
    assert report is ip.user_ns["_gemini"] and report.done and report.status == "completed"
    body = creates(emulator)[0].body
    assert body["agent"] == "deep-research-preview-04-2026"
    assert body["background"] is True and body["stream"] is True
    assert body["agent_config"]["thinking_summaries"] == "auto"
    lines = [line for line in cell.stdout.splitlines() if line.startswith("[research]")]
    assert 3 <= len(lines) <= 8, lines  # a line per phase, not one per event
    assert "done" in lines[-1] and "2 searches · 3 pages read · 1 code runs" in lines[-1]
    shown = markdown_of(cell)
    assert "accelerators built for dense matrix work" in shown.lower()
    assert "2020.[[1]](https://example.org/tpu-v4-paper)" in shown
    assert "**Sources**" in shown and "1. [TPU v4: an optically reconfigurable supercomputer]" in shown
    assert any("image/png" in o["data"] for o in cell.outputs)
    assert "Research complete." in cell.stdout
    result = report.result
    assert result.images and "Conclusion" in result.text


def test_follow_up_cell_chains_from_the_research(ip, emulator):
    emulator.enqueue(research_reply("q", duration=0.3))
    ip.run("%%gemini --research\nHistory of TPUs")
    research_id = ip.user_ns["_gemini"].interaction_id
    ip.run("%%gemini\nSummarise the report in two lines")
    assert creates(emulator)[1].body["previous_interaction_id"] == research_id
    assert creates(emulator)[1].body["model"] == "gemini-3.5-flash"


def test_agent_choice(ip, emulator):
    emulator.enqueue(research_reply("q", duration=0.2), research_reply("q", duration=0.2))
    ip.run("%gemini research --max --wait Deep question")
    ip.run("%gemini research --agent deep-research-preview-04-2026 Another question")
    assert [b["agent"] for b in (r.body for r in creates(emulator))] == [
        "deep-research-max-preview-04-2026",
        "deep-research-preview-04-2026",
    ]


def test_panel_updates_in_the_background_while_other_cells_run(ip, emulator, panels):
    emulator.clock = clock = StepClock()
    emulator.enqueue(research_reply("TPUs", duration=60))
    started = time.monotonic()
    ip.run("%%gemini --research -o report\nTPUs")
    assert time.monotonic() - started < 1.0  # the cell returned at once
    report, (panel,) = ip.user_ns["report"], panels
    seen = set()
    for _ in range(6):  # six steps of ten emulated seconds, other cells running in between
        wait_for(lambda: clock.waiting == 1 or report.done, 10, "the research to take the next step")
        clock.advance(10)
        ip.run("busy = sum(range(20000))")
        seen.add((panel.summary.value.split(" · ")[0], round(panel.bar.value, 2)))
    assert report.wait(5).status == "completed"
    assert len(seen) >= 3, seen  # phase and bar moved while we worked
    assert panel.bar.value == 1.0 and panel.bar.bar_style == "success"
    assert panel.report in panel.box.children and len(panel.report.outputs) >= 3
    assert "Accelerators" in panel.report.outputs[0]["data"]["text/plain"]
    assert "<h" in panel.report.outputs[0]["data"]["text/html"]  # rendered in the kernel


def test_cancel_button(ip, emulator, panels):
    emulator.enqueue(research_reply("TPUs", duration=80))
    ip.run("%%gemini --research -o report\nTPUs")
    report, (panel,) = ip.user_ns["report"], panels
    wait_for(lambda: report.progress.phase != "queued", 10, "the research to start")
    clicked = time.monotonic()
    panel.cancel_button.click()
    report.wait(5)
    assert time.monotonic() - clicked < 1.5
    assert report.status == "cancelled"
    assert panel.bar.bar_style == "warning" and "cancelled" in panel.message.value
    assert any(r.path.endswith("/cancel") for r in emulator.requests)
    assert ip.magics.threads["default"].head is None  # cancelled research does not join the thread


def test_dropped_stream_resumes_from_the_last_event(ip, emulator):
    emulator.enqueue(research_reply("TPUs", duration=1.0, drop_after=10))
    ip.run("%%gemini --research -o report\nTPUs")
    assert ip.user_ns["report"].status == "completed"
    (resume,) = _gets(emulator)
    assert resume.query["stream"] == "true" and resume.query["last_event_id"]
    assert "Conclusion" in ip.user_ns["report"].result.text


def test_falls_back_to_polling_when_resuming_keeps_failing(ip, emulator):
    ip.run("%config GeminiMagics.max_resumes = 0")
    ip.run("%config GeminiMagics.research_poll_interval = 0.2")
    emulator.enqueue(research_reply("TPUs", duration=10, drop_after=6))  # 1 s: several polls
    ip.run("%%gemini --research -o report\nTPUs")
    report = ip.user_ns["report"]
    assert report.polling and report.status == "completed"
    polls = [r for r in _gets(emulator) if r.query.get("stream") != "true"]
    assert len(polls) >= 2
    assert "**Sources**" in "".join(o["data"].get("text/plain", "") for o in ip.publisher.outputs)


def test_reattach_by_id_renders_the_outcome(ip, emulator):
    emulator.enqueue(research_reply("TPUs", duration=1.0))
    ip.run("%%gemini --research\nTPUs")
    first = ip.user_ns["_gemini"].interaction_id
    cell = ip.run(f"%gemini research --resume {first}")
    again = ip.user_ns["_gemini"]
    assert again.interaction_id == first and again.status == "completed"
    assert "Conclusion" in again.result.text and "**Sources**" in markdown_of(cell)
    (replay,) = [r for r in _gets(emulator) if r.query.get("stream") == "true"]
    assert "last_event_id" not in replay.query  # from the first event


def test_reattach_to_a_running_research_and_cancel_it_by_id(ip, emulator, panels):
    emulator.enqueue(research_reply("Other", duration=300))
    ip.run("%%gemini --research -t other -o long\nOther")
    long_run = ip.user_ns["long"]
    wait_for(lambda: long_run.interaction_id is not None, 10, "the research to be created")
    reattached = research_magic.resume(ip.magics, long_run.interaction_id)
    assert not reattached.done and len(panels) == 2
    out = ip.run(f"%gemini research --cancel {long_run.interaction_id}").stdout
    assert f"research {long_run.interaction_id}: cancelled" in out
    assert long_run.wait(5).status == "cancelled"
    assert reattached.wait(5).status == "cancelled"


@pytest.mark.parametrize(
    ("status", "message", "style"),
    [
        ("incomplete", "stopped before finishing", "warning"),
        ("budget_exceeded", "hit its budget", "danger"),
        ("failed", "Research failed", "danger"),
    ],
)
def test_outcomes_are_shown_clearly(ip, emulator, panels, status, message, style):
    emulator.enqueue(research_reply("TPUs", duration=0.3, status=status))
    ip.run("%%gemini --research -o report\nTPUs")
    report, (panel,) = ip.user_ns["report"], panels
    report.wait(10)
    assert report.status == status
    assert panel.bar.bar_style == style and message in panel.message.value
    emulator.enqueue(research_reply("TPUs", duration=0.3, status=status))
    if status == "failed":
        with pytest.raises(GeminiTurnIncomplete):
            ip.run("%gemini research --wait TPUs")
    else:
        assert message in ip.run("%gemini research --wait TPUs").stdout


def test_interrupting_a_wait_stops_waiting_not_the_research(ip, emulator):
    emulator.clock = clock = StepClock()
    emulator.enqueue(research_reply("TPUs", duration=20))

    def interrupt_once_running() -> None:
        wait_for(lambda: clock.waiting == 1, 20, "the research to wait on the clock")
        clock.advance(5)  # a quarter of the way: running, far from done
        wait_for(lambda: ip.user_ns["report"].progress.phase != "queued", 20, "the research to run")
        _thread.interrupt_main()

    threading.Thread(target=interrupt_once_running, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        ip.run("%%gemini --research --wait -o report\nTPUs")
    report = ip.user_ns["report"]
    assert not report.done
    rid = report.interaction_id
    assert "Stopped waiting; the research goes on" in ip.last_stdout
    assert f"%gemini research --resume {rid}" in ip.last_stdout
    assert f"%gemini research --cancel {rid}" in ip.last_stdout
    clock.advance(15)
    assert report.wait(10).status == "completed"


def test_the_handle_has_a_useful_repr(ip, emulator):
    emulator.enqueue(research_reply("TPUs", duration=0.3))
    ip.run("%%gemini --research -o report\nTPUs")
    shown = repr(ip.user_ns["report"])
    assert shown.startswith("<ResearchRun completed phase=done")
    assert "2 searches, 3 pages, 1 code runs" in shown and ip.user_ns["report"].interaction_id in shown


def test_research_works_without_ipywidgets(emulator, monkeypatch):
    code = """
import sys
sys.modules["ipywidgets"] = None  # as if it were not installed
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "gemini_magics")
from gemini_magics.emulator.research import research_reply
shell.run_cell("%%gemini --research -o report\\nTPUs").raise_error()
print("STATUS", shell.user_ns["report"].status)
"""
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.base_url)
    emulator.enqueue(research_reply("TPUs", duration=0.3))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "STATUS completed" in out.stdout, (out.stdout[-2000:], out.stderr[-2000:])

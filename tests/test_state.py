"""Thread state under re-runs and concurrency: chained turns of one cell, resets that win, research."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from IPython.core.error import UsageError

from gemini_magics.core.research import ResearchRun
from gemini_magics.core.threads import Thread, Turn
from gemini_magics.emulator import Reply, WallClock
from gemini_magics.emulator.research import research_reply
from gemini_magics.render.progress import outcome_message
from gemini_magics.widgets.chat import RESET_NOTE
from gemini_magics.widgets.messages import StreamingReply

from .support import creates, markdown_of
from .test_chat import notice, panels, shown, wait_for  # noqa: F401 (panels is a fixture)
from .test_research import panels as research_panels  # noqa: F401 (a fixture)


@pytest.fixture
def emulator_options():
    """Research runs here play ten times faster than their emulated duration."""
    return {"clock": WallClock(speed=10)}


def _previous(emulator) -> list[str | None]:
    return [r.body.get("previous_interaction_id") for r in creates(emulator)]


# -- several turns from one cell execution -------------------------------------------------------
def test_two_lines_in_one_cell_chain_and_a_rerun_replaces_both(ip, emulator):
    emulator.enqueue(*(Reply.text(f"Answer {n}.") for n in range(5)))
    ip.run("%%gemini\nFirst cell", cell_id="a")
    a_id = ip.user_ns["_gemini"].interaction_id
    ip.run("%gemini What is 2+2?\n%gemini And times 3?", cell_id="b")
    thread = ip.magics.threads["default"]
    ids = [t.interaction_id for t in thread.turns]
    assert _previous(emulator)[1:] == [a_id, ids[1]]  # the second question follows the first answer
    assert [t.cell_id for t in thread.turns] == ["a", "b", "b"]

    ip.run("%gemini What is 2+2?\n%gemini And times 3?", cell_id="b")  # re-run: as if it ran once
    ids_again = [t.interaction_id for t in thread.turns]
    assert _previous(emulator)[3:] == [a_id, ids_again[1]]
    assert [t.cell_id for t in thread.turns] == ["a", "b", "b"]
    assert ids_again[0] == a_id and set(ids_again[1:]).isdisjoint(ids[1:])
    assert [t.prompt for t in thread.turns] == ["First cell", "What is 2+2?", "And times 3?"]


def test_a_loop_in_one_cell_chains_every_turn(ip, emulator):
    emulator.enqueue(*(Reply.text(f"r{n}") for n in range(6)))
    loop = "for q in ['one', 'two', 'three']:\n    get_ipython().run_line_magic('gemini', q)\n"
    ip.run(loop, cell_id="loop")
    thread = ip.magics.threads["default"]
    first = [t.interaction_id for t in thread.turns]
    assert len(first) == 3 and _previous(emulator) == [None, first[0], first[1]]
    ip.run(loop, cell_id="loop")
    assert len(thread.turns) == 3
    assert _previous(emulator)[3] is None  # the first turn of the re-run rewinds to before the cell
    assert _previous(emulator)[4:] == [thread.turns[0].interaction_id, thread.turns[1].interaction_id]


def test_rerunning_an_earlier_multi_turn_cell_drops_what_came_after(ip, emulator):
    emulator.enqueue(*(Reply.text(f"r{n}") for n in range(6)))
    ip.run("%gemini one\n%gemini two", cell_id="a")
    ip.run("%%gemini\nthree", cell_id="b")
    ip.run("%gemini one\n%gemini two", cell_id="a")
    thread = ip.magics.threads["default"]
    assert [t.prompt for t in thread.turns] == ["one", "two"]
    assert _previous(emulator)[3] is None


def test_two_threads_in_one_cell_each_rewind_on_their_own(ip, emulator):
    emulator.enqueue(*(Reply.text(f"r{n}") for n in range(4)))
    cell = "%gemini -t x hello x\n%gemini -t y hello y"
    ip.run(cell, cell_id="c")
    ip.run(cell, cell_id="c")
    threads = ip.magics.threads
    assert len(threads["x"].turns) == 1 and len(threads["y"].turns) == 1
    assert _previous(emulator) == [None, None, None, None]


# -- a reset wins over a turn that is still running ----------------------------------------------
def test_thread_reset_between_start_and_commit_wins():
    thread = Thread("t")
    thread.commit(Turn("old", "i0", None, "m"))
    slot = thread.slot()
    thread.reset()
    assert thread.commit(Turn("late", "i1", slot.parent_id, "m"), slot.generation) is False
    assert thread.turns == [] and thread.generation == 1
    fresh = thread.slot()
    assert thread.commit(Turn("new", "i2", fresh.parent_id, "m"), fresh.generation)
    assert [t.prompt for t in thread.turns] == ["new"]


@pytest.fixture
def gate(monkeypatch) -> Iterator[threading.Event]:
    """Hold a chat panel's worker at its first event until the test opens the gate."""
    opened = threading.Event()
    reached = threading.Event()
    original = StreamingReply.handle

    def held(self, event):
        reached.set()
        assert opened.wait(10), "the gate was never opened"
        original(self, event)

    monkeypatch.setattr(StreamingReply, "handle", held)
    opened.reached = reached  # type: ignore[attr-defined]
    yield opened
    opened.set()


def test_reset_from_a_cell_while_the_panel_answers_is_not_undone(ip, panels, emulator, gate):  # noqa: F811
    emulator.enqueue(Reply.text("Before."), Reply.text("Streaming answer."), Reply.text("Fresh."))
    ip.run("%%gemini\nEarlier", cell_id="a")
    panel = panels()
    assert panel.send("A question in the panel")
    assert gate.reached.wait(10)
    out = ip.run("%gemini reset").stdout
    assert "starts over" in out and "will finish but not be added" in out
    gate.set()
    assert panel.wait(10)
    thread = ip.magics.threads["default"]
    assert thread.turns == [] and not thread.busy
    assert panel.last_result.status == "completed"
    assert "Streaming answer." in shown(panel) and RESET_NOTE.split(" (")[0] in shown(panel)
    ip.run("%%gemini\nAfter the reset", cell_id="b")
    assert _previous(emulator)[2] is None


def test_new_chat_while_research_runs_wins_and_says_so(ip, panels, research_panels, emulator, monkeypatch):  # noqa: F811
    opened = threading.Event()
    original_start = ResearchRun.start

    def gated_start(self):
        self.subscribe(lambda run: opened.wait(10))
        return original_start(self)

    monkeypatch.setattr(ResearchRun, "start", gated_start)
    emulator.enqueue(Reply.text("Cell answer."), research_reply("TPUs", duration=0.3), Reply.text("After."))
    ip.run("%%gemini\nEarlier", cell_id="a")
    ip.run("%%gemini --research -o report\nTPUs", cell_id="r")
    report = ip.user_ns["report"]
    panel = panels()
    panel.new_chat()
    assert "will finish but not be added" in notice(panel)
    opened.set()
    assert report.wait(20).status == "completed"
    thread = ip.magics.threads["default"]
    assert thread.turns == [] and not report.joined
    assert "was reset while this research ran" in outcome_message(report)
    assert "Conclusion" in report.result.text  # the report itself is kept on the handle
    ip.run("%%gemini\nAfter", cell_id="b")
    assert _previous(emulator)[2] is None


def test_reset_all_while_research_runs_wins(ip, research_panels, emulator, monkeypatch):  # noqa: F811
    opened = threading.Event()
    original_start = ResearchRun.start

    def gated_start(self):
        self.subscribe(lambda run: opened.wait(10))
        return original_start(self)

    monkeypatch.setattr(ResearchRun, "start", gated_start)
    emulator.enqueue(research_reply("TPUs", duration=0.3))
    ip.run("%%gemini --research -t lab -o report\nTPUs", cell_id="r")
    out = ip.run("%gemini reset --all").stdout
    assert "'lab'" in out and "will finish but not be added" in out
    opened.set()
    report = ip.user_ns["report"]
    assert report.wait(20).status == "completed"
    assert ip.magics.threads["lab"].turns == [] and not report.joined


# -- research cells follow the same rules ----------------------------------------------------------
def test_rerunning_a_research_cell_rewinds(ip, emulator):
    emulator.enqueue(Reply.text("Setup."), *(research_reply(q, duration=0.2) for q in "ab"))
    ip.run("%%gemini\nContext first", cell_id="a")
    a_id = ip.user_ns["_gemini"].interaction_id
    ip.run("%%gemini --research --wait\nTPUs", cell_id="r")
    ip.run("%%gemini --research --wait\nTPUs, again", cell_id="r")
    thread = ip.magics.threads["default"]
    assert _previous(emulator) == [None, a_id, a_id]
    assert [t.cell_id for t in thread.turns] == ["a", "r"]
    assert thread.turns[-1].prompt == "TPUs, again"


# -- research --resume joins a thread ------------------------------------------------------------
def test_resume_with_wait_out_and_thread_joins_as_head(ip, emulator):
    emulator.enqueue(research_reply("TPUs", duration=0.3), Reply.text("Notes."), Reply.text("Follow-up."))
    ip.run("%%gemini --research -t lab\nTPUs")
    research_id = ip.user_ns["_gemini"].interaction_id
    ip.run("%%gemini -t notes\nSome notes", cell_id="n")
    notes_head = ip.user_ns["_gemini"].interaction_id
    cell = ip.run(f"%gemini research --resume {research_id} --wait -o again -t notes", cell_id="res")
    again = ip.user_ns["again"]
    assert again is ip.user_ns["_gemini"] and again.done and again.status == "completed"
    assert "joins thread 'notes' as its head, after its 1 turn(s)" in cell.stdout
    assert "The report is now the head of thread 'notes'." in cell.stdout
    notes = ip.magics.threads["notes"]
    assert [t.interaction_id for t in notes.turns] == [notes_head, research_id]
    assert notes.turns[-1].parent_id == notes_head
    ip.run(f"%gemini research --resume {research_id} --wait -t notes", cell_id="res")  # a re-run replaces
    assert [t.interaction_id for t in notes.turns] == [notes_head, research_id]
    ip.run("%%gemini -t notes\nSummarise it", cell_id="f")
    assert _previous(emulator)[-1] == research_id


def test_resume_refuses_bad_options_in_one_line(ip, emulator):
    for line, message in (
        ("%gemini research --resume v1_x -o In", "IPython itself uses In"),
        ("%gemini research --resume v1_x -t ../up", "thread name '../up' is not allowed"),
        ("%gemini research --resume v1_x --bogus", "unrecognized arguments: --bogus"),
        ("%gemini research --resume", "usage: %gemini research --resume"),
    ):
        with pytest.raises(UsageError, match=message.replace("(", r"\(")) as caught:
            ip.run(line)
        assert "\n" not in str(caught.value)
    assert creates(emulator) == []


def test_a_reset_while_a_cell_streams_wins_and_the_cell_says_so(ip, emulator, monkeypatch):
    from gemini_magics.ipython.display import NotebookRenderer

    emulator.enqueue(Reply.text("Earlier."), Reply.text("Streaming."), Reply.text("Fresh."))
    ip.run("%%gemini\nEarlier", cell_id="a")
    thread = ip.magics.threads["default"]
    original = NotebookRenderer.handle
    reset_once = threading.Event()

    def handle(self, event):
        if not reset_once.is_set():  # a reset from elsewhere (a panel's New chat) lands mid-stream
            reset_once.set()
            ip.magics.threads["default"].reset()
        original(self, event)

    monkeypatch.setattr(NotebookRenderer, "handle", handle)
    cell = ip.run("%%gemini\nDuring", cell_id="b")
    assert thread.turns == [] and ip.user_ns["_gemini"].status == "completed"
    assert "The thread was reset while this answer streamed" in markdown_of(cell)
    monkeypatch.setattr(NotebookRenderer, "handle", original)
    ip.run("%%gemini\nAfter", cell_id="c")
    assert _previous(emulator)[2] is None

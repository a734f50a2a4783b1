"""Real-traffic stream shapes, exact resume whatever the server replays, and stalls.

Every test goes over real HTTP to the emulator through the real SDK; cells run in a real shell,
background turns on their worker thread. The final text must equal the reply exactly: nothing lost,
nothing doubled, whatever the server does on a resume.
"""

from __future__ import annotations

import base64
import time

import pydantic
import pytest
from google.genai import interactions as sdk_types

from gemini_magics.core import events as ev
from gemini_magics.core.errors import GeminiAPIError, GeminiConnectionError
from gemini_magics.core.results import GeminiResult
from gemini_magics.core.threads import Thread
from gemini_magics.emulator import Reply
from gemini_magics.emulator.research import research_reply

from .support import creates, markdown_of, wait_for

TEXT = "".join(f"Sentence number {n}. " for n in range(24))
THOUGHTS = ["Reading the question. ", "Planning the answer. ", "Checking the numbers. "]
DEADLINE = 20.0


def _gets(emulator):
    return [r for r in emulator.requests if r.method == "GET" and r.query.get("stream") == "true"]


def _wait(predicate, what: str, timeout: float = DEADLINE) -> None:
    wait_for(predicate, timeout, what)


def _assert_exact(result: GeminiResult, text: str = TEXT, thoughts: str = "".join(THOUGHTS)) -> None:
    assert result.status == "completed"
    assert result.text == text
    assert result.thoughts == thoughts
    generated = [s for s in result.steps if s["type"] == "model_output"]
    assert [b["text"] for b in generated[0]["content"]] == [text]
    summaries = [b["text"] for s in result.steps if s["type"] == "thought" for b in s["summary"]]
    assert summaries == list(THOUGHTS)


# -- step.start carries content ----------------------------------------------------------------


def test_text_and_thoughts_inside_step_start_are_kept(ip, emulator):
    emulator.enqueue(Reply.text(TEXT, thoughts=THOUGHTS, deltas=6, start_content=True))
    cell = ip.run("%%gemini --show-thoughts\nQ")
    result = ip.user_ns["_gemini"]
    _assert_exact(result)
    shown = markdown_of(cell)
    assert shown.count("Sentence number 0.") == 1 and "Sentence number 23." in shown
    assert "Reading the question." in shown
    assert ip.magics.threads["default"].turns[-1].answer == TEXT


def test_a_function_call_complete_inside_step_start(emulator):
    from google import genai

    from .support import TEST_KEY

    client = genai.Client(api_key=TEST_KEY, http_options={"base_url": emulator.base_url})
    emulator.enqueue(Reply.function_call("get_weather", {"city": "Paris"}, start_content=True))
    request = {"model": "gemini-3.5-flash", "input": "weather?"}
    out = list(ev.stream_events(client.interactions, request, max_resumes=0, translate=lambda e: e))
    (call,) = [s for s in out[-1].steps if s["type"] == "function_call"]
    assert call["name"] == "get_weather" and call["arguments"] == {"city": "Paris"}
    activity = [e for e in out if isinstance(e, ev.ToolActivity)]
    assert len(activity) == 1 and activity[0].detail["arguments"] == {"city": "Paris"}


# -- exact resume ------------------------------------------------------------------------------

RESUME_SHAPES = {
    "after the named event": {},
    "including the named event": {"resume_from": "at"},
    "from the start, ignoring the id": {"resume_from": "start"},
    "no event ids (from the start)": {"event_ids": False},
    "no ids, content in step.start": {"event_ids": False, "start_content": True},
    "every event twice": {"repeat_events": True},
    "every event twice, replay includes the named one": {"repeat_events": True, "resume_from": "at"},
}


@pytest.mark.parametrize("drop_mode", ["eof", "reset"])
@pytest.mark.parametrize("shape", list(RESUME_SHAPES), ids=list(RESUME_SHAPES))
def test_a_resumed_cell_answer_is_exact(ip, emulator, shape, drop_mode):
    reply = Reply.text(TEXT, thoughts=THOUGHTS, deltas=12, drop_after=11, drop_mode=drop_mode)
    for name, value in RESUME_SHAPES[shape].items():
        setattr(reply, name, value)
    emulator.enqueue(reply)
    cell = ip.run("%%gemini --show-thoughts\nQ")
    result = ip.user_ns["_gemini"]
    _assert_exact(result)
    assert len(_gets(emulator)) == 1 and len(creates(emulator)) == 1
    shown = markdown_of(cell)
    for n in (0, 5, 23):
        assert shown.count(f"Sentence number {n}.") == 1
    assert shown.count("Planning the answer.") == 1
    assert ip.magics.threads["default"].turns[-1].answer == TEXT  # what is committed is exact too


def test_many_drops_with_progress_are_all_resumed(ip, emulator):
    ip.run("%config GeminiMagics.max_resumes = 1")
    emulator.enqueue(Reply.text(TEXT, thoughts=THOUGHTS, deltas=24, drop_after=6, repeat_faults=True))
    ip.run("%%gemini\nQ")
    _assert_exact(ip.user_ns["_gemini"])
    assert len(_gets(emulator)) >= 4  # each resume brought something new, so none counted against us


def test_replaying_only_what_we_have_gives_up_with_the_partial_answer(ip, emulator):
    ip.run("%config GeminiMagics.max_resumes = 2")
    emulator.enqueue(Reply.text(TEXT, deltas=24, drop_after=10, repeat_faults=True, event_ids=False))
    with pytest.raises(GeminiConnectionError, match="ended before the answer was complete"):
        ip.run("%%gemini\nQ")
    assert len(_gets(emulator)) == 2
    partial = ip.user_ns["_gemini"]
    assert partial.status == "failed" and partial.text and TEXT.startswith(partial.text)
    assert partial.text.count("Sentence number 0.") == 1
    assert ip.magics.threads["default"].head is None


def test_research_replayed_from_the_start_counts_each_tool_once(ip, emulator):
    emulator.enqueue(research_reply("TPUs", duration=0.6, drop_after=20, event_ids=False))
    ip.run("%%gemini --research -o report\nTPUs")
    report = ip.user_ns["report"]
    assert report.status == "completed" and not report.polling
    p = report.progress
    assert (p.searches, p.pages, p.code_runs) == (2, 3, 1)
    (resume,) = _gets(emulator)
    assert "last_event_id" not in resume.query
    stored = emulator.interaction(report.interaction_id)["steps"]
    expected = "".join(b["text"] for b in stored[-1]["content"] if b["type"] == "text")
    assert report.result.text == expected
    assert len(report.result.images) == 1


def test_a_long_research_survives_many_drops(ip, emulator):
    ip.run("%config GeminiMagics.max_resumes = 1")
    emulator.enqueue(research_reply("TPUs", duration=0.6, drop_after=12, repeat_faults=True))
    ip.run("%%gemini --research -o report\nTPUs")
    report = ip.user_ns["report"]
    assert report.status == "completed" and not report.polling
    assert len(_gets(emulator)) >= 4
    assert (report.progress.searches, report.progress.pages, report.progress.code_runs) == (2, 3, 1)
    assert report.result.text.count("### Conclusion") == 1


# -- malformed deltas, [DONE], media -----------------------------------------------------------


@pytest.mark.parametrize("malformed", ["null_text", "no_index"])
def test_malformed_deltas_do_not_lose_the_answer(ip, emulator, malformed):
    emulator.enqueue(Reply.text(TEXT, thoughts=THOUGHTS, deltas=8, malformed=malformed))
    ip.run("%%gemini\nQ")
    _assert_exact(ip.user_ns["_gemini"])


def test_malformed_deltas_survive_a_resume_from_the_start(ip, emulator):
    reply = Reply.text(TEXT, thoughts=THOUGHTS, deltas=8, malformed="no_index", event_ids=False, drop_after=9)
    emulator.enqueue(reply)
    ip.run("%%gemini\nQ")
    _assert_exact(ip.user_ns["_gemini"])


def test_a_done_line_ends_the_stream_cleanly(ip, emulator):
    emulator.enqueue(Reply.text(TEXT, thoughts=THOUGHTS, deltas=5, done_line=True, event_ids=False))
    ip.run("%%gemini\nQ")
    _assert_exact(ip.user_ns["_gemini"])
    assert _gets(emulator) == []


AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(16)


@pytest.mark.parametrize("how", ["stream", "start_content", "no-stream"])
def test_audio_and_video_reach_the_result(ip, emulator, how):
    options = {"start_content": True} if how == "start_content" else {}
    emulator.enqueue(
        Reply.audio(AUDIO, text="Listen:", **options),
        Reply.video(VIDEO, "video/mp4", **options),
    )
    flag = " --no-stream" if how == "no-stream" else ""
    ip.run(f"%%gemini{flag}\nsay it")
    first = ip.user_ns["_gemini"]
    assert first.text == "Listen:"
    (audio,) = first.audio
    assert audio.data == AUDIO and audio.mime_type == "audio/wav" and audio.kind == "audio"
    cell = ip.run(f"%%gemini{flag}\nshow it")
    (video,) = ip.user_ns["_gemini"].videos
    assert video.base64_data == base64.b64encode(VIDEO).decode() and video.mime_type == "video/mp4"
    assert any("text/html" in o["data"] and "<video" in o["data"]["text/html"] for o in cell.outputs)


# -- partial steps on failure ------------------------------------------------------------------


def test_a_failed_turn_keeps_its_partial_steps(ip, emulator):
    ip.run("%config GeminiMagics.max_resumes = 0")
    emulator.enqueue(Reply.text(TEXT, thoughts=THOUGHTS, deltas=12, drop_after=12))
    with pytest.raises(GeminiConnectionError):
        ip.run("%%gemini\nQ")
    partial = ip.user_ns["_gemini"]
    thought, answer = partial.steps
    assert [b["text"] for b in thought["summary"]] == THOUGHTS
    assert answer["content"][0]["text"] == partial.text and TEXT.startswith(partial.text)


def test_an_error_event_keeps_the_partial_steps(ip, emulator):
    emulator.enqueue(Reply.text(TEXT, deltas=12, error_after=8))
    with pytest.raises(GeminiAPIError):
        ip.run("%%gemini\nQ")
    partial = ip.user_ns["_gemini"]
    assert partial.steps[-1]["content"][0]["text"] == partial.text != ""


def test_the_step_log_can_be_read_while_it_grows():
    log = ev.StepLog()
    log.add_text(0, "Hello ")
    log.add_arguments(1, '{"a": ')
    first = log.snapshot()
    log.add_text(0, "world")
    log.add_arguments(1, "1}")
    assert first[0]["content"] == [{"type": "text", "text": "Hello "}]
    assert first[1]["arguments"] == '{"a": '
    assert log.snapshot()[0]["content"] == [{"type": "text", "text": "Hello world"}]
    assert log.snapshot()[1]["arguments"] == {"a": 1}
    assert log.snapshot() == log.snapshot()


# -- stalls ------------------------------------------------------------------------------------


def test_a_stalled_stream_is_resumed(ip, emulator):
    ip.run("%config GeminiMagics.stall_timeout = 0.5")
    emulator.enqueue(Reply.text(TEXT, thoughts=THOUGHTS, deltas=12, stall_after=9, stall_seconds=None))
    started = time.monotonic()
    ip.run("%%gemini\nQ")
    assert time.monotonic() - started < 10
    _assert_exact(ip.user_ns["_gemini"])
    assert len(_gets(emulator)) == 1


def test_a_stream_that_keeps_stalling_fails_the_cell_and_keeps_the_partial(ip, emulator):
    ip.run("%config GeminiMagics.stall_timeout = 0.5")
    ip.run("%config GeminiMagics.max_resumes = 2")
    reply = Reply.text(
        TEXT, deltas=12, stall_after=7, stall_seconds=None, repeat_faults=True, event_ids=False
    )
    emulator.enqueue(reply)
    with pytest.raises(GeminiConnectionError, match=r"stalled: no data for 0\.5 s") as caught:
        ip.run("%%gemini\nQ")
    assert "stall_timeout" in "\n".join(caught.value._render_traceback_())
    partial = ip.user_ns["_gemini"]
    assert partial.status == "failed" and partial.text and TEXT.startswith(partial.text)
    assert partial.steps[-1]["content"][0]["text"] == partial.text
    assert len(_gets(emulator)) == 2
    assert ip.magics.threads["default"].head is None


def test_no_stream_is_not_bounded_by_the_stall_timeout(ip, emulator):
    ip.run("%config GeminiMagics.stall_timeout = 0.2")
    emulator.enqueue(Reply.text("slow but whole", deltas=4, delay=0.15))
    ip.run("%%gemini --no-stream\nQ")
    assert ip.user_ns["_gemini"].text == "slow but whole"


def _background(ip, emulator, reply: Reply) -> tuple[GeminiResult, BaseException | None]:
    from gemini_magics.core.request import TurnOptions

    emulator.enqueue(reply)
    done: list[tuple[GeminiResult, BaseException | None]] = []
    result = GeminiResult(prompt="Q", thread="panel", model="gemini-3.5-flash")
    options = TurnOptions(model="gemini-3.5-flash", prompt="Q")
    turn = ip.magics.turns.start(
        Thread("panel"), options, result, on_event=lambda e: None, on_done=lambda r, e: done.append((r, e))
    )
    assert turn.join(DEADLINE), "the background turn did not end"
    _wait(lambda: done, "on_done")
    return done[0]


def test_a_background_turn_resumes_a_stall(ip, emulator):
    ip.run("%config GeminiMagics.stall_timeout = 0.5")
    reply = Reply.text(TEXT, thoughts=THOUGHTS, deltas=12, stall_after=9, stall_seconds=None, event_ids=False)
    result, error = _background(ip, emulator, reply)
    assert error is None
    _assert_exact(result)


def test_a_background_turn_that_keeps_stalling_reports_it(ip, emulator):
    ip.run("%config GeminiMagics.stall_timeout = 0.5")
    ip.run("%config GeminiMagics.max_resumes = 1")
    reply = Reply.text(
        TEXT, deltas=12, stall_after=7, stall_seconds=None, repeat_faults=True, event_ids=False
    )
    result, error = _background(ip, emulator, reply)
    assert isinstance(error, GeminiConnectionError) and "stalled" in str(error)
    assert result.status == "failed" and result.text and TEXT.startswith(result.text)
    assert result.steps and result.steps[-1]["content"][0]["text"] == result.text


def test_a_stalled_research_resumes(ip, emulator):
    ip.run("%config GeminiMagics.stall_timeout = 0.5")
    emulator.enqueue(research_reply("TPUs", duration=0.5, stall_after=15, stall_seconds=None))
    ip.run("%%gemini --research -o report\nTPUs")
    report = ip.user_ns["report"]
    assert report.status == "completed" and not report.polling
    assert (report.progress.searches, report.progress.pages) == (2, 3)


def test_a_research_that_keeps_stalling_falls_back_to_polling(ip, emulator):
    ip.run("%config GeminiMagics.stall_timeout = 0.5")
    ip.run("%config GeminiMagics.max_resumes = 1")
    ip.run("%config GeminiMagics.research_poll_interval = 0.1")
    reply = research_reply("TPUs", duration=0.5, stall_after=15, stall_seconds=None, repeat_faults=True)
    reply.event_ids = False
    emulator.enqueue(reply)
    ip.run("%%gemini --research -o report\nTPUs")
    report = ip.user_ns["report"]
    assert report.polling and report.status == "completed"
    assert "### Conclusion" in report.result.text


# -- automatic continuation (events as the SDK parses them) ------------------------------------

EVENT = pydantic.TypeAdapter(sdk_types.InteractionSSEEvent)


def test_a_continuation_hop_starts_its_step_indexes_again():
    def hop(iid: str, text: str, status: str) -> list[dict]:
        return [
            {"event_type": "interaction.created", "interaction": {"id": iid, "status": "in_progress"}},
            {"event_type": "step.start", "index": 0, "step": {"type": "model_output"}},
            {"event_type": "step.delta", "index": 0, "delta": {"type": "text", "text": text}},
            {"event_type": "step.stop", "index": 0},
            {"event_type": "interaction.completed", "interaction": {"id": iid, "status": status}},
        ]

    normaliser = ev.StreamNormaliser()
    raw = hop("v1_a", "first ", "requires_continuation") + hop("v1_b", "second", "completed")
    out = [e for payload in raw for e in normaliser.feed(EVENT.validate_python(payload))]
    assert "".join(e.text for e in out if isinstance(e, ev.TextDelta)) == "first second"
    (finished,) = [e for e in out if isinstance(e, ev.Finished)]
    assert finished.interaction_id == "v1_b" and len(finished.steps) == 2
    assert normaliser.resume_id == "v1_b"


def test_a_timeout_without_a_stall_timeout_is_reported_as_a_plain_drop():
    import httpx
    from google.genai import _interactions as gi

    resumer = ev.Resumer(ev.StreamNormaliser(), max_resumes=0, stall_timeout=None)
    assert resumer.call_options() == {}
    timeout = gi.APITimeoutError(request=httpx.Request("GET", "http://127.0.0.1/"))
    with pytest.raises(GeminiConnectionError, match="ended before the answer was complete"):
        resumer.after_drop(timeout)

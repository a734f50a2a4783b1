"""%%gemini end to end against the emulator: streaming, the chain, rewinding, result routing."""

from __future__ import annotations

from gemini_magics.emulator import Reply

from .support import creates, html_of, markdown_of

ANSWER = (
    "## Generators\n\nA generator *yields* values lazily.\n\n"
    "```python\ndef count():\n    yield 1\n```\n\nThat is all.\n"
)


def test_cell_streams_markdown_and_stores_result(ip, emulator):
    emulator.enqueue(Reply.text(ANSWER, deltas=12))
    cell = ip.run("%%gemini\nExplain Python generators to a first-year student.")
    assert markdown_of(cell).startswith("## Generators") or "## Generators" in markdown_of(cell)
    assert "def count():" in markdown_of(cell)
    result = ip.user_ns["_gemini"]
    assert result.text == ANSWER
    assert result.status == "completed"
    assert result.interaction_id.startswith("v1_")
    assert result.thread == "default" and result.model == "gemini-3.5-flash"
    assert result.usage["total_tokens"] > 0
    assert result.steps[-1]["type"] == "model_output"
    assert result.steps[-1]["content"][0]["text"] == ANSWER
    assert ip.shell.display_formatter.format(result)[0]["text/html"].startswith(
        '<div class="mathjax_ignore"><h2>Generators</h2>'
    )
    request = creates(emulator)[0]
    assert request.body["stream"] is True
    assert request.body["input"] == "Explain Python generators to a first-year student."
    assert "previous_interaction_id" not in request.body
    footer = cell.outputs[-1]
    assert footer["metadata"]["gemini_magics"]["interaction_id"] == result.interaction_id
    assert result.interaction_id in footer["data"]["text/plain"]


def test_magic_returns_nothing_so_answer_is_not_shown_twice(ip, emulator):
    emulator.enqueue(Reply.text("Once."))
    cell = ip.run("%gemini say it once")
    assert "Out" not in ip.user_ns or not ip.user_ns["Out"]
    assert markdown_of(cell).count("Once.") == 1


def test_next_cell_continues_the_thread(ip, emulator):
    emulator.enqueue(Reply.text("First."), Reply.text("Second."))
    ip.run("%%gemini\nHello", cell_id="cell-a")
    first = ip.user_ns["_gemini"].interaction_id
    ip.run("%%gemini\nAnd then?", cell_id="cell-b")
    bodies = [r.body for r in creates(emulator)]
    assert bodies[1]["previous_interaction_id"] == first
    assert ip.magics.threads["default"].head == ip.user_ns["_gemini"].interaction_id


def test_cells_share_one_connection_and_a_stream_left_open_does_not_hold_a_cell(ip, emulator):
    emulator.enqueue(Reply.text("One."), Reply.text("Two."), Reply.text("Three."))
    for question in ("One?", "Two?", "Three?"):
        ip.run(f"%%gemini\n{question}")
    # each cell reads its stream to the end, so the next one reuses the connection (a drain cut
    # short by a very busy machine would cost one more: without reuse there would be three)
    assert emulator.connections_opened < 3
    emulator.enqueue(Reply.text("The server never ends this stream.", hold_open=True), Reply.text("Next."))
    ip.run("%%gemini\nFour?")
    assert ip.user_ns["_gemini"].text == "The server never ends this stream."
    ip.run("%%gemini\nFive?")  # on another connection: the open stream's is still held
    assert ip.user_ns["_gemini"].text == "Next."


def test_rerunning_a_cell_rewinds_instead_of_stacking(ip, emulator):
    emulator.enqueue(*(Reply.text(f"Answer {n}.") for n in range(5)))
    ip.run("%%gemini\nOne", cell_id="a")
    a_id = ip.user_ns["_gemini"].interaction_id
    ip.run("%%gemini\nTwo", cell_id="b")
    ip.run("%%gemini\nTwo again", cell_id="b")  # re-run the last cell: replaces its answer
    bodies = [r.body for r in creates(emulator)]
    assert bodies[2]["previous_interaction_id"] == a_id
    thread = ip.magics.threads["default"]
    assert [t.cell_id for t in thread.turns] == ["a", "b"]
    assert thread.turns[1].prompt == "Two again"
    ip.run("%%gemini\nOne again", cell_id="a")  # an earlier cell: continue from before it
    assert "previous_interaction_id" not in creates(emulator)[3].body
    assert [t.cell_id for t in thread.turns] == ["a"]
    ip.run("%%gemini\nTwo, third time", cell_id="b")  # "Run All" order rebuilds the chain
    assert creates(emulator)[4].body["previous_interaction_id"] == thread.turns[0].interaction_id


def test_without_cell_ids_turns_append(ip, emulator):
    emulator.enqueue(Reply.text("x"), Reply.text("y"))
    ip.run("%gemini one")
    ip.run("%gemini one")
    assert len(ip.magics.threads["default"].turns) == 2


def test_named_threads_and_new(ip, emulator):
    emulator.enqueue(*(Reply.text(f"r{n}") for n in range(4)))
    ip.run("%%gemini -t maths\nWhat is 2+2?")
    ip.run("%%gemini -t poems\nA haiku")
    ip.run("%%gemini -t maths\nAnd 3+3?")
    maths = ip.magics.threads["maths"]
    assert len(maths.turns) == 2 and len(ip.magics.threads["poems"].turns) == 1
    assert creates(emulator)[2].body["previous_interaction_id"] == maths.turns[0].interaction_id
    ip.run("%%gemini -t maths --new\nStart over")
    assert "previous_interaction_id" not in creates(emulator)[3].body
    assert len(maths.turns) == 1


def test_options_reach_the_request(ip, emulator):
    emulator.enqueue(Reply.text("ok", thoughts=["Weighing the options."]))
    ip.run(
        "%%gemini -m gemini-3.8-flash -s 'Be terse.' --thinking low --temperature 0.2 "
        "--max-output-tokens 64 --show-thoughts -o answer\nHi"
    )
    body = creates(emulator)[0].body
    assert body["model"] == "gemini-3.8-flash"
    assert body["system_instruction"] == "Be terse."
    assert body["generation_config"] == {
        "thinking_level": "low",
        "thinking_summaries": "auto",
        "temperature": 0.2,
        "max_output_tokens": 64,
    }
    answer = ip.user_ns["answer"]
    assert answer is ip.user_ns["_gemini"]
    assert answer.thoughts == "Weighing the options."


def test_thoughts_are_shown_collapsed_above_the_answer(ip, emulator):
    emulator.enqueue(Reply.text("The answer.", thoughts=["Let me think."]))
    cell = ip.run("%%gemini --show-thoughts\nQ")
    shown = html_of(cell)
    assert shown.index("<details><summary>Thoughts</summary>") < shown.index("The answer.")
    assert "Let me think." in shown and "Thoughts:\nLet me think." in markdown_of(cell)


def test_no_empty_thoughts_disclosure_when_no_thoughts_arrive(ip, emulator):
    emulator.enqueue(Reply.text("Straight answer."))
    cell = ip.run("%%gemini --show-thoughts\nQ")
    assert "<details" not in html_of(cell) and "Straight answer." in markdown_of(cell)


def test_no_stream_waits_for_the_whole_answer(ip, emulator):
    emulator.enqueue(Reply.text(ANSWER))
    cell = ip.run("%%gemini --no-stream\nQ")
    assert "stream" not in creates(emulator)[0].body
    assert "## Generators" in markdown_of(cell)
    assert ip.user_ns["_gemini"].text == ANSWER
    assert ip.user_ns["_gemini"].status == "completed"


def test_legacy_model_is_replaced_with_a_visible_note(ip, emulator):
    emulator.enqueue(Reply.text("ok"))
    cell = ip.run("%%gemini -m gemini-1.5-pro\nHi")
    assert creates(emulator)[0].body["model"] == "gemini-3.5-flash"
    assert "gemini-1.5-pro is retired; using gemini-3.5-flash" in markdown_of(cell)


def test_config_traits(ip, emulator):
    emulator.enqueue(Reply.text("ok"))
    ip.run("%config GeminiMagics.model = 'gemini-3.6-flash'")
    ip.run("%config GeminiMagics.thread = 'lab'")
    ip.run("%gemini hi")
    assert creates(emulator)[0].body["model"] == "gemini-3.6-flash"
    assert "lab" in ip.magics.threads
    listing = ip.run("%config GeminiMagics").stdout
    for trait in ("model", "thread", "base_url", "stream_interval", "max_resumes"):
        assert f"GeminiMagics.{trait}" in listing
    assert "key" not in listing.lower().replace("keys", "").replace("<key-1>", "")  # Dict traits' syntax


def test_base_url_trait_overrides_the_environment(ip, emulator, monkeypatch):
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    ip.run(f"%config GeminiMagics.base_url = '{emulator.base_url}'")
    emulator.enqueue(Reply.text("reached"))
    ip.run("%gemini hi")
    assert ip.user_ns["_gemini"].text == "reached"


def test_a_question_mark_at_the_end_is_part_of_the_prompt(ip, emulator):
    emulator.enqueue(Reply.text("4"))
    ip.run("%gemini what is 2+2?")
    assert creates(emulator)[0].body["input"] == "what is 2+2?"


def test_help_lists_the_options(ip):
    shown = ip.shell.object_inspect_text("%%gemini")
    for option in (
        "--model",
        "--thread",
        "--new",
        "--system",
        "--out",
        "--no-stream",
        "--thinking",
        "--show-thoughts",
        "--temperature",
        "--max-output-tokens",
        "--raw",
    ):
        assert option in shown
    assert "Explain Python generators" in shown  # the runnable example

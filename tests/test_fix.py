"""``%gemini fix`` and ``--code``: the failed cell and its traceback reach the server (never the key),
the answer streams like any other, and code goes into a new cell below without being run."""

from __future__ import annotations

import pytest

from gemini_magics.core.fix import CODE_INSTRUCTION, MAX_TRACEBACK_CHARS, record_failure
from gemini_magics.emulator import Reply
from gemini_magics.render.markdown import first_code_block

from .support import TEST_KEY, creates, markdown_of, refused

FAILING_CELL = "numbers = [1, 2, 3]\ntotal = sum(numbers) / len([])  # FAILING-MARKER\n"


def _fail(ip, source: str = FAILING_CELL) -> None:
    with pytest.raises(ZeroDivisionError):
        ip.run(source)


def test_fix_sends_the_failed_cell_and_its_traceback_and_streams_the_explanation(ip, emulator):
    _fail(ip)
    ip.run("print('a later cell that works')")
    emulator.enqueue(Reply.text("You divide by `len([])`, which is **zero**. EXPLAINED-MARKER", deltas=5))
    cell = ip.run("%gemini fix")
    prompt = creates(emulator)[-1].body["input"]
    assert "FAILING-MARKER" in prompt  # the failing cell's source, not the later one's
    assert "a later cell" not in prompt
    assert "ZeroDivisionError: division by zero" in prompt
    assert "line 2, in <module>" in prompt
    assert "interactiveshell.py" not in prompt  # IPython's own frame is left out
    shown = markdown_of(cell)
    assert "EXPLAINED-MARKER" in shown
    assert "Explaining cell [2]: ZeroDivisionError: division by zero" in shown
    assert ip.user_ns["_gemini"].text.endswith("EXPLAINED-MARKER")
    assert getattr(ip.shell, "rl_next_input", None) is None  # no --code: no new cell


def test_fix_goes_to_its_own_thread_started_over_each_time(ip, emulator):
    ip.run("%gemini hello")
    _fail(ip)
    ip.run("%gemini fix")
    with pytest.raises(ValueError):
        ip.run("int('twelve')")
    ip.run("%gemini fix")
    last = creates(emulator)[-1].body
    assert "previous_interaction_id" not in last  # a fresh 'fix' thread: the first error is not resent
    assert "int('twelve')" in last["input"] and "FAILING-MARKER" not in last["input"]
    assert len(ip.magics.threads["default"].turns) == 1  # the user's thread is untouched
    assert len(ip.magics.threads["fix"].turns) == 1
    ip.run("%%gemini -t fix\nAnd why is that a ValueError?")  # a follow-up continues the fix
    first_fix = ip.magics.threads["fix"].turns[0].interaction_id
    assert creates(emulator)[-1].body["previous_interaction_id"] == first_fix


def test_fix_with_a_thread_continues_that_thread_and_sends_extra_words(ip, emulator):
    ip.run("%gemini -t work hello")
    _fail(ip)
    ip.run("%gemini fix -t work keep it in plain Python")
    body = creates(emulator)[-1].body
    assert body["previous_interaction_id"] == ip.magics.threads["work"].turns[0].interaction_id
    assert body["input"].rstrip().endswith("keep it in plain Python")


def test_fix_never_sends_the_key_in_the_source_or_the_traceback(ip, emulator):
    ip.user_ns["token"] = TEST_KEY
    with pytest.raises(KeyError):
        ip.run(f"settings = {{}}\nsettings['{TEST_KEY}']")
    ip.run("%gemini fix")
    body = str(creates(emulator)[-1].body)
    assert TEST_KEY not in body
    assert "<redacted>" in body
    assert TEST_KEY not in repr(ip.magics.last_failure)


def test_fix_braces_in_the_cell_are_sent_as_they_are(ip, emulator):
    with pytest.raises(NameError):
        ip.run("print(f'{{missing}}', undefined_name)")
    ip.run("%gemini fix")
    assert "f'{{missing}}'" in creates(emulator)[-1].body["input"]


def test_fix_without_a_failed_cell_is_one_usage_line(ip, emulator):
    ip.run("x = 1")
    assert refused(ip, "%gemini fix") == (
        "no failed cell to fix yet: run the cell that fails, then %gemini fix"
    )
    assert creates(emulator) == []


def test_a_failed_fix_keeps_the_cell_it_was_fixing(ip, emulator, monkeypatch):
    _fail(ip)
    refused(ip, "%gemini fix --no-such-flag")
    ip.run("%gemini fix")
    assert "FAILING-MARKER" in creates(emulator)[-1].body["input"]


def test_a_syntax_error_can_be_fixed_too(ip, emulator):
    with pytest.raises(SyntaxError):
        ip.run("def broken(:\n    pass")
    ip.run("%gemini fix")
    prompt = creates(emulator)[-1].body["input"]
    assert "def broken(:" in prompt and "SyntaxError" in prompt


def test_fix_code_puts_the_corrected_cell_below_without_running_it(ip, emulator):
    _fail(ip)
    emulator.enqueue(Reply.text("```python\ntotal = sum(numbers) / max(len(numbers), 1)\n```", deltas=4))
    cell = ip.run("%gemini fix --code")
    body = creates(emulator)[-1].body
    assert CODE_INSTRUCTION in body["system_instruction"]
    assert "Give the corrected cell" in body["input"]
    assert getattr(ip.shell, "rl_next_input", None) == "total = sum(numbers) / max(len(numbers), 1)"
    assert "total" not in ip.user_ns  # put below, never run
    assert "The code is in the next prompt, not run" in markdown_of(cell)  # no kernel: a terminal


def test_code_flag_asks_for_code_only_and_puts_the_first_block_below(ip, emulator):
    ip.run("%%gemini -s 'Be terse.' --code\nWrite a function that squares a number.")
    body = creates(emulator)[-1].body
    assert body["system_instruction"] == f"Be terse.\n\n{CODE_INSTRUCTION}"
    code = getattr(ip.shell, "rl_next_input", None)
    # the offline responder answers a code-only request with one real fenced block
    assert code.startswith("# Offline emulator") and "def offline_echo" in code
    assert "```" not in code
    compile(code, "<next cell>", "exec")  # the block's code, ready to run
    assert "offline_echo" not in ip.user_ns  # never run by us
    # the code instruction is for that turn only: the thread keeps its own system instruction
    ip.run("%gemini and in one line?")
    assert creates(emulator)[-1].body["system_instruction"] == "Be terse."


def test_code_flag_without_a_fence_puts_the_whole_answer_below(ip, emulator):
    emulator.enqueue(Reply.text("print('no fence here')\n"))
    ip.run("%gemini --code print a greeting")
    assert getattr(ip.shell, "rl_next_input", None) == "print('no fence here')"


def test_code_flag_with_an_empty_answer_adds_no_cell(ip, emulator):
    emulator.enqueue(Reply.text("```python\n```"))
    cell = ip.run("%gemini --code nothing")
    assert getattr(ip.shell, "rl_next_input", None) is None
    assert "no code" in markdown_of(cell)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%%gemini --code --image\na cat", "--code asks for a code block, which --image does not give"),
        ("%%gemini --code --research\na cat", "--code asks for a code block, which research does not give"),
    ],
)
def test_code_flag_refuses_what_gives_no_code(ip, emulator, line, expected):
    assert refused(ip, line).startswith(expected)


def test_first_code_block_follows_commonmark_not_a_regex():
    assert first_code_block("text\n\n~~~py\nx = 1\n~~~\n\n```\ny\n```") == "x = 1\n"
    assert first_code_block("````python\na = '```'\n````") == "a = '```'\n"
    assert first_code_block("    indented = True\n") == "indented = True\n"
    assert first_code_block("just `inline` code") is None


def test_a_long_traceback_keeps_its_end_and_colours_are_stripped():
    details = "\n".join(f"detail {n}" for n in range(2_000))
    try:
        raise RuntimeError(f"{details}\n\x1b[31mthe real cause\x1b[0m")
    except RuntimeError as exc:
        failure = record_failure("raise_it()", exc, [])
    assert len(failure.error) < MAX_TRACEBACK_CHARS + 100
    assert failure.error.startswith("[… ") and "characters left out" in failure.error
    assert failure.headline == "the real cause"
    assert "\x1b" not in failure.error

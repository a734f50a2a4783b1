"""Terminal IPython, for real: ``ipython`` in a pseudo-terminal, its prompt_toolkit prompt and all.

The in-process shell of the other tests has no prompt; here ``--code`` must pre-fill the next prompt
with the answer's code (not run it), and Enter must then run it.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect

ESCAPES = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b\][^\x07]*\x07|\r")


def plain(text: str) -> str:
    return ESCAPES.sub("", text)


def test_code_fills_the_next_terminal_prompt_and_enter_runs_it(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GEMINI_MAGICS_OFFLINE": "1",  # the built-in emulator answers: no key, no network
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "TERM": "xterm",
        "PROMPT_TOOLKIT_NO_CPR": "1",  # a pseudo-terminal does not answer cursor position requests
    }
    env.pop("GEMINI_API_KEY", None)
    env.pop("GOOGLE_API_KEY", None)
    shell = pexpect.spawn(
        sys.executable,
        ["-m", "IPython", "--no-banner", "--colors=NoColor", "--HistoryManager.enabled=False"],
        env=env,
        encoding="utf-8",
        timeout=60,  # the deadline of every expect below
        dimensions=(50, 200),
    )
    try:
        shell.expect(r"In \[1\]:")
        shell.sendline("%load_ext gemini_magics")
        shell.expect(r"In \[2\]:")
        shell.sendline("%gemini --code write a function that echoes its input")
        shell.expect(r"In \[3\]:")
        answer = plain(shell.before)
        assert "The code is in the next prompt, not run" in answer
        shell.expect(r"echoes its input'\)")  # the end of the code's last line
        prefilled = plain(shell.before)
        assert "def offline_echo(prompt: str) -> str:" in prefilled
        assert "```" not in prefilled  # the block's code, not its fence
        shell.send("\r")  # Enter runs what the prompt holds
        shell.expect(r"In \[4\]:")
        ran = plain(shell.before)
        assert "\nwrite a function that echoes its input\n" in ran
        assert "Error" not in ran
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)

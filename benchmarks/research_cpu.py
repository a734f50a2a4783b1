"""CPU the kernel spends while a Deep Research run waits between events.

    python benchmarks/research_cpu.py

The emulator runs in its own process (so its work is not counted), simulating a research run of
RUN_SECONDS. This process plays the kernel: it starts the run through %%gemini --research with the
live progress panel (its widgets and one-second clock included) and measures its own CPU time
(all threads) over the run, side by side with the same wall time spent idle. Target: < 2% of a core.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from IPython.core.interactiveshell import InteractiveShell

RUN_SECONDS = 20.0


def cpu_share(seconds: float, work: object = None) -> float:
    start_cpu, start_wall = time.process_time(), time.monotonic()
    if work is None:
        time.sleep(seconds)
    else:
        work.wait(seconds * 3)  # type: ignore[attr-defined]
    return (time.process_time() - start_cpu) / (time.monotonic() - start_wall)


def main() -> None:
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gemini_magics.emulator",
            "--port",
            "0",
            "--research-seconds",
            str(RUN_SECONDS),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        base_url = emulator.stdout.readline().strip()
        os.environ.update(GEMINI_API_KEY="benchmark-key", GOOGLE_GEMINI_BASE_URL=base_url)
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "gemini_magics")
        # measure the live panel, as in JupyterLab
        shell.run_line_magic("config", "GeminiMagics.widgets = 'on'")
        shell.run_cell("%%gemini --research -o warmup\nwarm up").raise_error()
        shell.user_ns["warmup"].wait(RUN_SECONDS * 3)  # first-call imports out of the way
        idle = cpu_share(RUN_SECONDS)
        shell.run_cell("%%gemini --research -t bench -o run\nTPUs versus GPUs").raise_error()
        busy = cpu_share(RUN_SECONDS, shell.user_ns["run"])
        progress = shell.user_ns["run"].progress
    finally:
        emulator.terminate()
        emulator.wait(10)
    print(f"research run of {RUN_SECONDS:.0f} s: {progress.searches} searches, {progress.pages} pages")
    print(f"kernel CPU while the run streams: {busy * 100:.2f}% of one core (target < 2%)")
    print(f"same process idle, same wall time: {idle * 100:.2f}% of one core")


if __name__ == "__main__":
    main()

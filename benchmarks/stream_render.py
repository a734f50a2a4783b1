"""Streaming overhead, display traffic and import cost of gemini_magics, measured side by side.

    python benchmarks/stream_render.py

Prints, from one run:
  (a) wall time of %%gemini over a 50,000-character answer in 2,000 deltas at full speed, divided by
      a bare SDK loop over the same stream from the same emulator (target <= 0.5: we decode the
      stream ourselves with one cached model, the SDK builds a model class per event); the same for
      a background turn (the async path panels, research and batches use) against a bare loop over
      the SDK's async client (target <= 0.5); and the time our layers spend per delta on
      pre-parsed events;
  (b) bytes of display messages (JSON, as a kernel would send them) / answer size (target <= 3), and
      the number of display messages;
  (c) time to import gemini_magics and load the extension / time to import google.genai
      (target <= 0.25), each in fresh interpreters.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

from gemini_magics.emulator import Emulator, Reply

ANSWER_CHARS = 50_000
DELTAS = 2_000
ROUNDS = 7
KEY = "benchmark-key-0000"


class CountingPublisher(DisplayPublisher):
    """Serialises each display message's content as a kernel would, and counts the bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0
        self.messages = 0

    def publish(
        self,
        data: Any,
        metadata: Any = None,
        source: Any = None,
        *,
        transient: Any = None,
        update: bool = False,
    ) -> None:
        content = {"data": data, "metadata": metadata or {}, "transient": transient or {}}
        self.bytes += len(json.dumps(content).encode())
        self.messages += 1


def make_answer() -> str:
    paragraph = "Generators produce values lazily, one at a time, which keeps memory flat. " * 4
    blocks, n = [], 0
    while sum(map(len, blocks)) < ANSWER_CHARS:
        n += 1
        if n % 7 == 0:
            blocks.append("```python\n" + "def gen():\n    yield 1\n" * 8 + "```\n\n")
        elif n % 5 == 0:
            blocks.append("".join(f"- item {i} of list {n}\n" for i in range(8)) + "\n")
        else:
            blocks.append(f"### Section {n}\n\n{paragraph}\n\n")
    return "".join(blocks)[:ANSWER_CHARS]


def bare_sdk_loop(emulator: Emulator, answer: str) -> float:
    from google import genai

    client = genai.Client(api_key=KEY, http_options={"base_url": emulator.base_url})
    emulator.enqueue(Reply.text(answer, deltas=DELTAS))
    start = time.perf_counter()
    text = []
    for event in client.interactions.create(model="gemini-3.5-flash", input="go", stream=True):
        if event.event_type == "step.delta" and event.delta.type == "text":
            text.append(event.delta.text)
    elapsed = time.perf_counter() - start
    assert "".join(text) == answer
    return elapsed


def bare_async_sdk_loop(emulator: Emulator, answer: str) -> float:
    import asyncio

    from google import genai

    async def run() -> float:
        client = genai.Client(api_key=KEY, http_options={"base_url": emulator.base_url})
        emulator.enqueue(Reply.text(answer, deltas=DELTAS))
        start = time.perf_counter()
        text = []
        stream = await client.aio.interactions.create(model="gemini-3.5-flash", input="go", stream=True)
        async for event in stream:
            if event.event_type == "step.delta" and event.delta.type == "text":
                text.append(event.delta.text)
        elapsed = time.perf_counter() - start
        assert "".join(text) == answer
        return elapsed

    return asyncio.run(run())


def background_turn(shell: InteractiveShell, emulator: Emulator, answer: str) -> float:
    """A streamed turn on a worker thread and its own event loop, as a chat panel runs it."""
    import threading

    from gemini_magics.core.request import TurnOptions
    from gemini_magics.core.results import GeminiResult
    from gemini_magics.core.threads import Thread

    runner = shell.magics_manager.registry["GeminiMagics"].turns
    emulator.enqueue(Reply.text(answer, deltas=DELTAS))
    done = threading.Event()
    seen: list[Any] = []
    start = time.perf_counter()
    runner.start(
        Thread("bench"),
        TurnOptions(model="gemini-3.5-flash", prompt="go"),
        GeminiResult(prompt="go"),
        on_event=seen.append,
        on_done=lambda result, error: done.set(),
    )
    assert done.wait(60), "the background turn did not end"
    elapsed = time.perf_counter() - start
    return elapsed


def magic_cell(shell: InteractiveShell, emulator: Emulator, answer: str) -> tuple[float, int, int]:
    publisher = CountingPublisher()
    shell.display_pub = publisher
    emulator.enqueue(Reply.text(answer, deltas=DELTAS))
    start = time.perf_counter()
    shell.run_cell("%%gemini\ngo").raise_error()
    elapsed = time.perf_counter() - start
    assert shell.user_ns["_gemini"].text == answer
    return elapsed, publisher.bytes, publisher.messages


def our_work_per_delta(emulator: Emulator, answer: str) -> float:
    """Seconds our layers spend per delta, on SDK events parsed beforehand (the SDK's cost excluded)."""
    from google import genai

    from gemini_magics.core.events import StreamNormaliser
    from gemini_magics.core.results import GeminiResult
    from gemini_magics.core.turns import TurnRecorder
    from gemini_magics.ipython.display import NotebookRenderer

    client = genai.Client(api_key=KEY, http_options={"base_url": emulator.base_url})
    emulator.enqueue(Reply.text(answer, deltas=DELTAS))
    parsed = list(client.interactions.create(model="gemini-3.5-flash", input="go", stream=True))
    InteractiveShell.instance().display_pub = CountingPublisher()
    timings = []
    for _ in range(ROUNDS):
        normaliser, recorder = StreamNormaliser(), TurnRecorder(GeminiResult())
        renderer = NotebookRenderer(interval=0.1, show_thoughts=False)
        start = time.perf_counter()
        for raw in parsed:
            for event in normaliser.feed(raw):
                recorder.add(event)
                renderer.handle(event)
        renderer.flush()
        timings.append(time.perf_counter() - start)
    assert recorder.close().text == answer
    return statistics.median(timings) / DELTAS


def import_times() -> tuple[float, float]:
    # Both sides load bytecode, as an installed package does: pip compiles google-genai when it installs
    # it, while a checkout's modules are compiled on first import (never, where PYTHONDONTWRITEBYTECODE
    # is set, which would make every fresh interpreter here compile this package's sources again).
    import gemini_magics

    package = os.path.dirname(gemini_magics.__file__)
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True)

    def fresh(code: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        return float(out.stdout.strip())

    ours = (
        "from IPython.core.interactiveshell import InteractiveShell as S\nimport time\n"
        "s = S.instance()\nt = time.perf_counter()\n"
        "s.run_line_magic('load_ext', 'gemini_magics')\nprint(time.perf_counter() - t)"
    )
    sdk = (
        "from IPython.core.interactiveshell import InteractiveShell as S\nimport time\n"
        "s = S.instance()\nt = time.perf_counter()\n"
        "import google.genai\nprint(time.perf_counter() - t)"
    )
    fresh(ours), fresh(sdk)  # warm the file cache
    return (
        statistics.median(fresh(ours) for _ in range(5)),
        statistics.median(fresh(sdk) for _ in range(5)),
    )


def main() -> None:
    os.environ["GEMINI_API_KEY"] = KEY
    answer = make_answer()
    with Emulator(api_key=KEY) as emulator:
        os.environ["GOOGLE_GEMINI_BASE_URL"] = emulator.base_url
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "gemini_magics")
        shell.run_line_magic("config", "GeminiMagics.stream_interval = 0.1")
        bare_sdk_loop(emulator, answer), magic_cell(shell, emulator, answer)  # warm up
        bare_async_sdk_loop(emulator, answer), background_turn(shell, emulator, answer)
        bare, magic, bare_async, background, sent, messages = [], [], [], [], 0, 0
        for _ in range(ROUNDS):  # interleaved, so drift affects both sides alike
            bare.append(bare_sdk_loop(emulator, answer))
            elapsed, sent, messages = magic_cell(shell, emulator, answer)
            magic.append(elapsed)
            bare_async.append(bare_async_sdk_loop(emulator, answer))
            background.append(background_turn(shell, emulator, answer))
        per_delta = our_work_per_delta(emulator, answer)
    ours, sdk = import_times()
    bare_s, magic_s = statistics.median(bare), statistics.median(magic)
    bare_async_s, background_s = statistics.median(bare_async), statistics.median(background)
    print(f"answer: {len(answer):,} chars in {DELTAS:,} deltas, {ROUNDS} rounds, medians")
    print(
        f"(a) %%gemini {magic_s * 1000:.1f} ms / bare SDK loop {bare_s * 1000:.1f} ms "
        f"= {magic_s / bare_s:.3f}  (target <= 0.5)"
    )
    print(
        f"    background turn {background_s * 1000:.1f} ms / bare async SDK loop "
        f"{bare_async_s * 1000:.1f} ms = {background_s / bare_async_s:.3f}  (target <= 0.5)"
    )
    print(
        f"    our own work per delta (SDK parsing excluded): {per_delta * 1e6:.1f} µs, "
        f"{per_delta * DELTAS * 1000:.1f} ms for the whole answer"
    )
    print(
        f"(b) display bytes {sent:,} / answer {len(answer):,} = {sent / len(answer):.2f}  "
        f"(target <= 3), {messages} display messages"
    )
    print(
        f"(c) load_ext gemini_magics {ours * 1000:.1f} ms / import google.genai "
        f"{sdk * 1000:.1f} ms = {ours / sdk:.3f}  (target <= 0.25)"
    )


if __name__ == "__main__":
    main()

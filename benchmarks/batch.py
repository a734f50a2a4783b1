"""A batch of 200 rows at concurrency 8 against the emulator with 50 ms latency per request.

    python benchmarks/batch.py

The emulator runs in its own process (its server threads must not share this process's GIL), answers
every create after LATENCY seconds with a short streamed text, and counts the requests it answers at
once. This process runs ``gemini_magics.batch`` as a script would (after a warm-up batch, so first-call
imports are not counted) and prints:
  * wall time ÷ the ideal, ROWS / CONCURRENCY × LATENCY (target <= 1.3; medians of ROUNDS runs);
  * the most requests the server saw at once (target: never above CONCURRENCY), and the connections
    it accepted (rows reuse the SDK's pooled keep-alive connections, as they would the real API's);
  * for reference, the same rows through the SDK's own async client in CONCURRENCY tasks;
  * peak memory: the process's resident set, and the Python allocations traced during one batch.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc

from gemini_magics.core.batch import batch
from gemini_magics.core.session import Session

ROWS = 200
CONCURRENCY = 8
LATENCY = 0.05
ROUNDS = 5
KEY = "benchmark-key-0000"

SERVER = f"""
import sys
from gemini_magics.emulator import Emulator, Reply
from gemini_magics.emulator.offline import prompt_text

emu = Emulator(api_key={KEY!r}).start()
emu.latency = {LATENCY}
emu.responder = lambda body: Reply.text("Label: " + prompt_text(body["input"])[-12:], deltas=3)
print(emu.base_url, flush=True)
for line in sys.stdin:
    if line.strip() == "peak":
        print(emu.peak_in_flight, emu.connections_opened, flush=True)
        emu.reset()
"""


def _bare_sdk_batch(items: list[str]) -> float:
    """Seconds for the same rows through the SDK's async client alone, CONCURRENCY tasks at once."""
    import asyncio

    from google import genai
    from google.genai import types

    options = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))
    client = genai.Client(http_options=options)  # key and base URL from the environment, as set above

    async def row(text: str, slots: asyncio.Semaphore) -> None:
        async with slots:
            stream = await client.aio.interactions.create(model="gemini-3.5-flash", input=text, stream=True)
            async for _ in stream:
                pass

    async def rows() -> None:
        slots = asyncio.Semaphore(CONCURRENCY)
        await asyncio.gather(*(row(f"Bare {text}", slots) for text in items))

    start = time.perf_counter()
    asyncio.run(rows())
    return time.perf_counter() - start


def main() -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdin is not None and server.stdout is not None

    def peak() -> tuple[int, int]:
        """The most requests answered at once and the connections accepted, since last asked."""
        server.stdin.write("peak\n")  # type: ignore[union-attr]
        server.stdin.flush()  # type: ignore[union-attr]
        in_flight, connections = server.stdout.readline().split()  # type: ignore[union-attr]
        return int(in_flight), int(connections)

    try:
        os.environ.update(GEMINI_API_KEY=KEY, GOOGLE_GEMINI_BASE_URL=server.stdout.readline().strip())
        session = Session()
        items = [f"review number {i}" for i in range(ROWS)]
        warm_up = items[:CONCURRENCY]
        batch("warm up {{item}}", warm_up, concurrency=CONCURRENCY, progress=False, session=session)
        peak()
        walls, peaks, connections = [], [], []
        for round_number in range(ROUNDS):
            start = time.perf_counter()
            result = batch(
                f"Label ({round_number}) {{{{item}}}}",
                items,
                concurrency=CONCURRENCY,
                progress=False,
                session=session,
            )
            walls.append(time.perf_counter() - start)
            most, opened = peak()
            peaks.append(most)
            connections.append(opened)
            assert result.count("completed") == ROWS, result.summary()
        bare = [_bare_sdk_batch(items) for _ in range(ROUNDS)]
        tracemalloc.start()
        batch("Label (traced) {{item}}", items, concurrency=CONCURRENCY, progress=False, session=session)
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        session.close()
    finally:
        server.terminate()
        server.wait(10)
    ideal = ROWS / CONCURRENCY * LATENCY
    wall = statistics.median(walls)
    print(f"{ROWS} rows at concurrency {CONCURRENCY}, {LATENCY * 1000:.0f} ms latency per request")
    ratio = wall / ideal
    print(f"wall time {wall:.2f} s (median of {ROUNDS}) / ideal {ideal:.2f} s = {ratio:.2f} (target <= 1.3)")
    print(f"peak concurrency seen by the server: {max(peaks)} (bound {CONCURRENCY}; per round {peaks})")
    print(f"connections the server accepted per round of {ROWS} rows: {connections}")
    bare_ratio = statistics.median(bare) / ideal
    print(f"for reference, the SDK's own async client in {CONCURRENCY} tasks: {bare_ratio:.2f} of the ideal")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    traced = traced_peak / 2**20
    print(f"peak memory: {rss:.0f} MB resident; {traced:.1f} MB of Python allocations in one batch")


if __name__ == "__main__":
    main()

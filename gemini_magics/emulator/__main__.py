"""Run the emulator standalone: ``python -m gemini_magics.emulator --port 8765 [--key KEY]``.

The base URL is printed alone on the first line of stdout; hints go to stderr.
"""

from __future__ import annotations

import argparse
import sys
import threading

from .clock import WallClock
from .server import Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gemini_magics.emulator",
        description="Serve an offline Gemini Interactions API emulator until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0 = any free)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    parser.add_argument("--key", default=None, help="require this API key (default: any key)")
    parser.add_argument("--prefix", default="", help="path prefix to serve under, e.g. /gemini")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--research-seconds", type=float, default=60.0, help="how long a simulated Deep Research run takes"
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="run paced replies and research this many times faster"
    )
    options = parser.parse_args(argv)

    emulator = Emulator(
        options.key,
        host=options.host,
        port=options.port,
        prefix=options.prefix,
        research_seconds=options.research_seconds,
        clock=WallClock(speed=options.speed),
    )
    emulator.log_requests = options.verbose
    emulator.start()
    print(emulator.base_url, flush=True)
    print(
        f"Gemini emulator running. Point the SDK at it with\n"
        f"  export GOOGLE_GEMINI_BASE_URL={emulator.base_url}\n"
        f"  export GEMINI_API_KEY={'<the --key value>' if options.key else 'any-non-empty-key'}\n"
        "Press Ctrl-C to stop.",
        file=sys.stderr,
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

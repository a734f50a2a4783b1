"""A loopback emulator of the Gemini Interactions API, for tests and keyless notebooks.

The unmodified ``google-genai`` SDK talks to it over real HTTP::

    from google import genai
    from gemini_magics.emulator import Emulator, Reply, Fault

    with Emulator(api_key="test-key", validate=True) as emu:
        emu.enqueue(Fault.http(503, retry_after=0.1), Reply.text("Hello!", deltas=5))
        client = genai.Client(api_key="test-key", http_options={"base_url": emu.base_url})
        # The SDK retries the 503, then streams the scripted reply.
        for event in client.interactions.create(model="gemini-3.5-flash", input="Hi", stream=True):
            print(event.event_type)
        assert emu.schema_errors == []

Queued :class:`Reply` / :class:`Fault` items answer create requests in order; when the queue
is empty a deterministic offline responder answers (every reply says it is offline); for image
requests it draws a PNG from the prompt or edits the thread's latest picture, and serves
URI-delivered images at ``{base_url}/files/<name>.png``. Run it standalone with
``python -m gemini_magics.emulator --port 8765``.

Pacing (a reply's ``delay``, stalls, simulated research) runs on the emulator's clock: real time by
default, ``Emulator(clock=WallClock(speed=20))`` to run faster, or ``Emulator(clock=StepClock())`` to
move time only with ``emu.clock.advance(seconds)`` (see :mod:`gemini_magics.emulator.clock`).
"""

from .clock import Clock, StepClock, WallClock
from .script import Fault, Reply
from .server import Emulator, RecordedRequest

__all__ = ["Clock", "Emulator", "Fault", "RecordedRequest", "Reply", "StepClock", "WallClock"]

"""JupyterLab in headless Chromium: a sanity check and the streaming acceptance test.

Run with ``bash scripts/test.sh tests/browser``; screenshots land in
``test-artifacts/browser/``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

END_MARKER = "THE-END-MARKER"

# ~1500 characters of Markdown: heading, bulleted list, fenced code block, end marker.
GENERATORS_ANSWER = """\
## Generators

A **generator** is a function that produces a sequence of values lazily: instead of
building the whole result in memory, it hands out one item at a time with `yield` and
pauses until the caller asks for the next one. Calling a generator function does not run
its body; it returns a generator object that implements the iterator protocol.

Why they are useful:

- **Memory**: only the current item exists, so a generator can walk a huge file or an
  endless stream without loading everything at once.
- **Laziness**: work happens only when a value is requested, which lets you stop early.
- **Composition**: generators chain naturally into pipelines, each stage pulling items
  from the previous one.
- **State for free**: local variables survive between `yield`s, so no class is needed.

```python
def countdown(n):
    \"\"\"Yield n, n-1, ..., 1.\"\"\"
    while n > 0:
        yield n
        n -= 1

for value in countdown(3):
    print(value)  # 3, 2, 1

squares = (x * x for x in range(10))  # a generator expression
print(sum(squares))  # 285
```

Under the hood, each call to `next()` resumes the function right after the last `yield`.
When the function returns, the generator raises `StopIteration`, which a `for` loop
handles for you. Use `yield from` to delegate to another iterable, and `send()` to push
values into a running generator. THE-END-MARKER.
"""

FOLLOW_UP_ANSWER = "Sure: generators pair well with `itertools`. FOLLOW-UP-MARKER."


def _posts_to_interactions(requests: list[Any]) -> list[Any]:
    return [
        r
        for r in requests
        if r.method == "POST" and r.path.split("?", 1)[0].rstrip("/").endswith("/interactions")
    ]


def _body(request: Any) -> dict[str, Any]:
    body = request.body
    if isinstance(body, bytes | bytearray):
        body = body.decode()
    if isinstance(body, str):
        body = json.loads(body)
    return body


def test_print_runs_in_lab(notebook):
    """Sanity: JupyterLab opens a notebook, runs a cell and shows its output."""
    nb = notebook(["print(6*7)"])
    nb.screenshot("opened")
    text = nb.run_cell_and_wait(0)
    expect(nb.output_area(0)).to_contain_text("42")
    assert text.strip() == "42"
    nb.screenshot("done")


STREAMING_CELL = """\
import time
from IPython.display import Markdown, display

answer = {answer!r}
handle = display(Markdown(""), display_id=True)
for end in range(40, len(answer) + 40, 40):
    handle.update(Markdown(answer[:end]))
    time.sleep(0.08)
"""


def test_harness_sees_streamed_updates(notebook):
    """Harness self-check, independent of gemini_magics: a cell that updates a Markdown
    display in place is observed mid-stream and ends up rendered (h2, li, pre)."""
    nb = notebook([STREAMING_CELL.format(answer=GENERATORS_ANSWER)])
    texts, shot = nb.run_cell_streaming(
        0,
        is_partial=lambda t: "Generators" in t and END_MARKER not in t,
        is_complete=lambda t: END_MARKER in t,
    )
    assert shot is not None
    partial = {t for t in texts if "Generators" in t and END_MARKER not in t}
    assert len(partial) >= 3, texts[-3:]
    output = nb.output_area(0)
    expect(output.locator("h2").filter(has_text="Generators")).to_have_count(1)
    assert output.locator("li").count() >= 4
    expect(output.locator("pre").first).to_contain_text("def countdown")
    assert END_MARKER in texts[-1]
    nb.screenshot("final")


def test_gemini_magic_streams_markdown(notebook, emulator):
    """The issue's acceptance test: %%gemini streams rendered Markdown into the cell."""
    assert GENERATORS_ANSWER.rstrip().endswith(END_MARKER + ".")
    assert 1300 <= len(GENERATORS_ANSWER) <= 1700, len(GENERATORS_ANSWER)
    from gemini_magics.emulator import Reply

    emulator.reset()  # session-scoped: forget what earlier tests queued or recorded
    emulator.enqueue(Reply.text(GENERATORS_ANSWER, deltas=60, delay=0.08))
    emulator.enqueue(Reply.text(FOLLOW_UP_ANSWER, deltas=4, delay=0.02))

    nb = notebook(["%load_ext gemini_magics", "%%gemini\nExplain generators", "%%gemini\nFollow up"])

    load_output = nb.run_cell_and_wait(0)
    assert "Error" not in load_output, load_output

    # Stream: the page records the rendered output every 100 ms while the cell runs.
    texts, intermediate_shot = nb.run_cell_streaming(
        1,
        is_partial=lambda t: "Generators" in t and END_MARKER not in t,
        is_complete=lambda t: END_MARKER in t,
    )
    output = nb.output_area(1)
    expect(output).to_contain_text(END_MARKER)
    nb.screenshot("final")

    partial = [t for t in texts if "Generators" in t and END_MARKER not in t]
    assert len(set(partial)) >= 3, (
        "expected several streamed intermediate states (heading shown, end not yet); "
        f"{len(texts)} snapshots, {len(set(partial))} distinct partial, last: {texts[-1:]!r}"
    )
    assert intermediate_shot is not None
    # The final output is rendered Markdown, not raw text.
    expect(output.locator("h2").filter(has_text="Generators")).to_have_count(1)
    assert output.locator("li").count() >= 4
    expect(output.locator("pre").first).to_contain_text("def countdown")
    assert "## Generators" not in nb.output_text(1)

    # The request went to the Interactions API, streamed.
    posts = _posts_to_interactions(emulator.requests)
    assert posts, [(r.method, r.path) for r in emulator.requests]
    first = _body(posts[0])
    assert first.get("stream") is True, first

    # Follow-up continues the server-side thread.
    nb.run_cell_and_wait(2)
    expect(nb.output_area(2)).to_contain_text("FOLLOW-UP-MARKER")
    nb.screenshot("follow-up")
    posts = _posts_to_interactions(emulator.requests)
    assert len(posts) >= 2, [(r.method, r.path) for r in emulator.requests]
    previous_id = _body(posts[1]).get("previous_interaction_id")
    assert isinstance(previous_id, str) and previous_id.startswith("v1_"), _body(posts[1])
    try:
        stored = emulator.interaction(previous_id)
    except KeyError:
        pytest.fail(f"previous_interaction_id {previous_id!r} is not a stored interaction")
    assert stored.get("id") == previous_id, stored

"""A Deep Research simulation: planning thoughts, searches, pages read, a code run, then a report.

The report carries ``url_citation`` annotations (byte offsets, as the API sends them) and a bar
chart image. Events are spread evenly over ``duration`` seconds of the emulator's clock, so a
background run shows its progress live: the offline notebooks take about a minute of real time; tests
run it on a :class:`~gemini_magics.emulator.clock.StepClock` or a sped-up wall clock.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .imaging import Picture
from .script import Reply

Json = dict[str, Any]
SOURCES = (
    ("https://example.org/tpu-v4-paper", "TPU v4: an optically reconfigurable supercomputer"),
    ("https://example.org/mlperf-training", "MLPerf Training results"),
    ("https://example.org/gpu-efficiency-survey", "A survey of accelerator energy efficiency"),
)


def _cited_text(sentences: list[tuple[str, int | None]]) -> Json:
    """A text block whose sentences cite sources by index, with byte-offset annotations."""
    text, annotations = "", []
    for sentence, source in sentences:
        start = len(text.encode("utf-8"))
        text += sentence
        if source is not None:
            url, title = SOURCES[source]
            annotations.append(
                {
                    "type": "url_citation",
                    "url": url,
                    "title": title,
                    "start_index": start,
                    "end_index": len(text.encode("utf-8")),
                }
            )
    return {"type": "text", "text": text, "annotations": annotations}


def bar_chart_png(values: list[int], width: int = 360, height: int = 200) -> bytes:
    """A small bar chart as a real PNG."""
    colours = [(66, 133, 244), (219, 68, 55), (244, 180, 0), (15, 157, 88)]
    chart = Picture.blank(width, height)
    bar_width, top = width // (2 * len(values) + 1), max(values) or 1
    for y in range(height):
        chart.fill_row(y, (250, 250, 252))
        for i, value in enumerate(values):
            if height - y <= value * (height - 20) // top:
                left = (2 * i + 1) * bar_width
                chart.fill_span(y, left, left + bar_width, colours[i % len(colours)])
    return chart.to_png()


def research_steps(prompt: str) -> list[Json]:
    topic = " ".join(prompt.split())[:80] or "the question"
    seed = hashlib.sha256(topic.encode()).digest()
    chart = bar_chart_png([40 + seed[i] % 60 for i in range(4)])
    thought = lambda n, text: {  # noqa: E731
        "type": "thought",
        "signature": f"sig-research-{n}",
        "summary": [{"type": "text", "text": text}],
    }
    report = [
        _cited_text(
            [
                (
                    f"## Research report: {topic}\n\n"
                    "*Offline emulator — simulated research, not Gemini.*\n\n",
                    None,
                ),
                (
                    "Accelerators built for dense matrix work have improved energy per training step "
                    "every generation since 2020. ",
                    0,
                ),
                (
                    "Published benchmark rounds show both TPUs and GPUs roughly doubling "
                    "throughput per watt. ",
                    1,
                ),
                ("Measured efficiency depends heavily on model size and interconnect. ", 2),
                ("\n\n### Comparison\n\nThe chart below compares the simulated efficiency scores.\n\n", None),
            ]
        ),
        {"type": "image", "data": base64.b64encode(chart).decode(), "mime_type": "image/png"},
        _cited_text(
            [
                ("\n\n### Conclusion\n\nNeither family wins everywhere; the workload decides. ", 2),
                ("Verify the figures against the original sources before citing them.\n", None),
            ]
        ),
    ]
    return [
        thought(
            1, f"Planning: splitting '{topic}' into sub-questions about hardware, benchmarks and energy."
        ),
        {"type": "google_search_call", "id": "gs_1", "arguments": {"queries": [f"{topic} benchmarks"]}},
        {"type": "google_search_result", "call_id": "gs_1", "result": [{"search_suggestions": "benchmarks"}]},
        thought(2, "Reading the most relevant sources in full."),
        {"type": "url_context_call", "id": "uc_1", "arguments": {"urls": [SOURCES[0][0], SOURCES[1][0]]}},
        {
            "type": "url_context_result",
            "call_id": "uc_1",
            "result": [
                {"url": SOURCES[0][0], "status": "success"},
                {"url": SOURCES[1][0], "status": "success"},
            ],
        },
        {"type": "google_search_call", "id": "gs_2", "arguments": {"queries": [f"{topic} energy per step"]}},
        {"type": "google_search_result", "call_id": "gs_2", "result": [{"search_suggestions": "energy"}]},
        {"type": "url_context_call", "id": "uc_2", "arguments": {"urls": [SOURCES[2][0]]}},
        {
            "type": "url_context_result",
            "call_id": "uc_2",
            "result": [{"url": SOURCES[2][0], "status": "success"}],
        },
        {
            "type": "code_execution_call",
            "id": "ce_1",
            "arguments": {"code": "scores = [1.0, 1.9, 3.7]\nprint(scores)", "language": "python"},
        },
        {"type": "code_execution_result", "call_id": "ce_1", "result": "[1.0, 1.9, 3.7]\n"},
        thought(3, "Writing the report, with citations and a chart."),
        {"type": "model_output", "content": report},
    ]


def research_reply(
    prompt: str, *, duration: float = 2.0, status: str = "completed", **delivery: Any
) -> Reply:
    """A Deep Research run spread over about ``duration`` seconds of the emulator's clock; ``status``
    picks the outcome."""
    steps = research_steps(prompt)
    if status != "completed":
        steps = steps[: len(steps) // 2]  # it stopped halfway through
    reply = Reply(steps, status, deltas=12, **delivery)
    # The run's events are created, status_update, the step events, completed: the last one is due
    # exactly ``duration`` after the first.
    reply.delay = duration / (len(reply.step_events()) + 2)
    return reply

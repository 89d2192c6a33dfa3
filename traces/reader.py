"""Reading a trace file: its format's parser, then `speedup` (arrival gaps and think times divided by it),
then arrival order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from traces.azure import parse_azure
from traces.conversations import parse_conversations
from traces.mooncake import parse_mooncake
from traces.schema import Trace, TraceError, TraceRequest

FORMATS: dict[str, Callable[[str, list[str]], list[TraceRequest]]] = {
    "mooncake": parse_mooncake,
    "azure": parse_azure,
    "jsonl": parse_conversations,
}


def read_trace(path: Path, trace_format: str, *, speedup: float = 1.0) -> Trace:
    if trace_format not in FORMATS:
        raise TraceError(str(path), None, f"format {trace_format!r}: use one of {', '.join(FORMATS)}")
    if speedup <= 0:
        raise TraceError(str(path), None, f"speedup {speedup} must be > 0")
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(str(path), None, f"cannot read it ({exc})") from None
    requests = FORMATS[trace_format](str(path), lines)
    if not requests:
        raise TraceError(str(path), None, "no requests in it")
    starts = [r.arrival_s for r in requests if r.arrival_s is not None]
    t0 = min(starts)
    scaled = [
        replace(r, arrival_s=None if r.arrival_s is None else (r.arrival_s - t0) / speedup, think_s=r.think_s / speedup)
        for r in requests
    ]
    scaled.sort(key=lambda r: (r.arrival_s if r.arrival_s is not None else float("inf"), r.line))
    return Trace(str(path), trace_format, tuple(scaled))

"""`deployments/NAME/requests.jsonl`: one row per request, appended by bench as each finishes, read by
reports. The per-request latencies of `vllm bench serve` are defined here, once, for both sides:

- ttft: the first streamed event carrying choices - send time;
- e2el: the last event carrying choices - send time;
- itl: the gaps between consecutive events carrying choices (per chunk, not per token);
- tpot: (e2el - ttft) / (output tokens - 1), for a request with more than one output token.

Times are stored to the nanosecond, the resolution of the clock they come from (time.perf_counter on Linux):
the float noise past it made a GPU run's rows twice the size (scripts/repack_requests.py re-stored the
committed runs so).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import orjson

from runfolder.jsonl import read_rows


@dataclass(slots=True)
class RequestRecord:
    level: str
    index: int
    warmup: bool
    conversation: int | None
    turn: int
    scheduled_s: float | None  # open loop: intended send offset from the level start
    sent_s: float  # actual send offset from the level start
    queue_s: float  # time waiting for an in-flight slot (open loop with max_concurrency)
    ok: bool
    error: str | None
    http_status: int | None
    ttft_s: float | None
    itl_s: list[float]
    e2el_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    expected_input_tokens: int
    expected_output_tokens: int
    # what vllm bench serve would count (ok is stricter: [DONE] required, an error event fails)
    vllm_ok: bool | None = None
    trace_line: int | None = None  # a trace replay: the row of the trace this request is (traces/)

    @property
    def output_tokens(self) -> int:
        """The server's count of generated tokens (0 when it reported none)."""
        return self.completion_tokens or 0

    @property
    def tpot_s(self) -> float | None:
        """(e2el - ttft) / (output tokens - 1) for a successful request with more than one output token."""
        if not self.ok or self.output_tokens < 2 or self.e2el_s is None or self.ttft_s is None:
            return None
        return (self.e2el_s - self.ttft_s) / (self.output_tokens - 1)

    def json_line(self) -> bytes:
        return orjson.dumps(at_clock_resolution(asdict(self))) + b"\n"


CLOCK_DECIMALS = 9  # seconds to the nanosecond


def at_clock_resolution(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its times rounded to the clock's resolution; every other field as it was."""

    def rounded(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, CLOCK_DECIMALS)
        return [rounded(v) for v in value] if isinstance(value, list) else value

    return {k: rounded(v) if k in TIMES else v for k, v in row.items()}


FIELDS = frozenset(f.name for f in fields(RequestRecord))
TIMES = frozenset(name for name in FIELDS if name.endswith("_s"))  # seconds: sent_s, ttft_s, itl_s, ...


def record_from_row(row: dict[str, Any]) -> RequestRecord:
    """A row as written; keys this version does not know are ignored (a newer writer may add some)."""
    return RequestRecord(**{k: v for k, v in row.items() if k in FIELDS})


def read_requests(path: Path) -> list[RequestRecord]:
    return [record_from_row(row) for row in read_rows(path)]

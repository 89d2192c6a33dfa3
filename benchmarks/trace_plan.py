"""Times `bench plan MODEL --trace FILE --gpu G` on a 10,000-row trace: reading it, the rows a server
refuses, and the layout search, each layout's trace replayed through the batching model (its requests'
lifetimes) and its live KV counted.

Target (issue 22): under 2 s for 10,000 rows; printed as a ratio of that budget, beside the time to read
the file alone (the baseline every plan pays). Traces: a Mooncake-style one (tools/synth_traces.py's
generator at 10,000 rows, ~5 req/s) and the agentic generator's sessions up to 10,000 turns.
Run: .venv/bin/python benchmarks/trace_plan.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner import PlanSettings, load_model, resolve_gpu  # noqa: E402
from planner.trace_plan import TraceSlo, search_for_trace  # noqa: E402
from tools.synth_traces import agentic, mooncake  # noqa: E402
from traces import read_trace  # noqa: E402

ROWS = 10_000
TARGET_S = 2.0
REPEATS = 5


def write(folder: Path) -> dict[str, tuple[Path, str]]:
    rng = np.random.default_rng(7)
    rows = {"mooncake": mooncake(rng, requests=ROWS, rate=5.0)}
    sessions = agentic(rng, sessions=2000, window_s=3600.0)
    rows["agentic"] = sessions[:ROWS]
    out = {}
    for name, items in rows.items():
        path = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in items))
        out[name] = (path, "mooncake" if name == "mooncake" else "jsonl")
    return out


def plan_once(path: Path, trace_format: str) -> tuple[float, float, int]:
    start = time.perf_counter()
    trace = read_trace(path, trace_format)
    read = time.perf_counter() - start
    fits = search_for_trace(load_model("minimax-m2"), resolve_gpu("h200"), trace.honoured(196_608).requests,
                            settings=PlanSettings(), slo=TraceSlo(ttft_ms=2000, tpot_ms=50))  # fmt: skip
    return time.perf_counter() - start, read, fits[0].plan.gpus


def main() -> None:
    print(f"{'trace':<10}{'rows':>7}{'read s':>9}{'plan s (median)':>17}{'vs 2 s target':>15}{'GPUs':>6}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for name, (path, trace_format) in write(Path(folder)).items():
            runs = [plan_once(path, trace_format) for _ in range(REPEATS)]
            total, read = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            worst = max(worst, total)
            rows = sum(1 for _ in path.open())
            print(f"{name:<10}{rows:>7}{read:>9.3f}{total:>17.3f}{total / TARGET_S:>14.2f}x{runs[0][2]:>6}")
    print(
        f"slowest: {worst:.3f} s = {worst / TARGET_S:.2f} x the 2 s target -> {'PASS' if worst < TARGET_S else 'FAIL'}"
    )


if __name__ == "__main__":
    main()

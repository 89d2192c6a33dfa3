"""The API server's part of TTFT, vLLM's measure against the replay's, by concurrency (closed loops).

Run from the repository root:
  .venv/bin/python results/perf_model/twenty-sixth/frontend_by_concurrency.py [--out FILE]
From the cross-card checks (results/perf_model/cross-card/*-from-*.json, each level predicted from the other
card's factors): per closed-loop concurrency, the medians over its levels of vLLM's mean TTFT less its queue and
prefill phases (`mean_frontend_ms`, reports/perf_fit.py _frontend_ms) and of the replay's time from a request's
send to its hand-over to the engine (planner/replay_clients.py Frontend), and the levels' median TTFT error.
The spans differ: vLLM's also holds the wait for the step running when the request came in.
"""

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from printed import emit

CHECKS = sorted(Path("results/perf_model/cross-card").glob("*-from-*.json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows: dict[int, list[tuple[float, float, float]]] = defaultdict(list)
    for check in CHECKS:
        for level in json.loads(check.read_text())["levels"]:
            measured, predicted, concurrency = level["measured"], level["predicted"], level["load"]["concurrency"]
            if concurrency and "mean_frontend_ms" in measured:
                error = level["errors"]["median_ttft_ms"]
                rows[concurrency].append((measured["mean_frontend_ms"], predicted["mean_frontend_ms"], error))
    lines = ["$ .venv/bin/python results/perf_model/twenty-sixth/frontend_by_concurrency.py " + " ".join(sys.argv[1:])]
    lines.append(f"{'conc':>5} {'levels':>6} {'vLLM ms':>8} {'replay ms':>9} {'TTFT error':>10}   (medians)")
    for concurrency in sorted(rows):
        measured, predicted, errors = zip(*rows[concurrency], strict=True)
        lines.append(f"{concurrency:>5} {len(errors):>6} {statistics.median(measured):>8.0f} "
                     f"{statistics.median(predicted):>9.0f} {100 * statistics.median(errors):>+9.0f}%")  # fmt: skip
    emit(lines, args.out)


if __name__ == "__main__":
    main()

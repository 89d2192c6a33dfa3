"""The gate's two error rates on a real smoke run (results/smoke_pinning, 24 requests a level).

False positives: N gate calls (default rules, alpha 0.05), each side's TTFT and TPOT samples resampled
with replacement from the same run; any exit 1 is a false positive. Detection: the same, with the
candidate's slowest eighth of TTFTs made 3x slower (the issue's tail-only regression); any exit 1 is a
detection. The baseline to beat: the previous gate (Mann-Whitney on the samples) passed that case.
Run: .venv/bin/python benchmarks/gate_fpr.py [N]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from reports.baseline import make_baseline
from reports.gate import DEFAULT_RULES, evaluate, exit_code
from reports.run_data import open_runs
from tools.doctored_runs import doctored, side, slowest_eighth_3x

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "results/smoke_pinning/20261125-183448-smoke"


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    smoke = make_baseline(open_runs([SMOKE]))
    run, rng = smoke.runs[0], np.random.default_rng(11)
    false_positives = detections = 0
    for call in range(calls):
        sides = []
        for name in ("base", "cand"):
            resampled = run
            for sample in ("ttft", "tpot"):
                resampled = doctored(resampled, sample, lambda v: rng.choice(v, len(v)), run_id=f"{name}{call}")
            sides.append(side(smoke, resampled))
        false_positives += exit_code(evaluate(DEFAULT_RULES, *sides))
        slowed = side(smoke, doctored(sides[1].runs[0], "ttft", slowest_eighth_3x, run_id=f"slow{call}"))
        detections += exit_code(evaluate(DEFAULT_RULES, sides[0], slowed))
    print(f"{SMOKE.relative_to(REPO)}: {calls} gate calls per case, default rules, alpha 0.05")
    print(f"identical data (resampled): {false_positives} failed = false-positive rate {false_positives / calls:.1%}")
    print(f"slowest eighth of TTFTs 3x: {detections} failed = detection rate {detections / calls:.1%}")


if __name__ == "__main__":
    main()

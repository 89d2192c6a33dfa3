"""How far the same level lands on two runs of one GPU kind: the floor under any model's error.

The performance model is checked level by level against runs (benchmarks/perf_model.py). A level run
twice - the same model shape, layout, GPU kind, lengths, concurrency or rate and arrival seed - on two
machines of one kind does not measure the same: the host that launches uncaptured steps and runs the API
server differs. No single prediction can be closer to both runs than their own spread, so for each
repeated level and metric this reports

  floor = (max - min) / (max + min)   over the runs' values

the smallest worst-case relative error |p / m - 1| any one prediction p achieves on them (reached at
p = the harmonic mean of min and max). A floor above a target (TPOT and throughput 15%, TTFT 25%) means
the target cannot be met on those machines by any model of the level alone.

Run: .venv/bin/python benchmarks/machine_spread.py results/gpu_*/2026* --out results/perf_model/machine-spread
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.analysis_files import analysis_arguments, write_analysis  # noqa: E402
from reports.perf_fit import METRICS, TARGETS, PerfCase, perf_cases  # noqa: E402
from reports.run_data import open_runs  # noqa: E402


def _key(case: PerfCase) -> str:
    """What makes two levels the same experiment: GPU kind, model shape, layout, the load as replayed."""
    model = case.model.model_dump(mode="json", exclude={"source"})  # where its config.json lay: no part of it
    load = case.point.load
    # a closed loop's seed only draws its random prompt tokens; one request at a time, the count only samples
    same_load = load.model_dump(mode="json", exclude=({"seed"} if load.concurrency else set())
                                | ({"requests"} if load.concurrency == 1 else set()))  # fmt: skip
    return json.dumps([case.gpu.name, model, case.layout.model_dump(mode="json"), same_load], sort_keys=True)


def floor(values: list[float]) -> float:
    """(max - min) / (max + min): the least worst-case |p / m - 1| of one prediction p over the values m."""
    return (max(values) - min(values)) / (max(values) + min(values))


def repeated_levels(cases: list[PerfCase]) -> list[dict]:
    groups: dict[str, list[PerfCase]] = defaultdict(list)
    for case in cases:
        groups[_key(case)].append(case)
    rows = []
    for same in groups.values():
        if len({c.point.run for c in same}) < 2:
            continue
        values = {m: [c.point.measured[m] for c in same if m in c.point.measured] for m in METRICS}
        rows.append({"gpu": same[0].gpu.name, "tp": same[0].layout.tp,
                     "levels": [f"{c.point.run[:15]}/{c.point.deployment}/{c.point.level}" for c in same],
                     "values": values, "floor": {m: floor(v) for m, v in values.items() if len(v) > 1}})  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        cells = [f"{m.split('_')[1]} {'/'.join(f'{v:.1f}' for v in row['values'][m])} (floor {row['floor'][m]:.1%})"
                 for m in METRICS if m in row["floor"]]  # fmt: skip
        lines.append(f"{row['gpu']:5s} TP{row['tp']} {', '.join(row['levels'])}\n      " + "  ".join(cells))
    over = {m: sum(r["floor"].get(m, 0.0) > TARGETS[m] for r in rows) for m in METRICS}
    lines.append(f"{len(rows)} levels run more than once; floor above the target: "
                 + ", ".join(f"{m} {n} (target {TARGETS[m]:.0%})" for m, n in over.items()))  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    args = analysis_arguments(__doc__)
    rows = repeated_levels(perf_cases(open_runs(args.runs)))
    text = table(rows)
    print(text)
    if args.out:
        write_analysis(args.out, {"runs": [str(r) for r in args.runs], "levels": rows}, text)


if __name__ == "__main__":
    main()

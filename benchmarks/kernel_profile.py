"""Profiled levels' engine steps by what they held: where a step's time goes on the device.

For every profiled level of the runs (a level with `profile: true`; bench/server/profiler.py) and each trace of a
process that ran engine steps (one per rank), the steps grouped by what they held - prompt tokens, decode
tokens - with each group's median span, busy and idle time and busy time by kernel kind (reports/kernel_profile.py
has the definitions). A step whose span is well over its kernels' busy time waited on the host (a step no CUDA
graph replays launches every kernel itself); one whose busy time is over the step model's price ran slower
kernels than it prices.
Run: .venv/bin/python benchmarks/kernel_profile.py RUN_DIR... [--ranks all] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.kernel_profile import KINDS, ProfiledStep, profiled_steps, read_trace  # noqa: E402
from reports.run_data import open_runs  # noqa: E402
from runfolder.schema import TRACE_SUFFIX  # noqa: E402

COLUMNS = ("span", "busy", "idle", *(kind for kind, _ in KINDS), "other")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--ranks", choices=("first", "all"), default="first", help="every rank's trace, or rank 0's")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = ["$ .venv/bin/python benchmarks/kernel_profile.py " + " ".join(sys.argv[1:])]
    for run in open_runs(args.runs):
        for deployment in run.record.deployments:
            for level in deployment.levels:
                traces = [t for t in level.profile if TRACE_SUFFIX in t]
                shown = 0
                for trace in traces:
                    steps = profiled_steps(read_trace(run.folder / trace))
                    if not steps or (args.ranks == "first" and shown):
                        continue
                    shown += 1
                    lines.append(f"== {run.record.run_id} {deployment.name} {level.name}: {Path(trace).name}")
                    lines += table(steps)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text, end="")


def table(steps: list[ProfiledStep]) -> list[str]:
    """One row per (prompt tokens, decode tokens) a step held: the count and each column's median, in ms."""
    groups: dict[tuple[int, int], list[ProfiledStep]] = defaultdict(list)
    for step in steps:
        groups[(step.prompt_tokens, step.decode_tokens)].append(step)
    header = f"{'prompt tok':>10} {'decode tok':>10} {'steps':>5} " + " ".join(f"{c:>13}" for c in COLUMNS)
    rows = [header + "   (medians, ms)"]
    for (prompt, decode), group in sorted(groups.items(), key=lambda kv: (-kv[0][0], -kv[0][1])):
        figures = [statistics.median(_column(s, c) for s in group) for c in COLUMNS]
        rows.append(f"{prompt:>10} {decode:>10} {len(group):>5} " + " ".join(f"{f:>13.2f}" for f in figures))
    return rows


def _column(step: ProfiledStep, column: str) -> float:
    if column in ("span", "busy", "idle"):
        return float(getattr(step, f"{column}_ms"))
    return step.by_kind.get(column, 0.0)


if __name__ == "__main__":
    main()

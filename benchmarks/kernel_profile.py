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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.kernel_profile import COLUMNS, level_steps, step_rows  # noqa: E402
from reports.run_data import open_runs  # noqa: E402


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
                for trace, steps in level_steps(run.folder, level, every_rank=args.ranks == "all"):
                    lines.append(f"== {run.record.run_id} {deployment.name} {level.name}: {Path(trace).name}")
                    lines += table(step_rows(steps))
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text)
    print(text, end="")


def table(rows: list[list[float]]) -> list[str]:
    """The rows as text: counts as integers, medians in ms."""
    header = f"{'prompt tok':>10} {'decode tok':>10} {'steps':>5} " + " ".join(f"{c:>13}" for c in COLUMNS)
    out = [header + "   (medians, ms)"]
    for prompt, decode, count, *figures in rows:
        out.append(f"{prompt:>10} {decode:>10} {count:>5} " + " ".join(f"{f:>13.2f}" for f in figures))
    return out


if __name__ == "__main__":
    main()

"""Where the performance model holds and where it does not: the levels of one or more checks
(benchmarks/perf_model.py --check ... --out F, F.json) grouped by load domain, each metric's count within
issue 21's targets and its errors (predicted / measured - 1), smallest to largest.

Domains (a level falls in the first that fits):
- PIECEWISE graphs: a server under cudagraph_mode PIECEWISE (the host launches every step's attention);
- open loop: arrivals at a rate (no concurrency cap);
- lone requests: a closed loop at concurrency 1;
- whole waves: planner/whole_waves.py - a closed loop whose prompts each stay under the largest CUDA
  graph and together pass it, the one domain `bench plan --performance` warns about;
- other closed loops.
Feed it checks made from the other card's factors (out of sample); a check of runs the factors were fitted on
says little.

Run: .venv/bin/python benchmarks/perf_domains.py CHECK.json... --out results/perf_model/domains
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.serving_sim import LoadShape  # noqa: E402
from planner.whole_waves import whole_waves  # noqa: E402
from reports.analysis_files import write_analysis  # noqa: E402
from reports.perf_fit import METRICS, TARGETS  # noqa: E402

DOMAINS: tuple[tuple[str, Callable[[LoadShape, dict], bool]], ...] = (
    # checks made before the mode was recorded had none under PIECEWISE
    ("PIECEWISE graphs", lambda load, level: level.get("cudagraph_mode") == "PIECEWISE"),
    ("open loop", lambda load, level: load.concurrency is None),
    ("lone requests (c1)", lambda load, level: load.concurrency == 1),
    ("whole waves", lambda load, level: whole_waves(load, graph_tokens=level["graph_tokens"])),
    ("other closed loops", lambda load, level: True),
)


def domain_of(level: dict) -> str:
    """A check row's domain: its server's CUDA graphs, and its load as replayed."""
    load = LoadShape.model_validate(level["load"])
    return next(name for name, fits in DOMAINS if fits(load, level))


def by_domain(levels: list[dict]) -> list[dict]:
    """Per domain: levels, and per metric [within target, measured] and the sorted errors."""
    out = []
    for name, _ in DOMAINS:
        mine = [lv for lv in levels if domain_of(lv) == name]
        errors = {m: sorted(lv["errors"][m] for lv in mine if m in lv["errors"]) for m in METRICS}
        within = {m: [sum(abs(e) <= TARGETS[m] for e in errors[m]), len(errors[m])] for m in METRICS}
        out.append({"domain": name, "levels": len(mine), "within": within, "errors": errors})
    return out


def table(rows: list[dict]) -> str:
    lines = []
    for row in rows:
        lines.append(f"{row['domain']}: {row['levels']} levels")
        for m in METRICS:
            (ok, n), errs = row["within"][m], row["errors"][m]
            if n:
                lines.append(f"  {m:18s} {ok:3d} of {n:3d} within {TARGETS[m]:.0%}; errors "
                             + " ".join(f"{e:+.0%}" for e in errs))  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checks", nargs="+", type=Path, help="JSON outputs of benchmarks/perf_model.py --check")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    levels = [lv for path in args.checks for lv in json.loads(path.read_text())["levels"]]
    rows = by_domain(levels)
    text = table(rows)
    print(text)
    if args.out:
        write_analysis(args.out, {"checks": [str(p) for p in args.checks], "domains": rows}, text)


if __name__ == "__main__":
    main()

"""When a wave's first tokens come out, against the engine steps that made them (the torch profiler's traces).

Run from the repository root:
  .venv/bin/python results/perf_model/twenty-sixth/wave_delivery.py RUN... [--level c16-prof] [--out FILE]
A closed loop's wave of 16 1K prompts runs three steps no CUDA graph covers - a lone first prompt, then two
full token-budget steps - and its requests' TTFTs fall in three groups, one per step. Per group k (in step
order), from rank 0's trace: the step's end on the device d_end(k), and the end of the host's range of the step
after it, h_end(k+1) (vLLM reads a step's output after launching the next). Three rules for when group k's
tokens come out:
  step end   d_end(k)
  next end   d_end(k+1) where step k+1 is uncaptured (more tokens than GRAPH_TOKENS), else d_end(k): the
             replay's rule before the twenty-sixth check
  launched   max(d_end(k), h_end(k+1))     (the rule since: planner/engine_loop.py _late)
The client's clock is not the trace's, so each rule is set to the first group's measured TTFT and compared on
the later groups: measured (the group's median TTFT less the first group's) against each rule's.
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from printed import emit  # noqa: E402

from reports.kernel_profile import STEP_NAME, read_trace  # noqa: E402
from reports.run_data import open_runs  # noqa: E402

GROUP_GAP_S = 0.02  # a group's TTFTs lie within ~2 ms; groups are >= 150 ms apart
GRAPH_TOKENS = 512  # scenarios/gpu_moe_profile.yaml's servers' largest CUDA graph (vLLM's default capture sizes)


def ranges(events: list[dict], cat: str) -> list[tuple[float, float, int]]:
    """(start ms, end ms, tokens) of each engine step's range in `cat`, in order."""
    out = []
    for e in events:
        match = STEP_NAME.match(str(e.get("name", ""))) if e.get("cat") == cat else None
        if match:
            start = float(e["ts"]) / 1e3
            out.append((start, start + float(e["dur"]) / 1e3, int(match.group(2)) + int(match.group(4))))
    return sorted(out)


def groups(ttfts: list[float]) -> list[float]:
    """The medians (ms) of the TTFTs' groups, earliest first."""
    out: list[list[float]] = []
    for t in sorted(ttfts):
        if out and t - out[-1][-1] < GROUP_GAP_S:
            out[-1].append(t)
        else:
            out.append([t])
    return [1e3 * statistics.median(g) for g in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--level", default="c16-prof")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    lines = ["$ .venv/bin/python results/perf_model/twenty-sixth/wave_delivery.py " + " ".join(sys.argv[1:])]
    for run in open_runs(args.runs):
        for deployment in run.record.deployments:
            level = next((lv for lv in deployment.levels if lv.name == args.level), None)
            trace = next((t for t in (level.profile if level else []) if "rank0" in t), None)
            if level is None or trace is None:
                continue
            events = read_trace(run.folder / trace)
            device, host = ranges(events, "gpu_user_annotation"), ranges(events, "user_annotation")
            ttfts = [r.ttft_s for r in run.requests(deployment) if r.level == level.name and not r.warmup and r.ttft_s]
            measured = groups(ttfts)
            n = len(measured)
            rules = {
                "step end": [device[k][1] for k in range(n)],
                "next end": [device[k + 1][1] if device[k + 1][2] > GRAPH_TOKENS else device[k][1] for k in range(n)],
                "launched": [max(device[k][1], host[k + 1][1]) for k in range(n)],
            }
            gpu = run.record.environment.gpus[0]["name"] if run.record.environment.gpus else "?"
            lines.append(
                f"== {run.record.run_id} {deployment.name} {level.name} ({gpu}): groups of "
                f"{[sum(1 for t in ttfts if abs(1e3 * t - g) < 1e3 * GROUP_GAP_S) for g in measured]} requests"
            )
            lines.append(
                "   steps on the device (ms from the first's start): "
                + ", ".join(f"{s - device[0][0]:.0f}-{e - device[0][0]:.0f}" for s, e, _ in device[: n + 1])
            )
            lines.append(
                "   host ranges: "
                + ", ".join(f"{s - device[0][0]:.0f}-{e - device[0][0]:.0f}" for s, e, _ in host[: n + 1])
            )
            lines.append(
                f"   {'group':>5} {'measured':>9} "
                + " ".join(f"{name:>10}" for name in rules)
                + "   (ms after group 1)"
            )
            for k in range(1, n):
                figures = " ".join(f"{rule[k] - rule[0]:>10.0f}" for rule in rules.values())
                lines.append(f"   {k + 1:>5} {measured[k] - measured[0]:>9.0f} {figures}")
    emit(lines, args.out)


if __name__ == "__main__":
    main()

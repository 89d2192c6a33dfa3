"""One prompt at a time: how far its TTFT moves within a level and between server starts.

A lone prompt longer than vLLM's largest CUDA graph runs as one step whose kernels the host launches
(planner/step_cost.py: the eager launch), so its time is the host's as much as the card's. For every
closed-loop level at concurrency 1 of the GPU runs given, this lists each measured (non-warm-up) request's
TTFT from requests.jsonl, and per level

  spread = max / min   over its requests' TTFTs

then, per GPU kind, layout, server config (CUDA-graph mode, KV dtype, Ray) and prompt length up to 4,096
tokens (past that the GPU's own time dominates), each prompt marked as fitting the largest graph ("graph")
or not ("eager"): the range of the levels' medians across runs (each run a server start, most on another
machine) and how many levels spread by more than 1.3x within themselves. A model of the level alone cannot
be closer to all of a group's medians than (max - min) / (max + min) of them (benchmarks/machine_spread.py).

Run: .venv/bin/python benchmarks/lone_prompts.py results/gpu_*/2026* --out results/perf_model/lone-prompts
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.analysis_files import analysis_arguments, write_analysis  # noqa: E402
from reports.run_data import RunData, layout_of, open_runs  # noqa: E402
from runfolder.schema import DeploymentRecord  # noqa: E402

LONGEST = 4096  # prompts past this are GPU-bound on these cards (8K: 249-255 ms on two hosts' TP2)
MODES = 1.3  # a level whose slowest request took 1.3x its fastest ran in two modes (or more)


def _server(deployment: DeploymentRecord) -> dict:
    """The server settings the plan at run time resolved (empty where the run recorded none)."""
    return (deployment.predicted or {}).get("server") or {}


def _config(deployment: DeploymentRecord, server: dict) -> str:
    """What else sets a lone prompt's time: the CUDA-graph mode, the KV dtype, a Ray executor."""
    ray = " ray" if deployment.ray_node else ""
    mode = server.get("cudagraph_mode", "mode unrecorded")
    return f"{mode} kv {deployment.spec.get('kv_cache_dtype', 'auto')}{ray}"


def _steps(server: dict, prompt: int) -> str:
    """How the prompt's step ran: in a graph where the largest CUDA graph the plan at run time named holds
    it ("graph"), else eager, the host launching its kernels ("eager"); "?" where the run did not record
    its graphs."""
    if "capture_sizes" not in server:
        return "?"
    sizes = server["capture_sizes"] if server.get("cudagraph_mode") != "NONE" else []
    return "graph" if sizes and prompt <= max(sizes) else "eager"


def lone_levels(run: RunData) -> list[dict]:
    """One row per closed-loop level at concurrency 1 of a GPU run: its requests' TTFTs (ms), median, spread."""
    gpus = run.record.environment.gpus
    if not gpus:
        return []
    gpu = str(gpus[0].get("name", "?")).removeprefix("NVIDIA ")
    rows = []
    for deployment in run.record.deployments:
        server = _server(deployment)
        layout, config = layout_of(deployment), _config(deployment, server)
        requests = run.requests(deployment)
        for level in deployment.levels:
            if level.driver.get("concurrency") != 1 or not level.input_tokens.isdigit():
                continue
            ttft = [r.ttft_s * 1e3 for r in requests if r.level == level.name and r.ok and r.ttft_s is not None]
            if len(ttft) < 2:
                continue
            prompt = int(level.input_tokens)
            rows.append({"gpu": gpu, "layout": layout.label(), "run": run.record.run_id,
                         "deployment": deployment.name, "config": config, "level": level.name, "prompt": prompt,
                         "steps": _steps(server, prompt), "ttft_ms": ttft,
                         "median": statistics.median(ttft), "spread": max(ttft) / min(ttft)})  # fmt: skip
    return rows


def groups(rows: list[dict]) -> list[dict]:
    """Per GPU kind, layout, server config and prompt up to LONGEST tokens: the medians' range and the
    two-mode levels."""
    by: dict[tuple[str, str, str, int, str], list[dict]] = defaultdict(list)
    for row in rows:
        if row["prompt"] <= LONGEST:
            by[(row["gpu"], row["layout"], row["config"], row["prompt"], row["steps"])].append(row)
    out = []
    for (gpu, layout, config, prompt, steps), same in sorted(by.items()):
        medians = [r["median"] for r in same]
        out.append({"gpu": gpu, "layout": layout, "config": config, "prompt": prompt, "steps": steps,
                    "levels": len(same),
                    "starts": len({r["run"] + r["deployment"] for r in same}),
                    "median_min": min(medians), "median_max": max(medians),
                    "two_modes": sum(r["spread"] > MODES for r in same)})  # fmt: skip
    return out


def text(rows: list[dict], summary: list[dict]) -> str:
    lines = [f"{r['gpu']:14s} {r['layout']:11s} {r['run'][:15]} {r['deployment'][:10]:10s} {r['level']:10s}"
             f" {r['prompt']:6d} {r['steps']:5s} median {r['median']:7.1f} ms  spread {r['spread']:4.2f}x  "
             + " ".join(f"{t:.0f}" for t in r["ttft_ms"]) for r in rows]  # fmt: skip
    lines.append(f"\nprompts up to {LONGEST} tokens, per GPU, layout, config and prompt: the levels' medians across "
                 f"server starts, and levels whose slowest request took over {MODES}x their fastest")  # fmt: skip
    for g in summary:
        lines.append(f"{g['gpu']:14s} {g['layout']:11s} {g['config']:28s} {g['prompt']:6d} {g['steps']:5s} "
                     f"{g['levels']:3d} levels, "
                     f"{g['starts']:2d} starts: medians {g['median_min']:6.1f}-{g['median_max']:6.1f} ms, "
                     f"{g['two_modes']} levels over {MODES}x")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    args = analysis_arguments(__doc__)
    rows = [row for run in open_runs(args.runs) for row in lone_levels(run)]
    summary = groups(rows)
    report = text(rows, summary)
    print(report)
    if args.out:
        write_analysis(args.out, {"levels": rows, "groups": summary}, report)


if __name__ == "__main__":
    main()

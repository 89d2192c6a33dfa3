"""Fidelity: `vllm bench serve` (the yardstick) vs `bench run` on one server, the same workloads.

Workloads (random prompts, ignore_eos): short 512 in / 128 out at concurrency 16; long 4096 / 256 at
concurrency 8; 32K-token prompts at concurrency 2; open loop (Poisson, vLLM's schedule) at half of
and near the server's saturation, measured first as the short workload's request throughput. Each
workload runs REPS pairs, the two clients back to back in alternating order, so the server's drift
hits both alike. On CPU (default) the server is the embedded default's and runs on cores of its own,
apart from both clients (bench/server/cpu_host.py); `--endpoint URL --model DIR` measures a running
server instead, and `--scenario FILE --deployment NAME` starts one of a scenario's deployments (the GPU
machine: scripts/gpu/device_fidelity.sh). `--only a,b` runs some workloads; the open-loop ones then take
the saturation from `--saturation REQ_PER_S` when short-c16 is not among them.

Both clients send the same kind of prompt (text: `prompt_format: text`; the harness's default, token
ids, skips the server's tokenization and so lowers TTFT) and neither warms up (vllm bench serve's
ready check and warm-ups reuse the first measured prompt, which then hits the prefix cache).

`--control` runs `vllm bench serve` in our place too (an A/A control, the same seed on both sides): the
ratios it prints are the server's own run-to-run noise on one schedule, the floor under ours.
Prints, per workload and metric, the median of the per-pair ratios ours / vLLM's, vLLM's own
pair-to-pair spread (max/min of its runs - 1), and the targets of issue 17: TPOT, ITL and both
throughputs within 2%, open-loop duration within 2%, TTFT within 5% or within vLLM's own spread.
`--out FILE.json` keeps every run's metrics and the summary, rewritten after each workload (a run cut
short keeps the workloads it finished).
Run: .venv/bin/python benchmarks/fidelity.py [--reps 3] [--out results/fidelity/cpu.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from bench.run.deployment import Deployment
from bench.scenario.deployment import DeploymentSpec, SynthModel
from bench.scenario.loader import load_scenario
from planner.arrivals import level_seed
from runfolder.requests import read_requests

WORKLOADS = [  # name, input, output, requests, concurrency or rate factor of saturation
    {"name": "short-c16", "input": 512, "output": 128, "requests": 64, "concurrency": 16},
    {"name": "long-c8", "input": 4096, "output": 256, "requests": 24, "concurrency": 8},
    {"name": "ctx32k-c2", "input": 32768, "output": 64, "requests": 4, "concurrency": 2},
    {"name": "poisson-half", "input": 512, "output": 128, "requests": 64, "saturation": 0.5},
    {"name": "poisson-near", "input": 512, "output": 128, "requests": 64, "saturation": 0.9},
]
# No warm-ups on either side, and vLLM's ready check skipped: vllm bench serve sends its ready check and
# warm-ups with the first measured prompt, which the server's prefix cache then serves (found here:
# ctx32k took 3 prefills for 4 requests under vLLM's client). The server is warm from earlier workloads.
WARMUPS = 0
TARGETS = {"median_tpot_ms": 0.02, "median_itl_ms": 0.02, "output_throughput": 0.02, "request_throughput": 0.02,
           "median_ttft_ms": 0.05, "duration": 0.02}  # fmt: skip
VLLM_BENCH = (
    "import argparse, sys\nfrom vllm.benchmarks.serve import add_cli_args, main\n"
    "p = argparse.ArgumentParser(); add_cli_args(p); main(p.parse_args(sys.argv[1:]))"
)


def vllm_bench_serve(target: dict, work: dict, out: Path, *, seed: int, tag: str = "vllm") -> dict:
    load = (["--max-concurrency", str(work["concurrency"]), "--request-rate", "inf"] if "concurrency" in work
            else ["--request-rate", str(work["rate"]), "--burstiness", "1"])  # fmt: skip
    name = f"{tag}-{work['name']}-{seed}.json"
    args = ["--backend", "vllm", "--base-url", target["base_url"], "--endpoint", "/v1/completions",
            "--model", target["served"], "--tokenizer", target["model_dir"], "--dataset-name", "random",
            "--random-input-len", str(work["input"]), "--random-output-len", str(work["output"]),
            "--random-range-ratio", "0", "--num-prompts", str(work["requests"]), *load, "--ignore-eos",
            "--num-warmups", str(WARMUPS), "--ready-check-timeout-sec", "0", "--seed", str(seed),
            "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,99", "--disable-tqdm",
            "--save-result", "--save-detailed", "--result-dir", str(out),
            "--result-filename", name]  # fmt: skip
    subprocess.run([sys.executable, "-c", VLLM_BENCH, *args], check=True, capture_output=True, text=True)
    result = json.loads((out / name).read_text())
    # per request, in send order: where a median of few requests falls between waves, these show it
    starts = result.pop("start_times", None) or []
    result["sent_ms"] = [round((t - min(starts)) * 1e3, 2) for t in starts]
    result["ttfts_ms"] = [round(t * 1e3, 2) for t in result.pop("ttfts", [])]
    gaps, counts = result.get("itls") or [], result.get("output_lens") or []
    result["tpots_ms"] = [round(sum(g) / (n - 1) * 1e3, 3) for g, n in zip(gaps, counts, strict=False) if n > 1]
    for bulky in ("itls", "generated_texts", "input_lens", "output_lens", "errors"):
        result.pop(bulky, None)
    return result


def bench_run(target: dict, work: dict, out: Path, *, seed: int) -> dict:
    level = {"concurrency": work["concurrency"]} if "concurrency" in work else {"rate": work["rate"]}
    scenario = {
        "name": f"fidelity-{work['name']}-{seed}",
        "seed": seed,
        "deployments": [{"name": "fidelity", "model": target["model_dir"], "endpoint": target["base_url"],
                         "served_model_name": target["served"]}],
        # text prompts, as vLLM's random dataset sends them (the server tokenizes them: part of TTFT)
        "workload": {"input_tokens": work["input"], "output_tokens": work["output"], "prompt_format": "text"},
        "load": {"requests": work["requests"], "warmup_requests": WARMUPS, "levels": [level]},
    }  # fmt: skip
    path = out / f"ours-{work['name']}-{seed}.yaml"
    path.write_text(yaml.safe_dump(scenario))
    runs = out / "runs" / path.stem
    done = subprocess.run([sys.executable, "-m", "bench.cli", "run", str(path), "--out", str(runs), "--json"],
                          check=True, capture_output=True, text=True)  # fmt: skip
    metrics = dict(json.loads(done.stdout)["deployments"][0]["levels"][0]["metrics"])
    records = sorted(read_requests(next(runs.glob("*/deployments/*/requests.jsonl"))), key=lambda r: r.sent_s)
    metrics["sent_ms"] = [round(r.sent_s * 1e3, 2) for r in records if not r.warmup]
    metrics["ttfts_ms"] = [round((r.ttft_s or 0) * 1e3, 2) for r in records if not r.warmup]
    metrics["tpots_ms"] = [round(r.tpot_s * 1e3, 3) for r in records if not r.warmup and r.tpot_s is not None]
    return metrics


def pairs(target: dict, work: dict, out: Path, reps: int, *, control: bool) -> list[dict]:
    """Seeds differ between workloads too: the same seed and prompt length make the same prompts. vLLM's
    seed is our level's, so an open loop's pair sends at the same offsets on both sides (with a seed
    each, a pair compared two different loads)."""
    runs, first_seed = [], 100 * [w["name"] for w in WORKLOADS].index(work["name"])
    for rep in range(reps):
        theirs = ours = None
        for client in ("vllm", "ours") if rep % 2 == 0 else ("ours", "vllm"):
            if client == "vllm":
                theirs = vllm_bench_serve(target, work, out, seed=level_seed(first_seed + rep, 0))
            else:
                ours = (vllm_bench_serve(target, work, out, seed=level_seed(first_seed + rep, 0), tag="control")
                        if control else bench_run(target, work, out, seed=first_seed + rep))  # fmt: skip
        runs.append({"rep": rep, "vllm": theirs, "ours": ours, "send_gap_ms": send_gap_ms(theirs, ours)})
        print(f"  {work['name']} pair {rep}: done", file=sys.stderr, flush=True)
    return runs


def send_gap_ms(theirs: dict | None, ours: dict | None) -> float | None:
    """The largest difference between the two clients' send offsets (each from its own first send): an
    open loop's pair shares one schedule, so this is both clients' dispatch lag together."""
    if not theirs or not ours or len(theirs["sent_ms"]) != len(ours["sent_ms"]):
        return None
    a, b = sorted(theirs["sent_ms"]), sorted(ours["sent_ms"])
    return max(abs((x - a[0]) - (y - b[0])) for x, y in zip(a, b, strict=True))


def summary(work: dict, runs: list[dict]) -> dict:
    rows = {}
    for key, limit in TARGETS.items():
        if key == "duration" and "rate" not in work:
            continue
        theirs, ours = [r["vllm"][key] for r in runs], [r["ours"][key] for r in runs]
        ratio = statistics.median(y / x for x, y in zip(theirs, ours, strict=True))
        spread = max(theirs) / min(theirs) - 1
        allowed = max(limit, spread) if key == "median_ttft_ms" else limit
        rows[key] = {"vllm": theirs, "ours": ours, "median_ratio": ratio, "vllm_spread": spread,
                     "within_target": abs(ratio - 1) <= allowed}  # fmt: skip
    return rows


def cpu_spec() -> DeploymentSpec:
    model = SynthModel(sizes={"max_position": 40_960})  # room for the 32K-token prompts
    # No prefix cache: a prompt seen before (the same seed in another workload) would skip its prefill.
    return DeploymentSpec(name="fidelity", model=model, max_model_len=33_792, startup_timeout_s=600,
                          extra_args=["--no-enable-prefix-caching"])  # fmt: skip


async def on_deployment(spec: DeploymentSpec, run: Runner, work_dir: Path, *, log_copy: Path | None) -> None:
    """log_copy: where the server's log is kept (its version, its GPU, its settings) once it stops."""
    deployment = Deployment.prepare(spec, work_dir)  # a CPU server gets cores apart from the client's
    server = deployment.server
    await server.start()
    if server.cores:
        os.sched_setaffinity(0, set(server.cores.client))  # both clients, launched from here on
    try:
        target = {"base_url": server.base_url, "served": spec.served_name, "model_dir": deployment.record.model_dir}
        await asyncio.to_thread(run, target)
    finally:
        await server.stop()
        if log_copy and server.log_path and server.log_path.exists():
            shutil.copyfile(server.log_path, log_copy)


Runner = Callable[[dict], None]


def measure(target: dict, reps: int, work_dir: Path, *, only: list[str], saturation: float | None, control: bool,
            done: Callable[[list[dict]], None]) -> None:  # fmt: skip
    """done(results so far) after each workload."""
    results: list[dict] = []
    for work in (dict(next(w for w in WORKLOADS if w["name"] == name)) for name in only):  # in the order given
        if "saturation" in work:
            if saturation is None:
                raise SystemExit("open-loop workloads need short-c16 first, or --saturation")
            work["rate"] = round(work["saturation"] * saturation, 2)
        runs = pairs(target, work, work_dir, reps, control=control)
        if work["name"] == "short-c16":
            saturation = statistics.median(r["vllm"]["request_throughput"] for r in runs)
        results.append({"workload": work, "runs": runs, "summary": summary(work, runs)})
        done(results)


def report(results: list[dict]) -> str:
    fmt = lambda xs: " ".join(f"{x:.1f}" for x in xs)  # noqa: E731
    width = max([26] + [len(fmt(row[side])) + 2 for result in results for row in result["summary"].values()
                        for side in ("vllm", "ours")])  # fmt: skip
    lines = [f"{'workload':<14}{'metric':<20}{'vLLM (runs)':>{width}}{'ours (runs)':>{width}}{'ratio':>8}"
             f"{'vLLM spread':>13}  ok"]  # fmt: skip
    for result in results:
        name = result["workload"]["name"]
        for key, row in result["summary"].items():
            lines.append(f"{name:<14}{key:<20}{fmt(row['vllm']):>{width}}{fmt(row['ours']):>{width}}"
                         f"{row['median_ratio']:>8.3f}{row['vllm_spread']:>12.1%}  "
                         f"{'yes' if row['within_target'] else 'NO'}")  # fmt: skip
        gaps = [r["send_gap_ms"] for r in result["runs"] if r.get("send_gap_ms") is not None]
        if "rate" in result["workload"] and gaps:
            lines.append(f"{name:<14}one schedule: largest send-offset difference {max(gaps):.1f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--endpoint", help="a running server instead of the embedded CPU one")
    parser.add_argument("--model", help="with --endpoint: the served model's folder (its tokenizer)")
    parser.add_argument("--served-name", default="default")
    parser.add_argument("--scenario", type=Path, help="start this scenario's --deployment instead")
    parser.add_argument("--deployment", help="with --scenario: which deployment")
    parser.add_argument("--only", default=",".join(w["name"] for w in WORKLOADS), help="workloads, comma-separated")
    parser.add_argument("--saturation", type=float, help="req/s for the open-loop rates without short-c16")
    parser.add_argument("--control", action="store_true", help="A/A: vllm bench serve on both sides, one seed")
    args = parser.parse_args()
    only = args.only.split(",")
    unknown = set(only) - {w["name"] for w in WORKLOADS}
    if unknown:
        parser.error(f"--only: unknown workloads {sorted(unknown)}")

    def done(results: list[dict]) -> None:
        text = report(results)
        print(text, flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=1) + "\n")
            args.out.with_suffix(".txt").write_text(f"$ {' '.join(sys.argv)}\n{text}\n")

    log_copy = args.out.with_suffix(".server.log") if args.out else None
    with tempfile.TemporaryDirectory() as tmp:
        run: Runner = lambda target: measure(target, args.reps, Path(tmp), only=only,  # noqa: E731
                                             saturation=args.saturation, control=args.control, done=done)  # fmt: skip
        if args.endpoint:
            run({"base_url": args.endpoint, "served": args.served_name, "model_dir": args.model})
        elif args.scenario:
            spec = next((d for d in load_scenario(args.scenario).deployments if d.name == args.deployment), None)
            if spec is None:
                parser.error(f"{args.scenario}: no deployment named {args.deployment!r}")
            asyncio.run(on_deployment(spec, run, Path(tmp), log_copy=log_copy))
        else:
            asyncio.run(on_deployment(cpu_spec(), run, Path(tmp), log_copy=log_copy))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # a device call's deadline: --out already holds every finished workload
        sys.exit("interrupted: the workloads finished so far are in --out")

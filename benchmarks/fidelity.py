"""Fidelity: `vllm bench serve` (the yardstick) vs `bench run`, same CPU vLLM server, same workload.

One script, one server: random prompts of 256 tokens, 64 output tokens (ignore_eos), 64 requests
at concurrency 8 after 2 warm-ups, repeated REPS times with the two clients interleaved (order
alternating) so drift hits both alike. The server's whole process tree and both clients run on
disjoint cores (the harness's own split, bench/server/cpu_host.py): on a shared 2-core machine a
client's own CPU use would otherwise slow the CPU server while that client measures it, and a
lighter client would see a faster server. Prints each client's median
TTFT, TPOT, ITL and output throughput (mean over repetitions, with their spread), the ratio ours /
vLLM's within each back-to-back pair, and the median of those paired ratios. Target (issue 4): every
ratio within 3% of 1.
Run: .venv/bin/python benchmarks/fidelity.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bench.run.deployment import Deployment
from bench.scenario.deployment import DeploymentSpec, SynthModel

REPS = 6
INPUT, OUTPUT, PROMPTS, CONCURRENCY, WARMUPS = 256, 64, 64, 8, 2
KEYS = ("median_ttft_ms", "median_tpot_ms", "median_itl_ms", "output_throughput")
VLLM_BENCH = (
    "import argparse, sys\nfrom vllm.benchmarks.serve import add_cli_args, main\n"
    "p = argparse.ArgumentParser(); add_cli_args(p); main(p.parse_args(sys.argv[1:]))"
)


def vllm_bench_serve(base_url: str, model: str, model_dir: Path, out: Path, *, seed: int) -> dict:
    args = [
        "--backend",
        "vllm",
        "--base-url",
        base_url,
        "--endpoint",
        "/v1/completions",
        "--model",
        model,
        "--tokenizer",
        str(model_dir),
        "--dataset-name",
        "random",
        "--random-input-len",
        str(INPUT),
        "--random-output-len",
        str(OUTPUT),
        "--num-prompts",
        str(PROMPTS),
        "--max-concurrency",
        str(CONCURRENCY),
        "--request-rate",
        "inf",
        "--ignore-eos",
        "--num-warmups",
        str(WARMUPS),
        "--seed",
        str(seed),
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--metric-percentiles",
        "50,99",
        "--disable-tqdm",
        "--save-result",
        "--result-dir",
        str(out),
        "--result-filename",
        f"vllm-{seed}.json",
    ]
    subprocess.run([sys.executable, "-c", VLLM_BENCH, *args], check=True, capture_output=True, text=True)
    return json.loads((out / f"vllm-{seed}.json").read_text())


def bench_run(base_url: str, model_dir: Path, out: Path, seed: int) -> dict:
    scenario = {
        "name": f"fidelity-{seed}",
        "seed": seed,
        "deployments": [{"name": "fidelity", "model": str(model_dir), "endpoint": base_url}],
        "workload": {"input_tokens": INPUT, "output_tokens": OUTPUT},
        "load": {"requests": PROMPTS, "warmup_requests": WARMUPS, "levels": [{"concurrency": CONCURRENCY}]},
    }
    path = out / f"ours-{seed}.yaml"
    path.write_text(yaml.safe_dump(scenario))
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", str(path), "--out", str(out / "runs"), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)["deployments"][0]["levels"][0]["metrics"]


async def measure(work: Path) -> tuple[list[dict], list[dict]]:
    spec = DeploymentSpec(name="fidelity", model=SynthModel(), max_model_len=4096, startup_timeout_s=600)
    deployment = Deployment.prepare(spec, work)  # a CPU server gets cores apart from the client's
    server, record = deployment.server, deployment.record
    theirs, ours = [], []
    await server.start()
    if server.cores:
        os.sched_setaffinity(0, set(server.cores.client))  # both clients, launched from here on
    try:
        for rep in range(REPS):
            pair = [
                lambda rep=rep: theirs.append(
                    vllm_bench_serve(server.base_url, spec.served_name, Path(record.model_dir), work, seed=rep)
                ),
                lambda rep=rep: ours.append(bench_run(server.base_url, Path(record.model_dir), work, rep)),
            ]
            for run in pair if rep % 2 == 0 else reversed(pair):
                await asyncio.to_thread(run)
    finally:
        await server.stop()
    return theirs, ours


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        theirs, ours = asyncio.run(measure(Path(tmp)))
    print(
        f"workload: {PROMPTS} x random {INPUT} in / {OUTPUT} out, concurrency {CONCURRENCY}, {REPS} reps each, "
        "same CPU vLLM server (pinned to its own core)"
    )
    print(f"{'metric':<22}{'vllm bench serve':>20}{'bench run':>20}{'ratio':>8}  within 3%   per-pair ratios")
    worst = 0.0
    for key in KEYS:
        a, b = [r[key] for r in theirs], [r[key] for r in ours]
        pairs = [y / x for x, y in zip(a, b, strict=True)]  # each pair ran back to back: drift cancels within it
        ratio = statistics.median(pairs)
        worst = max(worst, abs(ratio - 1))
        print(
            f"{key:<22}{statistics.mean(a):>12.2f} +-{statistics.pstdev(a):>5.2f}"
            f"{statistics.mean(b):>12.2f} +-{statistics.pstdev(b):>5.2f}{ratio:>8.3f}  "
            f"{'yes' if abs(ratio - 1) <= 0.03 else 'NO ':<9} " + " ".join(f"{r:.3f}" for r in pairs)
        )
    print(f"largest deviation {worst:.1%} -> {'PASS' if worst <= 0.03 else 'FAIL'} (target 3%)")


if __name__ == "__main__":
    main()

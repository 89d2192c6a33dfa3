"""Load-generator scaling: requests/s that W client processes drive, against 1 process (the baseline).

The server is the FAKE OpenAI server (tools/fake_openai.py, a tool for tests and benchmarks), in burst mode (each
response's chunks leave in one write) and in --servers processes sharing one port (SO_REUSEPORT),
so the client, not the server, is the limit. Each configuration runs the harness's real path:
ScenarioRun with an endpoint deployment, closed loop at --concurrency, --requests per level,
load.workers = W; req/s and the busiest worker's CPU share come from the level summaries.
Repetitions are interleaved (1, 2, 4, 1, 2, 4, ...) and medians reported.
Then an open loop offered --rate req/s: p99 dispatch lag per W (a saturated single loop falls behind).
Run: .venv/bin/python benchmarks/load_workers.py [--workers 1,2,4] [--servers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bench.run.scenario_run import ScenarioRun
from bench.scenario.loader import load_scenario
from bench.server.synth_model import write_synthetic_model
from bench.server.vllm_server import free_port


def start_fakes(count: int) -> tuple[list[subprocess.Popen], str]:
    port = free_port()
    fakes = [
        subprocess.Popen([sys.executable, "-m", "tools.fake_openai", str(port)], stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    for fake in fakes:
        fake.stdout.readline()  # each prints the port once it listens
    return fakes, f"http://127.0.0.1:{port}"


def run_level(tmp: Path, model: Path, base_url: str, workers: int, *, level: dict, args) -> dict:
    name = f"w{workers}-{len(list(tmp.glob('*.yaml')))}"
    path = tmp / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": name,
                "seed": 5,
                "deployments": [
                    {"name": "fake", "model": str(model), "endpoint": base_url, "served_model_name": "burst"}
                ],
                "workload": {"kind": "random", "api": "completions", "input_tokens": 16, "output_tokens": args.tokens},
                "load": {"workers": workers, "warmup_requests": 0, "requests": args.requests, "levels": [level]},
                "telemetry": {"interval_s": 5},
            }
        )
    )
    run_dir = tmp / name
    run_dir.mkdir()
    record = asyncio.run(ScenarioRun(load_scenario(path), run_dir).run())
    summary = record.deployments[0].levels[0]
    assert summary.metrics["failed"] == 0, summary.errors
    return {
        "rps": summary.metrics["request_throughput"],
        "cpu": summary.client.cpu_fraction,
        "lag_p99": summary.client.dispatch_lag_p99_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0.0, help="open-loop rate (default: 1.5x 1-worker ceiling)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        model = write_synthetic_model(tmp / "model", "minimax-m2", {}, False, extra={})
        fakes, base_url = start_fakes(args.servers)
        try:
            report(tmp, model, base_url, counts, args=args)
        finally:
            for fake in fakes:
                fake.kill()


def report(tmp: Path, model: Path, base_url: str, counts: list[int], *, args) -> None:
    print(
        f"closed loop c{args.concurrency}, {args.requests} requests x {args.tokens} chunks, {args.reps} reps, "
        f"FAKE server x {args.servers} processes; baseline: 1 worker in this script"
    )
    runs: dict[int, list[dict]] = {w: [] for w in counts}
    for _ in range(args.reps):
        for w in counts:
            runs[w].append(run_level(tmp, model, base_url, w, level={"concurrency": args.concurrency}, args=args))
    base = statistics.median(r["rps"] for r in runs[counts[0]])
    print(f"{'workers':>8} {'req/s':>9} {'vs 1':>6} {'busiest worker CPU':>19}")
    for w in counts:
        rps = statistics.median(r["rps"] for r in runs[w])
        cpu = statistics.median(r["cpu"] for r in runs[w])
        print(f"{w:>8} {rps:>9.0f} {rps / base:>5.2f}x {cpu:>18.0%}")
    rate = args.rate or round(1.5 * base)
    print(f"open loop at {rate:g} req/s (constant arrivals), {args.requests} requests:")
    for w in counts:
        r = run_level(
            tmp,
            model,
            base_url,
            w,
            level={"rate": rate, "arrival": "constant", "max_concurrency": 4 * args.concurrency},
            args=args,
        )
        print(f"{w:>8} achieved {r['rps']:>7.0f} req/s, p99 dispatch lag {r['lag_p99']:.2f} ms")


if __name__ == "__main__":
    main()

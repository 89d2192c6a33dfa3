"""Client ceiling: how much streamed load one client core can drive, ours vs vLLM's client.

Both clients hit the FAKE OpenAI server (tools/fake_openai.py, a tool for tests and benchmarks; its own process) in
its burst mode: each response's TOKENS SSE events leave in one write, so events are always waiting
in the socket when the client reads - the regime where the client, not the server, is the limit.
(Streamed one event per TCP segment, both clients and even a client that parses nothing measure the
same: they are paced by the server's segments, which says nothing about the client's ceiling.)
Baselines: vLLM's own request function (vllm.benchmarks.lib.endpoint_request_func.
async_request_openai_completions) driven by a semaphore as `vllm bench serve`'s benchmark() drives
it; and the aiohttp floor, a client that reads each stream and parses nothing (no client on
aiohttp can beat it). Ours: bench's LevelRunner closed loop. Same concurrency, same tokens, same
process, interleaved repetitions (medians of REPS), at two stream lengths. Reported per client CPU-second
(= per core) and per wall second.
Then our open loop at TARGET_RATE: p99 dispatch lag against the schedule.
Targets (issue 4): ours >= 2x vLLM's client per core; p99 dispatch lag < 1 ms at the target rate.
Run: .venv/bin/python benchmarks/client_ceiling.py
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time

import numpy as np

from bench.load.level_runner import LevelRunner
from bench.load.stream_client import new_session
from bench.load.workload import Job, Turn
from planner.arrivals import schedule

STREAMS = ((64, 1500), (512, 200))  # (chunks per request, requests): ~100K chunks per run
CONCURRENCY, REPS = 32, 5
TOKENS, REQUESTS = STREAMS[0]
TARGET_RATE, RATE_REQUESTS = 200.0, 2000


def payload(tokens: int | None = None) -> dict:
    return {
        "model": "burst",
        "prompt": [1, 2, 3],
        "max_tokens": tokens or TOKENS,
        "stream": True,
        "stream_options": {"include_usage": True},
        "ignore_eos": True,
    }


async def floor(base_url: str) -> tuple[int, int]:
    """Reads every stream to its end and parses nothing: aiohttp's own cost."""
    slots, chunks = asyncio.Semaphore(CONCURRENCY), 0
    async with new_session() as session:

        async def one() -> None:
            nonlocal chunks
            async with slots, session.post(f"{base_url}/v1/completions", json=payload()) as response:
                async for data in response.content.iter_any():
                    chunks += data.count(b"\n\n")

        await asyncio.gather(*(one() for _ in range(REQUESTS)))
    return REQUESTS, chunks - 2 * REQUESTS  # less the usage and [DONE] events


async def ours(base_url: str) -> tuple[int, int]:
    jobs = iter(lambda: Job([Turn(payload(), 3, TOKENS)]), None)
    async with new_session() as session:
        runner = LevelRunner(session, base_url, "ceiling", 30.0, on_record=lambda record: None)
        await runner.closed_loop(jobs, CONCURRENCY, REQUESTS, None)
    records = runner.result.records
    return sum(r.ok for r in records), sum(r.completion_tokens or 0 for r in records if r.ok)


async def theirs(base_url: str) -> tuple[int, int]:
    from vllm.benchmarks.lib.endpoint_request_func import RequestFuncInput, async_request_openai_completions

    request = RequestFuncInput(
        prompt="x",
        api_url=f"{base_url}/v1/completions",
        prompt_len=3,
        output_len=TOKENS,
        model="burst",
        ignore_eos=True,
    )
    slots = asyncio.Semaphore(CONCURRENCY)
    async with new_session(CONCURRENCY) as session:

        async def one():
            async with slots:
                return await async_request_openai_completions(request, session)

        outputs = await asyncio.gather(*(one() for _ in range(REQUESTS)))
    return sum(o.success for o in outputs), sum(o.output_tokens or 0 for o in outputs if o.success)


def timed(client, base_url: str) -> dict:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    ok, tokens = asyncio.run(client(base_url))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "ok": ok,
        "req_per_s": ok / wall,
        "tok_per_s": tokens / wall,
        "req_per_cpu_s": ok / cpu,
        "tok_per_cpu_s": tokens / cpu,
    }


async def dispatch_lag(base_url: str) -> tuple[float, float, int]:
    offsets = schedule(RATE_REQUESTS, None, TARGET_RATE, process="poisson", seed=9)
    jobs = iter(lambda: Job([Turn(payload() | {"max_tokens": 16}, 3, 16)]), None)
    async with new_session() as session:
        runner = LevelRunner(session, base_url, "rate", 30.0, on_record=lambda record: None)
        await runner.open_loop(jobs, offsets, None)
    lags = np.asarray(runner.result.dispatch_lag_s) * 1000
    return float(np.percentile(lags, 50)), float(np.percentile(lags, 99)), sum(r.ok for r in runner.result.records)


def compare(base_url: str) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {"vllm client": [], "aiohttp floor": [], "bench": []}
    order = [("vllm client", theirs), ("aiohttp floor", floor), ("bench", ours)]
    for rep in range(REPS):
        for name, client in order if rep % 2 == 0 else list(reversed(order)):
            runs[name].append(timed(client, base_url))
    return runs


def report(runs: dict[str, list[dict]]) -> float:
    print(f"{REQUESTS} requests x {TOKENS} streamed chunks, concurrency {CONCURRENCY}, {REPS} reps, fake server")
    print(f"  {'client':<14}{'req/s':>10}{'tok/s':>12}{'req/CPU-s':>12}{'tok/CPU-s':>12}")
    for name, rows in runs.items():
        print(
            f"  {name:<14}"
            + "".join(
                f"{statistics.median(r[k] for r in rows):>{w},.0f}"
                for k, w in (("req_per_s", 10), ("tok_per_s", 12), ("req_per_cpu_s", 12), ("tok_per_cpu_s", 12))
            )
        )
    per_core = {name: statistics.median(r["tok_per_cpu_s"] for r in rows) for name, rows in runs.items()}
    ratio = per_core["bench"] / per_core["vllm client"]
    print(
        f"  tokens per client CPU-second: bench / vllm client {ratio:.2f}x (target >= 2x: "
        f"{'PASS' if ratio >= 2 else 'FAIL'}); aiohttp floor / vllm client "
        f"{per_core['aiohttp floor'] / per_core['vllm client']:.2f}x; bench / floor "
        f"{per_core['bench'] / per_core['aiohttp floor']:.2f}"
    )
    return ratio


def main() -> None:
    global TOKENS, REQUESTS
    fake = subprocess.Popen([sys.executable, "-m", "tools.fake_openai"], stdout=subprocess.PIPE, text=True)
    try:
        base_url = f"http://127.0.0.1:{fake.stdout.readline().strip()}"
        import vllm.benchmarks.lib.endpoint_request_func  # noqa: F401  (import cost outside the timings)

        for stream in STREAMS:
            TOKENS, REQUESTS = stream  # read by every client above
            report(compare(base_url))
        p50, p99, sent = asyncio.run(dispatch_lag(base_url))
    finally:
        fake.kill()
    print(
        f"open loop at {TARGET_RATE:g} req/s ({sent} requests): dispatch lag p50 {p50:.3f} ms, p99 {p99:.3f} ms -> "
        f"{'PASS' if p99 < 1 else 'FAIL'} (target p99 < 1 ms)"
    )


if __name__ == "__main__":
    main()

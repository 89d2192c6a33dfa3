"""One load level spread over several worker processes, one event loop each, one merged record stream.

The level's plan is made once, here: the job stream (seeded, after the warm-up jobs) is dealt
round-robin, job k to worker k mod W; an open loop's absolute schedule is dealt the same way, so
the union of what the workers send is exactly what one process would send. Concurrency and request
counts are split as evenly as integers allow. All workers measure from one shared epoch on
perf_counter (CLOCK_MONOTONIC: the same clock in every process of a Linux machine), so their
send offsets, dispatch lags and the level's duration are on one timeline. Records stream back as
they complete and are renumbered here in arrival order; the writer never sees a worker's order.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue as queue_module
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from bench.load.level_runner import LevelRunner, sleep_until
from bench.load.stream_client import new_session
from bench.load.workload import JobFactory, made_ahead
from bench.scenario.schema import Level, Scenario

EPOCH_LEAD_S = 0.2  # time from "all workers ready" to the shared start: room to wake every loop


class LoadWorkerError(RuntimeError):
    """A client process died: the level cannot be completed as planned."""


@dataclass(frozen=True)
class WorkerPlan:
    """What worker `worker` of `workers` does in a level (picklable: sent to a spawned process)."""

    worker: int
    workers: int
    scenario: dict[str, Any]
    level: dict[str, Any]
    seed: int
    base_url: str
    tokenizer: str
    served_name: str
    timeout_s: float
    skip: int  # jobs the parent used for warm-up
    concurrency: int | None  # closed loop: this worker's share
    count: int | None  # closed loop: this worker's share of the request count
    duration_s: float | None
    offsets: list[float] | None  # open loop: this worker's share of the schedule
    max_concurrency: int | None


def share(total: int, workers: int, worker: int) -> int:
    """Integer split of `total` over `workers`; the first total mod workers get one more."""
    return total // workers + (1 if worker < total % workers else 0)


def _worker_main(plan: WorkerPlan, epoch: Any, go: Any, out: Any) -> None:
    """Runs in the worker process: ready, wait for the shared epoch, run its part, report."""
    asyncio.run(_worker(plan, epoch, go, out))


async def _worker(plan: WorkerPlan, epoch: Any, go: Any, out: Any) -> None:
    """epoch, go, out: the pool's shared start time (mp.Value), release (mp.Event) and message queue."""
    scenario, level = Scenario.model_validate(plan.scenario), Level.model_validate(plan.level)
    jobs = JobFactory(scenario.workload, level, Path(plan.tokenizer), plan.served_name, seed=plan.seed).jobs()
    mine_count = len(plan.offsets) if plan.offsets is not None else plan.count
    mine = made_ahead(islice(jobs, plan.skip + plan.worker, None, plan.workers), mine_count)
    async with new_session() as session:
        runner = LevelRunner(
            session,
            plan.base_url,
            level.label(),
            plan.timeout_s,
            on_record=lambda record: out.put(("record", plan.worker, record)),
        )
        out.put(("ready", plan.worker, None))
        await asyncio.to_thread(go.wait)
        start = epoch.value
        await sleep_until(start)
        if plan.offsets is not None:
            await runner.open_loop(mine, plan.offsets, plan.max_concurrency, start_at=start)
        else:
            deadline = start + plan.duration_s if plan.duration_s else None
            await runner.closed_loop(mine, plan.concurrency or 1, plan.count, deadline, start_at=start)
    r = runner.result
    out.put(("done", plan.worker, (r.finished, r.dispatch_lag_s, r.loop_lag_s, r.client_cpu_fraction)))


class WorkerPool:
    """The parent's side of one level: start W processes, release them together, merge what they send."""

    def __init__(self, plans: list[WorkerPlan], runner: LevelRunner) -> None:
        self.plans, self.runner = plans, runner
        context = mp.get_context("spawn")  # fork would copy this process's event loop, threads and sockets
        self.out, self.go, self.epoch = context.Queue(), context.Event(), context.Value("d", 0.0)
        self.processes = [
            context.Process(target=_worker_main, args=(p, self.epoch, self.go, self.out), daemon=True) for p in plans
        ]

    async def run(self) -> None:
        for process in self.processes:
            process.start()
        try:
            await self._collect()
        finally:
            for process in self.processes:
                if process.is_alive():
                    process.terminate()
                process.join(5)

    async def _collect(self) -> None:
        ready, done, result = 0, 0, self.runner.result
        while done < len(self.plans):
            for kind, _worker, payload in await self._next_batch():
                if kind == "ready":
                    ready += 1
                    if ready == len(self.plans):
                        self.epoch.value = result.started = time.perf_counter() + EPOCH_LEAD_S
                        self.go.set()
                elif kind == "record":
                    self.runner.adopt(payload)
                else:
                    self._merge(payload)
                    done += 1

    def _merge(self, payload: tuple[Any, ...]) -> None:
        finished, dispatch_lag, loop_lag, cpu = payload
        result = self.runner.result
        result.finished = max(result.finished, finished)
        result.dispatch_lag_s += dispatch_lag
        result.loop_lag_s += loop_lag
        result.client_cpu_fraction = max(result.client_cpu_fraction, cpu)  # the busiest worker's core decides

    async def _next_batch(self) -> list[tuple[Any, ...]]:
        """Whatever the workers have sent (at least one message, or none after 0.5 s); a dead worker
        is noticed here, between batches, even while the others keep the queue busy."""
        dead = [p.exitcode for p in self.processes if p.exitcode not in (None, 0)]
        if dead:
            raise LoadWorkerError(f"a load worker process exited with code {dead[0]}")
        return await asyncio.to_thread(self._drain)

    def _drain(self) -> list[tuple[Any, ...]]:
        try:
            batch = [self.out.get(True, 0.5)]
        except queue_module.Empty:
            return []
        while len(batch) < 1000:
            try:
                batch.append(self.out.get_nowait())
            except queue_module.Empty:
                break
        return batch

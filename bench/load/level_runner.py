"""Drives one load level on one asyncio loop and records every request.

Several processes can share a level (bench/load/workers.py); each runs one of these on its own loop.
Closed loop (`concurrency`): N workers, each sends its next job when the last one finished.
Open loop (`offsets`): job i is dispatched at level start + offsets[i], absolute times on
perf_counter (no relative sleeps to drift); an optional cap on in-flight requests makes later
jobs queue, and the queue time is recorded. The runner also measures itself: dispatch lag
against the schedule, event-loop lag, and its own CPU share, to tell when the client limited a run.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.load.stream_client import Outcome, stream_request
from bench.load.workload import Job, Turn
from bench.server.secrets import auth_headers
from runfolder.requests import RequestRecord

# Sleep until this close to a send time, then yield-spin: epoll timeouts are whole milliseconds,
# rounded up (by selectors, and again when the C layer converts them), so a sleep can end up to
# ~2 ms late; waking 2.5 ms early and yielding until the time keeps dispatch within a loop turn.
SPIN_WINDOW_S = 0.0025
LOOP_PROBE_S = 0.05


@dataclass
class LevelResult:
    records: list[RequestRecord] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    dispatch_lag_s: list[float] = field(default_factory=list)
    loop_lag_s: list[float] = field(default_factory=list)
    client_cpu_fraction: float = 0.0
    interrupted: bool = False


async def sleep_until(target: float) -> None:
    while (delay := target - time.perf_counter()) > 0:
        await asyncio.sleep(delay - SPIN_WINDOW_S if delay > SPIN_WINDOW_S else 0)


class LevelRunner:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        level: str,
        timeout_s: float,
        *,
        on_record: Callable[[RequestRecord], None],
    ) -> None:
        self.session, self.base_url, self.level, self.timeout_s = session, base_url.rstrip("/"), level, timeout_s
        self.on_record = on_record
        self.headers = auth_headers()
        self.result = LevelResult()
        self._count = 0

    async def run_job(self, job: Job, warmup: bool, scheduled: float | None = None, queue_s: float = 0.0) -> None:
        history: list[dict[str, Any]] = []
        for number, turn in enumerate(job.turns):
            if turn.think_s > 0:  # the user (or agent) between an answer and the next turn: a wait by definition
                await asyncio.sleep(turn.think_s)
            payload = dict(turn.payload)
            if "messages" in payload and job.conversation is not None:
                history += payload["messages"]
                payload["messages"] = list(history)
            url = f"{self.base_url}/v1/{'chat/completions' if 'messages' in payload else 'completions'}"
            outcome = await stream_request(
                self.session, url, payload, self.timeout_s, headers=self.headers, keep_text=job.conversation is not None
            )
            self._record(outcome, job, number, turn, warmup=warmup, scheduled=scheduled, queue_s=queue_s)
            if not outcome.ok:
                return  # a conversation stops at its first failed turn
            history += [{"role": "assistant", "content": outcome.text}] + turn.extra_messages

    def _record(
        self, o: Outcome, job: Job, number: int, turn: Turn, *, warmup: bool, scheduled: float | None, queue_s: float
    ) -> None:
        record = RequestRecord(
            level=self.level,
            index=self._count,
            warmup=warmup,
            conversation=job.conversation,
            turn=number,
            scheduled_s=scheduled,
            sent_s=o.sent - self.result.started,
            queue_s=queue_s,
            ok=o.ok,
            error=o.error,
            http_status=o.http_status,
            ttft_s=o.ttft,
            itl_s=o.itl,
            e2el_s=o.e2el,
            prompt_tokens=o.prompt_tokens,
            completion_tokens=o.completion_tokens if o.completion_tokens is not None else (o.chunks if o.ok else None),
            expected_input_tokens=turn.expected_input_tokens,
            expected_output_tokens=turn.expected_output_tokens,
            vllm_ok=o.vllm_ok,
            trace_line=turn.trace_line,
        )
        self._count += 1
        if not warmup:
            self.result.records.append(record)
        self.on_record(record)

    async def warmup(self, jobs: Iterator[Job], count: int, concurrency: int) -> None:
        """Requests before the level starts, excluded from its statistics."""
        self.result.started = time.perf_counter()
        queue = [next(jobs) for _ in range(count)]

        async def worker() -> None:
            while queue:
                await self.run_job(queue.pop(), warmup=True)

        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))

    def adopt(self, record: RequestRecord) -> None:
        """A measured record from a worker process (bench/load/workers.py): numbered in arrival order."""
        record.index = self._count
        self._count += 1
        self.result.records.append(record)
        self.on_record(record)

    async def closed_loop(
        self,
        jobs: Iterator[Job],
        concurrency: int,
        count: int | None,
        deadline: float | None,
        *,
        start_at: float | None = None,
    ) -> None:
        remaining = count

        async def worker() -> None:
            nonlocal remaining
            while remaining is None or remaining > 0:
                if deadline is not None and time.perf_counter() >= deadline:
                    return
                if remaining is not None:
                    remaining -= 1
                await self.run_job(next(jobs), warmup=False)

        await self._measured(asyncio.gather(*(worker() for _ in range(concurrency))), start_at)

    async def open_loop(
        self, jobs: Iterator[Job], offsets: list[float], max_concurrency: int | None, start_at: float | None = None
    ) -> None:
        slots = asyncio.Semaphore(max_concurrency) if max_concurrency else None

        async def one(job: Job, offset: float) -> None:
            queued = time.perf_counter()
            if slots is None:
                await self.run_job(job, False, offset)
                return
            async with slots:
                await self.run_job(job, False, offset, time.perf_counter() - queued)

        async def dispatch() -> None:
            tasks = []
            for offset in offsets:
                target = self.result.started + offset
                await sleep_until(target)
                self.result.dispatch_lag_s.append(time.perf_counter() - target)
                tasks.append(asyncio.create_task(one(next(jobs), offset)))
            await asyncio.gather(*tasks)

        await self._measured(dispatch(), start_at)

    async def _measured(self, work: Awaitable[Any], start_at: float | None = None) -> None:
        """Times the level from dispatch start to the last completion, with loop-lag and CPU probes.

        Cyclic GC is paused meanwhile: a full collection over thousands of records can stall the
        loop for tens of ms, which would land in the latencies and the dispatch lag (reference
        counting still frees the acyclic objects a level creates)."""
        probe = asyncio.create_task(self._probe_loop())
        gc_was_enabled = gc.isenabled()
        gc.disable()
        # start_at: the epoch shared by every worker process of a level (perf_counter is system-wide)
        cpu0, self.result.started = time.process_time(), start_at or time.perf_counter()
        try:
            await work
        finally:
            if gc_was_enabled:
                gc.enable()
            self.result.finished = time.perf_counter()
            wall = self.result.finished - self.result.started
            self.result.client_cpu_fraction = (time.process_time() - cpu0) / wall if wall > 0 else 0.0
            probe.cancel()

    async def _probe_loop(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(LOOP_PROBE_S)
            self.result.loop_lag_s.append(time.perf_counter() - start - LOOP_PROBE_S)

"""vLLM's engine loop replayed on paper (planner/serving_sim.py's core): one engine, or the DP engines of a
MoE model in lockstep.

Each step the engine admits what the API server has handed over (up to max_num_seqs), schedules decodes
then prompt chunks (planner/replay_requests.py), and hands the step before's tokens to the client. Async
scheduling (vLLM's default on GPUs) decides a step while the one before it runs, so a request that arrives
during a step waits for the step after next: in a closed loop at c48 the replacements of the first requests
to finish then enter one step apart and keep the waves staggered, as the runs' own timelines show
(benchmarks/step_timeline.py). It also reads a step's output only after launching the next, so a step that
no CUDA graph covers, whose kernels the host launches one by one, holds back the tokens of the step before
it until the host has launched it (_late).

A MoE model's DP engines are not independent in vLLM: every MoE layer gathers the tokens of all engines
(fused_moe's all-gather / reduce-scatter over the DP group), so their steps start and end together; an
engine with nothing to run takes a dummy one-token step to join them (DPEngineCoreProc.run_busy_loop).
Replayed so: one clock, each engine scheduling its own requests, every step priced over all the engines'
shapes at once (planner/coupled_step.py; an idle engine's shape is empty). A dense model's DP
engines are independent and replayed one by one (planner/performance.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from planner.decode_runs import decode_run_ends
from planner.replay_clients import Clients
from planner.replay_requests import SimulatedRequest, TrackedRequest, finished, schedule, step_tokens
from planner.step_cost import StepShape


@dataclass(frozen=True)
class BatchLimits:
    max_num_batched_tokens: int
    max_num_seqs: int
    kv_capacity_tokens: int  # the pool; a batch that needs more is flagged (vLLM would preempt)
    async_scheduling: bool = False  # each step decided while the previous one runs
    graph_tokens: int | None = None  # the largest step a CUDA graph replays; None: not modelled (no late output)
    launch_s: float | None = None  # the host's launch of a step no CUDA graph covers (_late); None: its whole step


@dataclass
class _Engine:
    """One engine's part of the replay: its clients and API server, its running batch, and the last step's
    tokens not yet handed back (see _late)."""

    clients: Clients
    running: list[TrackedRequest] = field(default_factory=list)
    out: list[TrackedRequest] = field(default_factory=list)
    out_at: float = 0.0
    short: bool = False  # its batch ever needed more KV than the pool

    @property
    def busy(self) -> bool:
        return bool(self.clients.pending or self.clients.waiting or self.running or self.out)

    def admit(self, now: float, cutoff: float, limits: BatchLimits) -> None:
        """Requests the API server handed over by `cutoff` join the batch (their KV allocated at `now`)."""
        waiting = self.clients.waiting
        while waiting and waiting[0].ready <= cutoff and len(self.running) < limits.max_num_seqs:
            waiting[0].admitted = now
            self.running.append(waiting.pop(0))

    def finish_step(self, start: float, now: float, chunks: list[tuple[TrackedRequest, int]],
                    limits: BatchLimits) -> None:  # fmt: skip
        """The step ran from `start` to `now`: the step before's held-back tokens went out once the host had
        launched this one, the prompt chunks are in, and this step's tokens wait to be handed back."""
        self.short |= sum(r.prefilled + r.produced for r in self.running) > limits.kv_capacity_tokens
        if self.out:
            launched = now if limits.launch_s is None else min(now, start + limits.launch_s)
            self.clients.deliver(self.out, launched)
        for request, taken in chunks:
            request.prefilled += taken
        self.out, self.out_at = step_tokens(self.running), now


def run_engines(clients: Sequence[Clients], *, limits: BatchLimits,
                step_seconds: Callable[[Sequence[StepShape]], float],
                trace: bool = False) -> tuple[list[SimulatedRequest], bool]:  # fmt: skip
    """(every request's timings, whether any engine's KV pool ever ran short): the engines step together,
    each step lasting step_seconds(every engine's shape). `trace` (one engine, hour-long): decode-only runs
    go in one go (planner/decode_runs.py)."""
    engines = [_Engine(c) for c in clients]
    assert not trace or len(engines) == 1, "decode runs in one go are priced for one engine"
    now = 0.0
    decided = now  # when the next step's batch is chosen: the previous step's start under async scheduling
    while any(e.busy for e in engines):
        now = _send(engines, now)
        handed = [e.clients.waiting[0].ready for e in engines if e.clients.waiting]
        if handed and not any(e.running or e.out for e in engines):  # ... until the API server hands one over
            now = max(now, min(handed))
        for e in engines:  # an idle engine chooses at once (its empty step costs nothing, moves `decided` on)
            e.admit(now, decided if limits.async_scheduling and e.running else now, limits)
        single = engines[0]
        ends = decode_run_ends(single.running, single.clients.next_arrival(), now, lambda s: step_seconds([s]),
                               last_step=now - decided) if trace else []  # fmt: skip
        scheduled = [schedule(e.running, limits.max_num_batched_tokens) for e in engines]
        late = any(_late(shape, limits) for shape, _ in scheduled)  # one engine eager, all eager (dp_utils)
        for e in engines:
            if e.out and (ends or not e.running or not late):
                e.clients.deliver(e.out, e.out_at)
                e.out = []
        if not any(e.running for e in engines):
            continue
        if ends:
            for request in single.running:
                request.produced += len(ends)
            now = ends[-1]
            scheduled = [schedule(single.running, limits.max_num_batched_tokens)]
        decided = now
        now += step_seconds([shape for shape, _ in scheduled])
        for e, (_, chunks) in zip(engines, scheduled, strict=True):
            e.finish_step(decided, now, chunks, limits)
    return [finished(r) for e in engines for r in e.clients.done], any(e.short for e in engines)


def _send(engines: list[_Engine], now: float) -> float:
    """Requests due by `now` go to their engine's API server; where no engine has anything to run, the
    clock first moves on to the earliest request any of them will be sent."""
    if not any(e.running or e.clients.waiting for e in engines):
        coming = [e for e in engines if e.clients.pending]
        if coming:
            now = min(coming, key=lambda e: e.clients.pending[0].arrival).clients.send(now, running=False)
    for e in engines:
        now = e.clients.send(now, running=True)
    return now


def _late(shape: StepShape, limits: BatchLimits) -> bool:
    """Whether the step before this one hands its tokens back only once the host has launched this one: under
    async scheduling the engine reads a step's output after launching the next, and the host launches a step
    no CUDA graph covers kernel by kernel - out at min(this step's end, its start + limits.launch_s). The torch
    profiler's traces of a wave of 16 1K prompts (a lone prompt's step, then two full ones; two H100 runs, two
    H200) put the gaps between its requests' three TTFT groups within 5 ms of max(each step's end, the host's
    end of launching the next), 14-157 ms from the steps' ends, 9-206 from this replay's rule before
    (the next uncaptured step's end; results/perf_model/twenty-sixth/wave-delivery.txt)."""
    if not limits.async_scheduling or limits.graph_tokens is None:
        return False
    return shape.uncaptured(limits.graph_tokens)

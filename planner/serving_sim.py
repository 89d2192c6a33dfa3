"""vLLM's continuous batching replayed on paper: which requests each engine step decodes and prefills, and
when every token comes out, with each step's duration from planner/step_cost.py.

Each step decodes one token for every running request whose prompt is done, then fills the rest of
max_num_batched_tokens with prompt chunks in arrival order (chunked prefill), never more than
max_num_seqs requests at once. A request's first token comes out at the end of the step that finishes
its prompt, each later one at the end of a later step. Closed loop: `concurrency` requests at a time, the
next sent when one finishes (vllm bench serve --max-concurrency); open loop: arrivals at given times.
The numbers come out as vLLM's benchmark computes them from the client's timestamps (TPOT = (E2EL -
TTFT) / (output - 1)). Async scheduling (vLLM's default on GPUs) decides a step while the one before it
runs, so a request that arrives during a step waits for the step after next: in a closed loop at c48 the
replacements of the first requests to finish then enter one step apart and keep the waves staggered, as
the runs' own timelines show (benchmarks/step_timeline.py). It also reads a step's output only after
launching the next, so a step that no CUDA graph covers, whose kernels the host launches one by one, holds
back the tokens of the step before it until it ends (_late). Before the engine, vLLM's API server hands a
request over a fixed time after it comes and tokenises prompts one at a time (Frontend; its time measured:
reports/perf_fit.py). Left out: the client and HTTP, preemption (a KV pool that cannot hold the batch is
flagged instead), speculative decoding.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from planner.decode_runs import decode_run_ends
from planner.replay_requests import TrackedRequest, deliver_tokens, schedule, step_tokens
from planner.step_cost import StepShape


class LoadShape(BaseModel):
    """One level: closed loop at `concurrency`, or open loop at `request_rate` (planner/arrivals.py, `seed`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_tokens: int = Field(ge=1)
    output_tokens: int = Field(ge=1)
    concurrency: int | None = Field(None, ge=1)
    request_rate: float | None = Field(None, gt=0)
    requests: int = Field(64, ge=1)
    seed: int = 0
    cached_tokens: int = Field(0, ge=0)  # of each prompt, found in the prefix cache: not prefilled


@dataclass(frozen=True)
class SimulatedRequest:
    arrival: float
    ttft: float
    e2el: float
    output: int
    itl: tuple[float, ...]
    index: int = 0  # its place in what was replayed (replay()'s order)
    admitted: float = 0.0  # seconds after arrival that it joined the running batch (its KV allocated)
    frontend: float = 0.0  # seconds after arrival that the engine had it (the API server's part)

    @property
    def tpot_ms(self) -> float | None:
        """(E2EL - TTFT) / (output - 1) in ms, as vllm bench serve computes it; None for one token."""
        return (self.e2el - self.ttft) * 1e3 / (self.output - 1) if self.output > 1 else None


@dataclass(frozen=True)
class Frontend:
    """vLLM's API server before the engine: a request is handed over no sooner than `request` seconds
    after it comes (each on its own), and its prompt is tokenised in `token` seconds a token, one prompt at a
    time: a burst of long prompts queues here, a burst of short ones reaches the engine together."""

    request: float = 0.0
    token: float = 0.0


@dataclass(frozen=True)
class Arrival:
    """One request of an open-loop replay: sent at `at`, or (`at` None) `think` seconds after request
    `after` (an index into the same replay) produced its last token: a conversation's next turn."""

    at: float | None
    prompt: int
    output: int
    cached: int = 0  # prompt tokens found in the prefix cache: not prefilled
    after: int | None = None
    think: float = 0.0


@dataclass(frozen=True)
class BatchLimits:
    max_num_batched_tokens: int
    max_num_seqs: int
    kv_capacity_tokens: int  # the pool; a batch that needs more is flagged (vLLM would preempt)
    async_scheduling: bool = False  # each step decided while the previous one runs
    graph_tokens: int | None = None  # the largest step a CUDA graph replays; None: not modelled (no late output)


def simulate(
    arrivals: Sequence[float] | None,
    *,
    requests: int,
    concurrency: int | None,
    prompt: int,
    output: int,
    limits: BatchLimits,
    step_seconds: Callable[[StepShape], float],
    cached: int = 0,
    frontend: Frontend = Frontend(),
) -> tuple[list[SimulatedRequest], bool]:
    """(every request's timings, whether the KV pool ever ran short). `arrivals` None: closed loop.
    `cached`: prompt tokens each request finds in the prefix cache (vLLM computes at least the last one)."""
    start = min(cached, prompt - 1)
    pending = [
        TrackedRequest(arrival=a, prompt=prompt, output=output, prefilled=start) for a in (arrivals or [0.0] * requests)
    ]
    pending.sort(key=lambda r: r.arrival)
    slots = concurrency or requests if arrivals is None else None
    clients = _Clients(pending, {}, slots, frontend, gaps=True)
    return _run(clients, limits=limits, step_seconds=step_seconds)


def replay(
    arrivals: Sequence[Arrival],
    *,
    limits: BatchLimits,
    step_seconds: Callable[[StepShape], float],
    frontend: Frontend = Frontend(),
) -> tuple[list[SimulatedRequest], bool]:
    """An open loop over requests of their own sizes (a trace), later turns sent after earlier answers;
    returns (timings in the order given, no inter-token gaps; whether the KV pool ever ran short)."""
    made = [
        TrackedRequest(
            arrival=a.at or 0.0, prompt=a.prompt, output=a.output, prefilled=min(a.cached, a.prompt - 1), index=i
        )
        for i, a in enumerate(arrivals)
    ]
    followers = {a.after: (made[i], a.think) for i, a in enumerate(arrivals) if a.at is None and a.after is not None}
    pending = sorted((r for r, a in zip(made, arrivals, strict=True) if a.at is not None), key=lambda r: r.arrival)
    clients = _Clients(pending, followers, None, frontend, gaps=False)
    done, short = _run(clients, limits=limits, step_seconds=step_seconds, trace=True)
    return sorted(done, key=lambda r: r.index), short


@dataclass
class _Clients:
    """Who sends what when: a closed loop's free places (`slots`; None: an open loop, requests at their
    times), conversations' next turns (`followers`, by index: sent `think` seconds after that one's last
    token), the API server in front of the engine; and what reached the client (`done`)."""

    pending: list[TrackedRequest]
    followers: dict[int, tuple[TrackedRequest, float]]
    slots: int | None
    frontend: Frontend
    gaps: bool
    waiting: list[TrackedRequest] = field(default_factory=list)
    done: list[TrackedRequest] = field(default_factory=list)
    frontend_free: float = 0.0
    released: float = 0.0  # when a closed loop's places last freed

    def send(self, now: float, *, running: bool) -> float:
        """Requests due by `now` go to the API server; returns `now`, moved on if the engine idles till one."""
        while self.pending and (self.slots if self.slots is not None
                                else self.pending[0].arrival <= now or not (self.waiting or running)):  # fmt: skip
            request = self.pending.pop(0)
            if self.slots is not None:  # a closed loop sends the next request when a place frees
                request.arrival = max(request.arrival, self.released)
                self.slots -= 1
            now = max(now, request.arrival)  # an idle engine waits for it
            start = max(request.arrival + self.frontend.request, self.frontend_free)
            request.ready = self.frontend_free = start + self.frontend.token * request.prompt
            self.waiting.append(request)
        return now

    def deliver(self, made: list[TrackedRequest], at: float) -> None:
        """`made`'s tokens reach the client at `at`; finished requests free their places, send next turns."""
        finished = deliver_tokens(made, self.done, at, gaps=self.gaps)
        if self.slots is not None and finished:
            self.slots, self.released = self.slots + len(finished), at
        for request in finished:
            if request.index in self.followers:
                follower, think = self.followers[request.index]
                follower.arrival = at + think
                bisect.insort(self.pending, follower, key=lambda r: r.arrival)

    def next_arrival(self) -> float:
        """When the engine next gets a request from the API server; inf: none will come."""
        return min(self.waiting[0].ready if self.waiting else math.inf,
                   self.pending[0].arrival if self.pending else math.inf)  # fmt: skip


def _run(clients: _Clients, *, limits: BatchLimits, step_seconds: Callable[[StepShape], float],
         trace: bool = False) -> tuple[list[SimulatedRequest], bool]:  # fmt: skip
    """The engine loop; `trace`: hour-long - decode-only runs go in one go (planner/decode_runs.py)."""
    waiting, running = clients.waiting, list[TrackedRequest]()
    now, short = 0.0, False
    decided = now  # when the next step's batch is chosen: the previous step's start under async scheduling
    out: list[TrackedRequest] = []  # the last step's tokens, not yet handed back (see _late)
    out_at = 0.0
    while clients.pending or waiting or running or out:
        now = clients.send(now, running=bool(running))
        if waiting and not running and not out:  # ... until the API server hands it over
            now = max(now, waiting[0].ready)
        # an idle engine chooses at once (its empty step costs nothing and moves `decided` to now)
        cutoff = decided if limits.async_scheduling and running else now
        while waiting and waiting[0].ready <= cutoff and len(running) < limits.max_num_seqs:
            waiting[0].admitted = now
            running.append(waiting.pop(0))
        ends = decode_run_ends(running, clients.next_arrival(), now, step_seconds,
                               last_step=now - decided) if trace else []  # fmt: skip
        shape, chunks = schedule(running, limits.max_num_batched_tokens)
        if out and (ends or not running or not _late(shape, limits)):
            clients.deliver(out, out_at)
            out = []
        if not running:
            continue
        if ends:
            for request in running:
                request.produced += len(ends)
            now = ends[-1]
            shape, chunks = schedule(running, limits.max_num_batched_tokens)
        short |= sum(r.prefilled + r.produced for r in running) > limits.kv_capacity_tokens
        decided = now
        now += step_seconds(shape)
        if out:
            clients.deliver(out, now)
        for request, taken in chunks:
            request.prefilled += taken
        out, out_at = step_tokens(running), now
    return [_result(r) for r in clients.done], short


def _late(shape: StepShape, limits: BatchLimits) -> bool:
    """Whether the step before this one hands its tokens back only when this one ends: under async scheduling
    the engine reads a step's output after launching the next, and a step no CUDA graph covers keeps the
    host launching its kernels one by one for most of its time (results/perf_model/wave-c16-timeline-*.txt:
    a wave's first tokens come out one uncaptured step after the step that computed them)."""
    if not limits.async_scheduling or limits.graph_tokens is None:
        return False
    return shape.uncaptured(limits.graph_tokens)


def _result(request: TrackedRequest) -> SimulatedRequest:
    assert request.first_token is not None and request.finished is not None
    gaps = tuple(b - a for a, b in zip(request.token_times, request.token_times[1:], strict=False))
    assert request.admitted is not None
    return SimulatedRequest(arrival=request.arrival, ttft=request.first_token - request.arrival,
                            e2el=request.finished - request.arrival, output=request.output, itl=gaps,
                            index=request.index, admitted=request.admitted - request.arrival,
                            frontend=request.ready - request.arrival)  # fmt: skip

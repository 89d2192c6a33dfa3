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
the runs' own timelines show (benchmarks/step_timeline.py). What the simulation leaves out: the client
and HTTP, preemption (a KV pool that cannot hold the batch is flagged instead), speculative decoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from planner.step_cost import StepShape


class LoadShape(BaseModel):
    """One level: closed loop at `concurrency`, or open loop at `request_rate` (Poisson, seeded)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_tokens: int = Field(ge=1)
    output_tokens: int = Field(ge=1)
    concurrency: int | None = Field(None, ge=1)
    request_rate: float | None = Field(None, gt=0)
    requests: int = Field(64, ge=1)
    seed: int = 0
    cached_tokens: int = Field(0, ge=0)  # of each prompt, found in the prefix cache: not prefilled


@dataclass
class _Request:
    arrival: float
    prompt: int
    output: int
    prefilled: int = 0
    produced: int = 0
    first_token: float | None = None
    finished: float | None = None
    token_times: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class SimulatedRequest:
    arrival: float
    ttft: float
    e2el: float
    output: int
    itl: tuple[float, ...]


@dataclass(frozen=True)
class BatchLimits:
    max_num_batched_tokens: int
    max_num_seqs: int
    kv_capacity_tokens: int  # the pool; a batch that needs more is flagged (vLLM would preempt)
    async_scheduling: bool = False  # each step decided while the previous one runs


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
) -> tuple[list[SimulatedRequest], bool]:
    """(every request's timings, whether the KV pool ever ran short). `arrivals` None: closed loop.
    `cached`: prompt tokens each request finds in the prefix cache (vLLM computes at least the last one)."""
    start = min(cached, prompt - 1)
    pending = [
        _Request(arrival=a, prompt=prompt, output=output, prefilled=start) for a in (arrivals or [0.0] * requests)
    ]
    pending.sort(key=lambda r: r.arrival)
    waiting: list[_Request] = []
    running: list[_Request] = []
    done: list[_Request] = []
    now, short, open_slots = 0.0, False, concurrency or requests
    decided = now  # when the next step's batch is chosen: the previous step's start under async scheduling
    closed = arrivals is None
    while pending or waiting or running:
        while pending and (pending[0].arrival <= now or not (waiting or running)) and (not closed or open_slots):
            request = pending.pop(0)
            request.arrival = max(request.arrival, now) if closed else request.arrival
            now = max(now, request.arrival)
            waiting.append(request)
            open_slots -= 1
        # an idle engine chooses at once (its empty step costs nothing and moves `decided` to now)
        cutoff = decided if limits.async_scheduling and running else now
        while waiting and waiting[0].arrival <= cutoff and len(running) < limits.max_num_seqs:
            running.append(waiting.pop(0))
        shape, chunks = _schedule(running, limits.max_num_batched_tokens)
        short |= sum(r.prefilled + r.produced for r in running) > limits.kv_capacity_tokens
        decided = now
        now += step_seconds(shape)
        for request, taken in chunks:
            request.prefilled += taken
        open_slots += _emit_tokens(running, done, now)
    return [_result(r) for r in done], short


def _emit_tokens(running: list[_Request], done: list[_Request], now: float) -> int:
    """The step's end: a token for every request whose prompt is done; finished ones move to `done`
    (returns how many)."""
    finished = 0
    for request in list(running):
        if request.prefilled < request.prompt:
            continue
        request.produced += 1
        request.token_times.append(now)
        if request.first_token is None:
            request.first_token = now
        if request.produced >= request.output:
            request.finished = now
            running.remove(request)
            done.append(request)
            finished += 1
    return finished


def _schedule(running: list[_Request], budget: int) -> tuple[StepShape, list[tuple[_Request, int]]]:
    decodes = [r for r in running if r.prefilled >= r.prompt]
    budget -= len(decodes)
    chunks = []
    for request in running:
        if request.prefilled < request.prompt and budget > 0:
            taken = min(request.prompt - request.prefilled, budget)
            chunks.append((request, taken))
            budget -= taken
    shape = StepShape(
        decode_contexts=tuple(r.prompt + r.produced for r in decodes),
        prefills=tuple((taken, r.prefilled) for r, taken in chunks),
    )
    return shape, chunks


def _result(request: _Request) -> SimulatedRequest:
    assert request.first_token is not None and request.finished is not None
    gaps = tuple(b - a for a, b in zip(request.token_times, request.token_times[1:], strict=False))
    return SimulatedRequest(arrival=request.arrival, ttft=request.first_token - request.arrival,
                            e2el=request.finished - request.arrival, output=request.output, itl=gaps)  # fmt: skip

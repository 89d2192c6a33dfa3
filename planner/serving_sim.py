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
the runs' own timelines show (benchmarks/step_timeline.py). Before the engine, vLLM's API server takes
one request at a time (Frontend; its time measured: reports/perf_fit.py). Left out: the client and HTTP,
preemption (a KV pool that cannot hold the batch is flagged instead), speculative decoding.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from planner.decode_runs import decode_run_ends
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


# Where this replay is known to be wrong: a closed loop sends its requests together and gets them back together
# (one length each), and vLLM keeps such a wave whole - its API server takes the burst in at once and the engine
# prefills it in one or two steps, too large for any CUDA graph once the prompts together pass the largest one
# (results/gpu_wave_edges: 15 128-token prompts at c16 took two 140-ms steps). The replay's one-request-at-a-time
# API server staggers the wave into small steps a graph covers, so its TTFT comes out far low. Prompts past the
# largest graph run uncaptured alone too, and there the replay mostly holds (results/perf_model/domains.txt).
def whole_waves(load: LoadShape, *, graph_tokens: int) -> bool:
    """A closed loop of two or more whose prompts (less what the prefix cache holds) are each smaller than
    the largest CUDA graph (`graph_tokens`; 0: none) and together larger."""
    prompt = load.input_tokens - load.cached_tokens
    return bool(load.concurrency and load.concurrency > 1 and prompt < graph_tokens < load.concurrency * prompt)


@dataclass
class _Request:
    arrival: float
    prompt: int
    output: int
    prefilled: int = 0
    produced: int = 0
    index: int = 0
    ready: float = 0.0  # when the engine has it: sent, then through the API server (Frontend)
    admitted: float | None = None
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
    index: int = 0  # its place in what was replayed (replay()'s order)
    admitted: float = 0.0  # seconds after arrival that it joined the running batch (its KV allocated)
    frontend: float = 0.0  # seconds after arrival that the engine had it (the API server's part)

    @property
    def tpot_ms(self) -> float | None:
        """(E2EL - TTFT) / (output - 1) in ms, as vllm bench serve computes it; None for one token."""
        return (self.e2el - self.ttft) * 1e3 / (self.output - 1) if self.output > 1 else None


@dataclass(frozen=True)
class Frontend:
    """vLLM's API server before the engine: one request at a time (tokenising the prompt, handing it
    over), `request` seconds each plus `token` seconds a prompt token; a burst queues here."""

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
        _Request(arrival=a, prompt=prompt, output=output, prefilled=start) for a in (arrivals or [0.0] * requests)
    ]
    pending.sort(key=lambda r: r.arrival)
    slots = concurrency or requests if arrivals is None else None
    return _run(pending, {}, slots=slots, limits=limits, step_seconds=step_seconds, frontend=frontend)


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
        _Request(arrival=a.at or 0.0, prompt=a.prompt, output=a.output, prefilled=min(a.cached, a.prompt - 1), index=i)
        for i, a in enumerate(arrivals)
    ]
    followers = {a.after: (made[i], a.think) for i, a in enumerate(arrivals) if a.at is None and a.after is not None}
    pending = sorted((r for r, a in zip(made, arrivals, strict=True) if a.at is not None), key=lambda r: r.arrival)
    done, short = _run(pending, followers, slots=None, limits=limits, step_seconds=step_seconds, trace=True,
                       frontend=frontend)  # fmt: skip
    return sorted(done, key=lambda r: r.index), short


def _run(
    pending: list[_Request],
    followers: dict[int, tuple[_Request, float]],
    *,
    slots: int | None,
    limits: BatchLimits,
    step_seconds: Callable[[StepShape], float],
    trace: bool = False,
    frontend: Frontend,
) -> tuple[list[SimulatedRequest], bool]:
    """The engine loop. `slots`: a closed loop's free places (None: open loop, requests come at their
    times); `followers`: by index, the request sent `think` seconds after that one's last token; `trace`:
    hour-long - decode-only runs go in one go (planner/decode_runs.py), no inter-token gaps are kept."""
    waiting: list[_Request] = []
    running: list[_Request] = []
    done: list[_Request] = []
    now, short, frontend_free = 0.0, False, 0.0
    decided = now  # when the next step's batch is chosen: the previous step's start under async scheduling
    while pending or waiting or running:
        while pending and (slots if slots is not None else pending[0].arrival <= now or not (waiting or running)):
            request = pending.pop(0)
            if slots is not None:  # a closed loop sends the next request when a place frees
                request.arrival = max(request.arrival, now)
                slots -= 1
            now = max(now, request.arrival)  # an idle engine waits for it
            request.ready = max(request.arrival, frontend_free) + frontend.request + frontend.token * request.prompt
            frontend_free = request.ready
            waiting.append(request)
        if waiting and not running:  # ... until the API server hands it over
            now = max(now, waiting[0].ready)
        # an idle engine chooses at once (its empty step costs nothing and moves `decided` to now)
        cutoff = decided if limits.async_scheduling and running else now
        while waiting and waiting[0].ready <= cutoff and len(running) < limits.max_num_seqs:
            waiting[0].admitted = now
            running.append(waiting.pop(0))
        ends = decode_run_ends(running, _next_arrival(pending, waiting), now, step_seconds,
                               last_step=now - decided) if trace else []  # fmt: skip
        if ends:
            for request in running:
                request.produced += len(ends)
            now = ends[-1]
        shape, chunks = _schedule(running, limits.max_num_batched_tokens)
        short |= sum(r.prefilled + r.produced for r in running) > limits.kv_capacity_tokens
        decided = now
        now += step_seconds(shape)
        for request, taken in chunks:
            request.prefilled += taken
        finished = _emit_tokens(running, done, now, gaps=not trace)
        slots = None if slots is None else slots + len(finished)
        _send_next_turns(finished, followers, pending, now)
    return [_result(r) for r in done], short


def _send_next_turns(
    finished: list[_Request], followers: dict[int, tuple[_Request, float]], pending: list[_Request], now: float
) -> None:
    """A conversation's next turn goes out its think time after the previous turn's last token."""
    for request in finished:
        if request.index in followers:
            follower, think = followers[request.index]
            follower.arrival = now + think
            bisect.insort(pending, follower, key=lambda r: r.arrival)


def _next_arrival(pending: list[_Request], waiting: list[_Request]) -> float:
    """When the engine next gets a request from the API server; inf: none will come."""
    return min(waiting[0].ready if waiting else math.inf, pending[0].arrival if pending else math.inf)


def _emit_tokens(running: list[_Request], done: list[_Request], now: float, *, gaps: bool) -> list[_Request]:
    """The step's end: a token for every request whose prompt is done; finished ones move to `done`
    (and are returned)."""
    finished = []
    for request in list(running):
        if request.prefilled < request.prompt:
            continue
        request.produced += 1
        if gaps:
            request.token_times.append(now)
        if request.first_token is None:
            request.first_token = now
        if request.produced >= request.output:
            request.finished = now
            running.remove(request)
            done.append(request)
            finished.append(request)
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
    assert request.admitted is not None
    return SimulatedRequest(arrival=request.arrival, ttft=request.first_token - request.arrival,
                            e2el=request.finished - request.arrival, output=request.output, itl=gaps,
                            index=request.index, admitted=request.admitted - request.arrival,
                            frontend=request.ready - request.arrival)  # fmt: skip

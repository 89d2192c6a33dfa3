"""vLLM's continuous batching replayed on paper: which requests each engine step decodes and prefills, and
when every token comes out, with each step's duration from planner/step_cost.py.

Each step decodes one token for every running request whose prompt is done, then fills the rest of
max_num_batched_tokens with prompt chunks in arrival order (chunked prefill), never more than
max_num_seqs requests at once. A request's first token comes out at the end of the step that finishes
its prompt, each later one at the end of a later step. Closed loop: `concurrency` requests at a time, the
next sent when one finishes (vllm bench serve --max-concurrency); open loop: arrivals at given times.
The numbers come out as vLLM's benchmark computes them from the client's timestamps (TPOT = (E2EL -
TTFT) / (output - 1)). The engine loop itself (async scheduling, late output, DP engines in lockstep) is
planner/engine_loop.py; before the engine, vLLM's API server hands a request over a fixed time after it
comes and tokenises prompts one at a time (planner/replay_clients.py Frontend; its time measured:
reports/perf_fit.py). Left out: the client and HTTP, preemption (a KV pool that cannot hold the batch is
flagged instead), speculative decoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from planner.engine_loop import BatchLimits, run_engines
from planner.replay_clients import NO_FRONTEND, Clients, Frontend
from planner.replay_requests import SimulatedRequest, TrackedRequest
from planner.step_cost import StepShape

EngineShare = tuple[Sequence[float] | None, int, int | None]  # one engine's (arrivals, requests, concurrency)


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
class Arrival:
    """One request of an open-loop replay: sent at `at`, or (`at` None) `think` seconds after request
    `after` (an index into the same replay) produced its last token: a conversation's next turn."""

    at: float | None
    prompt: int
    output: int
    cached: int = 0  # prompt tokens found in the prefix cache: not prefilled
    after: int | None = None
    think: float = 0.0


def simulate(shares: Sequence[EngineShare], *, prompt: int, output: int, limits: BatchLimits,
             step_seconds: Callable[[Sequence[StepShape]], float], cached: int = 0,
             frontend: Frontend = NO_FRONTEND) -> tuple[list[SimulatedRequest], bool]:  # fmt: skip
    """(every request's timings, whether a KV pool ever ran short) of engines stepping together, each with its
    share of a level (arrivals, or None for a closed loop; requests; concurrency) and its own API server:
    one engine, or a MoE model's DP engines (planner/engine_loop.py); `step_seconds` prices every engine's
    shape at once. `cached`: prompt tokens each request finds in the prefix cache (vLLM computes at least
    the last one)."""
    clients = [_level_clients(share, prompt=prompt, output=output, cached=cached, frontend=frontend)
               for share in shares]  # fmt: skip
    return run_engines(clients, limits=limits, step_seconds=step_seconds)


def _level_clients(share: EngineShare, *, prompt: int, output: int, cached: int, frontend: Frontend) -> Clients:
    arrivals, requests, concurrency = share
    start = min(cached, prompt - 1)
    pending = [
        TrackedRequest(arrival=a, prompt=prompt, output=output, prefilled=start) for a in (arrivals or [0.0] * requests)
    ]
    pending.sort(key=lambda r: r.arrival)
    slots = concurrency or requests if arrivals is None else None
    return Clients(pending, {}, slots, frontend, gaps=True)


def replay(
    arrivals: Sequence[Arrival],
    *,
    limits: BatchLimits,
    step_seconds: Callable[[StepShape], float],
    frontend: Frontend = NO_FRONTEND,
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
    clients = Clients(pending, followers, None, frontend, gaps=False)
    done, short = run_engines([clients], limits=limits, step_seconds=lambda shapes: step_seconds(shapes[0]), trace=True)
    return sorted(done, key=lambda r: r.index), short

"""A request as the batching replay (planner/serving_sim.py) tracks it through vLLM's engine: what each step
takes of it (decode first, then prompt chunks within the token budget), the token each step makes for it,
and when those tokens reach the client."""

from __future__ import annotations

from dataclasses import dataclass, field

from planner.step_cost import StepShape


@dataclass
class TrackedRequest:
    """One request: its sizes, how far the engine got, and when it was sent, handed over, and answered."""

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


def schedule(running: list[TrackedRequest], budget: int) -> tuple[StepShape, list[tuple[TrackedRequest, int]]]:
    """One step: a token for each running request whose prompt is done, then prompt chunks in arrival order
    within what is left of the token budget; returns the step's shape and the chunks it takes."""
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


def step_tokens(running: list[TrackedRequest]) -> list[TrackedRequest]:
    """The step's end in the engine: a token for every request whose prompt is done; finished ones leave
    the batch. Returns those with a token (handed to the client by deliver_tokens)."""
    made = []
    for request in list(running):
        if request.prefilled < request.prompt:
            continue
        request.produced += 1
        made.append(request)
        if request.produced >= request.output:
            running.remove(request)
    return made


def deliver_tokens(made: list[TrackedRequest], done: list[TrackedRequest], at: float, *,
                   gaps: bool) -> list[TrackedRequest]:  # fmt: skip
    """The tokens reach the client at `at`; finished requests move to `done` (and are returned)."""
    finished = []
    for request in made:
        if gaps:
            request.token_times.append(at)
        if request.first_token is None:
            request.first_token = at
        if request.produced >= request.output:
            request.finished = at
            done.append(request)
            finished.append(request)
    return finished


def finished(request: TrackedRequest) -> SimulatedRequest:
    """A request the client has all of, as the replay reports it."""
    assert request.first_token is not None and request.finished is not None and request.admitted is not None
    gaps = tuple(b - a for a, b in zip(request.token_times, request.token_times[1:], strict=False))
    return SimulatedRequest(arrival=request.arrival, ttft=request.first_token - request.arrival,
                            e2el=request.finished - request.arrival, output=request.output, itl=gaps,
                            index=request.index, admitted=request.admitted - request.arrival,
                            frontend=request.ready - request.arrival)  # fmt: skip

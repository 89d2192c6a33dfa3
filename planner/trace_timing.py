"""When each request of a trace is live, on paper, before any run. Two ways:

- replayed (a performance calibration exists): the trace's own requests - their arrival times, prompt
  and output lengths, the prompt tokens an earlier request left in the prefix cache - go through the
  batching replay (planner/serving_sim.py), a conversation's next turn sent its think time after the
  previous turn's last token; each request is live from its admission to the batch to its last token;
- fluid (a latency given instead): every request takes the same TTFT and TPOT, so a request arriving
  at a is live from a to a + TTFT + (output - 1) x TPOT. Linear in the trace; it knows no queueing.
"""

from __future__ import annotations

from collections.abc import Sequence

from planner.performance import EngineModel
from planner.replay_requests import SimulatedRequest
from planner.serving_sim import Arrival, replay
from planner.trace_demand import Lifetime
from traces import TraceRequest

BUSY_WINDOW_S = 60.0


def fluid_lifetimes(requests: Sequence[TraceRequest], *, ttft_s: float, tpot_s: float) -> list[Lifetime]:
    """One Lifetime per request, in the order given (a conversation's turns in order, as traces/ keeps them)."""
    ends: dict[str, float] = {}
    lives = []
    for request in requests:
        start = request.arrival_s
        if start is None:  # a later turn: after the previous turn's answer and the think time
            start = ends[str(request.session)] + request.think_s
        first = start + ttft_s
        end = first + (request.output_tokens - 1) * tpot_s
        if request.session is not None:
            ends[request.session] = end
        lives.append(Lifetime(start=start, first_token=first, end=end))
    return lives


def replayed_lifetimes(
    requests: Sequence[TraceRequest],
    hits: Sequence[int],
    *,
    engine: EngineModel,
) -> tuple[list[Lifetime], list[SimulatedRequest]]:
    """One Lifetime per request in the order given (a conversation's turns in order), with the replay's
    timings; `hits`: each request's prompt tokens already in the prefix cache."""
    previous: dict[str, int] = {}
    arrivals = []
    for i, request in enumerate(requests):
        after = None if request.arrival_s is not None else previous[str(request.session)]
        arrivals.append(Arrival(at=request.arrival_s, prompt=request.input_tokens, output=request.output_tokens,
                                cached=hits[i], after=after, think=request.think_s))  # fmt: skip
        if request.session is not None:
            previous[request.session] = i
    done, _ = replay(arrivals, limits=engine.limits, step_seconds=engine.step_seconds, frontend=engine.frontend)
    lives = [
        Lifetime(start=r.arrival + r.admitted, first_token=r.arrival + r.ttft, end=r.arrival + r.e2el) for r in done
    ]
    return lives, done


def peak_rate(requests: Sequence[TraceRequest], window_s: float = BUSY_WINDOW_S) -> float:
    """Requests per second in the busiest `window_s` of first arrivals (a conversation's turns count at its
    start: its later turns follow answers, not the clock), or over the whole trace if it is shorter."""
    starts = sorted(r.arrival_s for r in requests if r.arrival_s is not None)
    if len(starts) < 2:
        return float(len(starts))
    span = min(window_s, starts[-1] - starts[0]) or 1.0
    turns = len(requests) / len(starts)  # requests per first arrival
    best, j = 0, 0
    for i, t in enumerate(starts):
        while starts[j] < t - span:
            j += 1
        best = max(best, i - j + 1)
    return best * turns / span

"""When each request of a trace is live, on paper, before any run: every request takes the TTFT and
TPOT the performance model predicts for the deployment at the trace's busiest minute (its peak request
rate, its mean prompt and output lengths: planner/performance.py), so a request arriving at a is live
from a to a + TTFT + (output - 1) x TPOT; a conversation's next turn arrives its think time after the
previous turn's last token. A fluid approximation, linear in the trace (10,000 rows plan in well under
a second): it prices every request at the peak's latency (more KV than an off-peak request holds, so
the plan errs large) and leaves out queueing beyond what the level prediction has, and prefix-cache
hits shortening a re-sent history's prefill.
"""

from __future__ import annotations

from collections.abc import Sequence

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

"""A trace replay's shortcut: runs of decode-only steps priced in one go instead of step by step.

An hour-long trace has millions of decode steps in which nothing changes the batch but the contexts'
growth; between two events (a request finishing, one arriving) their costs are taken linearly between
the first and the last step, which equals step by step where a step's cost is linear in its contexts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

from planner.step_cost import StepShape


class Decoding(Protocol):
    """What the shortcut reads of a running request (planner/replay_requests.py's TrackedRequest)."""

    prompt: int
    output: int
    prefilled: int
    produced: int


def decode_run_ends(
    running: Sequence[Decoding],
    coming: float,
    now: float,
    step_seconds: Callable[[StepShape], float],
    *,
    last_step: float,
) -> list[float]:
    """End times of the decode-only steps before anything changes the batch (a request finishing runs as
    a step of its own; none arrives), priced linearly between the first and the last (exact where a
    step's cost is linear in its contexts, as KV reads are); none where fewer than two fit."""
    if not running or any(r.prefilled < r.prompt for r in running):
        return []
    steps = min(r.output - r.produced for r in running) - 1
    if steps < 2 or coming <= now or coming - now < 3 * last_step:  # see the bound below
        return []

    def cost(ahead: int) -> float:
        contexts = tuple(r.prompt + r.produced + ahead for r in running)
        return step_seconds(StepShape(decode_contexts=contexts))

    first = cost(0)
    if coming < math.inf:  # steps only grow, so none of these ends after the next arrival
        steps = min(steps, int((coming - now) / max(first, 1e-9)) - 1)
    if steps < 2:
        return []
    last = cost(steps - 1)
    if now + steps * max(first, last) > coming:
        steps = int((coming - now) / max(first, last))
        if steps < 2:
            return []
        last = cost(steps - 1)
    ends, t = [], now
    for j in range(steps):
        t += first + (last - first) * j / (steps - 1)
        ends.append(t)
    return ends

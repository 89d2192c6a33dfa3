"""How many of a MoE layer's chosen experts the busiest expert-parallel rank holds.

Under expert parallel each rank holds whole experts, vLLM's linear placement giving rank r the next
experts // ranks of them (the first experts % ranks ranks one more: planner/layout.py), and the ranks
meet at the layer's all-reduce, so the rank holding most of the experts a step chose sets the layer's
time. When the chosen set is a uniformly random subset of its size - dummy weights' fixed top-k (each
layer's router bias drawn afresh: benchmarks/dummy_routing.py), and uniform routing given how many experts
the tokens touched - the busiest rank's count is the maximum of a multivariate hypergeometric draw:

  P(max <= m | s chosen) = [x^s] prod_r sum_{j <= min(m, n_r)} C(n_r, j) x^j  /  C(E, s)
  E[max | s] = sum_{m >= 0} (1 - P(max <= m | s))

with n_r the experts rank r holds and E their sum. A layer's time sums over dozens of layers, each with
its own draw, so the expectation is what a step sees. Under TP every rank holds a slice of every expert
and reads a slice of each chosen one: no busiest rank.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np


@cache
def busiest_rank_table(experts: int, ranks: int) -> tuple[float, ...]:
    """E[experts on the busiest rank] for s = 0 .. experts chosen at random (index s). The counts of ways
    pass 1e308 past ~1,000 experts, so the products are kept as logarithms."""
    held = [experts // ranks + (1 if r < experts % ranks else 0) for r in range(ranks)]
    log_totals = np.array([_log_comb(experts, s) for s in range(experts + 1)])
    expected = np.zeros(experts + 1)
    for m in range(max(held)):  # P(max > m) summed over m: the expectation of a count
        log_ways = np.full(experts + 1, -np.inf)
        log_ways[0] = 0.0
        for n in held:  # times sum_{j <= m} C(n, j) x^j: the ways with at most m of this rank's experts
            terms = [np.concatenate((np.full(j, -np.inf), log_ways[: experts + 1 - j])) + _log_comb(n, j)
                     for j in range(min(m, n) + 1)]  # fmt: skip
            log_ways = np.logaddexp.reduce(terms, axis=0)
        expected += 1.0 - np.exp(log_ways - log_totals)
    return tuple(float(v) for v in expected)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def busiest_rank_experts(chosen: float, *, experts: int, ranks: int) -> float:
    """E[chosen experts on the busiest of `ranks` EP ranks] for `chosen` (may be fractional: an expected
    count, interpolated) of `experts` chosen at random; `chosen` itself for one rank."""
    if ranks <= 1 or experts <= 0:
        return chosen
    table = busiest_rank_table(experts, ranks)
    s = min(max(chosen, 0.0), float(experts))
    low = int(s)
    if low >= experts:
        return table[experts]
    return table[low] + (s - low) * (table[low + 1] - table[low])

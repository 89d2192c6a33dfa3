"""The busiest EP rank's share of a layer's chosen experts, against every subset counted out."""

from __future__ import annotations

import itertools
import statistics

import pytest

from planner.expert_load import busiest_rank_experts


def _counted(experts: int, ranks: int, chosen: int) -> float:
    """Every subset of `chosen` experts, each rank's count under linear placement, the maximum averaged."""
    held = [experts // ranks + (1 if r < experts % ranks else 0) for r in range(ranks)]
    owner = [r for r, n in enumerate(held) for _ in range(n)]
    return statistics.fmean(
        max(sum(1 for e in subset if owner[e] == r) for r in range(ranks))
        for subset in itertools.combinations(range(experts), chosen)
    )


@pytest.mark.parametrize(("experts", "ranks"), [(4, 2), (8, 3), (10, 4), (12, 2), (9, 9)])
def test_the_expected_busiest_rank_matches_every_subset_counted(experts, ranks):
    for chosen in range(1, experts + 1):
        assert busiest_rank_experts(chosen, experts=experts, ranks=ranks) == pytest.approx(
            _counted(experts, ranks, chosen)
        )


def test_edges_and_fractional_counts():
    assert busiest_rank_experts(8, experts=256, ranks=1) == 8  # TP: no busiest rank
    assert busiest_rank_experts(0, experts=32, ranks=2) == 0
    assert busiest_rank_experts(32, experts=32, ranks=2) == 16  # all chosen: each rank's own
    low, high = (busiest_rank_experts(c, experts=32, ranks=2) for c in (8, 9))
    assert low < busiest_rank_experts(8.5, experts=32, ranks=2) < high


def test_more_experts_than_float_counts_can_hold():
    # C(1200, 600) passes 1e308: the table is kept in logarithms
    assert busiest_rank_experts(1, experts=1200, ranks=16) == pytest.approx(1.0)
    assert busiest_rank_experts(1200, experts=1200, ranks=16) == pytest.approx(75.0)
    assert 1.0 < busiest_rank_experts(8, experts=1200, ranks=16) < 8.0

"""A MoE model's DP engines replayed in lockstep: every step ends when the slowest engine's does, an idle
engine waits on no one, each engine's closed loop keeps its own places (one engine alone:
tests/unit/planner/test_serving_sim.py)."""

from __future__ import annotations

import pytest

from planner.engine_loop import BatchLimits
from planner.serving_sim import simulate

STEP, PROMPT_STEP = 0.010, 0.100
LIMITS = BatchLimits(max_num_batched_tokens=1000, max_num_seqs=8, kv_capacity_tokens=10**6)


def cost(shapes):
    """A step with a prompt chunk on any engine takes PROMPT_STEP, a decode-only step STEP."""
    return PROMPT_STEP if any(shape.prefills for shape in shapes) else STEP


def test_a_prompt_on_one_engine_holds_up_the_other_engine_s_decodes():
    # engine 0's request comes at 0, engine 1's at 0.035, while engine 0's prompt step (0 - 0.1) runs
    shares = [([0.0], 1, None), ([0.035], 1, None)]
    done, _ = simulate(shares, prompt=100, output=10, limits=LIMITS, step_seconds=cost)
    early, late = sorted(done, key=lambda r: r.arrival)
    # engine 1 idles until that step ends, then prefills in the next (0.1 - 0.2): alone it would have started
    # at once and had its first token at 0.135
    assert late.ttft == pytest.approx(0.2 - 0.035)
    # ... and engine 0's first decode step lasts as long as engine 1's prompt step, the rest STEP each
    assert early.itl == pytest.approx((PROMPT_STEP,) + (STEP,) * 8)


def test_engines_with_nothing_to_run_wait_for_the_earliest_request_of_any():
    shares = [([1.0], 1, None), ([2.0], 1, None)]
    done, _ = simulate(shares, prompt=100, output=3, limits=LIMITS, step_seconds=cost)
    assert sorted(r.ttft for r in done) == pytest.approx([PROMPT_STEP, PROMPT_STEP])
    assert sorted(r.arrival for r in done) == [1.0, 2.0]


def test_each_engine_s_closed_loop_keeps_its_own_places():
    shares = [(None, 4, 2), (None, 2, 1)]
    done, short = simulate(shares, prompt=100, output=3, limits=LIMITS, step_seconds=cost)
    assert len(done) == 6 and not short
    # engine 0 serves 2 at a time, engine 1 one: both send their next as one finishes, so all end together
    assert sorted(r.arrival for r in done) == pytest.approx([0.0, 0.0, 0.0, 0.12, 0.12, 0.12])

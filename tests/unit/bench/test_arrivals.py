"""Arrival schedules: seeded, absolute, with the statistics vllm bench serve's generator has."""

from __future__ import annotations

import numpy as np
import pytest

from bench.load.arrivals import schedule


def test_same_seed_same_schedule_other_seed_other_schedule():
    assert schedule(100, None, 5.0, seed=3) == schedule(100, None, 5.0, seed=3)
    assert schedule(100, None, 5.0, seed=3) != schedule(100, None, 5.0, seed=4)


def test_poisson_mean_gap_is_one_over_rate():
    gaps = np.diff(schedule(20_000, None, 8.0, arrival="poisson", seed=1))
    assert gaps.mean() == pytest.approx(1 / 8.0, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)  # exponential: CV 1


@pytest.mark.parametrize("burstiness", [0.25, 4.0])
def test_gamma_burstiness_sets_the_spread(burstiness):
    gaps = np.diff(schedule(20_000, None, 8.0, arrival="gamma", burstiness=burstiness, seed=2))
    assert gaps.mean() == pytest.approx(1 / 8.0, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(1 / np.sqrt(burstiness), rel=0.08)


def test_constant_rate_and_duration_bound():
    offsets = schedule(None, 2.0, 10.0, arrival="constant")
    assert offsets[:3] == pytest.approx([0.0, 0.1, 0.2]) and max(offsets) < 2.0 and len(offsets) in (20, 21)


def test_ramp_speeds_up():
    gaps = np.diff(schedule(4_000, None, 1.0, arrival="constant", end_rate=9.0))
    assert gaps[0] == pytest.approx(1.0) and gaps[-1] == pytest.approx(1 / 9.0, rel=0.01)
    assert np.all(np.diff(gaps) <= 1e-12)


def test_a_schedule_needs_a_bound():
    with pytest.raises(ValueError):
        schedule(None, None, 1.0)

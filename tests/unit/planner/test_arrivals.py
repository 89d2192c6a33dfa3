"""Arrival schedules: vLLM's own send times for the same seed, and the statistics its generator has."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from planner.arrivals import schedule


def vllms_send_times(count: int, rate: float, burstiness: float, seed: int) -> list[float]:
    """`vllm bench serve`'s get_request, run on a fake clock: when it would send each request."""
    from vllm.benchmarks import serve

    clock = [1000.0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds

    async def collect() -> list[float]:
        return [clock[0] - 1000.0 async for _ in serve.get_request(list(range(count)), rate, burstiness)]

    patch = pytest.MonkeyPatch()
    patch.setattr(serve.time, "time", lambda: clock[0])
    patch.setattr(serve.asyncio, "sleep", sleep)
    try:
        np.random.seed(seed)  # vLLM seeds numpy's global generator with --seed
        return asyncio.run(collect())
    finally:
        patch.undo()


@pytest.mark.parametrize(("process", "burstiness"), [("poisson", 1.0), ("gamma", 0.5), ("gamma", 3.0)])
def test_the_schedule_is_vllms_for_the_same_seed(process, burstiness):
    ours = schedule(200, None, 7.0, process=process, burstiness=burstiness, seed=11)
    assert ours == pytest.approx(vllms_send_times(200, 7.0, burstiness, seed=11), abs=1e-9)
    assert ours[0] > 0 and ours[-1] == pytest.approx(200 / 7.0)  # its own first gap; the last at N / rate


def test_normalize_false_keeps_the_pure_renewal_process():
    renewal = schedule(200, None, 7.0, seed=11, normalize=False)
    assert renewal[-1] != pytest.approx(200 / 7.0, rel=1e-6)
    scale = (200 / 7.0) / renewal[-1]
    assert schedule(200, None, 7.0, seed=11) == pytest.approx([t * scale for t in renewal])


def test_same_seed_same_schedule_other_seed_other_schedule():
    assert schedule(100, None, 5.0, seed=3) == schedule(100, None, 5.0, seed=3)
    assert schedule(100, None, 5.0, seed=3) != schedule(100, None, 5.0, seed=4)


def test_poisson_mean_gap_is_one_over_rate():
    gaps = np.diff(schedule(20_000, None, 8.0, process="poisson", seed=1, normalize=False))
    assert gaps.mean() == pytest.approx(1 / 8.0, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)  # exponential: CV 1


@pytest.mark.parametrize("burstiness", [0.25, 4.0])
def test_gamma_burstiness_sets_the_spread(burstiness):
    gaps = np.diff(schedule(20_000, None, 8.0, process="gamma", burstiness=burstiness, seed=2))
    assert gaps.mean() == pytest.approx(1 / 8.0, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(1 / np.sqrt(burstiness), rel=0.08)


def test_constant_rate_and_duration_bound():
    offsets = schedule(None, 2.0, 10.0, process="constant")
    assert offsets[:3] == pytest.approx([0.1, 0.2, 0.3]) and max(offsets) < 2.0 and len(offsets) in (19, 20)


def test_ramp_speeds_up_and_is_not_rescaled():
    offsets = schedule(4_000, None, 1.0, process="constant", end_rate=9.0)
    gaps = np.diff(offsets)
    assert offsets[0] == pytest.approx(1.0) and gaps[-1] == pytest.approx(1 / 9.0, rel=0.01)
    assert np.all(np.diff(gaps) <= 1e-12)


def test_a_schedule_needs_a_bound():
    with pytest.raises(ValueError):
        schedule(None, None, 1.0)

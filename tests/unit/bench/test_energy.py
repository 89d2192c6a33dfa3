"""Energy per level from NVML's counter readings (the arithmetic; the counter itself needs a GPU)."""

from __future__ import annotations

import pytest

from bench.observe.energy import level_energy

METRICS = {"total_output_tokens": 2048, "completed": 8, "duration": 16.0}


def test_counter_difference_over_tokens_requests_and_time():
    energy = level_energy(1_000_000.0, 9_192_000.0, METRICS)  # 8,192 J used during the level
    assert energy == {
        "energy_j": pytest.approx(8192.0),
        "j_per_output_token": pytest.approx(4.0),
        "j_per_request": pytest.approx(1024.0),
        "mean_power_w": pytest.approx(512.0),
    }


@pytest.mark.parametrize(("start", "end"), [(None, 5.0), (5.0, None), (9.0, 5.0)])  # no NVML; a counter reset
def test_no_reading_gives_no_figures(start, end):
    assert level_energy(start, end, METRICS) == {}


def test_a_level_without_output_has_energy_but_no_per_token_figure():
    energy = level_energy(0.0, 3000.0, {"total_output_tokens": 0, "completed": 0, "duration": 2.0})
    assert energy["energy_j"] == pytest.approx(3.0) and energy["j_per_output_token"] is None
    assert energy["mean_power_w"] == pytest.approx(1.5)

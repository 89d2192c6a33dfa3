"""The host's Python speed a run records (bench/observe/host_speed.py), and what a comparison makes of two hosts'
(reports/served_setup.py): told only past HOST_PYTHON_RATIO, never for a run from before schema 9."""

from __future__ import annotations

from bench.observe.host_speed import measure_host_speed
from reports.served_setup import HOST_PYTHON, HOST_PYTHON_RATIO, changed_settings
from runfolder.schema import HostSpeed


def test_the_figures_are_the_best_and_the_median_of_the_repeats():
    speed = measure_host_speed(repeats=5, calls=2_000)
    assert speed.repeats == 5
    assert 0 < speed.best_ns <= speed.median_ns


def test_two_hosts_differ_only_past_the_ratio():
    base = HostSpeed(best_ns=140.0, median_ns=150.0, repeats=9)
    near = base.model_copy(update={"median_ns": 150.0 * HOST_PYTHON_RATIO * 0.95})
    far = base.model_copy(update={"median_ns": 150.0 * HOST_PYTHON_RATIO * 1.05})

    def changes(a: HostSpeed | None, b: HostSpeed | None) -> list[str]:
        told = [{HOST_PYTHON: s.describe() if s else "-"} for s in (a, b)]
        return changed_settings("d", *told)

    assert changes(base, near) == []
    said = f"d: host Python: 150 ns a call (best 140) -> {far.median_ns:.0f} ns a call (best 140)"
    assert changes(base, far) == [said]
    assert changes(far, base) != []  # faster is a change too
    assert changes(None, far) == [] and changes(base, None) == []  # a run from before schema 9 says nothing


def test_other_settings_still_differ_on_any_change():
    a = {HOST_PYTHON: "150 ns a call (best 140)", "vLLM": "0.26.0"}
    b = {HOST_PYTHON: "151 ns a call (best 141)", "vLLM": "0.26.1"}
    assert changed_settings("d", a, b) == ["d: vLLM: 0.26.0 -> 0.26.1"]

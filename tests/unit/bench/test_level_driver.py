"""A level's `driver` in run.json says what bounded it - a request count or a duration, resolved against the
scenario's defaults - because an open loop's send offsets depend on it (planner/arrivals.py rescales a
counted schedule to N / rate, not one cut by a duration)."""

from __future__ import annotations

from bench.load.level import summary
from bench.load.level_runner import LevelResult
from bench.scenario.schema import Scenario

SCENARIO = {"name": "t", "deployments": [{"name": "a", "model": {"like": "minimax-m2"}}],
            "load": {"requests": 40, "levels": [{"concurrency": 2}, {"rate": 4}, {"rate": 4, "duration_s": 30},
                                                {"rate": 4, "requests": 10, "duration_s": 30}]}}  # fmt: skip


def test_driver_records_the_bound_each_level_ran_to():
    scenario = Scenario.model_validate(SCENARIO)
    drivers = [summary(scenario, level, i, LevelResult(), before={}, after={}).driver
               for i, level in enumerate(scenario.load.levels)]  # fmt: skip
    assert (drivers[0]["concurrency"], drivers[0]["requests"]) == (2, 40) and "duration_s" not in drivers[0]
    assert drivers[1] == {"rate": 4.0, "arrival": {"process": "poisson", "normalize": True}, "burstiness": 1.0,
                          "requests": 40}  # fmt: skip
    assert drivers[2]["duration_s"] == 30 and "requests" not in drivers[2]  # the scenario's count gives way
    assert (drivers[3]["requests"], drivers[3]["duration_s"]) == (10, 30)

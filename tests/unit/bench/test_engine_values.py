"""The telemetry's engine values, read from only their families' lines, equal a full parse of vLLM's /metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bench.observe.metrics import engine_values
from runfolder.telemetry import ENGINE_SERIES
from tests.paths import REPO


def test_the_families_alone_give_what_the_whole_scrape_gives():
    text = (REPO / "tests/data/vllm-0.32.0-cpu-metrics.txt").read_text()
    # a busy server: every series non-zero, and a second engine's label set to sum
    busy = text.replace("} 0.0\n", "} 3.0\n")
    busy += "\n".join(line.replace('engine="0"', 'engine="1"') for line in busy.splitlines() if 'engine="0"' in line)
    whole: dict[str, float] = {}
    for family in text_string_to_metric_families(busy + "\n"):
        for sample in family.samples:
            if sample.name in ENGINE_SERIES:
                whole[ENGINE_SERIES[sample.name]] = whole.get(ENGINE_SERIES[sample.name], 0.0) + sample.value
    assert engine_values(busy + "\n") == whole and set(whole) == set(ENGINE_SERIES.values())
    assert all(value > 0 for value in whole.values())

"""vLLM's latency histograms per level: deltas, Prometheus' quantile rule, the client-vs-server flag."""

from __future__ import annotations

import pytest

from bench.observe.server_latency import compare, histograms, level_figures, quantile

SCRAPE = """# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{{engine="0",le="0.1",model_name="m"}} {b1}
vllm:time_to_first_token_seconds_bucket{{engine="0",le="0.25",model_name="m"}} {b2}
vllm:time_to_first_token_seconds_bucket{{engine="0",le="+Inf",model_name="m"}} {b3}
vllm:time_to_first_token_seconds_count{{engine="0",model_name="m"}} {b3}
vllm:time_to_first_token_seconds_sum{{engine="0",model_name="m"}} {total}
"""


def test_a_level_is_its_share_of_the_histograms():
    before = histograms(SCRAPE.format(b1=2, b2=2, b3=2, total=0.1))  # two warm-ups, both under 100 ms
    after = histograms(SCRAPE.format(b1=2, b2=6, b3=6, total=0.9))  # four more, all in 100-250 ms
    figures = level_figures(before, after)
    assert figures["server_ttft_count"] == 4
    assert figures["server_mean_ttft_ms"] == pytest.approx(200.0)  # (0.9 - 0.1) / 4
    assert figures["server_median_ttft_ms"] == pytest.approx(175.0)  # halfway into the 100-250 ms bucket
    assert "server_mean_itl_ms" not in figures  # nothing observed, nothing reported


def test_quantile_follows_prometheus_histogram_quantile():
    buckets = [(0.1, 10.0), (0.2, 30.0), (float("inf"), 40.0)]
    assert quantile(0.25, buckets) == pytest.approx(0.1)  # rank 10: the first bucket's edge
    assert quantile(0.5, buckets) == pytest.approx(0.15)  # rank 20: halfway through (0.1, 0.2]
    assert quantile(0.99, buckets) == pytest.approx(0.2)  # in +Inf: the last finite edge
    assert quantile(0.5, [(float("inf"), 0.0)]) is None


def test_client_and_server_ttft_disagreeing_is_flagged():
    server = {"server_mean_ttft_ms": 100.0}
    assert compare(server, 105.0) is None  # transport and parsing
    assert "beyond network and client overhead" in (compare(server, 150.0) or "")
    assert compare(server, 90.0) is not None  # the client cannot see a token before the server made it
    assert compare({}, 100.0) is None

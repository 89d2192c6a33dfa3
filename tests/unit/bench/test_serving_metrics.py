"""Our metrics against vLLM's own `calculate_metrics` on the same request outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from bench.load.serving_metrics import summarize
from runfolder.requests import RequestRecord

serve = pytest.importorskip("vllm.benchmarks.serve")
endpoint = pytest.importorskip("vllm.benchmarks.lib.endpoint_request_func")


def random_outcomes(seed: int, n: int = 60):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i in range(n):
        ok = rng.random() > 0.1
        out_tokens = int(rng.integers(1, 40))
        ttft = float(rng.uniform(0.01, 0.5))
        itl = rng.uniform(0.001, 0.05, size=out_tokens - 1).tolist()
        e2el = ttft + sum(itl)
        prompt = int(rng.integers(10, 500))
        ours.append(
            RequestRecord(
                level="l",
                index=i,
                warmup=False,
                conversation=None,
                turn=0,
                scheduled_s=None,
                sent_s=0.0,
                queue_s=0.0,
                ok=ok,
                error=None if ok else "HTTP 500",
                http_status=200,
                ttft_s=ttft,
                itl_s=itl,
                e2el_s=e2el,
                prompt_tokens=prompt,
                completion_tokens=out_tokens,
                expected_input_tokens=prompt,
                expected_output_tokens=out_tokens,
            )
        )
        theirs.append(
            endpoint.RequestFuncOutput(
                success=ok,
                latency=e2el,
                output_tokens=out_tokens,
                ttft=ttft,
                itl=itl,
                prompt_len=prompt,
                start_time=0.0,
                error="" if ok else "HTTP 500",
            )
        )
    return ours, theirs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_vllm_calculate_metrics(seed):
    ours, theirs = random_outcomes(seed)
    slo = {"ttft": 300.0, "tpot": 30.0}
    metrics, _ = serve.calculate_metrics(
        input_requests=[],
        outputs=theirs,
        dur_s=12.5,
        tokenizer=None,
        selected_percentiles=[50, 90, 95, 99],
        goodput_config_dict=slo,
    )
    mine = summarize(ours, 12.5, slo)
    assert mine["completed"] == metrics.completed and mine["failed"] == metrics.failed
    assert mine["total_input_tokens"] == metrics.total_input and mine["total_output_tokens"] == metrics.total_output
    for key in ("request_throughput", "request_goodput", "output_throughput", "total_token_throughput"):
        assert mine[key] == pytest.approx(getattr(metrics, key), rel=1e-12), key
    for name in ("ttft", "tpot", "itl", "e2el"):
        for stat in ("mean", "median", "std"):
            assert mine[f"{stat}_{name}_ms"] == pytest.approx(getattr(metrics, f"{stat}_{name}_ms"), rel=1e-9)
        for p, value in getattr(metrics, f"percentiles_{name}_ms"):
            assert mine[f"p{int(p)}_{name}_ms"] == pytest.approx(value, rel=1e-9), (name, p)


def test_warmup_and_failures_are_not_averaged_in():
    ours, _ = random_outcomes(5)
    warm = [r for r in ours if r.ok][:3]
    for r in warm:
        r.warmup = True
    metrics = summarize(ours, 10.0)
    assert metrics["completed"] == sum(r.ok for r in ours) - 3
    assert metrics["failed"] == sum(not r.ok for r in ours)

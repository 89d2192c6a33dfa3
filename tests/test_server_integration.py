"""The planner against the real CPU vLLM server: predicted KV capacity must equal the reported one."""

from __future__ import annotations

import asyncio

import pytest

from bench.capacity_check import predict
from bench.deployment_spec import DeploymentSpec, SynthModel
from bench.probe import probe_deployment, read_server_report
from bench.run_folder import save_run
from bench.run_folder import environment, utc_now
from reports.run_schema import RunRecord, load_run

pytestmark = pytest.mark.server


def test_shape_a_bf16_prediction_equals_server(cpu_server):
    cache, version = asyncio.run(read_server_report(cpu_server.base_url))
    plan = predict(cpu_server.spec, cpu_server.model_dir)
    assert version and cache is not None
    assert plan.kv_capacity_tokens == cache.kv_capacity_tokens
    assert (plan.num_blocks, plan.block_size) == (cache.num_gpu_blocks, cache.block_size)
    # 4 layers x 2 KV heads x head_dim 64, bf16, in 1 GiB: a figure the server computes on its own.
    assert cache.kv_capacity_tokens == 524_288


def test_shape_b_fp8_kv_prediction_equals_server_and_is_recorded(tmp_path):
    spec = DeploymentSpec(name="tiny-llama-fp8", model=SynthModel(like="llama-3.1-70b", sizes={
        "layers": 6, "heads": 4, "kv_heads": 4, "head_dim": 128}), kv_cache_dtype="fp8", max_model_len=8192,
        cpu_kvcache_space_gib=2, startup_timeout_s=300)
    record = asyncio.run(probe_deployment(spec, tmp_path))
    assert record.status == "ok", record.error
    capacity = record.capacity
    assert capacity.reported_source == "metrics"
    assert capacity.predicted_tokens == capacity.reported_tokens and capacity.difference_tokens == 0
    assert capacity.reported_tokens != 524_288  # a different shape from the session server
    assert record.vllm_version == "0.32.0" and record.env_set["VLLM_CPU_KVCACHE_SPACE"] == "2"
    run = RunRecord(kind="probe", run_id="t", created_at=utc_now(), environment=environment(), deployments=[record])
    save_run(tmp_path, run)
    assert load_run(tmp_path).deployments[0].capacity.reported_tokens == capacity.reported_tokens
    assert (tmp_path / record.log_file).read_text().count("CPU KV cache size") == 1


def test_external_endpoint_launches_nothing_and_still_reads_metrics(cpu_server, tmp_path):
    spec = cpu_server.spec.model_copy(update={"endpoint": cpu_server.base_url, "model": str(cpu_server.model_dir)})
    record = asyncio.run(probe_deployment(spec, tmp_path))
    assert record.status == "ok" and record.argv is None and record.log_file is None
    assert record.capacity.predicted_tokens == record.capacity.reported_tokens == 524_288
    unknown = asyncio.run(probe_deployment(cpu_server.spec.model_copy(update={"endpoint": cpu_server.base_url}),
                                           tmp_path))
    assert unknown.capacity.reported_tokens == 524_288 and "model" in unknown.capacity.prediction_error

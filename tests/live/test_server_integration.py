"""The planner against the real CPU vLLM server: predicted KV capacity must equal the reported one."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.observe.server_report import read_server_report
from bench.run.capacity_check import predict
from bench.run.deployment import probe_deployment
from bench.run.environment import environment
from bench.run.folder import utc_now
from bench.run.model_source import materialize_model
from bench.scenario.deployment import DeploymentSpec, SynthModel
from bench.server.cpu_host import this_host
from runfolder.schema import RunRecord, load_run, save_run
from tests.live.fast_start import EAGER

pytestmark = pytest.mark.server


def test_shape_a_bf16_prediction_equals_server(cpu_server):
    report = asyncio.run(read_server_report(cpu_server.base_url))
    cache, version = report.cache, report.version
    plan = predict(cpu_server.spec, cpu_server.model_dir)
    assert version and cache is not None
    assert plan.kv_capacity_tokens == cache.kv_capacity_tokens
    assert (plan.num_blocks, plan.block_size) == (cache.num_gpu_blocks, cache.block_size)
    # 4 layers x 2 KV heads x head_dim 64, bf16, in 1 GiB: a figure the server computes on its own.
    assert cache.kv_capacity_tokens == 524_288


SHAPE_B = DeploymentSpec(
    name="tiny-llama-fp8",
    model=SynthModel(like="llama-3.1-70b", sizes={"layers": 6, "heads": 4, "kv_heads": 4, "head_dim": 128}),
    kv_cache_dtype="fp8",
    max_model_len=8192,
    cpu_kvcache_space_gib=2,
    startup_timeout_s=300,
    extra_args=EAGER,
)
needs_avx512 = pytest.mark.skipif(
    not (this_host().avx512 or this_host().amx),
    reason=f"vLLM's CPU fp8 KV cache needs AVX-512 or AMX; this host has "
    f"{this_host().isa} (test_shape_b_fp8_kv_equals_vllms_own_kv_sizing "
    "pins the same arithmetic without a server)",
)


@needs_avx512
def test_shape_b_fp8_kv_prediction_equals_server_and_is_recorded(tmp_path):
    spec = SHAPE_B
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


def test_external_endpoint_launches_nothing_and_is_predicted_from_what_it_reports(cpu_server, tmp_path):
    """The scenario's guesses (2 GiB of KV, max_model_len 2048) yield to the server's own report (1 GiB, 4096)."""
    spec = cpu_server.spec.model_copy(
        update={
            "endpoint": cpu_server.base_url,
            "model": str(cpu_server.model_dir),
            "cpu_kvcache_space_gib": 2,
            "max_model_len": 2048,
        }
    )
    record = asyncio.run(probe_deployment(spec, tmp_path))
    assert record.status == "ok" and record.argv is None and record.log_file is None
    assert record.capacity.predicted_tokens == record.capacity.reported_tokens == 524_288
    assert record.predicted["max_model_len"] == 4096
    assert (
        "max_model_len 4096" in record.predicted["assumptions"][0]
        and "read from it" in record.predicted["assumptions"][0]
    )
    unknown = asyncio.run(
        probe_deployment(cpu_server.spec.model_copy(update={"endpoint": cpu_server.base_url}), tmp_path)
    )
    assert unknown.capacity.reported_tokens == 524_288 and "model" in unknown.capacity.prediction_error


def test_shape_b_fp8_kv_equals_vllms_own_kv_sizing(tmp_path):
    """Runs on every host: vLLM's own KV-cache spec and block arithmetic (the functions its engine calls
    for the CPU backend) for shape B's layers in the same 2 GiB, against the planner's prediction.
    The shape is read from the written config.json, not from the planner."""
    from vllm.config import VllmConfig
    from vllm.utils.torch_utils import STR_DTYPE_TO_TORCH_DTYPE
    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend
    from vllm.v1.attention.backends.utils import resolve_kv_cache_layout
    from vllm.v1.core.kv_cache_utils import get_kv_cache_config_from_groups
    from vllm.v1.kv_cache_interface import FullAttentionSpec, KVCacheGroupSpec

    model_dir = materialize_model(SHAPE_B, tmp_path)
    config = json.loads((model_dir / "config.json").read_text())
    block = 128  # vLLM's CPU platform default block size
    spec = FullAttentionSpec(
        block_size=block,
        num_kv_heads=config["num_key_value_heads"],
        head_size=config["head_dim"],
        dtype=STR_DTYPE_TO_TORCH_DTYPE[SHAPE_B.kv_cache_dtype],
    )
    vllm_config = VllmConfig()
    resolve_kv_cache_layout(vllm_config, [[m.name for m in CPUAttentionBackend.supported_kv_cache_layouts()]], [spec])
    layers = [f"model.layers.{i}.self_attn.attn" for i in range(config["num_hidden_layers"])]
    kv = get_kv_cache_config_from_groups(
        vllm_config, [KVCacheGroupSpec(layers, spec)], SHAPE_B.cpu_kvcache_space_gib << 30
    )
    plan = predict(SHAPE_B, model_dir)
    assert (plan.num_blocks, plan.block_size) == (kv.num_blocks, block)
    assert plan.kv_capacity_tokens == kv.num_blocks * block == 349_440

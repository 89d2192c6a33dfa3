"""Command building, deployment validation and parsing of real vLLM output (captured in tests/data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from bench.observe.metrics import parse_cache_config
from bench.scenario.deployment import DeploymentSpec, RayTarget, SynthModel
from bench.server.argv import retarget_argv, server_argv, server_env
from bench.server.startup_log import failure_hint
from runfolder.server_log import parse_startup
from tests.paths import DATA

DATA = DATA


def flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def test_cpu_synthetic_deployment_command():
    spec = DeploymentSpec(name="tiny", model=SynthModel(), max_model_len=4096, kv_cache_dtype="fp8")
    argv = server_argv(spec, Path("/m"), 8123)
    assert argv[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert (flag(argv, "--model"), flag(argv, "--port"), flag(argv, "--host")) == ("/m", "8123", "127.0.0.1")
    assert (flag(argv, "--load-format"), flag(argv, "--kv-cache-dtype"), flag(argv, "--served-model-name")) == (
        "dummy",
        "fp8",
        "tiny",
    )
    assert "--gpu-memory-utilization" not in argv and "--enable-expert-parallel" not in argv
    assert server_env(spec, {"PATH": "/bin"}) == {
        "PATH": "/bin",
        "PYTHONUNBUFFERED": "1",
        "VLLM_CPU_KVCACHE_SPACE": "1",
    }


def test_gpu_seed_deployment_command():
    spec = DeploymentSpec(
        name="tp8-ep",
        model="/models/MiniMax-M2",
        device="gpu",
        tp=8,
        ep=True,
        gpu_memory_utilization=0.9,
        trust_remote_code=True,
        env={"SAFETENSORS_FAST_GPU": "1"},
        extra_args=["--compilation-config", '{"cudagraph_mode": "PIECEWISE"}'],
    )
    argv = server_argv(spec, Path("/models/MiniMax-M2"), 8000)
    assert (flag(argv, "--tensor-parallel-size"), flag(argv, "--gpu-memory-utilization")) == ("8", "0.9")
    assert "--enable-expert-parallel" in argv and "--trust-remote-code" in argv and "--load-format" not in argv
    assert argv[-2:] == ["--compilation-config", '{"cudagraph_mode": "PIECEWISE"}']
    env = server_env(spec, {})
    assert env == {"SAFETENSORS_FAST_GPU": "1", "PYTHONUNBUFFERED": "1"}


@pytest.mark.parametrize(
    "bad", [{"tp": 0}, {"unknown_key": 1}, {"device": "tpu"}, {"gpu_memory_utilization": 0.9}, {"name": "has space"}]
)
def test_bad_deployment_fields_are_rejected(bad):
    with pytest.raises(ValidationError):
        DeploymentSpec(**bad)


def test_parse_real_cpu_startup_logs():
    bf16 = parse_startup((DATA / "vllm-0.32.0-cpu-startup.log").read_text())
    assert (bf16.vllm_version, bf16.kv_cache_tokens, bf16.max_concurrency_len, bf16.max_concurrency) == (
        "0.32.0",
        524_288,
        4096,
        128.0,
    )
    assert bf16.explicit_kv_gib == 1.0
    fp8 = parse_startup((DATA / "vllm-0.32.0-cpu-startup-fp8kv.log").read_text())
    assert (fp8.kv_cache_tokens, fp8.max_concurrency) == (1_048_576, 256.0)


def test_parse_gpu_startup_lines():
    # Line formats vLLM's GPU worker prints (kv_cache_utils.py / gpu_worker.py).
    log = (
        "INFO [gpu_model_runner.py] Model loading took 53.75 GiB and 120.2 seconds\n"
        "INFO [gpu_worker.py] Available KV cache memory: 23.62 GiB\n"
        "INFO [kv_cache_utils.py] GPU KV cache size: 399,424 tokens\n"
        "INFO [kv_cache_utils.py] Maximum concurrency for 196,608 tokens per request: 2.03x\n"
    )
    facts = parse_startup(log)
    assert (facts.weights_gib, facts.available_kv_gib, facts.kv_cache_tokens, facts.max_concurrency) == (
        53.75,
        23.62,
        399_424,
        2.03,
    )


def test_parse_real_gpu_startup_log():
    # vLLM 0.26.0 on the lent H100 (results/gpu_single), MiniMax-M2 shape with 32 experts.
    facts = parse_startup((DATA / "vllm-0.26.0-h100-startup.log").read_text())
    assert (facts.vllm_version, facts.kv_cache_tokens, facts.max_concurrency) == ("0.26.0", 149_056, 1.14)
    assert (facts.gpu_total_gib, facts.requested_gib, facts.weights_gib) == (79.18, 71.26, 31.08)
    assert (facts.activation_peak_gib, facts.non_torch_gib) == (3.61, 0.25)
    assert (facts.cudagraph_estimate_gib, facts.cudagraph_actual_gib, facts.available_kv_gib) == (1.06, 1.18, 35.26)


def test_real_failure_log_gets_a_hint():
    log = (DATA / "vllm-0.32.0-cpu-max-model-len-error.log").read_text()
    assert "max_position_embeddings" in failure_hint(log)
    assert "PIECEWISE" in failure_hint("RuntimeError: CUDA error: an illegal memory access was encountered")


def test_parse_real_metrics_cache_config():
    info = parse_cache_config((DATA / "vllm-0.32.0-cpu-metrics.txt").read_text())
    assert (info.num_gpu_blocks, info.block_size, info.kv_cache_size_tokens) == (4096, 128, 524_288)
    assert info.kv_capacity_tokens == 524_288 and info.kv_cache_memory_bytes == 1 << 30
    assert parse_cache_config("# nothing here\n") is None


def test_ray_deployment_uses_vllms_ray_executor_on_gpu_and_mp_on_cpu():
    ray = RayTarget(address="10.0.0.1:6379")
    gpu = DeploymentSpec(name="big", device="gpu", tp=8, pp=2, ray=ray)
    argv = server_argv(gpu, Path("/m"), 8000)
    assert flag(argv, "--distributed-executor-backend") == "ray" and flag(argv, "--pipeline-parallel-size") == "2"
    assert "--distributed-executor-backend" not in server_argv(DeploymentSpec(name="c", ray=ray), Path("/m"), 1)
    moved = retarget_argv(argv, "/opt/py", model="/node/m", host="0.0.0.0", port=9)
    assert moved[0] == "/opt/py" and (flag(moved, "--model"), flag(moved, "--host"), flag(moved, "--port")) == (
        "/node/m",
        "0.0.0.0",
        "9",
    )
    assert moved[1:] != argv[1:] and len(moved) == len(argv)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ray": {"address": "h:1", "executor": "ray"}}, "CPU platform refuses the Ray executor"),
        ({"ray": {"address": "h:1"}, "endpoint": "http://x:8000"}, "give only one of them"),
        ({"ray": {"address": "h:1", "resources": {"gpu_node": "many"}}}, "resources.gpu_node"),
    ],
)
def test_bad_ray_deployments_are_refused_before_anything_runs(fields, message):
    with pytest.raises(ValidationError, match=message):
        DeploymentSpec(name="r", **fields)


def test_a_profiled_deployment_starts_with_vllms_torch_profiler_writing_into_the_run(tmp_path):
    spec = DeploymentSpec(name="tiny", model=SynthModel(), max_model_len=4096)
    assert "--profiler-config" not in server_argv(spec, Path("/m"), 8123)
    config = json.loads(flag(server_argv(spec, Path("/m"), 8123, tmp_path / "p"), "--profiler-config") or "")
    wanted = {"profiler": "torch", "torch_profiler_dir": str(tmp_path / "p"), "torch_profiler_with_stack": False}
    assert config == wanted

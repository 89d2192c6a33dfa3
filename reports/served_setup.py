"""What a deployment of a run served with, and where two runs' deployments of one name served differently.

A comparison between runs that served differently measures the change of setup as much as any regression - a
MoE router's bias on dummy weights (bench run's routing warning), the host's CPU under a lone prompt's TTFT
(results/perf_model/machine-spread.txt) - so `bench compare` names what changed beside the figures. Read from
the run folders only: run.json and the served model's config.json.
"""

from __future__ import annotations

import json

from reports.run_data import RunData
from runfolder.schema import PROFILER_FLAG, RUN_SPECIFIC_FLAGS, DeploymentRecord, EnvironmentInfo

UNTOLD_ENV = frozenset({"PYTHONUNBUFFERED"})  # the harness sets it on every server, for its log
HOST_PYTHON = "host Python"
# Two hosts' Python speeds (median ns a call) said to differ past this ratio: a quiet host's probes agree within
# ~1.1x (an H200's: 149-152 ns), while one H100 machine's ran 168 then 336 ns minutes apart - a host shared with other
# work, which a lone prompt's TTFT feels as much as another machine (results/perf_model/twenty-sixth/host-probe.txt)
HOST_PYTHON_RATIO = 1.5


def served_setup(run: RunData, d: DeploymentRecord) -> dict[str, str]:
    """The deployment's setup as comparable text: vLLM release, GPUs, host CPU and its Python speed (told as a
    change only past HOST_PYTHON_RATIO), server flags (less each run's paths and port), the environment it set, its
    MoE routing as planned, and each key of the served config.json."""
    setup = {
        "vLLM": d.vllm_version or "-",
        "machine GPUs": _gpus(run.record.environment),
        "host CPU": f"{run.record.environment.cpu_model or '-'} ({run.record.environment.cpu_isa or '-'})",
        HOST_PYTHON: _host_python(run.record.environment),
        "server flags": " ".join(_flags(d.argv or [])),
        "env": " ".join(f"{k}={v}" for k, v in sorted(d.env_set.items()) if k not in UNTOLD_ENV),
        "MoE routing": str((d.predicted or {}).get("moe_routing") or "-"),
    }
    config = run.folder / "models" / d.name / "config.json"
    if config.is_file():
        served = json.loads(config.read_text())
        setup |= {f"model config {key}": json.dumps(value, sort_keys=True) for key, value in served.items()}
    return setup


def setup_changes(a: RunData, b: RunData) -> list[str]:
    """'deployment: what: A -> B' for each setting in which the two runs' deployments of one name differ."""
    changes = []
    for da in a.record.deployments:
        db = next((d for d in b.record.deployments if d.name == da.name), None)
        if db is None:
            continue
        changes += changed_settings(da.name, served_setup(a, da), served_setup(b, db))
    return changes


def changed_settings(deployment: str, a: dict[str, str], b: dict[str, str]) -> list[str]:
    """'deployment: what: A -> B' for each setting of two setups (served_setup) that differs."""
    return [
        f"{deployment}: {key}: {a.get(key, '-')} -> {b.get(key, '-')}"
        for key in {**a, **b}  # a's order, then keys only b has
        if (_hosts_differ(a.get(key), b.get(key)) if key == HOST_PYTHON else a.get(key) != b.get(key))
    ]


def _host_python(environment: EnvironmentInfo) -> str:
    return environment.host_speed.describe() if environment.host_speed else "-"


def _hosts_differ(a: str | None, b: str | None) -> bool:
    """Two host Python figures (_host_python's text) whose medians are more than HOST_PYTHON_RATIO apart; a run
    from before schema 9 has none, which is no change."""
    medians = [float(text.split()[0]) for text in (a, b) if text and text != "-"]
    return len(medians) == 2 and max(medians) > HOST_PYTHON_RATIO * min(medians)


def _gpus(environment: EnvironmentInfo) -> str:
    names = [str(g.get("name")) for g in environment.gpus]
    return ", ".join(f"{names.count(n)} x {n}" for n in dict.fromkeys(names)) or "none"


def _flags(argv: list[str]) -> list[str]:
    """The server's flags and their values from its first flag on (the interpreter's path differs by machine),
    less RUN_SPECIFIC_FLAGS and their values."""
    start = next((i for i, arg in enumerate(argv) if arg.startswith("--")), len(argv))
    flags, skip = [], False
    for arg in argv[start:]:
        if skip:
            skip = False
            continue
        if arg in RUN_SPECIFIC_FLAGS:
            skip = True
            continue
        if arg == PROFILER_FLAG:  # its value names the run's own folder: that it profiled is the setup
            flags.append(f"{arg} (profiler on)")
            skip = True
            continue
        flags.append(arg)
    return flags

"""The model a deployment serves: a synthetic config-only model written into the run folder, or a model
folder given by path; and what this host's vLLM would refuse of it, known before anything starts."""

from __future__ import annotations

from pathlib import Path

from bench.scenario.deployment import DeploymentSpec, SynthModel
from bench.server.cpu_host import cpu_kv_refusal, this_host
from bench.server.synth_model import synth_config, write_synthetic_model
from planner import InputError, load_model, model_from_config


def materialize_model(spec: DeploymentSpec, run_dir: Path) -> Path:
    """A synthetic model is written into the run folder; a path must hold a config.json."""
    if isinstance(spec.model, SynthModel):
        return write_synthetic_model(
            run_dir / "models" / spec.name, spec.model.like, spec.model.sizes, spec.model.full, extra=spec.model.config
        )
    folder = Path(spec.model).expanduser()
    if not (folder / "config.json").is_file():
        raise InputError(
            f"deployments[{spec.name}].model",
            f"model folder {folder} has no config.json",
            "point at a local model directory, or use a synthetic model ({like: minimax-m2})",
        )
    return folder.resolve()


def host_refusal(spec: DeploymentSpec) -> tuple[str, str, str] | None:
    """(field, problem, value that fixes it) when this host's vLLM CPU build would refuse the deployment
    at start-up; checked before anything starts (reads a config at most: nothing written or launched)."""
    if spec.device != "cpu" or spec.endpoint or spec.ray:  # another machine's CPU decides
        return None
    if isinstance(spec.model, SynthModel):
        config = synth_config(spec.model.like, spec.model.sizes, spec.model.full, spec.model.config)
        model = model_from_config(config, name=spec.model.like, source="synthetic")
    elif (Path(spec.model).expanduser() / "config.json").is_file():
        model = load_model(str(Path(spec.model).expanduser()))
    else:
        return None  # materialize_model reports the missing folder
    refusal = cpu_kv_refusal(spec.kv_cache_dtype, model.head_dim, this_host())
    return ("kv_cache_dtype", refusal, "auto") if refusal else None

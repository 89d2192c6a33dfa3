"""`bench deploy render`: a scenario's deployments as Kubernetes manifests (written, never applied)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from bench.cli.errors import usage_error
from bench.scenario.errors import ScenarioError
from bench.scenario.loader import load_scenario
from bench.server.k8s_manifests import RenderOptions, render
from planner import PlanError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Deployment artefacts for a scenario.")
DEFAULT_IMAGE = "vllm/vllm-openai:latest"


@app.command("render")
def render_command(
    scenario_path: Annotated[Path, typer.Argument(metavar="SCENARIO", help="Scenario YAML.")],
    k8s: Annotated[bool, typer.Option("--k8s", help="Kubernetes manifests (the one target so far).")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder (default: k8s/<scenario>).")] = None,
    image: Annotated[str, typer.Option(help="vLLM server image.")] = DEFAULT_IMAGE,
    model: Annotated[
        str | None, typer.Option(help="Model to serve (HF id or path in the pod); required for synthetic models.")
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="metadata.namespace for every object.")] = None,
    gpus_per_node: Annotated[int, typer.Option(help="GPUs per node: more per deployment -> LeaderWorkerSet.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifests as JSON; write nothing.")] = False,
) -> None:
    """Write one multi-document YAML per deployment: Deployment + Service, or LeaderWorkerSet + Service."""
    if not k8s:
        raise usage_error("--k8s: no target chosen; fix: pass --k8s (the one target so far)")
    try:
        scenario = load_scenario(scenario_path)
        options = RenderOptions(image, model, namespace, gpus_per_node)
        rendered = {spec.name: render(spec, options) for spec in scenario.deployments}
    except (ScenarioError, PlanError) as exc:
        raise usage_error(exc) from None
    if as_json:
        typer.echo(json.dumps(rendered, indent=2))
        return
    folder = out or Path("k8s") / scenario.name
    folder.mkdir(parents=True, exist_ok=True)
    for name, manifests in rendered.items():
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
        kinds = " + ".join(m["kind"] for m in manifests)
        typer.echo(f"{path}: {kinds}")

"""`bench deploy render --k8s`: manifests checked against published schemas (Kubernetes 1.33 core
schemas from the kubernetes-validate package, strict; LeaderWorkerSet v1 from its CRD), no cluster."""

from __future__ import annotations

import copy
import importlib.resources
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from referencing import Registry, Resource

from bench.scenario.deployment import DeploymentSpec
from bench.server.k8s_manifests import RenderOptions, render
from planner import InputError, LayoutRejected
from tests.paths import DATA, REPO

K8S = "1.33"
LWS_SCHEMA = json.loads((DATA / "k8s" / "leaderworkerset-v1.schema.json").read_text())


def _lws_validator() -> jsonschema.Draft202012Validator:
    folder = importlib.resources.files("kubernetes_validate") / f"kubernetes-json-schema/v{K8S}.0-local-strict"
    definitions = Resource.from_contents(json.loads((folder / "_definitions.json").read_text()))
    return jsonschema.Draft202012Validator(LWS_SCHEMA, registry=definitions @ Registry())


def validate(manifest: dict) -> None:
    if manifest["kind"] == "LeaderWorkerSet":
        _lws_validator().validate(manifest)
    else:
        kubernetes_validate.validate(manifest, K8S, strict=True)


def _render_cli(tmp_path: Path, scenario: str, *extra: str) -> dict[str, list[dict]]:
    out = tmp_path / "k8s"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "deploy",
            "render",
            str(REPO / scenario),
            "--k8s",
            "--out",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return {p.stem: list(yaml.safe_load_all(p.read_text())) for p in sorted(out.glob("*.yaml"))}


def test_single_node_deployments_are_a_deployment_and_a_service(tmp_path):
    rendered = _render_cli(tmp_path, "scenarios/long_ctx.yaml", "--model", "MiniMaxAI/MiniMax-M2")
    assert sorted(rendered) == ["tp4", "tp8-ep"]
    for name, manifests in rendered.items():
        assert [m["kind"] for m in manifests] == ["Deployment", "Service"]
        for manifest in manifests:
            validate(manifest)
        pod = manifests[0]["spec"]["template"]["spec"]["containers"][0]
        assert pod["resources"]["limits"] == {"nvidia.com/gpu": "4" if name == "tp4" else "8"}
        assert pod["command"][pod["command"].index("--model") + 1] == "MiniMaxAI/MiniMax-M2"
        assert "--load-format" not in pod["command"]  # the named model's real weights
        assert {"name": "SAFETENSORS_FAST_GPU", "value": "1"} in pod["env"]
    assert "--enable-expert-parallel" in rendered["tp8-ep"][0]["spec"]["template"]["spec"]["containers"][0]["command"]


def test_two_node_deployment_is_a_leader_worker_set_with_vllms_multi_node_launcher(tmp_path):
    manifests = _render_cli(
        tmp_path, "scenarios/multinode_ray.yaml", "--model", "MiniMaxAI/MiniMax-M2", "--namespace", "inference"
    )["minimax-tp8-pp2-ep"]
    assert [m["kind"] for m in manifests] == ["LeaderWorkerSet", "Service"]
    for manifest in manifests:
        validate(manifest)
        assert manifest["metadata"]["namespace"] == "inference"
    group = manifests[0]["spec"]["leaderWorkerTemplate"]
    assert group["size"] == 2  # the planner's placement: TP8 x PP2 on nodes of 8
    leader = group["leaderTemplate"]["spec"]["containers"][0]
    worker = group["workerTemplate"]["spec"]["containers"][0]
    assert leader["command"][-2:] == ["--node-rank", "0"] and "readinessProbe" in leader
    assert worker["command"][-3:] == ["--node-rank", "$(LWS_WORKER_INDEX)", "--headless"]
    assert "readinessProbe" not in worker and "ports" not in worker
    assert "--distributed-executor-backend" not in leader["command"]  # mp launcher inside pods, not Ray
    assert leader["resources"]["limits"] == worker["resources"]["limits"] == {"nvidia.com/gpu": "8"}
    assert manifests[1]["spec"]["selector"]["role"] == "leader"


@pytest.mark.parametrize(
    "breakage",
    [
        lambda m: m["spec"]["leaderWorkerTemplate"].update(sizee=2),
        lambda m: m["spec"]["leaderWorkerTemplate"].update(restartPolicy="Always"),
        lambda m: m["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"].update(containers=[{"image": "x"}]),
        lambda m: m["spec"]["leaderWorkerTemplate"].pop("workerTemplate"),
    ],
)
def test_the_schema_check_catches_a_broken_leader_worker_set(breakage):
    spec = DeploymentSpec(name="big", device="gpu", tp=8, pp=2, model="org/model")
    manifest = render(spec, RenderOptions("img", None, None, 8))[0]
    validate(manifest)
    broken = copy.deepcopy(manifest)
    breakage(broken)
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_the_schema_check_catches_a_broken_deployment():
    manifest = render(
        DeploymentSpec(name="one", device="gpu", tp=2, model="org/model"), RenderOptions("img", None, None, 8)
    )[0]
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = [2]
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(manifest)


def test_what_cannot_be_rendered_is_refused_with_the_reason():
    options = RenderOptions("img", None, None, 8)
    with pytest.raises(InputError, match="synthetic model"):
        render(DeploymentSpec(name="s", device="gpu", tp=2), options)
    with pytest.raises(InputError, match=r"fill nodes unevenly \(8 \+ 4\)"):
        render(DeploymentSpec(name="odd", device="gpu", tp=4, pp=3, model="m"), options)
    with pytest.raises(LayoutRejected, match="span nodes"):
        render(DeploymentSpec(name="wide", device="gpu", tp=16, model="m"), options)
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli", "deploy", "render", str(REPO / "scenarios/smoke.yaml"), "--k8s"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--model" in done.stderr

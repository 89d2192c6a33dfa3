"""Kubernetes manifests for a scenario's deployment (plain data; nothing is applied to a cluster).

One node's worth of GPUs: a Deployment and a Service. More (the planner's placement says how many
nodes): a LeaderWorkerSet whose group is one vLLM instance, one pod per node, started with vLLM's own
multi-node launcher (`--nnodes/--node-rank/--master-addr`, mp executor): the leader is node 0 and
serves HTTP, workers run headless with their rank from the LWS_WORKER_INDEX that LWS injects. The
Service selects leaders only.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from pathlib import Path
from typing import Any

from bench.scenario.deployment import DeploymentSpec, SynthModel
from bench.server.argv import retarget_argv, server_argv
from planner import InputError
from planner.placement import place

PORT = 8000
LWS_API = "leaderworkerset.x-k8s.io/v1"
SHM_GIB = 16  # NCCL and vLLM's shared-memory broadcast need more than the container default 64 MiB


@dataclass(frozen=True)
class RenderOptions:
    image: str
    model: str | None  # what the pods serve; required when the scenario's model is synthetic
    namespace: str | None
    gpus_per_node: int


def render(spec: DeploymentSpec, options: RenderOptions) -> list[dict[str, Any]]:
    """The manifests for one deployment, in apply order."""
    if spec.endpoint:
        raise InputError(
            f"deployments[{spec.name}].endpoint",
            "an endpoint deployment is already running",
            "render deployments the harness launches",
        )
    layout = spec.layout
    placement = place(layout, options.gpus_per_node)  # raises where a TP group would straddle nodes
    name = spec.name.lower().replace("_", "-").replace(".", "-")
    argv = _serve_argv(spec, options)
    per_node = [n.gpus_used for n in placement.nodes]
    if len(set(per_node)) > 1:
        raise InputError(
            f"deployments[{spec.name}]",
            f"{layout.gpus} GPUs fill nodes unevenly "
            f"({' + '.join(map(str, per_node))}); vLLM's multi-node launcher gives every node the "
            "same number of ranks",
            f"use a layout whose GPU count is a multiple of --gpus-per-node {options.gpus_per_node}",
        )
    if len(placement.nodes) == 1:
        workload = _deployment(name, spec, options, argv, gpus=layout.gpus)
    else:
        workload = _leader_worker_set(
            name,
            spec,
            options,
            argv,
            nodes=len(placement.nodes),
            gpus_per_pod=max(n.gpus_used for n in placement.nodes),
        )
    return [workload, _service(name, options, leaders_only=len(placement.nodes) > 1)]


def _serve_argv(spec: DeploymentSpec, options: RenderOptions) -> list[str]:
    model = options.model or (None if isinstance(spec.model, SynthModel) else spec.model)
    if model is None:
        raise InputError(
            "--model",
            f"deployment {spec.name} uses a synthetic model, which exists only during a run",
            "pass --model with a Hugging Face id or a path inside the image/volume",
        )
    # the pod serves the named model (real weights unless load_format says otherwise), launched by
    # vLLM's own multi-node mp launcher: a scenario's Ray executor does not apply inside the pods
    served = spec.model_copy(update={"host": "0.0.0.0", "model": str(model), "ray": None})
    return retarget_argv(server_argv(served, Path(model), PORT), "python3")


def _meta(name: str, options: RenderOptions, labels: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = {
        "name": name,
        "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "vllm-bench", **(labels or {})},
    }
    return meta | ({"namespace": options.namespace} if options.namespace else {})


def _container(
    name: str, spec: DeploymentSpec, options: RenderOptions, command: list[str], *, gpus: int, serves: bool
) -> dict[str, Any]:
    gpu = {"nvidia.com/gpu": str(gpus)} if spec.device == "gpu" else {}
    container = {
        "name": name,
        "image": options.image,
        "command": command,  # Kubernetes expands $(LWS_...) in it
        "env": [{"name": k, "value": v} for k, v in {"PYTHONUNBUFFERED": "1", **spec.env}.items()],
        "resources": {"limits": gpu, "requests": dict(gpu)} if gpu else {},
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
    }
    if serves:  # startup may take most of startup_timeout_s (weights, compile, CUDA graphs)

        def probe() -> dict[str, Any]:
            return {"httpGet": {"path": "/health", "port": PORT}, "periodSeconds": 10}

        container |= {
            "ports": [{"containerPort": PORT, "name": "http"}],
            "readinessProbe": probe(),
            "startupProbe": probe() | {"failureThreshold": ceil(spec.startup_timeout_s / 10)},
        }
    return container


def _pod_spec(containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "containers": containers,
        "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{SHM_GIB}Gi"}}],
    }


def _deployment(
    name: str, spec: DeploymentSpec, options: RenderOptions, argv: list[str], *, gpus: int
) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, options),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "Recreate"},  # a rolling update would need twice the GPUs
            "template": {
                "metadata": {"labels": selector},
                "spec": _pod_spec([_container("vllm", spec, options, argv, gpus=gpus, serves=True)]),
            },
        },
    }


def _leader_worker_set(
    name: str, spec: DeploymentSpec, options: RenderOptions, argv: list[str], *, nodes: int, gpus_per_pod: int
) -> dict[str, Any]:
    group = ["--nnodes", "$(LWS_GROUP_SIZE)", "--master-addr", "$(LWS_LEADER_ADDRESS)"]
    leader = argv + group + ["--node-rank", "0"]
    worker = argv + group + ["--node-rank", "$(LWS_WORKER_INDEX)", "--headless"]
    labels = {"app.kubernetes.io/name": name}

    def template(role: str, command: list[str]) -> dict[str, Any]:
        container = _container(f"vllm-{role}", spec, options, command, gpus=gpus_per_pod, serves=role == "leader")
        return {"metadata": {"labels": labels | {"role": role}}, "spec": _pod_spec([container])}

    return {
        "apiVersion": LWS_API,
        "kind": "LeaderWorkerSet",
        "metadata": _meta(name, options),
        "spec": {
            "replicas": 1,
            "startupPolicy": "LeaderCreated",
            "leaderWorkerTemplate": {
                "size": nodes,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": template("leader", leader),
                "workerTemplate": template("worker", worker),
            },
        },
    }


def _service(name: str, options: RenderOptions, leaders_only: bool) -> dict[str, Any]:
    selector = {"app.kubernetes.io/name": name} | ({"role": "leader"} if leaders_only else {})
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, options),
        "spec": {"selector": selector, "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]},
    }

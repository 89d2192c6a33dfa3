"""A deployment on an existing Ray cluster: the harness connects as a Ray driver, places one small actor
(node/server_host.py, ServerHost) where the scenario's resources say, and that actor runs `vllm serve`
on its node. With the Ray executor, vLLM then spreads its own workers over the cluster's GPUs; the harness
never manages the cluster, only this deployment's actor and server.

`ray` is an optional dependency (pip install 'vllm-capacity-bench[ray]'); it is imported here only.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path
from typing import Any

from bench.scenario.deployment import DeploymentSpec, RayTarget
from bench.server.argv import retarget_argv
from bench.server.launch.node import process_group, server_host, server_supervisor
from bench.server.launch.protocol import TERM_GRACE_S, ServerProcess, ServerStartError

NAMESPACE = "vllm-capacity-bench"
POLL_S = 0.5


def _ray() -> Any:  # the ray module (optional dependency, imported here only)
    try:
        import ray
    except ImportError as exc:  # not installed, or installed without one of its own dependencies
        raise ServerStartError(
            f"this deployment names a Ray cluster but ray cannot be imported ({exc})",
            hint="pip install 'vllm-capacity-bench[ray]' (or pip install ray)",
        ) from None
    return ray


def _reachable(address: str) -> None:
    """ray.init waits minutes on an address nobody listens at: try the head's port first."""
    host, _, port = address.rpartition(":")
    if not port.isdigit() or "://" in address:
        return  # "auto", ray:// client addresses: let Ray resolve them
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise ServerStartError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}",
            hint="start it (ray start --head) or fix ray.address",
        ) from None


class RemoteProcess:
    """Stands in for the local process: pid (on its node), returncode, wait(); copies the log home."""

    def __init__(self, actor: Any, pid: int, log_path: Path) -> None:
        self.actor, self.pid, self.log_path = actor, pid, log_path
        self.returncode: int | None = None
        self._offset = 0
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:  # a level's watcher and the start-up loop may both ask
            try:
                code = await self.actor.poll.remote()
                chunk = await self.actor.read_log.remote(self._offset)
            except Exception as exc:  # noqa: BLE001 - RayActorError and friends: the node or actor is gone
                if self.returncode is None:
                    self.returncode = -1
                    with open(self.log_path, "ab") as log:
                        log.write(f"\n[bench] Ray actor lost: {type(exc).__name__}: {exc}\n".encode())
                return
            if chunk:
                with open(self.log_path, "ab") as log:
                    log.write(chunk)
                self._offset += len(chunk)
            self.returncode = code

    async def wait(self) -> int:
        while self.returncode is None:
            await self.refresh()
            if self.returncode is None:
                await asyncio.sleep(POLL_S)
        return self.returncode


class RayLauncher:
    local = False

    def __init__(self, spec: DeploymentSpec, target: RayTarget, model_dir: Path, ship_model: bool) -> None:
        self.spec, self.target, self.model_dir, self.ship_model = spec, target, model_dir, ship_model
        self.actor_name = f"vllm-{spec.name}-{uuid.uuid4().hex[:8]}"
        self.node: dict[str, Any] | None = None  # where the server ran (ip, node_id, workdir), once placed
        self.actor: Any = None  # the ServerHost actor handle, once placed

    async def launch(
        self, argv: list[str], env: dict[str, str], log_path: Path, timeout_s: float
    ) -> tuple[ServerProcess, list[str], str | None]:
        ray = _ray()
        await asyncio.to_thread(self._connect, ray)
        try:
            self._check_resources(ray.cluster_resources())
            self.actor = self._actor_class(ray).options(name=self.actor_name, namespace=NAMESPACE).remote()
            return await self._start_server(argv, env, log_path, timeout_s)
        except BaseException:  # no server to stop yet: drop the actor if any, leave the cluster as it was
            if self.actor is not None:
                ray.kill(self.actor)
            await asyncio.to_thread(ray.shutdown)
            raise

    async def _start_server(
        self, argv: list[str], env: dict[str, str], log_path: Path, timeout_s: float
    ) -> tuple[ServerProcess, list[str], str | None]:
        try:
            node: dict[str, Any] = await asyncio.wait_for(self.actor.where.remote(), timeout_s)
            self.node = node = node | {"actor": self.actor_name}
        except TimeoutError:
            raise ServerStartError(
                f"Ray could not place the server within {timeout_s:.0f} s (resources {self.target.resources} busy?)",
                hint="ray status shows what is free",
            ) from None
        model = await self._model_on_node(node["ip"])
        port = self.spec.port or await self.actor.free_port.remote()
        argv = retarget_argv(
            argv, python=self.spec.python or str(node["python"]), model=model, host="0.0.0.0", port=port
        )
        scripts = {
            Path(str(m.__file__)).name: Path(str(m.__file__)).read_text() for m in (server_supervisor, process_group)
        }
        pid = await self.actor.start.remote(argv, {**env, "RAY_ADDRESS": node["gcs_address"]}, scripts, TERM_GRACE_S)
        return RemoteProcess(self.actor, pid, log_path), argv, f"http://{node['ip']}:{port}"

    def _connect(self, ray: Any) -> None:
        _reachable(self.target.address)
        if not ray.is_initialized():
            try:  # in a thread: Ray keeps off our SIGTERM handler (and would say so at WARNING)
                ray.init(address=self.target.address, namespace=NAMESPACE, log_to_driver=False, logging_level="ERROR")
            except Exception as exc:  # noqa: BLE001 - version mismatch, auth, a GCS that is not Ray's, ...
                raise ServerStartError(
                    f"cannot join the Ray cluster at {self.target.address}: {exc}",
                    hint="the driver's ray and Python versions must match the cluster's",
                ) from None
        # ship the node-side code by value: cluster nodes need vLLM, not this harness
        for module in (process_group, server_host):
            ray.cloudpickle.register_pickle_by_value(module)

    def _actor_class(self, ray: Any) -> Any:
        # num_cpus=0: the actor only supervises; vLLM's own Ray workers claim the GPUs
        return ray.remote(num_cpus=0, max_restarts=0, resources=dict(self.target.resources) or None)(
            server_host.ServerHost
        )

    def _check_resources(self, cluster: dict[str, float]) -> None:
        """Fail before placing anything when the cluster cannot hold the deployment at all."""
        needed = dict(self.target.resources)
        if self.spec.ray_executor == "ray":
            needed["GPU"] = needed.get("GPU", 0) + self.spec.layout.gpus
        short = {k: (v, cluster.get(k, 0)) for k, v in needed.items() if cluster.get(k, 0) < v}
        if short:
            have = ", ".join(f"{k}: needs {v:g}, cluster has {c:g}" for k, (v, c) in short.items())
            raise ServerStartError(
                f"Ray cluster at {self.target.address} is too small ({have})",
                hint="add nodes, or change the deployment's layout or ray.resources",
            )

    async def _model_on_node(self, ip: str) -> str:
        if self.ship_model:  # a synthetic model (config + tokenizer) is small: copy it to the node
            files = {p.name: p.read_bytes() for p in self.model_dir.iterdir() if p.is_file()}
            return str(await self.actor.write_files.remote(files))
        if not await self.actor.has_path.remote(str(self.model_dir)):
            raise ServerStartError(
                f"model folder {self.model_dir} is not on Ray node {ip}",
                hint="put the model on storage every node mounts at the same path",
            )
        return str(self.model_dir)

    async def refresh(self, process: ServerProcess | None) -> None:
        if isinstance(process, RemoteProcess):
            await process.refresh()

    async def stop(self, process: ServerProcess) -> None:
        ray = _ray()
        try:
            await self.actor.stop.remote(TERM_GRACE_S)
        except Exception:  # noqa: BLE001 - actor already gone: its server went with it (parent-death signal)
            pass
        if isinstance(process, RemoteProcess):
            await process.refresh()
        try:
            await self.actor.discard.remote()
        except Exception:  # noqa: BLE001 - same: nothing left to clean on a lost node
            pass
        ray.kill(self.actor)
        await asyncio.to_thread(ray.shutdown)

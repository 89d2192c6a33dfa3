"""What runs on a Ray node for one deployment: the `vllm serve` process, its log, its teardown.

Standard library only: the harness ships this module to the cluster by value (cloudpickle), so
nodes need vLLM but not the harness. The server runs under bench/server/launch/node/server_supervisor.py (shipped as a
file), which tears its whole session down when this actor goes, even when Ray kills it without warning.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.server.launch.node.process_group import alive, signal_group


class ServerHost:
    """A Ray actor (the harness wraps it with ray.remote): one vLLM server on the node Ray placed it."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="vllm-bench-"))
        self.log_path = self.workdir / "server.log"
        self.supervisor_pid: int | None = None
        self.server_pid: int | None = None

    def where(self) -> dict[str, Any]:
        import ray  # present on every Ray worker

        context = ray.get_runtime_context()
        return {
            "ip": ray.util.get_node_ip_address(),  # type: ignore[no-untyped-call]
            "node_id": context.get_node_id(),
            "gcs_address": context.gcs_address,
            "workdir": str(self.workdir),
            "python": sys.executable,
        }

    def free_port(self) -> int:
        with socket.socket() as sock:
            sock.bind(("0.0.0.0", 0))
            return int(sock.getsockname()[1])

    def write_files(self, files: dict[str, bytes]) -> str:
        """A small model folder (config, tokenizer) copied to this node; returns its path here."""
        folder = self.workdir / "model"
        folder.mkdir(exist_ok=True)
        for name, data in files.items():
            (folder / Path(name).name).write_bytes(data)
        return str(folder)

    def has_path(self, path: str) -> bool:
        return Path(path, "config.json").is_file()

    def start(self, argv: list[str], env: dict[str, str], scripts: dict[str, str], grace_s: float) -> int:
        """Starts the server under server_supervisor.py (shipped in `scripts` with the module it imports);
        returns the server's pid (= its session id)."""
        for name, source in scripts.items():
            (self.workdir / name).write_text(source)
        script = self.workdir / "server_supervisor.py"
        with open(self.log_path, "ab") as log:
            subprocess.run(
                [argv[0], str(script), str(self.workdir), str(grace_s), "--", *argv],
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                check=True,
                timeout=60,
            )  # returns once it has forked away
        deadline = time.monotonic() + 30
        while not self._file("server.pid") and time.monotonic() < deadline:
            time.sleep(0.05)
        supervisor, server = self._file("supervisor.pid"), self._file("server.pid")
        if supervisor is None or server is None:
            raise RuntimeError(f"the server supervisor did not start within 30 s (see {self.log_path})")
        self.supervisor_pid, self.server_pid = int(supervisor), int(server)
        return self.server_pid

    def _file(self, name: str) -> str | None:
        path = self.workdir / name
        return path.read_text() if path.exists() else None

    def poll(self) -> int | None:
        """The server's exit code once the supervisor has torn its session down, else None."""
        if self.supervisor_pid is None:
            return None
        code = self._file("exit_code")
        if code is not None:
            return int(code)
        return None if alive(self.supervisor_pid) else -1

    def read_log(self, offset: int) -> bytes:
        if not self.log_path.exists():
            return b""
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read()

    def stop(self, grace_s: float) -> int | None:
        """The supervisor does the SIGTERM-grace-SIGKILL of the server's session; this only backs it up."""
        if self.supervisor_pid is None:
            return None
        try:
            os.kill(self.supervisor_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace_s + 10
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.server_pid is not None:
            signal_group(self.server_pid, signal.SIGKILL)
        return self.poll()

    def discard(self) -> None:
        """The node keeps nothing of the deployment: the log was copied home, the model was a copy."""
        shutil.rmtree(self.workdir, ignore_errors=True)

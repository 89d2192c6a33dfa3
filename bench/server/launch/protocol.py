"""What a launcher is: where a `vllm serve` process runs and how it is started, watched and stopped.

One file per launcher (local.py: this machine; ray_cluster.py: a node of an existing Ray cluster);
VllmServer (bench/server/vllm_server.py) drives any of them the same way. Files under node/ are
shipped to cluster nodes and use the standard library only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

TERM_GRACE_S = 20.0  # SIGTERM to SIGKILL, for every launcher


class ServerStartError(RuntimeError):
    """The server did not become ready; `log_path` keeps everything it printed."""

    def __init__(self, message: str, log_path: Path | None = None, tail: str = "", hint: str | None = None) -> None:
        text = message + (f"\n--- last lines of {log_path} ---\n{tail}" if tail else "")
        super().__init__(text + (f"\nhint: {hint}" if hint else ""))
        self.reason, self.log_path, self.hint = message, log_path, hint


class ServerProcess(Protocol):
    """The launched server as the harness watches it: asyncio's Process, or a remote stand-in."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


class Launcher(Protocol):
    local: bool  # the server's processes and GPUs are this machine's (NVML and /proc describe them)
    node: dict[str, Any] | None  # where a remote server ran (ip, node id, workdir), for run.json

    async def launch(
        self, argv: list[str], env: dict[str, str], log_path: Path, timeout_s: float
    ) -> tuple[ServerProcess, list[str], str | None]:
        """Start the server; returns it, the argv as run there and the base URL when the launcher picks it."""
        ...

    async def refresh(self, process: ServerProcess | None) -> None:
        """Bring returncode and the log copy up to date (a remote server's live elsewhere)."""
        ...

    async def stop(self, process: ServerProcess) -> None:
        """Tear the server and everything it started down."""
        ...

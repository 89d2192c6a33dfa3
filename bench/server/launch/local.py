"""vLLM on this machine: a child process in its own session, so its whole group can be signalled as one;
teardown SIGTERMs the group, waits, then SIGKILLs what is left."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from bench.server.launch.node.process_group import group_alive, signal_group
from bench.server.launch.protocol import TERM_GRACE_S, ServerProcess


class LocalLauncher:
    """vLLM as a child of this process, in its own session (so its group can be signalled as one).

    `cores`: the CPUs the server (and every process it starts) may run on; None leaves the mask as is."""

    local = True

    def __init__(self, cores: tuple[int, ...] | None = None) -> None:
        self.cores = cores
        self.node: dict[str, Any] | None = None  # a local server has no remote node to record

    async def launch(
        self, argv: list[str], env: dict[str, str], log_path: Path, timeout_s: float
    ) -> tuple[ServerProcess, list[str], str | None]:
        # A child inherits the affinity of the thread that forks it: narrow this thread's mask for the
        # fork alone, so the server is on its cores from its first instruction (no window, no preexec_fn).
        before = os.sched_getaffinity(0)
        if self.cores:
            os.sched_setaffinity(0, self.cores)
        try:
            with open(log_path, "ab") as log:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
        finally:
            if self.cores:
                os.sched_setaffinity(0, before)
        return process, argv, None

    async def refresh(self, process: ServerProcess | None) -> None:
        """Nothing to fetch: returncode is kept current by asyncio and the log is written here."""

    async def stop(self, process: ServerProcess) -> None:
        """SIGTERM the process group, wait up to TERM_GRACE_S, SIGKILL whatever remains."""
        group = process.pid  # start_new_session: the leader's pid is the group id
        signal_group(group, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), TERM_GRACE_S)
        except TimeoutError:
            pass
        deadline = time.monotonic() + 5
        while group_alive(group) and time.monotonic() < deadline:
            signal_group(group, signal.SIGKILL)
            await asyncio.sleep(0.1)
        if process.returncode is None:
            await process.wait()

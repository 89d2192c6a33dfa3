"""One vLLM server's life: launched, ready on /health (or /v1/models) or failed fast, torn down.

External mode (`endpoint`) launches nothing and only waits for readiness. Where the process runs is
the launcher's business (bench/server/launch/: on this machine, or on a node of a Ray cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.server.cpu_host import CoreSplit
from bench.server.launch.local import LocalLauncher
from bench.server.launch.protocol import Launcher, ServerProcess, ServerStartError
from bench.server.secrets import auth_headers
from bench.server.startup_log import crash_reason, failure_hint, log_tail

HEALTH_POLL_S = 0.5
WAIT_NOTICE_S = 5.0  # a readiness wait longer than this says what it waits for, then every WAIT_REPEAT_S
WAIT_REPEAT_S = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class VllmServer:
    """`async with VllmServer(base_url, argv=..., ...) as server:` - ready inside the block."""

    def __init__(
        self,
        base_url: str,
        *,
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        startup_timeout_s: float = 600.0,
        launcher: Launcher | None = None,
        cores: CoreSplit | None = None,
    ) -> None:
        """No argv: external mode (a running server at base_url). `cores`: a local CPU server's cores vs
        the client's (bench/server/cpu_host.py), already given to the launcher."""
        self.argv, self.env, self.log_path, self.base_url = argv, env, log_path, base_url.rstrip("/")
        self.startup_timeout_s, self.cores = startup_timeout_s, cores
        self.launcher: Launcher = launcher or LocalLauncher()
        self.process: ServerProcess | None = None
        self.ready_after_s: float | None = None
        self.ready_via: str | None = None  # the readiness route that answered: /health, or /v1/models
        self.on_wait: Callable[[str], None] = lambda message: None  # told what a long start-up waits for

    @property
    def external(self) -> bool:
        return self.argv is None

    async def __aenter__(self) -> VllmServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        started = time.perf_counter()
        try:
            if self.argv is not None and self.log_path is not None:  # not external
                await self._launch(self.argv, self.log_path)
            await self._wait_ready(started)
        except BaseException:  # includes CancelledError from Ctrl-C: never leave a server behind
            await self.stop()
            raise
        self.ready_after_s = time.perf_counter() - started

    async def _launch(self, argv: list[str], log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.process, self.argv, base_url = await self.launcher.launch(
            argv, self.env or {}, log_path, self.startup_timeout_s
        )
        self.base_url = (base_url or self.base_url).rstrip("/")

    async def _wait_ready(self, started: float) -> None:
        deadline, notice = started + self.startup_timeout_s, started + WAIT_NOTICE_S
        async with aiohttp.ClientSession() as session:
            while True:
                await self.launcher.refresh(self.process)
                if self.process is not None and self.process.returncode is not None:
                    raise self._failure(f"vLLM exited with code {self.process.returncode} during start-up")
                if await self._ready(session):
                    await self.launcher.refresh(self.process)  # the log up to "ready", for started_record
                    return
                now = time.perf_counter()
                if now > deadline:
                    raise self._failure(f"{self.base_url}/health not ready after {self.startup_timeout_s:.0f} s")
                if now > notice:
                    self.on_wait(self._waiting_for(now - started))
                    notice = now + WAIT_REPEAT_S
                await asyncio.sleep(HEALTH_POLL_S)

    def _waiting_for(self, waited_s: float) -> str:
        what = "the server at" if self.external else "vLLM to start:"
        log = "" if self.log_path is None else f"; its log: {self.log_path.name}"
        return (
            f"waiting for {what} {self.base_url}/health (or /v1/models) not ready after {waited_s:.0f} of "
            f"{self.startup_timeout_s:.0f} s{log}"
        )

    async def _ready(self, session: aiohttp.ClientSession) -> bool:
        """vLLM's /health answers 200 once the engine is up. An OpenAI-compatible server without one
        (404/405) is ready when /v1/models answers: not every server has vLLM's routes."""
        status = await self._status(session, "/health")
        if status == 200:
            self.ready_via = "/health"
        elif status in (404, 405) and await self._status(session, "/v1/models", auth_headers()) == 200:
            self.ready_via = "/v1/models"
        return self.ready_via is not None

    async def _status(
        self, session: aiohttp.ClientSession, route: str, headers: dict[str, Any] | None = None
    ) -> int | None:
        try:
            async with session.get(
                f"{self.base_url}{route}", headers=headers, timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                return response.status
        except (TimeoutError, aiohttp.ClientError, OSError):
            return None

    def _failure(self, message: str) -> ServerStartError:
        why, hint = self.explain(message)
        return ServerStartError(why, self.log_path, log_tail(self.log_text()), hint)

    def explain(self, message: str) -> tuple[str, str | None]:
        """`message` with vLLM's own reason from its log (a dead worker's signal, the crashing frame),
        and a hint for a failure vLLM is known to print."""
        text = self.log_text()
        reason = crash_reason(text)
        return (f"{message}: {reason}" if reason else message), failure_hint(text)

    async def exit_after_failures(self, grace_s: float) -> int | None:
        """After a level with failed requests: the server's exit code if it is dying (vLLM shuts down a
        moment after a worker dies, so the level may end first), None while /health still answers."""
        if self.process is None:
            return None
        await self.launcher.refresh(self.process)
        if self.process.returncode is None:
            async with aiohttp.ClientSession() as session:
                if await self._status(session, "/health") == 200:
                    return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.process.wait()), grace_s)
        return self.process.returncode

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    async def stop(self) -> None:
        if self.process is not None:
            await self.launcher.stop(self.process)

"""One vLLM server's life: start in its own process group, ready on /health or fail fast, tear down.

External mode (`endpoint`) launches nothing and only waits for /health. Teardown sends SIGTERM to
the whole process group (API server, engine core, workers), waits, then SIGKILLs what is left.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

import aiohttp

from bench.server_log import failure_hint, log_tail

HEALTH_POLL_S = 0.5
TERM_GRACE_S = 20.0


class ServerStartError(RuntimeError):
    """The server did not become ready; `log_path` keeps everything it printed."""

    def __init__(self, message: str, log_path: Path | None = None, tail: str = "", hint: str | None = None) -> None:
        text = message + (f"\n--- last lines of {log_path} ---\n{tail}" if tail else "")
        super().__init__(text + (f"\nhint: {hint}" if hint else ""))
        self.reason, self.log_path, self.hint = message, log_path, hint


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class VllmServer:
    """`async with VllmServer(argv, env, log_path, base_url) as server:` - ready inside the block."""

    def __init__(self, argv: list[str] | None, env: dict[str, str] | None, log_path: Path | None, base_url: str,
                 startup_timeout_s: float = 600.0) -> None:
        self.argv, self.env, self.log_path, self.base_url = argv, env, log_path, base_url.rstrip("/")
        self.startup_timeout_s = startup_timeout_s
        self.process: asyncio.subprocess.Process | None = None
        self.ready_after_s: float | None = None

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
            if not self.external:
                await self._launch()
            await self._wait_ready(started)
        except BaseException:  # includes CancelledError from Ctrl-C: never leave a server behind
            await self.stop()
            raise
        self.ready_after_s = time.perf_counter() - started

    async def _launch(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=log,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True)

    async def _wait_ready(self, started: float) -> None:
        deadline = started + self.startup_timeout_s
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process is not None and self.process.returncode is not None:
                    raise self._failure(f"vLLM exited with code {self.process.returncode} during start-up")
                if await self._healthy(session):
                    return
                if time.perf_counter() > deadline:
                    raise self._failure(f"{self.base_url}/health not ready after {self.startup_timeout_s:.0f} s")
                await asyncio.sleep(HEALTH_POLL_S)

    async def _healthy(self, session: aiohttp.ClientSession) -> bool:
        try:
            async with session.get(f"{self.base_url}/health", timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return False

    def _failure(self, message: str) -> ServerStartError:
        text = self.log_text()
        return ServerStartError(message, self.log_path, log_tail(text), failure_hint(text))

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    async def stop(self) -> None:
        """SIGTERM the process group, wait up to TERM_GRACE_S, SIGKILL whatever remains."""
        if self.process is None:
            return
        group = self.process.pid  # start_new_session: the leader's pid is the group id
        _signal_group(group, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self.process.wait()), TERM_GRACE_S)
        except asyncio.TimeoutError:
            pass
        deadline = time.monotonic() + 5
        while _group_alive(group) and time.monotonic() < deadline:
            _signal_group(group, signal.SIGKILL)
            await asyncio.sleep(0.1)
        if self.process.returncode is None:
            await self.process.wait()


def _signal_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""vLLM's torch profiler around a load level. A server launched here for a scenario with a profiled level starts
with --profiler-config naming a folder of the run (`profiler_config`); /start_profile and /stop_profile bracket the
level's measured requests (`LevelProfile`), and the traces vLLM writes at the stop - one per process that ran
them: each rank's and the API server's - move into a folder of the level's own, apart from the next one's."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.server.secrets import auth_headers
from runfolder.schema import TRACE_SUFFIX

# vLLM's profiling guide: flushing ~100 requests of a 70B model's trace took ~10 minutes on an H100
STOP_TIMEOUT_S = 900.0
SETTLE_S = 2.0  # vLLM's stop returns before every rank has written: wait until the files stop changing
SETTLE_LIMIT_S = 300.0


def profiler_config(folder: Path) -> str:
    """The --profiler-config value: torch's profiler writing into `folder` (absolute when launched), without
    Python stacks (they multiply a trace's size, and the kernel tables read none)."""
    return json.dumps({"profiler": "torch", "torch_profiler_dir": str(folder), "torch_profiler_with_stack": False})


@dataclass(frozen=True)
class ProfileSink:
    """Where a deployment's profiled levels go: the folder vLLM writes into (in `run_dir`), and how many of
    its processes write a trace each (its ranks; the API server one more)."""

    folder: Path
    run_dir: Path
    ranks: int


@dataclass
class ProfileOutcome:
    """What a profiled level kept: its traces (relative to the run folder), or why there are none."""

    traces: list[str] = field(default_factory=list)
    error: str | None = None


@asynccontextmanager
async def profiled(
    session: aiohttp.ClientSession, base_url: str, sink: ProfileSink | None, *, level: str, into: ProfileOutcome
) -> AsyncIterator[None]:
    """vLLM's profiler on for the block (nothing where `sink` is None), its traces in `into` once it stopped. A
    profiler that will not start or stop costs the level its traces, not its measurement (`into.error`); a
    block that raises leaves the profiler on: the server is failing or being torn down."""
    if sink is None:
        yield
        return
    profile = LevelProfile(base_url, sink, level)
    try:
        await profile.start(session)
    except (ProfilerError, aiohttp.ClientError, TimeoutError) as exc:
        into.error = f"vLLM's profiler did not start: {exc}"
        yield
        return
    yield
    try:
        into.traces = await profile.stop(session)
    except (ProfilerError, aiohttp.ClientError, TimeoutError) as exc:
        into.error = f"vLLM's profiler did not stop: {exc}"


@dataclass
class LevelProfile:
    """One profiled level: `start()` before its measured requests, `stop()` after, which returns the files
    vLLM wrote, moved from the sink's folder into `<folder>/<level>/`, relative to the run folder."""

    base_url: str
    sink: ProfileSink
    level: str
    _before: set[Path] = field(default_factory=set)

    async def start(self, session: aiohttp.ClientSession) -> None:
        self.sink.folder.mkdir(parents=True, exist_ok=True)
        self._before = set(self.sink.folder.iterdir())
        await self._post(session, "start_profile", 60.0)

    async def stop(self, session: aiohttp.ClientSession) -> list[str]:
        await self._post(session, "stop_profile", STOP_TIMEOUT_S)
        folder, own = self.sink.folder, self.sink.folder / self.level
        written = await _settled(lambda: sorted(set(folder.iterdir()) - self._before - {own}), self.sink.ranks)
        own.mkdir(exist_ok=True)
        for path in written:
            path.rename(own / path.name)
        return [str((own / p.name).relative_to(self.sink.run_dir.resolve())) for p in written]

    async def _post(self, session: aiohttp.ClientSession, route: str, timeout_s: float) -> None:
        url = f"{self.base_url.rstrip('/')}/{route}"
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with session.post(url, headers=auth_headers(), timeout=timeout) as response:
            if response.status != 200:
                body = (await response.text())[:300]
                raise ProfilerError(f"POST {url} answered {response.status}: {body}")


class ProfilerError(RuntimeError):
    """The server refused to start or stop its profiler."""


async def _settled(list_files: Callable[[], list[Path]], traces: int) -> list[Path]:
    """The files once `traces` of them are traces (TRACE_SUFFIX) and none has appeared or grown for SETTLE_S (or
    at SETTLE_LIMIT_S)."""
    deadline, last = time.monotonic() + SETTLE_LIMIT_S, None
    while True:
        paths = list_files()
        sizes = [(p.name, p.stat().st_size) for p in paths]
        done = sum(TRACE_SUFFIX in p.name for p in paths) >= traces and sizes == last
        if done or time.monotonic() > deadline:
            return paths
        last = sizes
        await asyncio.sleep(SETTLE_S)

"""Time series during a deployment's levels: vLLM's /metrics, NVML per GPU, the server's memory,
sampled every interval into telemetry.jsonl (its keys: runfolder/telemetry.py)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.observe.metrics import engine_values, fetch_text
from bench.observe.nvml import Nvml
from bench.observe.server_latency import Histograms, histograms
from runfolder.telemetry import GPUS, SERVER_RSS, TIME


def session_rss_bytes(sid: int) -> int:
    """Resident memory of every process in the server's session (API server, engine, workers)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[3]) != sid:
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


class TelemetrySampler:
    def __init__(
        self, base_url: str, out_path: Path, interval_s: float, *, server_sid: int | None, gpus: bool = True
    ) -> None:
        """gpus=False: the server runs elsewhere (Ray), so this machine's GPUs are not its GPUs."""
        self.base_url, self.out_path, self.interval_s, self.server_sid = base_url, out_path, interval_s, server_sid
        self.nvml = Nvml() if gpus else None
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.samples = 0
        self.t0 = time.perf_counter()  # the clock of the samples' `t` (reset when sampling starts)

    async def __aenter__(self) -> TelemetrySampler:
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def counters(self) -> dict[str, float]:
        """Current engine values (the sampling loop's: no histograms, which only level boundaries need)."""
        text = await self._scrape()
        return engine_values(text) if text is not None else {}

    async def boundary(self) -> tuple[dict[str, float], Histograms]:
        """Engine values and vLLM's latency histograms from one /metrics scrape, for a level's deltas
        (prefix-cache hit rate, preemptions; bench/observe/server_latency.py); empty when unreachable."""
        text = await self._scrape()
        return (engine_values(text), histograms(text)) if text is not None else ({}, {})

    async def _scrape(self) -> str | None:
        """/metrics now; None when not entered or unreachable."""
        if self._session is None:
            return None
        try:
            return await fetch_text(self._session, f"{self.base_url}/metrics")
        except (TimeoutError, aiohttp.ClientError, OSError):
            return None

    def energy_mj(self) -> float | None:
        """The server's GPUs' total energy counter now (bench/observe/energy.py); None without NVML."""
        return self.nvml.energy_mj() if self.nvml and self.nvml.available else None

    async def _run(self) -> None:
        start = self.t0 = time.perf_counter()
        with open(self.out_path, "a") as out:
            while True:
                row: dict[str, Any] = {TIME: round(time.perf_counter() - start, 3), **await self.counters()}
                if self.nvml and self.nvml.available:
                    row[GPUS] = self.nvml.sample()
                elif self.server_sid:
                    row[SERVER_RSS] = session_rss_bytes(self.server_sid)
                out.write(json.dumps(row) + "\n")
                out.flush()
                self.samples += 1
                await asyncio.sleep(self.interval_s - (time.perf_counter() - start) % self.interval_s)

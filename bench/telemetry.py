"""Time series during a deployment's levels: vLLM's /metrics, NVML per GPU, the server's memory.

Each sample is one JSON line: t (s since sampling began), the engine gauges and counters below
summed over label sets, per-GPU memory/utilization/power when NVML sees GPUs, and the resident
memory of the server's whole process session otherwise (CPU backend).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.gpu_telemetry import Nvml
from bench.server_metrics import fetch_text

SERIES = {"vllm:kv_cache_usage_perc": "kv_cache_usage", "vllm:num_requests_running": "running",
          "vllm:num_requests_waiting": "waiting", "vllm:num_preemptions_total": "preemptions",
          "vllm:prefix_cache_queries_total": "prefix_cache_queries", "vllm:prefix_cache_hits_total": "prefix_cache_hits",
          "vllm:prompt_tokens_total": "prompt_tokens", "vllm:generation_tokens_total": "generation_tokens"}


def engine_values(metrics_text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name in SERIES:
                key = SERIES[sample.name]
                values[key] = values.get(key, 0.0) + sample.value
    return values


def session_rss_bytes(sid: int) -> int:
    """Resident memory of every process in the server's session (API server, engine, workers)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if int(stat[stat.rindex(")") + 2:].split()[3]) != sid:
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


class TelemetrySampler:
    def __init__(self, base_url: str, out_path: Path, interval_s: float, server_sid: int | None,
                 gpus: bool = True) -> None:
        """gpus=False: the server runs elsewhere (Ray), so this machine's GPUs are not its GPUs."""
        self.base_url, self.out_path, self.interval_s, self.server_sid = base_url, out_path, interval_s, server_sid
        self.nvml = Nvml() if gpus else None
        self._task: asyncio.Task | None = None
        self._session: aiohttp.ClientSession | None = None
        self.samples = 0

    async def __aenter__(self) -> TelemetrySampler:
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._session.close()

    async def counters(self) -> dict[str, float]:
        """Current engine values, for per-level deltas (prefix-cache hit rate, preemptions)."""
        try:
            return engine_values(await fetch_text(self._session, f"{self.base_url}/metrics"))
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return {}

    async def _run(self) -> None:
        start = time.perf_counter()
        with open(self.out_path, "a") as out:
            while True:
                row = {"t": round(time.perf_counter() - start, 3), **await self.counters()}
                if self.nvml and self.nvml.available:
                    row["gpus"] = self.nvml.sample()
                elif self.server_sid:
                    row["server_rss_bytes"] = session_rss_bytes(self.server_sid)
                out.write(json.dumps(row) + "\n")
                out.flush()
                self.samples += 1
                await asyncio.sleep(self.interval_s - (time.perf_counter() - start) % self.interval_s)

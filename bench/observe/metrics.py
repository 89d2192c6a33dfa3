"""vLLM's /metrics, parsed with prometheus_client (the one parser of it here): the engine's own
capacity report (`vllm:cache_config_info`) and the engine series telemetry samples."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, ConfigDict

from runfolder.telemetry import ENGINE_SERIES


class CacheConfigInfo(BaseModel):
    """Labels of `vllm:cache_config_info`; absent labels stay None (they vary across versions)."""

    model_config = ConfigDict(extra="forbid")

    num_gpu_blocks: int | None = None
    block_size: int | None = None
    kv_cache_size_tokens: int | None = None
    kv_cache_memory_bytes: int | None = None
    gpu_memory_utilization: float | None = None
    cache_dtype: str | None = None
    enable_prefix_caching: bool | None = None
    labels: dict[str, str] = {}

    @property
    def kv_capacity_tokens(self) -> int | None:
        """kv_cache_size_tokens when vLLM publishes it, else num_gpu_blocks x block_size."""
        if self.kv_cache_size_tokens is not None:
            return self.kv_cache_size_tokens
        if self.num_gpu_blocks is not None and self.block_size is not None:
            return self.num_gpu_blocks * self.block_size
        return None


def _int(value: str | None) -> int | None:
    return int(float(value)) if value not in (None, "", "None") else None


def parse_cache_config(metrics_text: str) -> CacheConfigInfo | None:
    for family in text_string_to_metric_families(metrics_text):
        if family.name in ("vllm:cache_config_info", "vllm:cache_config"):
            labels = dict(family.samples[0].labels) if family.samples else {}
            util = labels.get("gpu_memory_utilization")
            return CacheConfigInfo(
                num_gpu_blocks=_int(labels.get("num_gpu_blocks")),
                block_size=_int(labels.get("block_size")),
                kv_cache_size_tokens=_int(labels.get("kv_cache_size_tokens")),
                kv_cache_memory_bytes=_int(labels.get("kv_cache_memory_bytes")),
                gpu_memory_utilization=float(util) if util not in (None, "None") else None,
                cache_dtype=labels.get("cache_dtype"),
                enable_prefix_caching=labels.get("enable_prefix_caching") == "True"
                if "enable_prefix_caching" in labels
                else None,
                labels=labels,
            )
    return None


def _family_lines(metrics_text: str, families: tuple[str, ...]) -> str:
    """The exposition's lines (samples, # HELP, # TYPE) of the given metric families, in order."""
    keep = []
    for line in metrics_text.splitlines():
        name = line[7:] if line.startswith(("# HELP ", "# TYPE ")) else line
        if name.startswith(families):
            keep.append(line)
    return "\n".join(keep) + "\n"


async def fetch_text(session: aiohttp.ClientSession, url: str, timeout_s: float = 10.0) -> str:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
        response.raise_for_status()
        return await response.text()


# the families of ENGINE_SERIES (a counter's family drops _total), for picking their lines before parsing
ENGINE_FAMILIES = tuple(sorted({name.removesuffix("_total") for name in ENGINE_SERIES}))


def engine_values(metrics_text: str) -> dict[str, float]:
    """The engine series of runfolder/telemetry.py, each summed over its label sets (engines, models).

    Only their families' lines reach the parser: a GPU server's /metrics is mostly histograms, and
    parsing all of it took ~6 ms of the client's event loop per sample (tests/data's CPU scrape, this
    host), time that landed in a trace replay's dispatch lag."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(_family_lines(metrics_text, ENGINE_FAMILIES)):
        for sample in family.samples:
            if sample.name in ENGINE_SERIES:
                key = ENGINE_SERIES[sample.name]
                values[key] = values.get(key, 0.0) + sample.value
    return values

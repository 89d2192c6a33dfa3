"""What a running server says about itself over HTTP: its capacity report (/metrics), its version
(/version) and the model names it answers to (/v1/models)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.observe.metrics import CacheConfigInfo, fetch_text, parse_cache_config
from bench.server.secrets import auth_headers


@dataclass(frozen=True)
class ServerReport:
    """What a server says of itself; any part may be missing (older releases, servers that are not vLLM)."""

    cache: CacheConfigInfo | None  # vllm:cache_config_info
    version: str | None  # /version
    models: list[dict[str, Any]]  # /v1/models entries (id, max_model_len, ...)

    def max_model_len(self) -> int | None:
        lengths = {m.get("max_model_len") for m in self.models if isinstance(m.get("max_model_len"), int)}
        return lengths.pop() if len(lengths) == 1 else None


async def read_server_report(base_url: str) -> ServerReport:
    async with aiohttp.ClientSession() as session:
        cache = parse_cache_config(await fetch_text(session, f"{base_url}/metrics"))
        try:
            version = (await _json(session, f"{base_url}/version")).get("version")
        except (aiohttp.ClientError, ValueError):
            version = None
        try:
            listing = await _json(session, f"{base_url}/v1/models", auth_headers())
        except (aiohttp.ClientError, ValueError):
            listing = {}
    models = [m for m in listing.get("data", []) if isinstance(m, dict)]
    return ServerReport(cache, version if isinstance(version, str) else None, models)


async def served_model_ids(base_url: str) -> list[str]:
    """Model names a running server answers to (/v1/models), for endpoints whose name wasn't given."""
    async with aiohttp.ClientSession() as session:
        try:
            listing = await _json(session, f"{base_url}/v1/models", auth_headers())
        except (aiohttp.ClientError, ValueError):
            return []
    return [m["id"] for m in listing.get("data", []) if isinstance(m, dict) and "id" in m]


async def _json(session: aiohttp.ClientSession, url: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as response:
        response.raise_for_status()
        data = await response.json()
    return data if isinstance(data, dict) else {}

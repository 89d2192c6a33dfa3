"""The API key: read from BENCH_API_KEY (or bench run --api-key), given to vLLM and to the client,
and kept out of run folders: anything secret-looking is written as '***'."""

from __future__ import annotations

import os

API_KEY_ENV = "BENCH_API_KEY"
_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


def api_key() -> str | None:
    return os.environ.get(API_KEY_ENV) or None


def auth_headers() -> dict[str, str] | None:
    key = api_key()
    return {"Authorization": f"Bearer {key}"} if key else None


def redacted(env: dict[str, str]) -> dict[str, str]:
    """Environment as recorded in a run folder: values of secret-looking names masked."""
    return {k: ("***" if any(word in k.upper() for word in _SECRET_WORDS) else v) for k, v in env.items()}

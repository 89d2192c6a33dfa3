"""A new run folder's name (UTC time and scenario label) and the timestamps run.json carries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path


def new_run_dir(parent: Path, label: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    folder = parent / f"{stamp}-{label}"
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = parent / f"{stamp}-{label}-{suffix}"
    folder.mkdir(parents=True)
    return folder


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

"""A finished run-folder file may be stored gzipped beside where it was written (`NAME.gz`): committed GPU runs
pack their requests, telemetry, server log and served tokenizer (scripts/gpu/pack_run.sh), so the repository -
which travels whole to the GPU machine with every call - stays small. Readers take either form."""

from __future__ import annotations

import gzip
from pathlib import Path

PACKED_SUFFIX = ".gz"


def packed_path(path: Path) -> Path:
    """Where `path` lies once packed."""
    return path.with_name(path.name + PACKED_SUFFIX)


def stored_bytes(path: Path) -> bytes | None:
    """The file as written, or its packed copy unpacked; None where neither exists."""
    if path.exists():
        return path.read_bytes()
    packed = packed_path(path)
    return gzip.decompress(packed.read_bytes()) if packed.exists() else None


def stored_text(path: Path) -> str | None:
    """stored_bytes as text (undecodable bytes replaced: a log may end mid-character)."""
    data = stored_bytes(path)
    return None if data is None else data.decode(errors="replace")

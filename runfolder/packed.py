"""A finished run-folder file may be stored gzipped beside where it was written (`NAME.gz`): committed GPU runs
pack their requests, telemetry, server log and served tokenizer (scripts/gpu/pack_run.sh), so the repository -
which travels whole to the GPU machine with every call - stays small. Readers take either form."""

from __future__ import annotations

import gzip
from pathlib import Path


def stored_text(path: Path) -> str | None:
    """The file as written, or its packed copy (`NAME.gz`) unpacked; None where neither exists (undecodable
    bytes replaced: a log may end mid-character)."""
    packed = path.with_name(path.name + ".gz")
    if path.exists():
        data = path.read_bytes()
    elif packed.exists():
        data = gzip.decompress(packed.read_bytes())
    else:
        return None
    return data.decode(errors="replace")

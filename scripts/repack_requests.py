"""Re-store committed `requests.jsonl.gz` files with their times at the clock's resolution (runfolder/requests.py
at_clock_resolution: seconds to the nanosecond), every other field and the row order as they were. Lossless for
what the clock measured; it halves a GPU run's file, and a device call carries the tree (docs/gpu.md).

Run: .venv/bin/python scripts/repack_requests.py results/**/requests.jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runfolder.requests import at_clock_resolution  # noqa: E402


def repack(path: Path) -> tuple[int, int]:
    """(bytes before, after); lines that are not JSON objects (a torn last write) are kept as they were."""
    before = path.read_bytes()
    lines = []
    for line in gzip.decompress(before).splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        lines.append(orjson.dumps(at_clock_resolution(row)) if isinstance(row, dict) else line)
    after = gzip.compress(b"".join(line + b"\n" for line in lines), compresslevel=9, mtime=0)
    path.write_bytes(after)
    return len(before), len(after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    total = [0, 0]
    for path in args.files:
        before, after = repack(path)
        total[0] += before
        total[1] += after
        print(f"{path}: {before:,} -> {after:,} bytes")
    print(f"{len(args.files)} files: {total[0]:,} -> {total[1]:,} bytes")


if __name__ == "__main__":
    main()

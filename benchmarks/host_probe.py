"""How fast is this host's Python, the thing a GPU server's eager steps wait on?

The workload and its figures are bench's (bench/observe/host_speed.py; every run records them in run.json's
environment.host_speed); this prints them with the host's CPU as /proc/cpuinfo names it, on any machine with the
harness's Python - no GPU, no torch.

Run: .venv/bin/python benchmarks/host_probe.py [--repeats N] [--calls N] [--json]
"""

import argparse
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CPUINFO = Path("/proc/cpuinfo")


def _fastest_mhz() -> float | None:
    """The highest 'cpu MHz' /proc/cpuinfo reports (the CPU's model: bench.server.cpu_host)."""
    if not CPUINFO.exists():
        return None
    mhz = [float(line.split(":", 1)[1]) for line in CPUINFO.read_text().splitlines() if line.startswith("cpu MHz")]
    return max(mhz) if mhz else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        from bench.observe.host_speed import measure_host_speed
        from bench.server.cpu_host import this_host
    except ImportError as exc:  # a bare machine's python3 without pydantic: say so rather than time something else
        raise SystemExit(f"host_probe: {exc}; fix: run it with the harness's Python (.venv/bin/python)") from None
    speed = measure_host_speed(repeats=args.repeats, calls=args.calls)
    result = {
        "cpu_model": this_host().model,
        "cpu_mhz": _fastest_mhz(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "ns_per_call": speed.best_ns,
        "ns_per_call_median": speed.median_ns,
        "repeats": speed.repeats,
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k:>20}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()

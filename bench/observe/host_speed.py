"""How fast this host runs Python: the thing a GPU server's steps that no CUDA graph covers wait on.

A prompt past the largest CUDA graph runs eager: vLLM's Python launches each layer's kernels one by one, and
the device idles between them. The torch profiler shows it (results/perf_model/twenty-sixth/profile-vs-price.txt):
a lone 1,024-token prompt's step kept the device busy ~50 ms on an H100's machine and on an H200's, and took
137 ms on the first, 100 on the second - the difference is the host's. Machines of one GPU kind differ the same
way (results/perf_model/machine-spread.txt). So every run records this figure beside the host's CPU, and
`bench compare` / `bench gate` say when two runs' hosts differ in it (reports/served_setup.py).

The workload is fixed: calls to a small object's method that reads a dict and builds a tuple - the kind of
bookkeeping the launch path does per kernel. No GPU, no torch.
"""

from __future__ import annotations

import statistics
import time

from runfolder.schema import HostSpeed

CALLS = 100_000  # a repeat: 10-40 ms on the hosts seen, short beside a run, long beside timer resolution
REPEATS = 9


class _Layer:
    """A stand-in for a module whose forward does Python-level bookkeeping before it launches."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.meta: dict[str, tuple[int, int]] = {"shape": (index, 2), "stride": (1, index)}

    def forward(self, tokens: int) -> tuple[int, int]:
        shape = self.meta["shape"]
        return (tokens + shape[0], self.index * shape[1])


def _workload(calls: int) -> int:
    layers = [_Layer(i) for i in range(64)]
    total = 0
    for i in range(calls):
        out = layers[i & 63].forward(i)
        total += out[0] - out[1]
    return total


def measure_host_speed(*, repeats: int = REPEATS, calls: int = CALLS) -> HostSpeed:
    """best_ns = min over repeats of (the workload's wall time / calls); median_ns likewise with the median."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _workload(calls)
        times.append(time.perf_counter() - start)
    return HostSpeed(
        best_ns=round(1e9 * min(times) / calls, 1),
        median_ns=round(1e9 * statistics.median(times) / calls, 1),
        repeats=repeats,
    )

"""This host's CPU: its model and ISA flags, what vLLM's CPU build can do with them, and the split of
cores between a local CPU server and the load generator.

Hosts of one machine kind differ (some have AVX-512, some only AVX2), so nothing here is assumed:
flags come from /proc/cpuinfo, cores from the process's affinity mask.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

from planner import ModelSpec
from planner.kv_cache import default_block
from runfolder.schema import CpuCores

CPUINFO = Path("/proc/cpuinfo")
# A recorded /proc/cpuinfo to read instead of this host's: lets one host rehearse another's
# decisions (the tests use it to check what an AVX2-only host refuses). Never set in normal use.
CPUINFO_ENV = "BENCH_CPUINFO"
OMP_BIND_ENV = "VLLM_CPU_OMP_THREADS_BIND"
FP8_HEAD_MULTIPLE = 32  # vllm/v1/attention/backends/cpu_attn.py _get_attn_isa: fp8 KV needs head_size % 32


@dataclass(frozen=True)
class CpuHost:
    model: str
    flags: frozenset[str]

    @property
    def avx512(self) -> bool:
        return "avx512f" in self.flags

    @property
    def amx(self) -> bool:
        return "amx_tile" in self.flags

    @property
    def ssm_state_bytes(self) -> int | None:
        """vLLM's CPU platform stores linear-attention state in float32 where its accelerated GDN kernels
        run (AVX-512 BF16 or AMX: vllm/platforms/cpu.py), else in the model's dtype (None)."""
        return 4 if "avx512_bf16" in self.flags or self.amx else None

    @property
    def isa(self) -> str:
        """The widest vector ISA vLLM's CPU kernels pick between, for messages and run.json."""
        return "AMX" if self.amx else "AVX-512" if self.avx512 else "AVX2" if "avx2" in self.flags else "no AVX2"


def parse_cpuinfo(text: str) -> CpuHost:
    """The first processor's model name and flags (every processor of one host reports the same)."""
    model, flags = "unknown", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown":
            model = value.strip()
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
    return CpuHost(model=model, flags=flags)


def this_host() -> CpuHost:
    """The host's CPU, or the one BENCH_CPUINFO names (read each call: a cache of the first answer would
    outlive a change of the variable, and the committed runs are replayed on the hosts they ran on)."""
    return _host_of(Path(os.environ.get(CPUINFO_ENV) or CPUINFO))


@functools.cache
def _host_of(path: Path) -> CpuHost:
    try:
        return parse_cpuinfo(path.read_text())
    except OSError:  # not Linux, or no procfs: nothing known, so nothing refused on flags
        return CpuHost(model="unknown", flags=frozenset())


def cpu_kv_refusal(kv_cache_dtype: str, head_dim: int, host: CpuHost) -> str | None:
    """Why vLLM's CPU attention backend would refuse this KV cache dtype at start-up, else None; the fix
    is always the model's own dtype (kv_cache_dtype auto).

    Both rules are vLLM's (cpu_attn.py `_get_attn_isa`): a quantized (fp8) KV cache needs AVX-512 or
    AMX, and a head size that is a multiple of 32 whenever it is a multiple of 16.
    """
    if not kv_cache_dtype.startswith("fp8"):
        return None
    if head_dim % FP8_HEAD_MULTIPLE and head_dim % 16 == 0:
        return (
            f"fp8 KV cache on CPU needs head_dim divisible by {FP8_HEAD_MULTIPLE} (vLLM's CPU attention); "
            f"this model's is {head_dim}"
        )
    if host.flags and not (host.avx512 or host.amx):
        return (
            f"fp8 KV cache on CPU needs AVX-512 or AMX (vLLM's CPU attention); this host "
            f"({host.model}) has {host.isa} only; an AVX-512 host can run it"
        )
    return None


@dataclass(frozen=True)
class CoreSplit:
    """Disjoint cores for a local CPU server and for the client (this process and its load workers);
    `ranks` is the server's number of worker processes (DP x PP x TP), each bound to its own share."""

    server: tuple[int, ...]
    client: tuple[int, ...]
    ranks: int = 1

    def as_record(self) -> CpuCores:
        return CpuCores(server=list(self.server), client=list(self.client), ranks=[list(r) for r in self.per_rank()])

    def per_rank(self) -> list[tuple[int, ...]]:
        """The server's cores dealt out to its ranks: contiguous equal shares when there are enough
        (the remainder to the first ranks), else one core each, ranks sharing cores in turn (vLLM's CPU
        workers run where they are bound, so several ranks on one core time-share it)."""
        cores, ranks = self.server, self.ranks
        if len(cores) < ranks:
            return [(cores[i % len(cores)],) for i in range(ranks)]
        size, extra = divmod(len(cores), ranks)
        starts = [i * size + min(i, extra) for i in range(ranks + 1)]
        return [cores[starts[i] : starts[i + 1]] for i in range(ranks)]

    def omp_bind(self) -> str:
        """VLLM_CPU_OMP_THREADS_BIND: each rank's cores comma-separated, ranks separated by '|', in
        vLLM's [DP, PP, TP] order (vllm/utils/ompmultiprocessing.py: each DP engine takes its slice, each
        worker the entry of its local rank)."""
        return "|".join(",".join(map(str, rank)) for rank in self.per_rank())


def split_cores(allowed: set[int] | None = None, client_cores: int = 1, ranks: int = 1) -> CoreSplit | None:
    """The last `client_cores` allowed cores for the client, the rest for the server's `ranks`; None on
    fewer than two cores (nothing to split: both must share)."""
    cores = sorted(allowed if allowed is not None else os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    client = max(1, min(client_cores, len(cores) // 2))
    return CoreSplit(server=tuple(cores[:-client]), client=tuple(cores[-client:]), ranks=ranks)


def pin_this_process(cores: set[int] | tuple[int, ...]) -> set[int]:
    """Pin every thread of this process to `cores` (threads made later inherit from their creator);
    returns the mask the calling thread had, for restore."""
    before = os.sched_getaffinity(0)
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), set(cores))
        except (ProcessLookupError, PermissionError):  # a thread that ended meanwhile
            continue
    return before


def host_kv_defaults(model: ModelSpec, *, on_cpu: bool) -> tuple[int, int | None]:
    """What vLLM picks for this model on this host when not told: (KV block size, linear-attention state
    dtype bytes or None for the model's). Only a CPU server's choices depend on the host's flags."""
    host = this_host() if on_cpu else None
    block = default_block(model, on_cpu=on_cpu, amx=bool(host and host.amx))
    return block, host.ssm_state_bytes if host else None

"""A profiled level's engine steps from the torch profiler traces vLLM wrote (bench/server/profiler.py): what each
step held, how long it took on the device, and what ran in it.

vLLM names each engine step it runs under the profiler "execute_context_<prompts>(<prompt tokens>)_generation_
<decodes>(<decode tokens>)". On a GPU the trace holds that range twice, on the host and on the device
(gpu_user_annotation: from the step's first kernel to its last); on a CPU server only on the host. Per step:
  span      = the range's duration on the device (the host's on a CPU server)
  busy      = the union of the kernels' intervals within the span (GPU kernels, memcpy and memset; on a CPU
              server vLLM's compiled operators, `_C::...`): time the device was working
  idle      = span - busy: the device waiting within the step, on the host launching kernels one by one (a
              step no CUDA graph replays) or on a collective's peers
  by kind   = busy time by kernel kind (KINDS, first match of the kernel's name), each kernel's own duration
No step's time between ranges (scheduling, sampling on the host) is counted: a step's span starts at its
first kernel.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from runfolder.schema import TRACE_SUFFIX, LevelSummary

STEP_NAME = re.compile(r"^execute_context_(\d+)\((\d+)\)_generation_(\d+)\((\d+)\)$")
DEVICE_WORK = frozenset({"kernel", "gpu_memcpy", "gpu_memset"})
HOST_KERNEL = "_C::"  # a CPU server's compiled operators: the work of a step with no GPU
# kernel kinds by name, first match wins (Triton's fused MoE, vLLM's CPU MoE; FlashAttention / FlashInfer /
# vLLM's attention; cuBLAS, CUTLASS, DeepGEMM, oneDNN matrix products; NCCL and vLLM's custom all-reduce)
KINDS = (
    ("moe", re.compile(r"moe", re.IGNORECASE)),
    ("attention", re.compile(r"attn|attention|flash|fmha", re.IGNORECASE)),
    ("gemm", re.compile(r"gemm|gemv|matmul|cutlass|nvjet|xmma|_mm\b|onednn_mm|deep_gemm", re.IGNORECASE)),
    ("communication", re.compile(r"nccl|all_?reduce|all_?gather|reduce_?scatter|cross_device", re.IGNORECASE)),
)
COLUMNS = ("span", "busy", "idle", *(kind for kind, _ in KINDS), "other")  # step_rows' figures, in ms


@dataclass(frozen=True)
class ProfiledStep:
    """One engine step as the trace saw it; times in milliseconds."""

    prompts: int
    prompt_tokens: int
    decodes: int
    decode_tokens: int
    span_ms: float
    busy_ms: float
    by_kind: dict[str, float] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.decode_tokens

    @property
    def idle_ms(self) -> float:
        return self.span_ms - self.busy_ms


def kernel_kind(name: str) -> str:
    """The kind of a kernel or compiled operator by its name (KINDS), "other" where none matches."""
    return next((kind for kind, pattern in KINDS if pattern.search(name)), "other")


def read_trace(path: Path) -> list[dict[str, Any]]:
    """A Chrome trace's events (gzipped or not)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        events: list[dict[str, Any]] = json.load(handle).get("traceEvents", [])
    return events


def profiled_steps(events: list[dict[str, Any]]) -> list[ProfiledStep]:
    """The engine steps of one process's trace, in order: on the device where it has kernels, else the host's."""
    device = any(e.get("cat") in DEVICE_WORK for e in events)
    step_cat = "gpu_user_annotation" if device else "user_annotation"
    work = sorted(
        (e for e in events if _is_work(e, device=device) and e.get("dur") is not None),
        key=lambda e: float(e["ts"]),
    )
    starts = [float(e["ts"]) for e in work]
    steps = [e for e in events if e.get("cat") == step_cat and STEP_NAME.match(str(e.get("name", "")))]
    ordered = sorted(steps, key=lambda e: float(e["ts"]))
    return [_step(s, work, first=bisect_left(starts, float(s["ts"]))) for s in ordered]


def _is_work(event: dict[str, Any], *, device: bool) -> bool:
    if device:
        return event.get("cat") in DEVICE_WORK
    return event.get("cat") == "cpu_op" and str(event.get("name", "")).startswith(HOST_KERNEL)


def _step(range_event: dict[str, Any], work: list[dict[str, Any]], *, first: int) -> ProfiledStep:
    """The step's span and the work that started within it (`work` in start order, `first` the first to start at
    or after the step's start): their union for busy, each one's own duration for its kind."""
    match = STEP_NAME.match(str(range_event["name"]))
    assert match is not None
    start = float(range_event["ts"])
    end = start + float(range_event["dur"])
    by_kind: dict[str, float] = {}
    busy, covered_to = 0.0, start
    for event in islice(work, first, None):
        ts, dur = float(event["ts"]), float(event["dur"])
        if ts >= end:
            break
        kind = kernel_kind(str(event["name"]))
        by_kind[kind] = by_kind.get(kind, 0.0) + dur / 1e3
        stop = min(ts + dur, end)
        busy += max(0.0, stop - max(ts, covered_to))
        covered_to = max(covered_to, stop)
    prompts, prompt_tokens, decodes, decode_tokens = (int(g) for g in match.groups())
    return ProfiledStep(prompts=prompts, prompt_tokens=prompt_tokens, decodes=decodes, decode_tokens=decode_tokens,
                        span_ms=(end - start) / 1e3, busy_ms=busy / 1e3, by_kind=by_kind)  # fmt: skip


def level_steps(
    run_folder: Path, level: LevelSummary, *, every_rank: bool = False
) -> list[tuple[str, list[ProfiledStep]]]:
    """A profiled level's traces that hold engine steps (the ranks'; the API server's holds none), each with its
    steps: the first such trace only, unless `every_rank`."""
    out = []
    for trace in (t for t in level.profile if TRACE_SUFFIX in t):
        steps = profiled_steps(read_trace(run_folder / trace))
        if steps:
            out.append((trace, steps))
            if not every_rank:
                break
    return out


def step_rows(steps: list[ProfiledStep]) -> list[list[float]]:
    """One row per (prompt tokens, decode tokens) the steps held, most prompt tokens first: those two, how many
    steps, then each of COLUMNS' median over them (ms)."""
    groups: dict[tuple[int, int], list[ProfiledStep]] = defaultdict(list)
    for step in steps:
        groups[(step.prompt_tokens, step.decode_tokens)].append(step)
    return [
        [prompt, decode, len(group), *(statistics.median(_figure(s, c) for s in group) for c in COLUMNS)]
        for (prompt, decode), group in sorted(groups.items(), key=lambda kv: (-kv[0][0], -kv[0][1]))
    ]


def _figure(step: ProfiledStep, column: str) -> float:
    if column in ("span", "busy", "idle"):
        return float(getattr(step, f"{column}_ms"))
    return step.by_kind.get(column, 0.0)

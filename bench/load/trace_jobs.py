"""A trace's requests as jobs: one job per conversation (or single row), its prompts the token ids of
its content segments (bench/load/prompts.py), sent as completions so the server sees exactly the
trace's tokens and prefixes; the job starts at the conversation's first arrival."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load.prompts import PromptSource
from bench.load.workload import Job, Turn, stream_payload
from bench.scenario.schema import Workload
from traces import Trace, TraceRequest, read_trace


@dataclass(frozen=True)
class TraceLevel:
    jobs: list[Job]
    offsets: list[float]  # each job's send time, seconds from the level's start
    info: dict[str, Any]  # the level summary's `trace` (runfolder/schema.py)


def prepare_trace_level(workload: Workload, tokenizer: Path, model: str, *, max_model_len: int | None,
                        seed: int) -> TraceLevel:  # fmt: skip
    """The workload's trace less what the server refuses (counted), as jobs. `max_model_len` None: the
    model's own (max_position_embeddings of the config.json beside `tokenizer`)."""
    trace = read_trace(Path(str(workload.path)), workload.format, speedup=workload.speedup)
    if max_model_len is None:
        config = json.loads((tokenizer.parent / "config.json").read_text())
        max_model_len = int(config.get("max_position_embeddings") or 1 << 30)
    served = trace.honoured(max_model_len)
    jobs, offsets = trace_jobs(served, PromptSource(tokenizer, seed), model, ignore_eos=workload.ignore_eos)
    info = {"path": Path(trace.path).name, "format": trace.format, "speedup": workload.speedup,
            "rows": len(trace.requests), "served": len(served.requests), "skipped": served.skipped}  # fmt: skip
    return TraceLevel(jobs, offsets, info)


def trace_jobs(trace: Trace, prompts: PromptSource, model: str, *, ignore_eos: bool) -> tuple[list[Job], list[float]]:
    """(jobs, their send offsets in seconds from the level's start), in arrival order."""
    jobs, offsets = [], []
    for number, turns in enumerate(trace.sessions()):
        first = turns[0].arrival_s
        assert first is not None, "a conversation starts with a timed row (traces/conversations.py)"
        conversation = number if turns[0].session is not None else None
        jobs.append(Job([_turn(r, prompts, model, ignore_eos=ignore_eos) for r in turns], conversation=conversation))
        offsets.append(first)
    return jobs, offsets


def _turn(request: TraceRequest, prompts: PromptSource, model: str, *, ignore_eos: bool) -> Turn:
    ids = [token for key, n in request.segments for token in prompts.segment_ids(key, n)]
    payload = stream_payload(model, ignore_eos=ignore_eos, prompt=ids, max_tokens=request.output_tokens)
    return Turn(payload, len(ids), request.output_tokens, think_s=request.think_s, trace_line=request.line)

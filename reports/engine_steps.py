"""vLLM's engine steps rebuilt from a level's own token timestamps, without a profiler: the step durations the
step cost (planner/step_cost.py) must match, fitted on beside the level metrics (reports/perf_fit.py) and shown
against the model by benchmarks/step_timeline.py.

Every streamed token of a level (send time + TTFT + the running sum of its ITLs) is put on one clock; the
tokens of one engine step come out together, so tokens less than GAP_S apart are one step and the gaps
between steps are step durations. Per level, over the middle 60% of its steps (the first wave and the
drain left out):
- decode steps: steps in which no prompt finished; their median duration and median batch (tokens out),
  at the level's mean context (prompt + half the output);
- prompt steps: the median duration of the level's first-wave steps that finished prompts at once (a
  closed loop's first wave prefills concurrency x prompt tokens in full token-budget steps), less the wave's
  first and last: a step's tokens come out once the host has launched the step after it (async scheduling),
  so each gap holds its step plus the next one's launch less the previous one's - the first after a lone
  first prompt's step, the last before a short decode launch (one H100, the first wave of 16 1K prompts:
  device steps of 325 and 285 ms in the trace, token gaps of 268 and 190; results/perf_model/README.md,
  twenty-fifth check). Kept as a sample only where the wave fills the budget at least three times, so
  that a middle step is left;
- arrival steps (open loops, arrival_summary): each request's longest step between its send and its first
  token - the step that prefilled its prompt beside the running decodes.
"""

from __future__ import annotations

import statistics
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from planner.serving_sim import LoadShape
from planner.step_cost import StepShape
from runfolder.requests import RequestRecord

GAP_S = 0.002  # tokens of one step stream out within ~1 ms of each other; steps are >= 5 ms apart
PROMPT_STEP_S = 0.05  # prompt steps last 80-320 ms; these runs' median decode steps 7-21 ms
MIDDLE_WAVE = 3  # budgets a first wave fills: its first and last steps are left out (above), one is left
MIN_STEPS = 20  # fewer steps than this say too little about a level's typical step


class StepSample(BaseModel):
    """A typical engine step of one level: what it held, and how long it took (measured)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["decode", "prompt"]
    shape: StepShape
    seconds: float


def token_events(requests: list[RequestRecord]) -> list[tuple[float, bool]]:
    """(time, is a first token) for every token of the requests, in time order."""
    events = []
    for r in requests:
        if not r.ok or r.ttft_s is None:
            continue
        t = r.sent_s + r.ttft_s
        events.append((t, True))
        for gap in r.itl_s:
            t += gap
            events.append((t, False))
    return sorted(events)


def step_groups(events: list[tuple[float, bool]]) -> list[list[tuple[float, bool]]]:
    """The tokens of each engine step: time-ordered tokens less than GAP_S apart."""
    groups: list[list[tuple[float, bool]]] = []
    for event in events:
        if not groups or event[0] - groups[-1][-1][0] > GAP_S:
            groups.append([])
        groups[-1].append(event)
    return groups


def steps(events: list[tuple[float, bool]]) -> list[tuple[float, int, int]]:
    """(duration since the previous step, tokens out, prompts finished) per step after the first."""
    groups = step_groups(events)
    out = []
    for before, group in zip(groups, groups[1:], strict=False):
        out.append((group[-1][0] - before[-1][0], len(group), sum(first for _, first in group)))
    return out


def level_row(requests: list[RequestRecord]) -> dict[str, Any] | None:
    """One level's typical decode step (ms, batch) and first-wave prompt step (ms, how many); None: too few steps."""
    found = steps(token_events(requests)) if requests else []
    if len(found) < MIN_STEPS:
        return None
    middle = found[len(found) // 5 : 4 * len(found) // 5]
    decode = [(d, n) for d, n, firsts in middle if firsts == 0]
    wave = [d for d, _, firsts in found[: len(found) // 5] if firsts >= 2 and d > PROMPT_STEP_S][1:-1]
    context = mean_context(requests)
    return {"decode_ms": 1e3 * statistics.median(d for d, _ in decode) if decode else None,
            "batch": statistics.median(n for _, n in decode) if decode else None, "context": context,
            "prompt_step_ms": 1e3 * statistics.median(wave) if wave else None, "prompt_steps": len(wave)}  # fmt: skip


def mean_context(requests: list[RequestRecord]) -> float:
    """A level's mean context over its decode steps: prompt + half the output, averaged over its requests."""
    return statistics.fmean(r.expected_input_tokens + r.expected_output_tokens / 2 for r in requests)


def step_samples(row: dict[str, Any], load: LoadShape, *, token_budget: int) -> tuple[StepSample, ...]:
    """The row's decode step as a StepShape (its median batch at its mean context), and its prompt step as
    whole prompts filling the budget where a closed loop's first wave fills it MIDDLE_WAVE times at least."""
    out = []
    if row["decode_ms"]:
        shape = StepShape(decode_contexts=(round(row["context"]),) * round(row["batch"]))
        out.append(StepSample(kind="decode", shape=shape, seconds=row["decode_ms"] / 1e3))
    prompt, wave = load.input_tokens, (load.concurrency or 0) * load.input_tokens
    if row["prompt_step_ms"] and prompt <= token_budget and wave >= MIDDLE_WAVE * token_budget:
        full, rest = divmod(token_budget, prompt)
        shape = StepShape(prefills=((prompt, 0),) * full + (((rest, 0),) if rest else ()))
        out.append(StepSample(kind="prompt", shape=shape, seconds=row["prompt_step_ms"] / 1e3))
    return tuple(out)


def measured_steps(requests: list[RequestRecord], load: LoadShape, *, token_budget: int) -> tuple[StepSample, ...]:
    """A level's typical steps, measured from its requests' tokens (none where it ran too few steps)."""
    row = level_row(requests)
    return step_samples(row, load, token_budget=token_budget) if row else ()


class ArrivalSummary(NamedTuple):
    """An open loop's arrival steps against its steps at large."""

    arrivals: int  # requests whose prompt step was found
    arrival_s: float  # median over them of that step's duration
    batch: int  # median tokens those steps put out (the decodes beside the prompt)
    step_s: float  # the level's median step
    context: float  # the level's mean context (mean_context)


def arrival_summary(requests: list[RequestRecord]) -> ArrivalSummary | None:
    """The level's arrival steps (arrival_steps), its median step and mean context, from one pass over its
    steps; None where no arrival step was found."""
    groups = step_groups(token_events(requests))
    found = arrival_steps(requests, groups=groups)
    if not found or len(groups) < 2:
        return None
    ends = [g[-1][0] for g in groups]
    return ArrivalSummary(arrivals=len(found), arrival_s=statistics.median(s for s, _ in found),
                          batch=round(statistics.median(n for _, n in found)),
                          step_s=statistics.median(b - a for a, b in zip(ends, ends[1:], strict=False)),
                          context=mean_context(requests))  # fmt: skip


def arrival_steps(requests: list[RequestRecord], *,
                  groups: list[list[tuple[float, bool]]] | None = None) -> list[tuple[float, int]]:  # fmt: skip
    """(seconds, tokens out) of each request's longest step between its send and its first token: in an open loop,
    the step that prefilled its prompt beside the running batch's decodes (the steps of steps()); `groups`: the
    requests' step_groups, where the caller has them already."""
    groups = step_groups(token_events(requests)) if groups is None else groups
    ends = [g[-1][0] for g in groups]
    found = []
    for r in requests:
        if r.ok and r.ttft_s is not None:
            first = r.sent_s + r.ttft_s
            inside = [(end - before, len(g)) for before, end, g in zip(ends, ends[1:], groups[1:], strict=False)
                      if r.sent_s < end <= first]  # fmt: skip
            found += [max(inside)] if inside else []
    return found

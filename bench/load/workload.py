"""Turns a scenario's workload into jobs: single requests, or conversations sent turn by turn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from bench.load.prompts import PromptSource
from bench.scenario.schema import Level, Tokens, Workload

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search_docs",
            "description": "Search the documentation.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "run_tests",
            "description": "Run the test suite.",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        },
    },
]


@dataclass
class Turn:
    """One request of a job: the payload (messages grow with the conversation's history)."""

    payload: dict[str, Any]
    expected_input_tokens: int
    expected_output_tokens: int
    extra_messages: list[dict[str, Any]] = field(default_factory=list)  # appended after this turn's answer
    think_s: float = 0.0  # a trace's later turn: sent this long after the previous turn's answer
    trace_line: int | None = None


@dataclass
class Job:
    turns: list[Turn]
    conversation: int | None = None


def made_ahead(jobs: Iterator[Job], count: int | None) -> Iterator[Job]:
    """The level's jobs built before its clock starts, as vllm bench serve samples its dataset first.

    Measured (long prompts, closed loop, CPU server): made on demand, each 4K-token text prompt
    (decode and re-encode) took ~10 ms of the client's core between one request's end and the next
    send, so the first eight requests reached the server over 70 ms instead of at once. A level bounded
    by duration alone has no count; it makes its jobs as it goes.
    """
    return iter(list(islice(jobs, count))) if count is not None else jobs


class JobFactory:
    """Builds jobs for one level; the level's own seed keeps prompts distinct between levels
    (a prefix cache warmed by an earlier level would otherwise inflate throughput)."""

    def __init__(self, workload: Workload, level: Level, tokenizer_file: Path, model: str, *, seed: int) -> None:
        """`workload.dataset`, if any, is the path the scenario loader resolved and checked."""
        self.workload, self.model = workload, model
        self.inputs = level.input_tokens or workload.input_tokens
        self.outputs = level.output_tokens or workload.output_tokens
        self.prompts = PromptSource(tokenizer_file, seed)
        self.prefixes = [self.prompts.ids(workload.prefix_tokens) for _ in range(workload.num_prefixes)]
        self.dataset = (
            _read_dataset(Path(workload.dataset), seed) if workload.kind == "dataset" and workload.dataset else []
        )

    def jobs(self) -> Iterator[Job]:
        index = 0
        while True:
            yield self.job(index)
            index += 1

    def job(self, index: int) -> Job:
        kind = self.workload.kind
        if kind == "multi_turn":
            return Job(self._conversation(), conversation=index)
        if kind == "dataset":
            return Job([self._dataset_turn(index)])
        prefix = self.prefixes[index % len(self.prefixes)] if kind == "shared_prefix" else []
        n_in, n_out = self.prompts.count(self.inputs), self.prompts.count(self.outputs)
        ids = prefix + self.prompts.ids(max(1, n_in - len(prefix)))
        if self.workload.api == "completions" and self.workload.prompt_format == "token_ids":
            return Job([Turn(self._payload(prompt=ids, max_tokens=n_out), len(ids), n_out)])
        text = self.prompts.tokenizer.decode(prefix) + self.prompts.text(len(ids) - len(prefix))
        if self.workload.api == "completions":
            return Job([Turn(self._payload(prompt=text, max_tokens=n_out), len(ids), n_out)])
        chat = {"messages": [{"role": "user", "content": text}], "max_completion_tokens": n_out}
        return Job([Turn(self._payload(**chat), len(ids), n_out)])

    def _payload(self, **body: Any) -> dict[str, Any]:
        return stream_payload(self.model, ignore_eos=self.workload.ignore_eos, **body)

    def _conversation(self) -> list[Turn]:
        turns = []
        for turn in range(self.workload.turns):
            n_in, n_out = self.prompts.count(self.inputs), self.prompts.count(self.outputs)
            message = {"role": "user", "content": self.prompts.text(n_in)}
            extra = self._tool_exchange(turn) if self.workload.tools else []
            body = {"messages": [message], "max_completion_tokens": n_out}
            if self.workload.tools:
                body |= {"tools": TOOLS, "tool_choice": "auto"}
            turns.append(Turn(self._payload(**body), n_in, n_out, extra))
        return turns

    def _tool_exchange(self, turn: int) -> list[dict[str, Any]]:
        """An agent step after the answer: the assistant calls a tool and the tool result comes back."""
        call_id = f"call_{turn}"
        tool = str(TOOLS[turn % len(TOOLS)]["function"]["name"])  # type: ignore[index]
        arguments = json.dumps({"query" if tool == "search_docs" else "path": self.prompts.text(8)})
        return [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": call_id, "type": "function", "function": {"name": tool, "arguments": arguments}}],
            },
            {"role": "tool", "tool_call_id": call_id, "content": self.prompts.text(self.inputs.mean // 2 or 1)},
        ]

    def _dataset_turn(self, index: int) -> Turn:
        row = self.dataset[index % len(self.dataset)]
        n_out = int(row.get("output_tokens") or self.prompts.count(self.outputs))
        if "messages" in row:
            body = {"messages": row["messages"], "max_completion_tokens": n_out}
            n_in = sum(self.prompts.token_count(str(m.get("content", ""))) for m in row["messages"])
        elif self.workload.api == "chat":
            body = {"messages": [{"role": "user", "content": row["prompt"]}], "max_completion_tokens": n_out}
            n_in = self.prompts.token_count(row["prompt"])
        else:
            body, n_in = {"prompt": row["prompt"], "max_tokens": n_out}, self.prompts.token_count(row["prompt"])
        return Turn(self._payload(**body), n_in, n_out)


def stream_payload(model: str, *, ignore_eos: bool, **body: Any) -> dict[str, Any]:
    payload = {"model": model, "stream": True, "stream_options": {"include_usage": True}, **body}
    if ignore_eos:
        payload["ignore_eos"] = True
    return payload


def _read_dataset(path: Path, seed: int) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    np.random.default_rng(seed).shuffle(rows)
    return rows


def tokens_label(tokens: Tokens) -> str:
    return f"{tokens.mean}" if tokens.dist == "fixed" else f"{tokens.dist}({tokens.mean}+-{tokens.spread:g})"

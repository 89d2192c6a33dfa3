"""Workload jobs: random, shared-prefix, multi-turn with tools, and JSONL datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from bench.load.workload import JobFactory
from bench.scenario.errors import ScenarioError
from bench.scenario.loader import load_scenario
from bench.scenario.schema import Level, Workload
from bench.server.synth_model import write_synthetic_model


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory) -> Path:
    return write_synthetic_model(tmp_path_factory.mktemp("m"), "minimax-m2") / "tokenizer.json"


def factory(tokenizer_file, tmp_path=Path("."), seed=1, **workload) -> JobFactory:
    if "dataset" in workload:  # as the scenario loader leaves it: resolved beside the scenario
        workload["dataset"] = str(tmp_path / workload["dataset"])
    return JobFactory(Workload(**workload), Level(concurrency=1), tokenizer_file, "served", seed=seed)


def test_random_completions_are_token_ids_of_the_requested_length(tokenizer_file):
    jobs = factory(tokenizer_file, input_tokens=300, output_tokens=7).jobs()
    turn = next(jobs).turns[0]
    assert len(turn.payload["prompt"]) == 300 and turn.payload["max_tokens"] == 7
    assert turn.payload["ignore_eos"] and turn.payload["stream_options"] == {"include_usage": True}


def test_seeds_make_prompts_reproducible_and_levels_distinct(tokenizer_file):
    first = next(factory(tokenizer_file, seed=1).jobs()).turns[0].payload["prompt"]
    assert first == next(factory(tokenizer_file, seed=1).jobs()).turns[0].payload["prompt"]
    assert first != next(factory(tokenizer_file, seed=2).jobs()).turns[0].payload["prompt"]


def test_shared_prefix_groups_share_their_first_tokens(tokenizer_file):
    jobs = factory(tokenizer_file, kind="shared_prefix", prefix_tokens=50, num_prefixes=2, input_tokens=80).jobs()
    prompts = [next(jobs).turns[0].payload["prompt"] for _ in range(4)]
    assert prompts[0][:50] == prompts[2][:50] != prompts[1][:50] == prompts[3][:50]
    assert prompts[0][50:] != prompts[2][50:] and all(len(p) == 80 for p in prompts)


def test_multi_turn_with_tools(tokenizer_file):
    job = next(factory(tokenizer_file, kind="multi_turn", api="chat", turns=3, tools=True).jobs())
    assert len(job.turns) == 3 and job.conversation == 0
    first = job.turns[0]
    assert first.payload["tools"][0]["type"] == "function" and first.payload["tool_choice"] == "auto"
    call, result = first.extra_messages
    assert call["tool_calls"][0]["id"] == result["tool_call_id"] and result["role"] == "tool"


def test_dataset_rows_become_requests(tokenizer_file, tmp_path):
    rows = [{"prompt": "hello there", "output_tokens": 5}, {"messages": [{"role": "user", "content": "hi"}]}]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    jobs = factory(tokenizer_file, tmp_path, kind="dataset", api="chat", dataset="d.jsonl", output_tokens=9).jobs()
    payloads = sorted((next(jobs).turns[0].payload for _ in range(2)), key=lambda p: p["max_completion_tokens"])
    assert [p["max_completion_tokens"] for p in payloads] == [5, 9]
    assert {p["messages"][0]["content"] for p in payloads} == {"hello there", "hi"}


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot read"), ("", "no rows"), ("{not json}", "not JSON"), ('{"text": 1}', "needs")],
)
def test_bad_datasets_fail_at_load_time(tmp_path, content, problem):
    if content is not None:
        (tmp_path / "d.jsonl").write_text(content)
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ndeployments: [{name: a}]\nworkload:\n  kind: dataset\n  dataset: d.jsonl\n"
        "load: {levels: [{concurrency: 1}]}\n"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == "workload.dataset" and info.value.line == 5 and problem in info.value.problem


def test_completions_as_text_like_vllm_bench_serve(tokenizer_file):
    """prompt_format: text sends a string of the requested length (vLLM's random dataset does the same);
    the default sends the token ids themselves."""
    ids = factory(tokenizer_file, input_tokens=64, output_tokens=4).job(0).turns[0].payload["prompt"]
    text_turn = factory(tokenizer_file, input_tokens=64, output_tokens=4, prompt_format="text").job(0).turns[0]
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    assert isinstance(ids, list) and len(ids) == 64
    assert isinstance(text_turn.payload["prompt"], str) and text_turn.expected_input_tokens == 64
    assert len(tokenizer.encode(text_turn.payload["prompt"], add_special_tokens=False).ids) == 64

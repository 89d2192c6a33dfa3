"""`bench plan` as scripts call it: JSON surface, tables, and one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bench.cli import app

REQUIRED_KEYS = {
    "weights_bytes_total",
    "weights_bytes_per_gpu",
    "kv_bytes_per_token",
    "kv_bytes_per_token_per_gpu",
    "kv_capacity_tokens",
    "max_concurrency",
    "gpus",
    "tp",
    "ep",
    "dp",
    "pp",
    "overhead_bytes_per_gpu",
    "assumptions",
}
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["plan", *args])


def test_forward_json_has_the_documented_keys():
    result = run(
        "minimax-m2", "--gpu", "h200", "--gpus", "8", "--tp", "8", "--ep", "--gpu-memory-utilization", "0.9", "--json"
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan.keys() >= REQUIRED_KEYS
    assert (plan["gpus"], plan["tp"], plan["ep"], plan["kv_bytes_per_token_per_gpu"]) == (8, 8, True, 31_744)
    assert all(isinstance(a, str) for a in plan["assumptions"]) and plan["assumptions"]


def test_fp8_kv_doubles_tokens_per_byte():
    bf16 = json.loads(run("minimax-m2", "--gpu", "h200", "--tp", "4", "--json").output)
    fp8 = json.loads(run("minimax-m2", "--gpu", "h200", "--tp", "4", "--kv-cache-dtype", "fp8", "--json").output)
    assert fp8["kv_bytes_per_token_per_gpu"] * 2 == bf16["kv_bytes_per_token_per_gpu"]
    assert fp8["kv_capacity_tokens"] >= 2 * bf16["kv_capacity_tokens"] - fp8["block_size"]


def test_inverse_json_is_a_list_fewest_gpus_first():
    result = run("minimax-m2", "--gpu", "h200", "--target-context", "1000000", "--json")
    assert result.exit_code == 0, result.output
    plans = json.loads(result.output)
    assert isinstance(plans, list) and plans
    assert [p["gpus"] for p in plans] == sorted(p["gpus"] for p in plans)
    assert all(p.keys() >= REQUIRED_KEYS and p["total_kv_capacity_tokens"] >= 1_000_000 for p in plans)


def test_table_shows_the_arithmetic():
    result = run("minimax-m2", "--gpu", "rtx-pro-6000", "--tp", "4", "--gpu-memory-utilization", "0.9")
    assert result.exit_code == 0
    for step in ("x gpu_memory_utilization 0.9", "- weights", "- overhead", "= KV budget", "63,488 B", "tokens"):
        assert step in result.output


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["no-such-model", "--gpu", "h100"], "MODEL"),
        (["minimax-m2", "--gpu", "tpu-v9"], "--gpu"),
        (["minimax-m2", "--gpu", "h200", "--tp", "8"], "--tp"),
        (["minimax-m2", "--gpu", "h200", "--gpus", "6", "--tp", "4"], "--gpus"),
        (["minimax-m2", "--gpu", "h200", "--tp", "4", "--kv-cache-dtype", "int3"], "--kv-cache-dtype"),
        (["minimax-m2", "--gpu", "h200", "--tp", "4", "--gpu-memory-utilization", "1.5"], "--gpu-memory-utilization"),
        (["minimax-m2", "--gpu", "h100", "--target-context", "100000000", "--max-gpus", "8"], "--target-context"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, field):
    result = run(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}") and "fix:" in lines[0]
    assert "Traceback" not in result.output


def test_config_missing_a_field_names_it(write_config):
    folder = write_config({"num_hidden_layers": 2, "hidden_size": 64, "vocab_size": 100})
    result = run(str(folder), "--gpu", "h100")
    assert result.exit_code == 2 and "num_attention_heads" in result.output

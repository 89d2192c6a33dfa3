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


def test_server_flags_move_the_budget_term_by_term():
    base = json.loads(run("minimax-m2", "--gpu", "h200", "--tp", "8", "--ep", "--json").output)
    eager = json.loads(run("minimax-m2", "--gpu", "h200", "--tp", "8", "--ep", "--enforce-eager", "--json").output)
    small = json.loads(run("minimax-m2", "--gpu", "h200", "--tp", "8", "--ep", "--max-num-seqs", "256",
                           "--max-num-batched-tokens", "2048", "--json").output)  # fmt: skip
    assert eager["cudagraph_bytes_per_gpu"] == 0 < base["cudagraph_bytes_per_gpu"]
    assert small["activation_bytes_per_gpu"] < base["activation_bytes_per_gpu"]
    assert (
        eager["kv_capacity_tokens"] > base["kv_capacity_tokens"]
        and small["kv_capacity_tokens"] > base["kv_capacity_tokens"]
    )
    assert base["server"]["max_num_batched_tokens"] == 8192 and base["gpu_memory_utilization"] == 0.92  # H200 defaults
    assert "--enforce-eager" in eager["vllm_flags"] and "--max-num-seqs 256" in small["vllm_flags"]


def test_cudagraph_mode_as_a_flag_or_as_vllms_json_is_the_same_plan():
    flag = json.loads(run("minimax-m2", "--gpu", "h200", "--tp", "8", "--ep", "--cudagraph-mode", "PIECEWISE",
                          "--json").output)  # fmt: skip
    config = json.loads(run("minimax-m2", "--gpu", "h200", "--tp", "8", "--ep", "--compilation-config",
                            '{"cudagraph_mode": "PIECEWISE"}', "--json").output)  # fmt: skip
    assert (
        flag["kv_capacity_tokens"] == config["kv_capacity_tokens"] and flag["server"]["cudagraph_mode"] == "PIECEWISE"
    )


@pytest.mark.parametrize(("args", "field"), [
    (["--cudagraph-mode", "SOMETIMES"], "--compilation-config"),
    (["--cudagraph-mode", "PIECEWISE", "--enforce-eager"], "--cudagraph-mode"),
    (["--compilation-config", "{not json"], "--compilation-config"),
])  # fmt: skip
def test_bad_server_flags_are_one_line_exit_2(args, field):
    result = run("minimax-m2", "--gpu", "h200", "--tp", "8", "--ep", *args)
    assert result.exit_code == 2 and result.output.startswith(f"error: {field}") and "fix:" in result.output


def test_a_calibration_file_of_another_format_is_refused(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"format_version": 0, "name": "old"}))
    result = run("minimax-m2", "--gpu", "h200", "--tp", "8", "--ep", "--calibration", str(path))
    assert result.exit_code == 2 and "format_version 0, this planner reads 2" in result.output
    assert "bench calibrate" in result.output


def test_the_plan_names_its_calibration_and_what_it_defaulted():
    result = json.loads(run("minimax-m2", "--gpu", "h100", "--tp", "8", "--ep", "--vllm-version", "0.32.0",
                            "--json").output)  # fmt: skip
    notes = " ".join(result["assumptions"])
    assert "calibration vllm-0.26.0 measured on vLLM 0.26.0, applied to vLLM 0.32.0" in notes
    assert "vLLM 0.32.0 defaults: max_num_batched_tokens 8192, max_num_seqs 1024, gpu_memory_utilization 0.92" in notes


PERF_KEYS = {"mean_ttft_ms", "median_ttft_ms", "mean_tpot_ms", "mean_itl_ms", "output_throughput", "request_throughput"}


def test_performance_json_names_metrics_as_vllm_and_says_where_its_factors_come_from():
    result = run("minimax-m2", "--gpu", "h200", "--gpus", "8", "--ep", "--vllm-version", "0.26.0", "--performance",
                 "--concurrency", "1,16", "--slo-tpot-ms", "50", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    speed = json.loads(result.output)["performance"]
    assert [level["concurrency"] for level in speed["levels"]] == [1, 16]
    assert all(level.keys() >= PERF_KEYS for level in speed["levels"])
    assert "fitted on it" in speed["factors_source"] and speed["slo_concurrency"] >= 16
    # more requests at once: each waits longer for its tokens, and more tokens come out in all
    one, sixteen = speed["levels"]
    assert sixteen["mean_tpot_ms"] > one["mean_tpot_ms"] and sixteen["output_throughput"] > one["output_throughput"]


@pytest.mark.parametrize(("input_tokens", "caveats"), [("512", 0), ("513", 1)])
def test_a_prompt_past_the_largest_cuda_graph_says_its_ttft_depends_on_the_host(input_tokens, caveats):
    # dummy weights: the router sends every token to the same experts, as the fitted levels did (no routing caveat)
    result = run("minimax-m2", "--gpu", "h200", "--tp", "4", "--vllm-version", "0.26.0", "--performance",
                 "--concurrency", "1", "--input-tokens", input_tokens, "--load-format", "dummy", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    notes = json.loads(result.output)["performance"]["caveats"]
    assert len(notes) == caveats and all("largest CUDA graph (512 tokens)" in n for n in notes)


@pytest.mark.parametrize(("input_tokens", "piecewise"), [("256", True), ("1024", False)])
def test_an_open_loop_of_prompts_under_the_largest_cuda_graph_warns_of_piecewise_steps(input_tokens, piecewise):
    result = run("minimax-m2", "--gpu", "h200", "--tp", "4", "--vllm-version", "0.26.0", "--performance",
                 "--concurrency", "1", "--request-rate", "4", "--input-tokens", input_tokens, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    notes = json.loads(result.output)["performance"]["caveats"]
    assert any("piecewise CUDA graph" in n for n in notes) == piecewise


@pytest.mark.parametrize(("mode", "warned"), [("PIECEWISE", True), ("FULL_DECODE_ONLY", True),
                                              ("FULL_AND_PIECEWISE", False)])  # fmt: skip
def test_a_cudagraph_mode_the_model_has_not_measured_says_so(mode, warned):
    result = run("minimax-m2", "--gpu", "h100", "--tp", "4", "--vllm-version", "0.26.0", "--performance",
                 "--concurrency", "1", "--compilation-config", f'{{"cudagraph_mode": "{mode}"}}', "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    notes = json.loads(result.output)["performance"]["caveats"]
    assert any(n.startswith(f"cudagraph_mode {mode}") for n in notes) == warned


@pytest.mark.parametrize(("model", "warned"), [("minimax-m2", False), ("qwen3-32b", False), ("mixtral-8x7b", True)])
def test_a_model_class_no_run_measured_says_whose_factors_it_borrows(model, warned):
    result = run(model, "--gpu", "h200", "--gpus", "4", "--vllm-version", "0.26.0", "--performance",
                 "--concurrency", "1", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    performance = json.loads(result.output)["performance"]
    borrowed = [n for n in performance["caveats"] if n.startswith("no ") and "model was measured" in n]
    assert bool(borrowed) == warned
    # qwen3-32b (dense bf16) has its own class's set; mixtral (MoE bf16, no such run) takes the MoE FP8 one
    fitted = "dense bf16" if model == "qwen3-32b" else "moe fp8"
    if warned:
        assert f"fitted on {fitted} levels" in borrowed[0]
    assert f"on {fitted} levels" in performance["factors_source"]


def test_piecewise_graphs_on_a_card_fitted_on_them_are_priced_with_the_hosts_floor():
    def predict(mode):
        graphs = f'{{"cudagraph_mode": "{mode}"}}'
        result = run("minimax-m2", "--gpu", "h200", "--tp", "4", "--vllm-version", "0.26.0", "--performance",
                     "--concurrency", "1", "--compilation-config", graphs, "--json")  # fmt: skip
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["performance"]

    piecewise, default = predict("PIECEWISE"), predict("FULL_AND_PIECEWISE")
    assert piecewise["factors"]["piecewise_layer_us"] > 0  # the H200's PIECEWISE levels fitted it
    assert piecewise["levels"][0]["mean_tpot_ms"] > default["levels"][0]["mean_tpot_ms"]
    assert any("priced at least the host's" in n for n in piecewise["caveats"])


@pytest.mark.parametrize(("concurrency", "input_tokens", "from_c"), [
    ("2", "256", None), ("2,4,8", "256", "c4"), ("64", "512", None), ("1,2", "511", "c2"), ("8,9", "64", "c9"),
])  # fmt: skip
def test_a_closed_loop_whose_prompts_together_pass_the_largest_cuda_graph_warns_of_whole_waves(
    concurrency, input_tokens, from_c
):
    result = run("minimax-m2", "--gpu", "h200", "--tp", "4", "--vllm-version", "0.26.0", "--performance",
                 "--concurrency", concurrency, "--input-tokens", input_tokens, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    waves = [n for n in json.loads(result.output)["performance"]["caveats"] if "whole waves" in n]
    assert waves == ([] if from_c is None else [next(n for n in waves if n.startswith(f"at {from_c} and above"))])


@pytest.mark.parametrize(("args", "field"), [
    (["--gpu", "l40s", "--gpus", "8", "--ep"], "--gpu"),  # no performance calibration for its family
    (["--gpu", "h100", "--gpus", "8", "--ep", "--concurrency", "1,x"], "--concurrency"),
])  # fmt: skip
def test_performance_refusals_name_the_flag(args, field):
    result = run("minimax-m2", *args, "--performance")
    assert result.exit_code == 2 and f"error: {field}:" in result.output


TRACES = "tests/data/traces"


def test_plan_for_a_trace_lists_layouts_that_hold_its_p99_with_headroom_as_json():
    result = run("minimax-m2", "--gpu", "h200", "--trace", f"{TRACES}/azure.csv", "--trace-format", "azure",
                 "--max-model-len", "8192", "--slo-ttft-ms", "5000", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["trace"]["rows"] == 60 and out["trace"]["served"] == 58 and len(out["trace"]["skipped"]) == 2
    for fit in out["layouts"]:
        assert fit["fits"] and fit["p99_tokens"] * 1.2 <= fit["plan"]["kv_capacity_tokens"]
        assert fit["timing"]["source"].startswith("replayed") and fit["meets_slo"] is True
    gpus = [fit["plan"]["gpus"] for fit in out["layouts"]]
    assert gpus == sorted(gpus)


def test_one_layout_judged_against_a_trace_even_when_it_does_not_hold_it():
    args = ("minimax-m2", "--gpu", "h200", "--gpus", "4", "--trace", f"{TRACES}/agentic.jsonl", "--max-model-len",
            "8192", "--assume-ttft-ms", "500", "--assume-tpot-ms", "30", "--json")  # fmt: skip
    fit = json.loads(run(*args).output)["layouts"][0]
    assert (fit["plan"]["gpus"], fit["timing"]["source"]) == (4, "assumed (--assume-*)") and fit["fits"]
    tight = json.loads(run(*args, "--headroom", "1000").output)["layouts"][0]
    assert not tight["fits"] and tight["p99_tokens"] == fit["p99_tokens"]


def test_a_bad_trace_row_is_exit_2_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp": 0, "input_tokens": 10, "output_tokens": 2}\n{"timestamp": 1, "input_tokens": "x"}\n')
    result = run("minimax-m2", "--gpu", "h200", "--trace", str(bad))
    assert result.exit_code == 2 and f"{bad}:2: input_tokens" in result.output


def test_a_trace_plan_on_a_gpu_without_a_speed_calibration_says_so_and_how_to_go_on():
    result = run("minimax-m2", "--gpu", "l40s", "--trace", f"{TRACES}/agentic.jsonl")
    assert result.exit_code == 2 and "no performance calibration for l40s" in result.output
    assumed = run("minimax-m2", "--gpu", "l40s", "--trace", f"{TRACES}/agentic.jsonl", "--max-model-len", "8192",
                  "--assume-ttft-ms", "500", "--assume-tpot-ms", "30", "--json")  # fmt: skip
    assert assumed.exit_code == 0 and json.loads(assumed.output)["layouts"][0]["fits"]


@pytest.mark.parametrize(("layout", "ep_note", "engines_note"),
                         [(("--tp", "4"), False, False), (("--tp", "8", "--ep"), True, False),
                          (("--tp", "4", "--dp", "2", "--ep"), True, True)])  # fmt: skip
def test_an_expert_parallel_plan_says_which_moe_kernel_it_prices(layout, ep_note, engines_note):
    result = run("minimax-m2", "--gpu", "h200", *layout, "--vllm-version", "0.26.0", "--performance",
                 "--concurrency", "1", "--input-tokens", "256", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    notes = json.loads(result.output)["performance"]["caveats"]
    assert any("priced with TP's MoE kernel" in n for n in notes) == ep_note
    assert any("stepping together" in n for n in notes) == engines_note


def test_dp_engines_each_take_their_share_of_the_load():
    # a dense model's DP engines share nothing: two engines at c32 decode as one at c16, and make twice its tokens
    def levels(gpus: int) -> list[dict]:
        result = run("qwen3-32b", "--gpu", "h200", "--gpus", str(gpus), "--dp", str(gpus), "--vllm-version", "0.26.0",
                     "--performance", "--concurrency", "16,32", "--json")  # fmt: skip
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["performance"]["levels"]

    (one_c16, _), (_, two_c32) = levels(1), levels(2)
    assert two_c32["mean_tpot_ms"] == pytest.approx(one_c16["mean_tpot_ms"])
    assert two_c32["output_throughput"] == pytest.approx(2 * one_c16["output_throughput"], rel=0.01)


def test_a_moe_model_s_dp_engines_gather_each_other_s_tokens():
    # TP2 DP2 spreads each expert over 4 GPUs, TP2 over 2: alone, an engine of the first would read half the
    # expert bytes a step. But each MoE layer runs both engines' tokens (twice the experts touched, each half
    # the size) and exchanges them: at c2 its steps cost more than TP2's at c1, its throughput less than twice
    def level(*layout: str, concurrency: int) -> dict:
        result = run("minimax-m2", "--gpu", "h200", *layout, "--vllm-version", "0.26.0", "--performance",
                     "--concurrency", str(concurrency), "--input-tokens", "1024", "--max-model-len", "32768",
                     "--json")  # fmt: skip
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["performance"]["levels"][0]

    one, two = level("--tp", "2", concurrency=1), level("--tp", "2", "--dp", "2", concurrency=2)
    assert two["mean_tpot_ms"] > one["mean_tpot_ms"]
    assert two["output_throughput"] < 2 * one["output_throughput"]


def test_an_idle_dp_engine_of_a_moe_model_still_steps_beside_the_busy_one():
    # at c1 one engine decodes and the other runs a one-token dummy batch to join its MoE layers, so each MoE
    # layer runs two tokens - as at c2, where each engine decodes one
    result = run("minimax-m2", "--gpu", "h200", "--tp", "2", "--dp", "2", "--vllm-version", "0.26.0", "--performance",
                 "--concurrency", "1,2", "--input-tokens", "1024", "--max-model-len", "32768", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    c1, c2 = json.loads(result.output)["performance"]["levels"]
    assert c1["mean_tpot_ms"] == pytest.approx(c2["mean_tpot_ms"], rel=1e-3)


@pytest.mark.parametrize(("model", "dummy", "uniform"), [
    ("minimax-m2", False, True), ("minimax-m2", True, False), ("mixtral-8x7b", True, True), ("qwen3-32b", False, False)
])  # fmt: skip
def test_a_router_spreading_tokens_says_what_its_runs_showed(model, dummy, uniform):
    # MiniMax-M2's router bias on dummy weights sends every token to the same experts, as every fitted MoE level
    # did; real weights, or a router without the bias (Mixtral), spread them; a dense model has no router
    args = [model, "--gpu", "h200", "--gpus", "4", "--vllm-version", "0.26.0", "--performance", "--concurrency", "1"]
    result = run(*args, *(["--load-format", "dummy"] if dummy else []), "--json")
    assert result.exit_code == 0, result.output
    caveats = json.loads(result.output)["performance"]["caveats"]
    assert any("'Twenty-sixth check'" in c and "spreads tokens over the experts" in c for c in caveats) == uniform

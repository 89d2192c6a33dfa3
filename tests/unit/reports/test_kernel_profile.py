"""A profiled step's span, busy and idle time and kernel kinds, from a hand-built GPU trace whose answers are
worked out below by hand (the live CPU trace: tests/live/test_profile.py)."""

from __future__ import annotations

import gzip
import json

import pytest

from reports.kernel_profile import kernel_kind, profiled_steps, read_trace


def kernel(name: str, ts: float, dur: float) -> dict:
    return {"ph": "X", "cat": "kernel", "name": name, "ts": ts, "dur": dur}


def step_range(name: str, ts: float, dur: float, cat: str = "gpu_user_annotation") -> dict:
    return {"ph": "X", "cat": cat, "name": name, "ts": ts, "dur": dur}


EVENTS = [
    # a prompt step of 8,192 tokens on the device from t=1000 us to 1600 us:
    step_range("execute_context_8(8192)_generation_0(0)", 1000, 600),
    step_range("execute_context_8(8192)_generation_0(0)", 900, 800, cat="user_annotation"),  # the host's: not it
    kernel("fused_moe_kernel", 1000, 200),  # 1000-1200
    kernel("sm90_xmma_gemm_e4m3_128x128", 1150, 100),  # overlaps the MoE kernel by 50: 1200-1250 new
    kernel("flash_fwd_kernel", 1400, 100),  # 1400-1500 (1250-1400 idle: the host launching)
    kernel("ncclDevKernel_AllReduce_Sum_bf16", 1550, 100),  # ends past the span: counts to 1600 in busy
    # a decode step of 16 requests, 1700-1800, one kernel of no listed kind
    step_range("execute_context_0(0)_generation_16(16)", 1700, 100),
    kernel("rms_norm_kernel", 1700, 40),
    kernel("fused_moe_kernel", 1900, 10),  # after every step: in none
    {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 1000, "dur": 500},  # host work: not device time
]


def test_steps_carry_span_busy_idle_and_kernel_kinds(tmp_path):
    path = tmp_path / "rank0.pt.trace.json.gz"
    with gzip.open(path, "wt") as handle:
        json.dump({"traceEvents": EVENTS}, handle)
    prompt, decode = profiled_steps(read_trace(path))
    assert (prompt.prompts, prompt.prompt_tokens, prompt.decodes, prompt.tokens) == (8, 8192, 0, 8192)
    assert prompt.span_ms == pytest.approx(0.6)
    assert prompt.busy_ms == pytest.approx(0.2 + 0.05 + 0.1 + 0.05)  # the union within the span
    assert prompt.idle_ms == pytest.approx(0.2)
    assert prompt.by_kind == pytest.approx({"moe": 0.2, "gemm": 0.1, "attention": 0.1, "communication": 0.1})
    assert (decode.decodes, decode.decode_tokens, decode.prompt_tokens) == (16, 16, 0)
    assert (decode.span_ms, decode.busy_ms) == (pytest.approx(0.1), pytest.approx(0.04))
    assert decode.by_kind == pytest.approx({"other": 0.04})


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("fused_moe_kernel", "moe"),
        ("_C::cpu_fused_moe", "moe"),
        ("_C::cpu_attention_with_kv_cache", "attention"),
        ("flash::flash_fwd_splitkv_kernel", "attention"),
        ("_C::onednn_mm", "gemm"),
        ("nvjet_tst_128x64_64x8_1x2_h_bz_TNT", "gemm"),
        ("cross_device_reduce_1stage<bf16, 2>", "communication"),
        ("triton_poi_fused_add_rms_norm_0", "other"),
    ],
)
def test_kernel_kinds_by_name(name, kind):
    assert kernel_kind(name) == kind

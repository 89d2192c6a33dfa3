"""Per-GPU memory vLLM keeps out of the KV budget, as named profiles tied to where they came from.

vLLM (V1, gpu_worker.determine_available_memory) subtracts from `total x utilization`: the weights,
the activation peak of its profiling forward pass, non-torch growth (NCCL, cuBLAS workspaces) and,
in newer releases, its CUDA-graph memory estimate. None of the last three is a constant of nature:
they move with max_num_batched_tokens, the vLLM version and TP size, so each profile states its source.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from planner.errors import InputError
from planner.units import GIB


class OverheadProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    activation_peak_gib: float
    non_torch_gib: float
    cudagraph_gib: float
    vllm_version: str
    source: str
    architecture: str | None = None  # the model class it was measured on, for automatic selection

    @property
    def total_gib(self) -> float:
        return self.activation_peak_gib + self.non_torch_gib + self.cudagraph_gib

    @property
    def total_bytes(self) -> int:
        return round(self.total_gib * GIB)


# Fitted from the real TP4 log (4x RTX PRO 6000, shared/reference/minimax-m2.md):
# 0.9 x 94.97 GiB - 53.75 GiB weights - 399,424 tokens x 63,488 B/token = 8.11 GiB, not split by kind.
_SEED_FIT = round(0.9 * 94.97 - 53.75 - 399_424 * 63_488 / GIB, 2)

PROFILES: dict[str, OverheadProfile] = {
    p.name: p
    for p in (
        OverheadProfile(
            name="minimax-m2-tp4-fit",
            activation_peak_gib=_SEED_FIT,
            non_torch_gib=0.0,
            cudagraph_gib=0.0,
            vllm_version="unknown (seed log)",
            source="fitted to a real MiniMax-M2 TP4 log on 4x96 GB: 399,424 KV tokens with 53.75 GiB of weights "
            "at utilization 0.9; the three terms are lumped under activation",
        ),
        OverheadProfile(
            name="h100-vllm-0.26.0",
            activation_peak_gib=3.61,
            non_torch_gib=0.25,
            cudagraph_gib=1.06,
            vllm_version="0.26.0",
            architecture="MiniMaxM2ForCausalLM",
            source="measured by bench on the lent H100 80GB HBM3, vLLM 0.26.0: MiniMax-M2 attention shape with 32 "
            "experts, TP1, max_model_len 131072 (the 'Free memory on device' and 'Estimated CUDA graph memory' "
            "lines of results/gpu_single/*/deployments/bf16-u090/server.log; fp8 KV at 0.8 checks it)",
        ),
        OverheadProfile(
            name="none",
            activation_peak_gib=0.0,
            non_torch_gib=0.0,
            cudagraph_gib=0.0,
            vllm_version="any",
            source="no overhead: an upper bound on capacity",
        ),
    )
}
DEFAULT_PROFILE = "minimax-m2-tp4-fit"


def select_profile(architecture: str, vllm_version: str | None) -> str | None:
    """A profile measured on this model class with this vLLM version, if one exists."""
    return next(
        (
            p.name
            for p in PROFILES.values()
            if p.architecture == architecture and vllm_version and p.vllm_version == vllm_version
        ),
        None,
    )


def resolve_overhead(profile: str | None = None, total_gib: float | None = None) -> OverheadProfile:
    """A named profile, or an explicit total (--overhead-gib) which wins."""
    if total_gib is not None:
        if total_gib < 0:
            raise InputError("--overhead-gib", f"{total_gib} is negative", "give a size in GiB >= 0")
        return OverheadProfile(
            name="explicit",
            activation_peak_gib=total_gib,
            non_torch_gib=0.0,
            cudagraph_gib=0.0,
            vllm_version="any",
            source=f"given: --overhead-gib {total_gib}",
        )
    name = profile or DEFAULT_PROFILE
    if name not in PROFILES:
        raise InputError("--overhead-profile", f"unknown profile '{name}'", f"use one of {', '.join(PROFILES)}")
    return PROFILES[name]

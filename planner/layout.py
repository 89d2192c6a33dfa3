"""Parallel layouts (TP / PP / DP / EP) and the checks vLLM makes before it will start one."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from planner.errors import InputError, LayoutRejected
from planner.model_spec import ModelSpec, MoESpec
from planner.quantization import QuantSpec


class Layout(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tp: int = Field(1, ge=1)
    pp: int = Field(1, ge=1)
    dp: int = Field(1, ge=1)
    ep: bool = False

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp

    @property
    def ep_size(self) -> int:
        """vLLM spreads experts over every TP x DP rank of a stage when expert parallel is on."""
        return self.tp * self.dp if self.ep else 1

    @property
    def moe_tp(self) -> int:
        """The TP size of the MoE layers: without EP vLLM flattens TP across DP there, so every expert is
        split over tp x dp ranks (FusedMoEParallelConfig.make); with EP experts are whole (1)."""
        return 1 if self.ep else self.tp * self.dp

    def coupled_engines(self, moe: MoESpec | None) -> int:
        """DP engines that step together: a MoE model's, whose MoE layers gather each other's tokens (vLLM's
        all-gather / reduce-scatter over the DP group); a dense model's engines are independent (1)."""
        return self.dp if moe is not None else 1

    def local_experts(self, num_experts: int) -> int:
        """The most experts one rank holds: with EP vLLM's linear placement gives each of the ep_size
        ranks num_experts // ep_size, the first (num_experts % ep_size) ranks one more
        (fused_moe determine_expert_map); without EP every rank holds a slice of every expert."""
        return -(-num_experts // self.ep_size) if self.ep else num_experts

    def label(self) -> str:
        """Short form for tables: TP4, TP2 PP2, TP8 EP8, TP4 DP2 EP8."""
        parts = [f"TP{self.tp}"] + [f"{k}{v}" for k, v in (("PP", self.pp), ("DP", self.dp)) if v > 1]
        return " ".join(parts + ([f"EP{self.ep_size}"] if self.ep else []))

    def flags(self) -> str:
        parts = [f"--tensor-parallel-size {self.tp}"]
        if self.pp > 1:
            parts.append(f"--pipeline-parallel-size {self.pp}")
        if self.dp > 1:
            parts.append(f"--data-parallel-size {self.dp}")
        if self.ep:
            parts.append("--enable-expert-parallel")
        return " ".join(parts)


def layout_from_flags(gpus: int | None, tp: int | None, pp: int, dp: int, *, ep: bool) -> Layout:
    """Fill in TP from --gpus when only the GPU count is given; reject counts that don't multiply out."""
    for name, value in (("--gpus", gpus), ("--tp", tp), ("--pp", pp), ("--dp", dp)):
        if value is not None and value < 1:
            raise InputError(name, f"must be at least 1, got {value}", f"set {name} to a positive integer")
    if tp is None:
        tp = 1 if gpus is None else gpus // (pp * dp)
        if gpus is not None and (tp < 1 or tp * pp * dp != gpus):
            raise InputError(
                "--gpus",
                f"{gpus} GPUs is not a multiple of pp x dp = {pp * dp}",
                "pick --gpus divisible by --pp x --dp, or set --tp",
            )
    if gpus is not None and tp * pp * dp != gpus:
        raise InputError(
            "--gpus",
            f"{gpus} != tp x pp x dp = {tp} x {pp} x {dp} = {tp * pp * dp}",
            "drop --gpus, or make it equal tp x pp x dp",
        )
    return Layout(tp=tp, pp=pp, dp=dp, ep=ep)


def pp_layer_split(num_layers: int, pp: int) -> list[int]:
    """Layers per pipeline stage as vLLM's get_pp_indices splits them: the remainder goes to
    the stages just before the last one, which already carries the LM head."""
    parts = [num_layers // pp] * pp
    for i in range(2, num_layers % pp + 2):
        parts[-i] += 1
    return parts


def stage_layers(num_layers: int, pp: int, stage: int) -> range:
    """The decoder layers pipeline stage `stage` holds."""
    split = pp_layer_split(num_layers, pp)
    return range(sum(split[:stage]), sum(split[: stage + 1]))


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def check_layout(model: ModelSpec, layout: Layout) -> None:
    """Raise LayoutRejected for layouts vLLM refuses at start-up, with vLLM's reason."""
    tp = layout.tp
    if model.num_heads % tp:
        raise LayoutRejected(
            "--tp",
            f"{model.num_heads} attention heads are not divisible by tp={tp}",
            f"use --tp in {divisors(model.num_heads)}",
        )
    kv = model.num_kv_heads
    if (kv >= tp and kv % tp) or (kv < tp and tp % kv):
        raise LayoutRejected(
            "--tp",
            f"{kv} KV heads can be neither split nor replicated evenly over tp={tp}",
            f"use --tp dividing {kv} or a multiple of it",
        )
    if layout.pp > model.num_layers:
        raise LayoutRejected(
            "--pp", f"pp={layout.pp} exceeds the {model.num_layers} layers", f"use --pp <= {model.num_layers}"
        )
    if model.moe:
        _check_moe(model, model.moe, layout)
    if model.quant and model.quant.block:
        _check_fp8_blocks(model, model.quant, model.quant.block, layout)


def _check_moe(model: ModelSpec, moe: MoESpec, layout: Layout) -> None:
    experts = moe.num_experts
    if layout.ep and layout.ep_size > experts:
        raise LayoutRejected(
            "--ep",
            f"{layout.ep_size} expert-parallel ranks exceed the {experts} experts",
            "use fewer GPUs per stage, or drop --ep",
        )
    if not layout.ep and layout.tp > experts and model.model_type.startswith("minimax"):
        raise LayoutRejected(
            "--tp", f"tensor parallel size {layout.tp} is greater than the number of experts {experts}", "add --ep"
        )


def _check_fp8_blocks(model: ModelSpec, quant: QuantSpec, block: tuple[int, int], layout: Layout) -> None:
    """vLLM's Fp8 block checks: every TP shard of a block-quantized weight must hold whole blocks."""
    block_n, block_k = block
    tp = layout.tp
    shards: list[tuple[str, int, int]] = []  # (what, output or input size per shard, block)
    if quant.attention_quantized:
        shards += [
            ("q_proj output", model.num_heads // tp * model.head_dim, block_n),
            ("k/v_proj output", max(1, model.num_kv_heads // tp) * model.head_dim, block_n),
        ]
        if tp > 1:
            shards.append(("o_proj input", model.num_heads // tp * model.head_dim, block_k))
    if quant.mlp_quantized:
        if model.dense_layers and model.intermediate_size:
            shards += _mlp_shards("MLP", model.intermediate_size // tp, tp, block_n=block_n, block_k=block_k)
        if model.moe and not layout.ep:  # split over tp x dp: vLLM flattens TP across DP in MoE layers
            moe_tp = layout.moe_tp
            shards += _mlp_shards(
                "experts", model.moe.expert_intermediate_size // moe_tp, moe_tp, block_n=block_n, block_k=block_k
            )
        if model.moe and model.moe.shared_expert_intermediate_size:
            shards += _mlp_shards(
                "shared expert", model.moe.shared_expert_intermediate_size // tp, tp, block_n=block_n, block_k=block_k
            )
    for what, size, multiple in shards:
        if size % multiple:
            fix = "add --ep (experts are then split whole)" if what.startswith("experts") else "use a smaller --tp"
            raise LayoutRejected(
                "--tp",
                f"{_sharding(layout, what)}: {what} per shard = {size} is not a multiple of the FP8 weight block "
                f"{multiple}",
                fix,
            )


def _sharding(layout: Layout, what: str) -> str:
    """How a weight is split, for the refusal: experts over tp x dp without EP, the rest over tp."""
    if what.startswith("experts") and layout.dp > 1:
        return f"tp x dp = {layout.tp} x {layout.dp}"
    return f"tp={layout.tp}"


def _mlp_shards(what: str, per_shard: int, tp: int, *, block_n: int, block_k: int) -> list[tuple[str, int, int]]:
    shards = [(f"{what} gate/up output", per_shard, block_n)]
    if tp > 1:
        shards.append((f"{what} down input", per_shard, block_k))
    return shards

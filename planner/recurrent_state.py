"""Layers that keep a fixed state per request instead of KV per token: vLLM sizes each as a MambaSpec
(vllm/model_executor/layers/mamba/mamba_utils.py, MambaStateShapeCalculator / MambaStateDtypeCalculator):

- Gated DeltaNet (Qwen3-Next, `layer_types` linear_attention with linear_* keys): a conv state of
  (2 x key heads x key dim + value heads x value dim) / TP channels x (conv kernel - 1), and a recurrent
  state of value heads / TP x value dim x key dim;
- Mamba2 (Nemotron-H `hybrid_override_pattern` M layers; Falcon-H1, whose every layer runs one beside
  its attention): a conv state of (intermediate + 2 x groups x state size) / TP channels x (conv kernel - 1),
  groups first raised to a multiple of TP when TP does not divide them, and an SSM state of
  heads / TP x head dim x state size;
- lightning attention (MiniMax-Text-01 / M1, `attn_type_list` 0): heads / TP x head dim x head dim.

The conv state (and lightning's one state) is in the model's dtype; the recurrent / SSM state in
`mamba_ssm_cache_dtype`: the model's unless the model declares one (Nemotron-H: float32, from its
config or vLLM's default for it) or the host forces float32 (CPU hosts with AVX-512 BF16 or AMX).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.errors import InputError

GDN_KEYS = ("linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim", "linear_value_head_dim",
            "linear_conv_kernel_dim")  # fmt: skip
SSM_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
NEMOTRON_H_SSM_DTYPE = "float32"  # vLLM's NemotronHForCausalLMConfig default when the config names none


def _conv_and_recurrent(channels: int, kernel: int, recurrent: int, *, dtype_bytes: int, ssm_bytes: int) -> int:
    """The two states of GDN and Mamba2: the causal conv's last kernel - 1 inputs of every channel, in the
    model's dtype, and the recurrent (SSM) state, in mamba_ssm_cache_dtype."""
    return channels * (kernel - 1) * dtype_bytes + recurrent * ssm_bytes


class _StateLayer(BaseModel):
    """What every state layer kind carries besides its dimensions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ssm_dtype_bytes: int | None = None  # the recurrent state's dtype when the model declares one
    prefill_checkpoint_blocks: int = 0  # extra blocks a request holds in 'align' mode (vLLM >= 0.32)


class GDNState(_StateLayer):
    kind: Literal["gdn"] = "gdn"
    linear_num_key_heads: int
    linear_num_value_heads: int
    linear_key_head_dim: int
    linear_value_head_dim: int
    linear_conv_kernel_dim: int

    def conv_channels(self, tp: int) -> int:
        keys = self.linear_num_key_heads * self.linear_key_head_dim
        return (2 * keys + self.linear_num_value_heads * self.linear_value_head_dim) // tp

    def state_bytes(self, tp: int, *, dtype_bytes: int, ssm_bytes: int) -> int:
        """One layer's state for one request on one TP rank (gated_delta_net_state_shape)."""
        recurrent = self.linear_num_value_heads // tp * self.linear_value_head_dim * self.linear_key_head_dim
        return _conv_and_recurrent(self.conv_channels(tp), self.linear_conv_kernel_dim, recurrent,
                                   dtype_bytes=dtype_bytes, ssm_bytes=ssm_bytes)  # fmt: skip


class Mamba2State(_StateLayer):
    kind: Literal["mamba2"] = "mamba2"
    intermediate_size: int
    n_groups: int
    num_heads: int
    head_dim: int
    state_size: int
    conv_kernel: int
    # 'align' mode keeps one more block (vLLM >= 0.32): the state at the last block boundary, exported
    # mid-prefill (MambaMixer2.get_kv_cache_spec: num_prefill_checkpoint_blocks=1)
    prefill_checkpoint_blocks: int = 1

    def groups(self, tp: int) -> int:
        """Groups after vLLM replicates them so every head shard has its group (extra_groups_for_head_shards)."""
        return self.n_groups if self.n_groups % tp == 0 else tp  # n_groups + (tp - n_groups)

    def conv_channels(self, tp: int) -> int:
        return (self.intermediate_size + 2 * self.groups(tp) * self.state_size) // tp

    def state_bytes(self, tp: int, *, dtype_bytes: int, ssm_bytes: int) -> int:
        """One layer's state for one request on one TP rank (mamba2_state_shape)."""
        ssm = self.num_heads // tp * self.head_dim * self.state_size
        return _conv_and_recurrent(self.conv_channels(tp), self.conv_kernel, ssm, dtype_bytes=dtype_bytes,
                                   ssm_bytes=ssm_bytes)  # fmt: skip


class LightningState(_StateLayer):
    kind: Literal["lightning"] = "lightning"  # its one state is in the model's dtype (no ssm_dtype_bytes)
    num_heads: int
    head_dim: int

    def state_bytes(self, tp: int, *, dtype_bytes: int, ssm_bytes: int) -> int:
        """One layer's state for one request on one TP rank (linear_attention_state_shape)."""
        return self.num_heads // tp * self.head_dim * self.head_dim * dtype_bytes


def state_blocks(state: GDNState | Mamba2State | LightningState, *, prefix_caching: bool, align: bool) -> int | None:
    """Blocks one request holds in a state layer (MambaSpec.max_memory_usage_bytes): 1; with prefix caching in
    'align' mode 2, the current state and the last block boundary's, plus any prefill checkpoint (Mamba2). None:
    'all' mode, one state per block of the request (vLLM before 0.32 for models with Mamba prefix caching;
    `align` False)."""
    if not prefix_caching:
        return 1
    if not align:
        return None if state.kind == "mamba2" else 2
    return 2 + state.prefill_checkpoint_blocks


StateShape = Annotated[GDNState | Mamba2State | LightningState, Field(discriminator="kind")]


def gdn_state(config: dict[str, Any], source: str) -> GDNState:
    return GDNState(**{key: _positive(config, key, source, "Gated DeltaNet layers") for key in GDN_KEYS})


def mamba2_state(config: dict[str, Any], source: str, *, falcon: bool) -> Mamba2State:
    """Nemotron-H's keys, or Falcon-H1's mamba_* ones (intermediate: mamba_d_ssm, else expand x hidden)."""
    what = "Mamba2 layers"
    if falcon:
        inner = config.get("mamba_d_ssm") or int(config.get("mamba_expand", 2) * _positive(config, "hidden_size",
                                                                                            source, what))  # fmt: skip
        keys = ("mamba_n_groups", "mamba_n_heads", "mamba_d_head", "mamba_d_state", "mamba_d_conv")
        declared = None
    else:
        inner = _positive(config, "mamba_num_heads", source, what) * _positive(config, "mamba_head_dim", source, what)
        keys = ("n_groups", "mamba_num_heads", "mamba_head_dim", "ssm_state_size", "conv_kernel")
        declared = str(config.get("mamba_ssm_cache_dtype") or NEMOTRON_H_SSM_DTYPE)
    groups, heads, head_dim, state, conv = (_positive(config, key, source, what) for key in keys)
    return Mamba2State(intermediate_size=int(inner), n_groups=groups, num_heads=heads, head_dim=head_dim,
                       state_size=state, conv_kernel=conv,
                       ssm_dtype_bytes=SSM_DTYPE_BYTES.get(declared) if declared else None)  # fmt: skip


def lightning_state(config: dict[str, Any], source: str) -> LightningState:
    heads = _positive(config, "num_attention_heads", source, "lightning attention layers")
    head_dim = config.get("head_dim") or _positive(config, "hidden_size", source, "lightning attention") // heads
    return LightningState(num_heads=heads, head_dim=int(head_dim))


def _positive(config: dict[str, Any], key: str, source: str, what: str) -> int:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InputError(f"{source}: {key}", f"{what} need a positive integer, got {value!r}", f"set '{key}'")
    return value

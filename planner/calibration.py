"""Calibrations: the overhead coefficients of one vLLM release (planner/overhead.py), fitted on measured
server starts, kept with every point they were fitted on. `bench calibrate` writes them from run
folders; the planner ships one per release it was measured on (planner/calibrations/) and picks it by
the server's vLLM version.

Each coefficient is fitted on the term vLLM itself logged for it ("Actual usage is ... GiB for peak
activation, ... GiB for non-torch memory", "Estimated CUDA graph memory"), never on the KV capacity it
is then judged by:
- k_token, k_seq: least squares of the activation peak on max_num_batched_tokens x token_bytes and
  max_num_seqs x logits_bytes over the MoE starts on the V1 model runner, where the two passes add (no
  intercept: with none, a run that changes one of the two sizes still predicts the other);
- k_seq_v2: the V2 runner's sampler, least squares of its starts' peaks with k_token held (a dense start's peak
  is the larger pass: planner/overhead.py); k_seq where no V2 start was measured, said in the notes;
- non_torch_gib: the mean of the non-torch figures;
- k_cudagraph: least squares through the origin of the CUDA-graph estimate on its units.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.errors import InputError
from planner.gpus import GpuSpec
from planner.model_runner import ModelRunner
from planner.model_spec import ModelSpec
from planner.overhead import OverheadCoefficients, activation_bytes
from planner.scalar_fit import fit_scalar
from planner.serving_sim import LoadShape
from planner.step_cost import PerfFactors
from planner.units import GIB
from planner.version import version_tuple

CALIBRATION_FORMAT = 2  # 2: k_seq_v2, and each point's model class, runner and CUDA-graph units
CALIBRATIONS_DIR = Path(__file__).parent / "calibrations"
MAX_SAMPLER_COPIES = 10.0  # the V2 sampler's search bound, in fp32 rows of logits a sequence


class MeasuredPoint(BaseModel):
    """One server start: the sizes the coefficients multiply, and what vLLM logged about them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run: str
    deployment: str
    gpu: str
    vllm_version: str | None
    settings: dict[str, object]  # the resolved server settings it ran with, for provenance
    moe: bool  # the forward's fused-MoE workspaces outlive it: the two passes add
    model_runner: ModelRunner
    token_bytes: int
    logits_bytes: int
    max_num_batched_tokens: int
    max_num_seqs: int
    cudagraph_units: int
    activation_gib: float | None = None
    non_torch_gib: float | None = None
    cudagraph_estimate_gib: float | None = None
    kv_tokens: int | None = None  # what vLLM reported (the figure predictions are judged by)
    estimated_max_model_len: int | None = None  # a refusal: vLLM's own estimate


class PerfPoint(BaseModel):
    """One measured level the performance factors were fitted on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run: str
    deployment: str
    level: str
    load: LoadShape
    measured: dict[str, float]  # mean_tpot_ms, median_ttft_ms, output_throughput (vllm bench serve's), and
    # mean_frontend_ms where vLLM's histograms came with the level (reports/perf_fit.py)


def performance_class(model: ModelSpec) -> str:
    """The model class performance factors are fitted and looked up per: MoE or dense, and the weights'
    quantization - what sets which GEMM kernels a step runs (vLLM's fused MoE, the linear layers')."""
    return f"{'moe' if model.moe else 'dense'} {model.quant.method if model.quant else 'bf16'}"


class PerfCalibration(BaseModel):
    """Performance factors of one GPU and model class (planner/step_cost.py), fitted on its measured levels only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gpu: str
    family: str
    model_class: str  # what the levels served (performance_class, e.g. "moe fp8"): looked up by it
    factors: PerfFactors
    points: list[PerfPoint] = Field(min_length=1)
    multi_gpu_levels: int = Field(0, ge=0)  # levels on several GPUs; none: collective_us 0, a family member's used

    @property
    def moe(self) -> bool:
        """A MoE class (performance_class writes MoE or dense first): its experts price at moe_gemm_efficiency."""
        return self.model_class.split()[0] == "moe"


class Calibration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: int = CALIBRATION_FORMAT
    name: str
    vllm_version: str
    coefficients: OverheadCoefficients
    points: list[MeasuredPoint] = Field(min_length=1)
    notes: list[str] = Field(default_factory=list)
    performance: list[PerfCalibration] = Field(default_factory=list)

    def performance_factors(self, gpu: GpuSpec, model_class: str) -> tuple[PerfFactors, str]:
        """The factors of performance_set, with what its levels could not fit borrowed, and where they came from."""
        chosen = self.performance_set(gpu, model_class)
        how = "fitted on it" if chosen.gpu == gpu.name else f"transferred from {chosen.gpu} ({chosen.family})"
        if chosen.model_class != model_class:
            how += f", for a {model_class} model"
        factors, borrowed = self._borrowed(chosen, gpu)
        return factors, f"performance factors of {self.name}, {how}, on {chosen.model_class} levels{borrowed}"

    def performance_set(self, gpu: GpuSpec, model_class: str) -> PerfCalibration:
        """The set fitted on `model_class` (performance_class) and this GPU, else on a GPU of its family, else
        another class's (MoE or dense as the model, this GPU first), else refused. The class comes before the
        card: a dense model's levels from its own class fitted on the other Hopper card held TPOT and
        throughput at 18 of 18, from a MoE's factors on its own card at 14-16 and 10-17 (results/perf_model/
        README.md, twenty-first check)."""
        exact = [p for p in self.performance if p.gpu == gpu.name]
        family = [p for p in self.performance if gpu.family and p.family == gpu.family]
        kind = model_class.split()[0]  # moe or dense: which GEMM kernels a step runs, if no class matches
        found = sorted(family or exact, key=lambda p: (p.model_class != model_class, not p.model_class.startswith(kind),
                                                       p.gpu != gpu.name))  # fmt: skip
        if not found:
            fitted = ", ".join(p.gpu for p in self.performance) or "none"
            raise InputError(
                "--gpu",
                f"no performance calibration for {gpu.name} ({gpu.family or 'family unknown'}) in {self.name} "
                f"(fitted: {fitted})",
                "measure levels on it (scenarios/gpu_perf.yaml) and run bench calibrate with --perf",
            )
        return found[0]

    def _borrowed(self, chosen: PerfCalibration, gpu: GpuSpec) -> tuple[PerfFactors, str]:
        """`chosen`'s factors with what its levels could not fit taken from a set of its family that did: a
        collective's latency (the interconnect's and NCCL's, not the card's) and the PIECEWISE floor (the host's
        time a layer, fitted on PIECEWISE levels only), this GPU's first; and a note saying so."""
        factors, notes = chosen.factors, []
        kin = sorted((p for p in self.performance if p.family == chosen.family), key=lambda p: p.gpu != gpu.name)
        if not chosen.multi_gpu_levels:
            donor = next((p for p in kin if p.multi_gpu_levels), None)
            if donor is None:
                notes.append("all on one GPU: TP/EP collectives counted by bytes alone")
            else:
                factors = factors.model_copy(update={"collective_us": donor.factors.collective_us})
                notes.append(f"all on one GPU: the collective latency of {donor.gpu}'s multi-GPU levels")
        if not chosen.factors.piecewise_layer_us:
            donor = next((p for p in kin if p.factors.piecewise_layer_us), None)
            if donor is not None:
                factors = factors.model_copy(update={"piecewise_layer_us": donor.factors.piecewise_layer_us})
                notes.append(f"no PIECEWISE level: the floor of {donor.gpu}'s {donor.model_class} levels")
        return factors, "".join(f" ({note})" for note in notes)


def fit(points: list[MeasuredPoint]) -> tuple[OverheadCoefficients, list[str]]:
    """The coefficients, and notes on what the points could not determine."""
    notes: list[str] = []
    act = [p for p in points if p.activation_gib is not None and p.moe and p.model_runner == "v1"]
    rows = np.array([[_forward_gib(p), _sampler_gib(p)] for p in act]).reshape(-1, 2)
    if len(act) < 2 or np.linalg.matrix_rank(rows) < 2:
        raise InputError(
            "run folders",
            "the activation peak needs MoE runs (V1 model runner) at two settings of max_num_batched_tokens or "
            "max_num_seqs",
            "add a run that changes one of them (scenarios/gpu_memory.yaml)",
        )
    k_token, k_seq = np.linalg.lstsq(rows, np.array([p.activation_gib for p in act]), rcond=None)[0]
    v2 = [p for p in points if p.activation_gib is not None and p.model_runner == "v2"]
    k_seq_v2 = _fit_v2_sampler(v2, k_token=float(k_token)) if v2 else float(k_seq)
    if not v2:
        notes.append("no start on the V2 model runner: its sampler taken as V1's")
    non_torch = [p.non_torch_gib for p in points if p.non_torch_gib is not None]
    graphs = [p for p in points if p.cudagraph_estimate_gib is not None and p.cudagraph_units > 0]
    k_cudagraph = 0.0
    if graphs:
        units = np.array([float(p.cudagraph_units) for p in graphs])
        k_cudagraph = float(units @ np.array([p.cudagraph_estimate_gib for p in graphs]) / (units @ units)) * GIB
    else:
        notes.append("no run with CUDA graphs: their memory is taken as 0")
    return OverheadCoefficients(
        k_token=float(k_token),
        k_seq=float(k_seq),
        k_seq_v2=k_seq_v2,
        k_cudagraph=k_cudagraph,
        non_torch_gib=float(np.mean(non_torch)) if non_torch else 0.0,
    ), notes


def _forward_gib(p: MeasuredPoint) -> float:
    return p.max_num_batched_tokens * p.token_bytes / GIB


def _sampler_gib(p: MeasuredPoint) -> float:
    return p.max_num_seqs * p.logits_bytes / GIB


def _fit_v2_sampler(points: list[MeasuredPoint], *, k_token: float) -> float:
    """k_seq_v2 by least squares of the peaks the activation rule gives (a dense start's is the larger pass, so
    the residuals are flat in it where the forward's term wins: planner/scalar_fit.py)."""

    def cost(k: float) -> float:
        coefficients = OverheadCoefficients(k_token=k_token, k_seq=k, k_seq_v2=k, k_cudagraph=0, non_torch_gib=0)
        peaks = [activation_bytes(_forward_gib(p), _sampler_gib(p), moe=p.moe, runner="v2",
                                  coefficients=coefficients) for p in points]  # fmt: skip
        return float(sum((peak - (p.activation_gib or 0.0)) ** 2 for peak, p in zip(peaks, points, strict=True)))

    return fit_scalar(cost, 0.0, MAX_SAMPLER_COPIES)


def load_calibration(path: Path) -> Calibration:
    """A calibration file; another format version, unreadable or malformed -> InputError with the fix."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(
            "--calibration", f"{path}: cannot read ({exc})", "give a file written by bench calibrate"
        ) from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != CALIBRATION_FORMAT:
        raise InputError(
            "--calibration",
            f"{path}: format_version {version!r}, this planner reads {CALIBRATION_FORMAT}",
            "rewrite it with this harness: bench calibrate RUN_DIR... -o FILE",
        )
    try:
        return Calibration.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(
            "--calibration",
            f"{path}: {'.'.join(map(str, err['loc']))}: {err['msg']}",
            "rewrite it with bench calibrate",
        ) from None


@functools.cache
def _shipped() -> tuple[Calibration, ...]:
    """The package's calibrations, oldest release first (read once: a layout search plans hundreds of times)."""
    files = (load_calibration(p) for p in CALIBRATIONS_DIR.glob("*.json"))
    return tuple(sorted(files, key=lambda c: version_tuple(c.vllm_version) or ()))


def shipped_calibration(vllm_version: str | None) -> tuple[Calibration, str]:
    """The shipped calibration for this release, or the newest one at or before it (else the oldest),
    and a note saying which was used for which release."""
    shipped = _shipped()
    wanted = version_tuple(vllm_version)
    earlier = [c for c in shipped if wanted is None or (version_tuple(c.vllm_version) or ()) <= wanted]
    chosen = earlier[-1] if earlier else shipped[0]
    if vllm_version is None:
        return chosen, f"calibration {chosen.name} (vLLM {chosen.vllm_version}; server version not given)"
    if chosen.vllm_version == vllm_version:
        return chosen, f"calibration {chosen.name} (vLLM {chosen.vllm_version})"
    return chosen, f"calibration {chosen.name} measured on vLLM {chosen.vllm_version}, applied to vLLM {vllm_version}"

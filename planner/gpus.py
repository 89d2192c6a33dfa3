"""GPU catalog: memory as the CUDA/ROCm runtime reports it (torch `total_memory`), in GiB.

vLLM budgets `gpu_memory_utilization` against that runtime total, which is a little less
than the vendor's marketing capacity; each entry says where its figure came from.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from planner.errors import InputError
from planner.units import GIB


class GpuSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    memory_gib: float  # runtime-reported total
    memory_source: str
    family: str = ""  # architecture: performance factors carry between GPUs of one family
    # for the performance model (planner/step_cost.py): vendor datasheet figures, dense (no sparsity)
    bandwidth_gbs: float | None = None  # HBM / GDDR bandwidth, GB/s
    bf16_tflops: float | None = None
    fp8_tflops: float | None = None  # None: no FP8 tensor cores (FP8 weights run as 16-bit GEMMs)
    link_gbs: float | None = None  # GPU-to-GPU bandwidth per direction, GB/s (NVLink / PCIe)
    speed_source: str = ""

    def speeds(self) -> tuple[float, float, float, float | None]:
        """(bandwidth B/s, bf16 FLOP/s, fp8 FLOP/s, link B/s); refuses a GPU whose speeds are not catalogued."""
        if self.bandwidth_gbs is None or self.bf16_tflops is None:
            raise InputError(
                "--gpu",
                f"{self.name} has no bandwidth / FLOPs in the catalog",
                "use a catalog GPU with speeds (h100, h200, h20, a100-80g, a800-80g, l40s, b200)",
            )
        fp8 = self.fp8_tflops or self.bf16_tflops
        link = self.link_gbs * 1e9 if self.link_gbs else None
        return self.bandwidth_gbs * 1e9, self.bf16_tflops * 1e12, fp8 * 1e12, link

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * GIB)


_OOM = "torch's allocator message 'GPU 0 has a total capacity of {} GiB' in public logs"
GPU_CATALOG: dict[str, GpuSpec] = {
    g.name: g
    for g in (
        GpuSpec(
            name="h100",
            family="hopper",
            description="NVIDIA H100 80GB HBM3 (SXM)",
            memory_gib=79.18,
            memory_source="measured: vLLM 0.26.0 on the lent H100 (shared/reference/minimax-m2.md)",
            bandwidth_gbs=3350,
            bf16_tflops=989.4,
            fp8_tflops=1978.9,
            link_gbs=450,
            speed_source="NVIDIA H100 SXM5 datasheet: 3.35 TB/s HBM3, 989 TFLOPS BF16 / 1,979 FP8 dense, "
            "NVLink 900 GB/s (450 each way)",
        ),
        GpuSpec(
            name="h200",
            family="hopper",
            description="NVIDIA H200 141GB HBM3e",
            memory_gib=139.80,
            memory_source="measured: torch.cuda.mem_get_info and vLLM 0.26.0 on the lent H200 "
            "(150,109,880,320 B; results/gpu_single_h200)",
            bandwidth_gbs=4800,
            bf16_tflops=989.4,
            fp8_tflops=1978.9,
            link_gbs=450,
            speed_source="NVIDIA H200 SXM datasheet: 4.8 TB/s HBM3e, the H100's tensor cores, NVLink 900 GB/s",
        ),
        GpuSpec(
            name="h20",
            family="hopper",
            description="NVIDIA H20 96GB HBM3",
            memory_gib=95.00,
            memory_source=_OOM.format("95.00") + "; card not named there: estimate",
            bandwidth_gbs=4000,
            bf16_tflops=148.0,
            fp8_tflops=296.0,
            link_gbs=450,
            speed_source="NVIDIA H20 specifications: 4.0 TB/s, 148 TFLOPS BF16 / 296 FP8 dense, NVLink 900 GB/s",
        ),
        GpuSpec(
            name="a100-80g",
            family="ampere",
            description="NVIDIA A100 80GB",
            memory_gib=79.15,
            memory_source=_OOM.format("79.15"),
            bandwidth_gbs=2039,
            bf16_tflops=312.0,
            fp8_tflops=None,
            link_gbs=300,
            speed_source="NVIDIA A100 80GB SXM datasheet: 2,039 GB/s, 312 TFLOPS BF16, no FP8, NVLink 600 GB/s",
        ),
        GpuSpec(
            name="a800-80g",
            family="ampere",
            description="NVIDIA A800 80GB (A100 memory system)",
            memory_gib=79.15,
            memory_source="same board memory as A100 80GB: estimate",
            bandwidth_gbs=2039,
            bf16_tflops=312.0,
            fp8_tflops=None,
            link_gbs=200,
            speed_source="A100's memory and tensor cores; NVLink 400 GB/s (export part)",
        ),
        GpuSpec(
            name="l40s",
            family="ada",
            description="NVIDIA L40S 48GB GDDR6",
            memory_gib=44.42,
            memory_source=_OOM.format("44.42") + " on 8xL40S",
            bandwidth_gbs=864,
            bf16_tflops=362.05,
            fp8_tflops=733.0,
            link_gbs=32,
            speed_source="NVIDIA L40S datasheet: 864 GB/s GDDR6, 362 TFLOPS BF16 / 733 FP8 dense; PCIe Gen4 x16",
        ),
        GpuSpec(
            name="b200",
            family="blackwell",
            description="NVIDIA B200 180GB HBM3e",
            memory_gib=178.35,
            memory_source=_OOM.format("178.35") + " on 8xB200",
            bandwidth_gbs=8000,
            bf16_tflops=2250.0,
            fp8_tflops=4500.0,
            link_gbs=900,
            speed_source="NVIDIA B200 (HGX) datasheet: 8 TB/s, 2.25 PFLOPS BF16 / 4.5 FP8 dense, NVLink 1.8 TB/s",
        ),
        GpuSpec(
            name="rtx-pro-6000",
            family="blackwell",
            description="NVIDIA RTX PRO 6000 Blackwell 96GB",
            memory_gib=94.97,
            memory_source="'total=94.97 GiB' from the CUDA runtime in a public log (97,887 MiB in nvidia-smi)",
        ),
        GpuSpec(
            name="mi300x",
            family="cdna3",
            description="AMD Instinct MI300X 192GB",
            memory_gib=191.98,
            memory_source=_OOM.format("191.98").replace("CUDA", "HIP") + " (ROCm)",
        ),
    )
}
_ALIASES = {
    "h100-80g": "h100",
    "h100-sxm": "h100",
    "h200-141g": "h200",
    "a100": "a100-80g",
    "a800": "a800-80g",
    "rtx-pro-6000-96g": "rtx-pro-6000",
    "h20-96g": "h20",
}
_SIZE = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>gib|gb)?$", re.IGNORECASE)


_NVML_NAMES = [
    ("h200", "h200"),
    ("h100", "h100"),
    ("h800", "h100"),
    ("h20", "h20"),
    ("a100", "a100-80g"),
    ("a800", "a800-80g"),
    ("l40s", "l40s"),
    ("b200", "b200"),
    ("rtx pro 6000", "rtx-pro-6000"),
    ("mi300x", "mi300x"),
]


def match_gpu_name(device_name: str) -> GpuSpec | None:
    """The catalog entry for a device name as NVML reports it ('NVIDIA H100 80GB HBM3' -> h100)."""
    name = device_name.lower()
    if ("a100" in name or "a800" in name) and "40gb" in name:
        return None  # 40 GB parts are not in the catalog
    for needle, key in _NVML_NAMES:
        if needle in name:
            return GPU_CATALOG[key]
    return None


CPU = GpuSpec(
    name="cpu",
    description="vLLM CPU backend",
    memory_gib=0.0,
    memory_source="host memory; the CPU backend budgets exactly VLLM_CPU_KVCACHE_SPACE GiB for KV",
)


def resolve_gpu(ref: str) -> GpuSpec:
    """A catalog name or alias, 'cpu', or an explicit size: '80GiB' (runtime total) or '96GB' (decimal)."""
    key = ref.strip().lower()
    if key == "cpu":
        return CPU
    key = _ALIASES.get(key, key)
    if key in GPU_CATALOG:
        return GPU_CATALOG[key]
    match = _SIZE.match(key)
    if match:
        size = float(match["n"])
        if (match["unit"] or "gib").lower() == "gb":
            size = size * 1e9 / GIB
        if size <= 0:
            raise InputError("--gpu", f"size {ref} is not positive", "give e.g. --gpu 80GiB")
        return GpuSpec(
            name=f"{size:.2f}GiB",
            description=f"explicit size {ref}",
            memory_gib=round(size, 2),
            memory_source="given on the command line; runtime totals are usually 0.5-1% below the label",
        )
    raise InputError("--gpu", f"unknown GPU '{ref}'", f"use one of {', '.join(GPU_CATALOG)}, or a size such as 80GiB")

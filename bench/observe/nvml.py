"""NVML (nvidia-ml-py) readings per GPU; absent GPUs or drivers mean no readings, not an error."""

from __future__ import annotations

from typing import Any


class Nvml:
    def __init__(self) -> None:
        self.handles: list[Any] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:  # NVMLError, ImportError, missing libnvidia-ml: no GPU telemetry here
            self.nvml = None

    @property
    def available(self) -> bool:
        return bool(self.handles)

    def devices(self) -> list[dict[str, Any]]:
        out = []
        for index, handle in enumerate(self.handles):
            memory = self.nvml.nvmlDeviceGetMemoryInfo(handle)
            out.append(
                {
                    "index": index,
                    "name": _text(self.nvml.nvmlDeviceGetName(handle)),
                    "memory_total_bytes": int(memory.total),
                    "driver": _text(self.nvml.nvmlSystemGetDriverVersion()),
                }
            )
        return out

    def sample(self) -> list[dict[str, Any]]:
        rows = []
        for index, handle in enumerate(self.handles):
            memory = self.nvml.nvmlDeviceGetMemoryInfo(handle)
            rows.append(
                {
                    "index": index,
                    "memory_used_bytes": int(memory.used),
                    "utilization_pct": int(self.nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                    "power_w": self.nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
                }
            )
        return rows

    def energy_mj(self) -> float | None:
        """Energy every GPU has used since its driver loaded, summed, in mJ (NVML's total energy counter,
        Volta and later); None where a GPU lacks the counter."""
        if not self.handles:
            return None
        try:
            return float(sum(self.nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles))
        except Exception:  # NVMLError_NotSupported on older GPUs
            return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

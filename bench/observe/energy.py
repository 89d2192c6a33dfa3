"""Energy per level from NVML's total energy counter (the GPUs the server runs on), read at the level's
measured start and end.

  energy_j           = (counter at end - counter at start) / 1000, summed over the GPUs
  j_per_output_token = energy_j / total_output_tokens   (the level's completed requests)
  j_per_request      = energy_j / completed
  mean_power_w       = energy_j / duration               (the level's measured wall time)

Idle GPUs of the machine are counted too when the server uses fewer than all of them.
"""

from __future__ import annotations


def level_energy(start_mj: float | None, end_mj: float | None, metrics: dict[str, float | int | None]) -> dict[
    str, float | None
]:  # fmt: skip
    if start_mj is None or end_mj is None or end_mj < start_mj:
        return {}
    joules = (end_mj - start_mj) / 1000.0
    tokens, completed, duration = (metrics.get(k) for k in ("total_output_tokens", "completed", "duration"))
    return {
        "energy_j": joules,
        "j_per_output_token": joules / tokens if tokens else None,
        "j_per_request": joules / completed if completed else None,
        "mean_power_w": joules / duration if duration else None,
    }

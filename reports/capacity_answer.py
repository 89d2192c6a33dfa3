"""The capacity answer: the highest measured load that met the SLO, per deployment and per GPU.

A level meets the SLO when no request failed and goodput / request_throughput >= attainment
(default 0.99: 99% of requests within every SLO). Without an SLO in the scenario, levels with no
failures qualify and the answer says so. GPUs for a target load = replicas x GPUs per replica,
replicas = ceil(target / best per-replica throughput) - an extrapolation from measured levels.
"""

from __future__ import annotations

from math import ceil

import pandas as pd
from pydantic import BaseModel, ConfigDict


class CapacityAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployment: str
    gpus: int
    slo_checked: bool
    best_level: str | None
    request_throughput: float | None  # requests/s at that level
    output_throughput: float | None
    per_gpu_request_throughput: float | None
    per_gpu_output_throughput: float | None

    def gpus_for(self, target_rps: float) -> int | None:
        if not self.request_throughput:
            return None
        return ceil(target_rps / self.request_throughput) * self.gpus


def capacity_answers(levels: pd.DataFrame, attainment: float = 0.99) -> list[CapacityAnswer]:
    answers = []
    for deployment, group in levels.groupby("deployment", sort=False):
        slo = "request_goodput" in group and group["request_goodput"].notna().any()
        ok = group[(group["failed"] == 0) & (group["completed"] > 0) & ~group["interrupted"] & ~group["profiled"]]
        if slo:
            ok = ok[ok["request_goodput"] >= attainment * ok["request_throughput"]]
        gpus = int(group["gpus"].iloc[0])
        if ok.empty:
            answers.append(
                CapacityAnswer(
                    deployment=deployment,
                    gpus=gpus,
                    slo_checked=slo,
                    best_level=None,
                    request_throughput=None,
                    output_throughput=None,
                    per_gpu_request_throughput=None,
                    per_gpu_output_throughput=None,
                )
            )
            continue
        best = ok.loc[ok["request_throughput"].idxmax()]
        answers.append(
            CapacityAnswer(
                deployment=deployment,
                gpus=gpus,
                slo_checked=slo,
                best_level=str(best["level"]),
                request_throughput=float(best["request_throughput"]),
                output_throughput=float(best["output_throughput"]),
                per_gpu_request_throughput=float(best["request_throughput"]) / gpus,
                per_gpu_output_throughput=float(best["output_throughput"]) / gpus,
            )
        )
    return answers

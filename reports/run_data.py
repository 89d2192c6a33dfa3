"""A run folder as tables: one row per level, and its requests and telemetry on demand (read-only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from planner import Layout
from runfolder.jsonl import read_rows
from runfolder.requests import RequestRecord, read_requests
from runfolder.schema import DeploymentRecord, RunRecord, load_run
from runfolder.versioned import RunFolderError


@dataclass
class RunData:
    folder: Path
    record: RunRecord
    label_runs: bool = False  # several runs in one report: name deployments "name (run id)"

    def label(self, deployment: str) -> str:
        return f"{deployment} ({self.record.run_id})" if self.label_runs else deployment

    @property
    def partial(self) -> bool:
        return not self.record.complete or any(d.status != "ok" for d in self.record.deployments)

    def levels(self) -> pd.DataFrame:
        """Deployment, level, layout and every level metric; one row per (deployment, level)."""
        rows = []
        for d in self.record.deployments:
            for level in d.levels:
                rows.append(
                    {
                        "run": self.record.run_id,
                        "deployment": self.label(d.name),
                        "level": level.name,
                        "index": level.index,
                        "gpus": layout_of(d).gpus,
                        "interrupted": level.interrupted,
                        "profiled": bool(level.profile),  # its timings carry vLLM's profiler's cost
                        "client_limited": level.client.client_limited,
                        "prefix_cache_hit_rate": level.prefix_cache_hit_rate,
                        "preemptions": level.preemptions,
                        **level.metrics,
                        **level.server,
                        **level.energy,
                    }
                )
        return pd.DataFrame(rows)

    def requests(self, deployment: DeploymentRecord) -> list[RequestRecord]:
        """Measured (non-warm-up) requests of one deployment, from requests.jsonl."""
        rows = read_requests(self.folder / deployment.requests_file) if deployment.requests_file else []
        return [r for r in rows if not r.warmup]

    def telemetry(self, deployment: DeploymentRecord) -> pd.DataFrame:
        """telemetry.jsonl as a table, one row per sample (keys: runfolder/telemetry.py)."""
        return pd.DataFrame(read_rows(self.folder / deployment.telemetry_file) if deployment.telemetry_file else [])


def layout_of(deployment: DeploymentRecord) -> Layout:
    """The deployment's parallel layout as its recorded spec gave it (the planner's Layout: one label,
    one GPU count, for reports and the planner alike)."""
    return Layout(**{k: deployment.spec[k] for k in ("tp", "pp", "dp", "ep") if k in deployment.spec})


def open_runs(folders: list[Path]) -> list[RunData]:
    runs = []
    for folder in folders:
        if not Path(folder).is_dir():
            raise RunFolderError(f"{folder}: not a run folder; fix: give a folder made by `bench run`")
        runs.append(RunData(Path(folder), load_run(Path(folder))))
    if len(runs) > 1:
        for run in runs:
            run.label_runs = True
    return runs

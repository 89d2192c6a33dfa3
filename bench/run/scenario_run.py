"""Runs a scenario: each deployment in turn (start, capacity check, levels, teardown), checkpointing run.json.

run.json is rewritten atomically after every state change, so an interrupted run leaves a readable
folder: finished levels, the interrupted level's partial summary, every request in requests.jsonl.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bench.load.level import LevelTarget, RecordWriter, run_level
from bench.load.workers import LoadWorkerError
from bench.observe.server_report import read_server_report, served_model_ids
from bench.observe.telemetry import TelemetrySampler
from bench.run.deployment import Deployment
from bench.run.environment import environment
from bench.run.events import Quiet, RunEvents
from bench.run.folder import utc_now
from bench.scenario.deployment import DeploymentSpec
from bench.scenario.schema import Level, Scenario
from bench.server.cpu_host import pin_this_process
from bench.server.launch.protocol import ServerStartError
from bench.server.profiler import ProfileSink
from bench.server.vllm_server import VllmServer
from runfolder.schema import DeploymentRecord, LevelSummary, RunRecord, save_run

# after a level with failed requests, how long a server whose /health no longer answers may take to exit
DEATH_GRACE_S = 15.0


class ScenarioRun:
    def __init__(self, scenario: Scenario, run_dir: Path, events: RunEvents | None = None) -> None:
        self.scenario, self.run_dir = scenario, run_dir
        self.events: RunEvents = events or Quiet()
        self.record = RunRecord(
            kind="run",
            run_id=run_dir.name,
            created_at=utc_now(),
            environment=environment(),
            scenario=scenario.model_dump(mode="json"),
        )
        self._checkpoint()

    def _checkpoint(self) -> None:
        save_run(self.run_dir, self.record)

    def _set(self, deployment: DeploymentRecord) -> None:
        deployments = [d for d in self.record.deployments if d.name != deployment.name] + [deployment]
        self.record = self.record.model_copy(update={"deployments": deployments})
        self._checkpoint()

    async def run(self) -> RunRecord:
        workload = self.scenario.workload
        if workload.kind == "trace" and workload.path:  # the run folder keeps the trace its report reads
            (self.run_dir / "traces").mkdir(parents=True, exist_ok=True)
            shutil.copy2(workload.path, self.run_dir / "traces" / Path(workload.path).name)
        for spec in self.scenario.deployments:
            await self.run_deployment(spec)
        self.record = self.record.model_copy(update={"complete": True, "finished_at": utc_now()})
        self._checkpoint()
        return self.record

    async def run_deployment(self, spec: DeploymentSpec) -> None:
        self.events.deployment_started(spec.name)
        profile = bool(self.scenario.profiled_levels())
        deployment = Deployment.prepare(spec, self.run_dir, self.scenario.load.workers, profile=profile)
        deployment.server.on_wait = self.events.waiting
        folder = self.run_dir / "deployments" / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        self._set(deployment.record)
        summaries: list[LevelSummary] = []
        try:
            async with deployment.server:
                record = deployment.started(await read_server_report(deployment.server.base_url)).model_copy(
                    update={
                        "requests_file": str((folder / "requests.jsonl").relative_to(self.run_dir)),
                        "telemetry_file": str((folder / "telemetry.jsonl").relative_to(self.run_dir)),
                    }
                )
                self._set(record)
                record = await self._levels(deployment, record, folder, summaries)
        except ServerStartError as exc:
            self._set(deployment.failed(exc))
        except asyncio.CancelledError:
            self._set(
                deployment.record.model_copy(
                    update={
                        "status": "incomplete",
                        "error": "interrupted (Ctrl-C or SIGTERM)",
                        "levels": list(summaries),
                    }
                )
            )
            raise

    async def _levels(
        self, deployment: Deployment, record: DeploymentRecord, folder: Path, summaries: list[LevelSummary]
    ) -> DeploymentRecord:
        server = deployment.server
        target = await _target(deployment, record, self.run_dir)
        writer = RecordWriter(folder / "requests.jsonl", self.events.request_done)
        local = server.launcher.local  # the server's processes and GPUs are this machine's (not so on Ray)
        telemetry = TelemetrySampler(
            server.base_url,
            folder / "telemetry.jsonl",
            self.scenario.telemetry.interval_s,
            server_sid=server.process.pid if server.process and local else None,
            gpus=local,
        )
        deadline = self.scenario.load.deadline_s
        restore = pin_this_process(server.cores.client) if server.cores else None
        try:
            async with telemetry, asyncio.timeout(deadline):
                return await self._each_level(
                    deployment, record, target, writer=writer, telemetry=telemetry, summaries=summaries
                )
        except TimeoutError:
            return self._cut_short(record, summaries, f"deadline of {deadline:g} s reached")
        except LoadWorkerError as exc:
            return self._cut_short(record, summaries, str(exc))
        finally:
            writer.close()
            if restore is not None:  # the next deployment's server may take these cores
                pin_this_process(restore)

    async def _each_level(
        self,
        deployment: Deployment,
        record: DeploymentRecord,
        target: LevelTarget,
        *,
        writer: RecordWriter,
        telemetry: TelemetrySampler,
        summaries: list[LevelSummary],
    ) -> DeploymentRecord:
        """Levels in turn; `record` is checkpointed after each. A server that dies ends the deployment."""
        for index, level in enumerate(self.scenario.load.all_levels()):
            self.events.level_started(deployment.spec.name, level, self._planned(level))
            work = run_level(
                self.scenario, level, index, target, write=writer, telemetry=telemetry, summaries=summaries
            )
            exit_code = await _unless_server_dies(work, deployment.server)
            if exit_code is None and summaries and summaries[-1].metrics.get("failed"):
                exit_code = await deployment.server.exit_after_failures(DEATH_GRACE_S)
            record = record.model_copy(update={"levels": list(summaries)})
            if exit_code is not None:
                record = _server_died(deployment, record, exit_code, level.label())
            self._set(record)
            if exit_code is not None:
                break
        return record

    def _cut_short(self, record: DeploymentRecord, summaries: list[LevelSummary], why: str) -> DeploymentRecord:
        level = summaries[-1].name if summaries else "?"
        record = record.model_copy(
            update={"levels": list(summaries), "status": "incomplete", "error": f"{why} during level {level}"}
        )
        self._set(record)
        return record

    def _planned(self, level: Level) -> int | None:
        jobs = self.scenario.load.request_count(level)
        turns = self.scenario.workload.turns if self.scenario.workload.kind == "multi_turn" else 1
        return jobs * turns if jobs else None


def _server_died(deployment: Deployment, record: DeploymentRecord, exit_code: int, level: str) -> DeploymentRecord:
    """Failed when nothing was served before the server died (e.g. a kernel that crashes on the first
    request), incomplete when some levels were measured; vLLM's own reason and a hint from its log."""
    why, hint = deployment.server.explain(f"server exited with code {exit_code} during level {level}")
    served = any(summary.metrics.get("completed") for summary in record.levels)
    return record.model_copy(update={"status": "incomplete" if served else "failed", "error": why, "hint": hint})


async def _target(deployment: Deployment, record: DeploymentRecord, run_dir: Path) -> LevelTarget:
    """Where the levels send: a running server answers to its own model name unless the scenario names it;
    a server launched with vLLM's profiler (--profiler-config) writes profiled levels' traces into the run."""
    spec, server = deployment.spec, deployment.server
    served = spec.served_name
    if server.external and spec.served_model_name is None:
        served = next(iter(await served_model_ids(server.base_url)), served)
    tokenizer = Path(record.model_dir or "") / "tokenizer.json"
    folder = deployment.profile_dir
    sink = ProfileSink(folder, run_dir, spec.layout.gpus) if folder else None
    return LevelTarget(server.base_url, served, tokenizer, spec.max_model_len, server_log=server.log_path, profile=sink)


async def _unless_server_dies(work: Coroutine[Any, Any, None], server: VllmServer) -> int | None:
    """Run a level; if the server process exits first, cancel the level (its summary is kept by
    run_level) and return the exit code. External servers are not watched."""
    level = asyncio.ensure_future(work)
    if server.process is None:
        await level
        return None
    died = asyncio.ensure_future(server.process.wait())
    try:
        await asyncio.wait({level, died}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        level.cancel()
        died.cancel()
        await asyncio.gather(level, died, return_exceptions=True)
        raise
    if level.done():
        died.cancel()
        await asyncio.gather(died, return_exceptions=True)
        level.result()  # re-raise what the level raised
        return None
    level.cancel()
    await asyncio.gather(level, return_exceptions=True)
    return server.process.returncode

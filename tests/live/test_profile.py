"""A profiled level on a launched CPU vLLM (real): its server starts with vLLM's torch profiler, the level's
traces land in a folder of its own and are named in run.json, an unprofiled level has none, and the traced
steps account for every token the level's requests were served; a server without the profiler costs a level
its traces, not its requests."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from typer.testing import CliRunner

from bench.cli import app
from bench.load.stream_client import new_session
from bench.server.profiler import ProfileOutcome, ProfileSink, profiled
from reports.kernel_profile import profiled_steps, read_trace
from runfolder.requests import read_requests
from runfolder.schema import TRACE_SUFFIX, load_run
from tests.live.fast_start import EAGER

pytestmark = pytest.mark.server

INPUT, OUTPUT, REQUESTS = 96, 6, 4


def test_a_profiled_level_keeps_vllms_traces_and_they_hold_its_tokens(tmp_path):
    path = tmp_path / "profiled.yaml"
    levels = [{"concurrency": 2}, {"name": "traced", "concurrency": 2, "profile": True}]
    path.write_text(
        yaml.safe_dump(
            {
                "name": "profiled",
                "deployments": [
                    {"name": "cpu", "model": {"like": "minimax-m2"}, "max_model_len": 1024, "extra_args": EAGER}
                ],
                "workload": {"input_tokens": INPUT, "output_tokens": OUTPUT},
                "load": {"warmup_requests": 1, "requests": REQUESTS, "levels": levels},
            }
        )
    )
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    run_dir = next((tmp_path / "runs").iterdir())
    deployment = load_run(run_dir).deployments[0]
    assert "--profiler-config" in (deployment.argv or [])
    plain, traced = deployment.levels
    assert plain.profile == [] and traced.profile
    assert all(p.startswith("deployments/cpu/profile/traced/") for p in traced.profile)
    steps = [
        step
        for trace in traced.profile
        if TRACE_SUFFIX in trace
        for step in profiled_steps(read_trace(run_dir / trace))
    ]
    requests = read_requests(run_dir / "deployments/cpu/requests.jsonl")
    served = [r for r in requests if r.level == "traced" and not r.warmup]
    assert len(served) == REQUESTS and all(r.ok for r in served)
    # every measured prompt token was prefilled in a traced step, and each later output token decoded in one
    assert sum(s.prompt_tokens for s in steps) == sum(r.prompt_tokens or 0 for r in served)
    assert sum(s.decode_tokens for s in steps) == sum((r.completion_tokens or 0) - 1 for r in served)
    assert all(0 < s.busy_ms <= s.span_ms for s in steps if s.tokens)


def test_a_server_without_the_profiler_costs_the_level_its_traces_not_its_requests(cpu_server, tmp_path):
    """The session's CPU server was started without --profiler-config: vLLM has no /start_profile route there."""

    async def level() -> ProfileOutcome:
        outcome = ProfileOutcome()
        sink = ProfileSink(tmp_path / "profile", tmp_path, ranks=1)
        async with (
            new_session() as session,
            profiled(session, cpu_server.base_url, sink, level="c1", into=outcome),
            session.get(f"{cpu_server.base_url}/v1/models") as answer,
        ):
            assert answer.status == 200  # the level's own requests go on
        return outcome

    outcome = asyncio.run(level())
    assert outcome.traces == [] and outcome.error is not None
    assert outcome.error.startswith("vLLM's profiler did not start: POST") and "404" in outcome.error

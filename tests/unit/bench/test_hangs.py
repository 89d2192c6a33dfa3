"""A server that accepts and never answers (FAKE server: a real one cannot hang on demand): every
request hits its timeout and is counted as failed; the deployment's deadline ends it, records kept."""

from __future__ import annotations

import asyncio

import yaml

from bench.run.scenario_run import ScenarioRun
from bench.scenario.loader import load_scenario
from bench.server.synth_model import write_synthetic_model
from runfolder.schema import load_run
from tools.fake_openai import FakeOpenAI


def test_hanging_server_hits_timeouts_and_the_deadline(tmp_path):
    model = write_synthetic_model(tmp_path / "model", "minimax-m2")  # for its tokenizer
    with FakeOpenAI() as fake:
        scenario = {
            "name": "hang",
            "deployments": [
                {"name": "stuck", "model": str(model), "endpoint": fake.base_url, "served_model_name": "hang"}
            ],
            "load": {
                "warmup_requests": 0,
                "request_timeout_s": 1,
                "deadline_s": 3.5,
                "levels": [{"concurrency": 2, "requests": 100}, {"concurrency": 1}],
            },
        }
        path = tmp_path / "hang.yaml"
        path.write_text(yaml.safe_dump(scenario))
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        record = asyncio.run(ScenarioRun(load_scenario(path), run_dir).run())
    deployment = record.deployments[0]
    assert deployment.status == "incomplete" and "deadline of 3.5 s reached during level c2" in deployment.error
    (level,) = deployment.levels
    metrics = level.metrics
    assert level.interrupted and metrics["completed"] == 0 and metrics["failed"] >= 4
    assert set(level.errors) == {"timeout after 1 s"} and metrics["output_throughput"] == 0
    assert load_run(run_dir).deployments[0].status == "incomplete"

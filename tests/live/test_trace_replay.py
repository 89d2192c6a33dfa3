"""A trace replayed against the real CPU vLLM server: every row the server can serve is sent at its own
time with exactly its tokens, the rest counted; shared prefixes reach the server's prefix cache; the
report sets the planner's live KV over the server's gauge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bench.cli import app
from reports.run_data import RunData
from reports.trace_check import trace_checks
from runfolder.schema import load_run

pytestmark = pytest.mark.server


# long enough that each request stays in the server's KV cache across several telemetry samples (0.2 s): with
# 8 output tokens a cached request lived 120-140 ms, and a run could sample the gauge only between requests
OUTPUT = 64


def mooncake_rows() -> list[dict]:
    """Eight requests over 2 s: two documents of 4 x 512 tokens shared by four rows each, one row too long."""
    rows = []
    for i in range(8):
        document = [100 * (i % 2) + b for b in range(4)]
        rows.append({"timestamp": 250 * i, "input_length": 4 * 512 + 100, "output_length": OUTPUT,
                     "hash_ids": [*document, 1000 + i]})  # fmt: skip
    rows[5] = {"timestamp": 1250, "input_length": 5000, "output_length": OUTPUT, "hash_ids": []}  # > max_model_len 4096
    return rows


def test_a_mooncake_trace_replays_at_its_times_with_its_prefixes(cpu_server, tmp_path: Path):
    trace = tmp_path / "trace.jsonl"
    trace.write_text("".join(json.dumps(row) + "\n" for row in mooncake_rows()))
    scenario = {
        "name": "trace-it", "seed": 7,
        "deployments": [{"name": "live", "model": str(cpu_server.model_dir), "endpoint": cpu_server.base_url,
                         "max_model_len": 4096}],
        "workload": {"kind": "trace", "path": "trace.jsonl", "format": "mooncake"},
        "load": {"warmup_requests": 1, "levels": [{"trace": True}]},
        "telemetry": {"interval_s": 0.2},
    }  # fmt: skip
    path = tmp_path / "trace.yaml"
    path.write_text(yaml.safe_dump(scenario))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    run_dir = next((tmp_path / "runs").iterdir())
    level = load_run(run_dir).deployments[0].levels[0]
    assert level.name == "trace" and (level.trace["rows"], level.trace["served"]) == (8, 7)
    assert level.trace["skipped"] == {"prompt + output beyond max_model_len 4096": 1}
    rows = [json.loads(x) for x in (run_dir / "deployments/live/requests.jsonl").read_text().splitlines()]
    sent = sorted((r for r in rows if not r["warmup"]), key=lambda r: r["trace_line"])
    assert [r["trace_line"] for r in sent] == [1, 2, 3, 4, 5, 7, 8]
    assert all(r["ok"] and r["prompt_tokens"] == 4 * 512 + 100 and r["completion_tokens"] == OUTPUT for r in sent)
    for r in sent:  # each at its own time (open loop from the trace's timestamps)
        assert r["scheduled_s"] == pytest.approx(0.25 * (r["trace_line"] - 1))
        assert r["sent_s"] - r["scheduled_s"] < 0.05
    # the later rows of each document find its four blocks in the server's prefix cache
    assert level.prefix_cache_hit_rate > 0.4
    assert (run_dir / "traces" / "trace.jsonl").read_text() == trace.read_text()
    check = trace_checks(RunData(run_dir, load_run(run_dir)))[0]
    assert check.requests == 7 and check.measured_peak > 0 and check.predicted_peak > 0

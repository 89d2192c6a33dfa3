"""The report's trace check on a committed CPU replay, and a preemption the plan did not predict flagged."""

from __future__ import annotations

import json
import shutil

import pytest

from reports.run_data import RunData
from reports.trace_check import trace_checks
from runfolder.schema import load_run
from tests.paths import REPO

RUN = REPO / "results/trace_cpu/20261126-061133-trace_agentic_cpu"


def test_the_planned_curve_follows_the_servers_gauge_on_a_committed_replay():
    check = trace_checks(RunData(RUN, load_run(RUN)))[0]
    assert check.requests == 78 and (check.pool_blocks, check.block_size) == (4096, 128)
    assert check.peak_error == pytest.approx(0.0, abs=0.10)  # issue 22's target, measured (results/trace_cpu)
    assert len(check.times) == len(check.predicted) == len(check.measured) > 50
    assert not check.unpredicted_preemptions


def test_a_preemption_where_the_plan_had_room_is_flagged(tmp_path):
    run = tmp_path / RUN.name
    shutil.copytree(RUN, run)
    record = json.loads((run / "run.json").read_text())
    record["deployments"][0]["levels"][0]["preemptions"] = 3
    (run / "run.json").write_text(json.dumps(record))
    check = trace_checks(RunData(run, load_run(run)))[0]
    assert check.preemptions == 3 and check.unpredicted_preemptions


def test_rows_the_replay_did_not_send_are_reported_with_their_reason(tmp_path):
    from reports.document import Document
    from reports.trace_report import trace_section

    run = tmp_path / RUN.name
    shutil.copytree(RUN, run)
    record = json.loads((run / "run.json").read_text())
    record["deployments"][0]["levels"][0]["trace"] |= {
        "rows": 80,
        "skipped": {"prompt + output beyond max_model_len 8192": 2},
    }
    (run / "run.json").write_text(json.dumps(record))
    doc = Document("t")
    trace_section(doc, [RunData(run, load_run(run))])
    text = doc.markdown(tmp_path / "figures")
    assert "78 of 80" in text and "2 prompt + output beyond max_model_len 8192" in text

"""`bench run`'s summary of a trace level: the rows it sent and why it did not send the others."""

from __future__ import annotations

from rich.console import Console

from bench.cli.run_view import print_run
from runfolder.schema import load_run
from tests.paths import REPO

RUN = REPO / "results/trace_cpu/20261126-061133-trace_agentic_cpu"


def test_bench_runs_summary_names_the_rows_it_did_not_send():
    record = load_run(RUN)
    level = record.deployments[0].levels[0]
    level.trace |= {"rows": 80, "skipped": {"no output tokens (a request asks for at least one)": 2}}
    console = Console(record=True, width=200)
    print_run(record, str(RUN), console)
    assert ("tiny-minimax/trace: trace agentic.jsonl: 78 of 80 rows sent (not sent: 2 no output tokens (a "
            "request asks for at least one))") in console.export_text()  # fmt: skip

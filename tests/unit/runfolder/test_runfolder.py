"""The run folder's format as both sides see it: rows written by bench read back by reports."""

from __future__ import annotations

import gzip
import json

import pytest

from runfolder.atomic import write_atomic
from runfolder.packed import stored_text
from runfolder.requests import RequestRecord, read_requests
from runfolder.schema import SCHEMA_VERSION, load_run
from runfolder.versioned import RunFolderError
from tests.paths import REPO


def record(**changes) -> RequestRecord:
    fields = dict(
        level="c1",
        index=0,
        warmup=False,
        conversation=None,
        turn=0,
        scheduled_s=None,
        sent_s=0.0,
        queue_s=0.0,
        ok=True,
        error=None,
        http_status=200,
        ttft_s=0.1,
        itl_s=[0.02, 0.03],
        e2el_s=0.15,
        prompt_tokens=8,
        completion_tokens=3,
        expected_input_tokens=8,
        expected_output_tokens=3,
    )
    return RequestRecord(**(fields | changes))


def test_rows_round_trip_and_a_torn_last_line_or_a_newer_key_is_no_failure(tmp_path):
    path = tmp_path / "requests.jsonl"
    newer = json.loads(record(index=1).json_line()) | {"a_field_from_a_newer_writer": 1}
    path.write_bytes(record().json_line() + (json.dumps(newer) + "\n").encode() + b'{"level": "c1", "ind')
    rows = read_requests(path)
    assert [r.index for r in rows] == [0, 1] and rows[0] == record()


def test_a_gzipped_requests_file_reads_as_the_plain_one(tmp_path):
    plain, packed = tmp_path / "plain" / "requests.jsonl", tmp_path / "packed" / "requests.jsonl"
    plain.parent.mkdir(), packed.parent.mkdir()
    plain.write_bytes(record().json_line() + record(index=1).json_line())
    packed.with_name("requests.jsonl.gz").write_bytes(gzip.compress(plain.read_bytes()))
    assert read_requests(packed) == read_requests(plain) and len(read_requests(plain)) == 2


def test_a_packed_server_log_reads_as_written_and_a_missing_one_as_none(tmp_path):
    text = "INFO [gpu_worker.py] GPU KV cache size: 149,056 tokens\n"
    (tmp_path / "server.log.gz").write_bytes(gzip.compress(text.encode()))
    assert stored_text(tmp_path / "server.log") == text
    assert stored_text(tmp_path / "other.log") is None


def test_tpot_is_defined_for_successful_requests_with_two_or_more_tokens():
    assert record(e2el_s=0.5, ttft_s=0.1, completion_tokens=5).tpot_s == pytest.approx(0.1)
    assert record(completion_tokens=1).tpot_s is None and record(ok=False).tpot_s is None


def test_a_newer_run_json_is_refused_with_the_fix(tmp_path):
    write_atomic(tmp_path / "run.json", json.dumps({"schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(RunFolderError, match="newer than this harness reads.*fix: upgrade"):
        load_run(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left beside it


def test_every_committed_run_folder_still_reads():
    """The evidence README cites must stay readable by this harness (a schema change migrates it)."""
    folders = sorted(path.parent for path in (REPO / "results").rglob("run.json"))
    assert len(folders) >= 10
    for folder in folders:
        assert load_run(folder).deployments, folder


def test_times_are_stored_to_the_nanosecond_and_nothing_else_changes():
    """perf_counter differences carry float noise past the clock's nanosecond; stored, they are rounded to it."""
    noisy = record(sent_s=0.004445295000039096, ttft_s=1.5311517860000095, itl_s=[0.01595952899998565, 0.5],
                   e2el_s=2.1, scheduled_s=0.0044, completion_tokens=3)  # fmt: skip
    row = json.loads(noisy.json_line())
    assert (row["sent_s"], row["ttft_s"], row["itl_s"]) == (0.004445295, 1.531151786, [0.015959529, 0.5])
    assert row["completion_tokens"] == 3 and row["level"] == noisy.level and row["scheduled_s"] == 0.0044

"""bench report on golden run folders produced by real CPU runs (tests/data/golden)."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from typer.testing import CliRunner

from bench.cli import app
from reports.capacity_answer import capacity_answers
from reports.capacity_report import build_report
from reports.run_data import open_runs
from tests.paths import DATA

GOLDEN = DATA / "golden"
RUN_A, RUN_B = GOLDEN / "run_a", GOLDEN / "run_b"
runner = CliRunner()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    result = runner.invoke(app, ["report", str(RUN_A), str(RUN_B), "-o", str(out), "--target-rps", "100"])
    assert result.exit_code == 0, result.output
    return out


def test_markdown_has_every_section_and_the_capacity_answer(rendered):
    text = (rendered / "report.md").read_text()
    for section in ("## Deployments", "## Capacity answer", "## Load levels", "## Figures"):
        assert section in text
    assert text.count("| 524,288 | 524,288 | +0.00% |") == 2  # predicted vs reported, both runs
    assert "GPUs for 100 req/s" in text and "TTFT <= 400 ms, TPOT <= 60 ms" in text
    images = re.findall(r"\]\((report_files/\w+\.png)\)", text)
    assert len(images) == 4 and all((rendered / image).stat().st_size > 5000 for image in images)


def test_html_is_self_contained(rendered):
    page = (rendered / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 4
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<script" not in page


def test_capacity_answer_picks_the_best_level_within_the_slo():
    (tiny,) = capacity_answers(open_runs([RUN_A])[0].levels())
    levels = json.loads((RUN_A / "run.json").read_text())["deployments"][0]["levels"]
    qualifying = [
        lv
        for lv in levels
        if lv["metrics"]["failed"] == 0
        and lv["metrics"]["request_goodput"] >= 0.99 * lv["metrics"]["request_throughput"]
    ]
    best = max(qualifying, key=lambda lv: lv["metrics"]["request_throughput"])
    assert (tiny.deployment, tiny.best_level, tiny.gpus) == ("tiny", best["name"], 1)
    assert tiny.request_throughput == best["metrics"]["request_throughput"]
    assert tiny.gpus_for(100.0) == math.ceil(100.0 / best["metrics"]["request_throughput"])


def test_no_level_meeting_the_slo_is_said_plainly():
    levels = open_runs([RUN_A])[0].levels()
    levels["request_goodput"] = 0.0
    (tiny,) = capacity_answers(levels)
    assert tiny.best_level is None and tiny.gpus_for(10.0) is None


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed (.ci/run installs it)")
def test_html_renders_in_headless_chromium(rendered, tmp_path):
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,2400",
            f"--screenshot={shot}",
            (rendered / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.exists(), result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    pixels = mpimg.imread(shot)
    assert pixels.std() > 0.05 and (pixels[..., :3] < 0.5).mean() > 0.005  # not blank: text and plots drawn


def test_partial_run_is_reported_as_partial(tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(RUN_A, partial)
    record = json.loads((partial / "run.json").read_text())
    record["complete"] = False
    record["deployments"][0]["status"] = "incomplete"
    record["deployments"][0]["error"] = "server exited with code -9 during level c4"
    record["deployments"][0]["levels"] = record["deployments"][0]["levels"][:1]
    (partial / "run.json").write_text(json.dumps(record))
    document = build_report(open_runs([partial]))
    assert any("PARTIAL" in block[1] and "code -9" in block[1] for block in document.blocks if block[0] == "text")


@pytest.mark.parametrize("damage", ["newer", "missing", "garbage"])
def test_unreadable_run_folders_exit_2(tmp_path, damage):
    folder = tmp_path / "run"
    shutil.copytree(RUN_A, folder)
    if damage == "newer":
        record = json.loads((folder / "run.json").read_text())
        (folder / "run.json").write_text(json.dumps(record | {"schema_version": 99}))
    elif damage == "missing":
        (folder / "run.json").unlink()
    else:
        (folder / "run.json").write_text("{not json")
    result = runner.invoke(app, ["report", str(folder), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and result.output.startswith("error: ") and "Traceback" not in result.output
    assert {"newer": "newer than this harness", "missing": "no run.json", "garbage": "unreadable"}[
        damage
    ] in result.output


def test_the_runs_line_names_the_hosts_python_speed_where_recorded(tmp_path):
    probed = tmp_path / "probed"
    shutil.copytree(RUN_A, probed)
    record = json.loads((probed / "run.json").read_text())
    record["schema_version"] = 9
    record["environment"]["host_speed"] = {"best_ns": 140.0, "median_ns": 152.4, "repeats": 9}
    (probed / "run.json").write_text(json.dumps(record))
    runs_line = next(b[1] for b in build_report(open_runs([probed, RUN_B])).blocks if b[0] == "text")
    assert f"{record['run_id']} (" in runs_line and "host Python 152 ns a call (best 140))" in runs_line
    assert runs_line.count("host Python") == 1  # RUN_B's golden run.json predates it

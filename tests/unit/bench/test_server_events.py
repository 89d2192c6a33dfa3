"""What a level's stretch of the server log says about it: a kernel vLLM compiled while serving."""

from __future__ import annotations

from bench.observe.server_events import ServerLogWindow
from runfolder.packed import stored_text
from tests.paths import REPO

RUN_LOG = REPO / "results/gpu_perf_tp4b/20261126-110817-gpu_perf_tp4b/deployments/tp4/server.log"


def test_a_kernel_compiled_during_the_level_is_reported(tmp_path):
    jit = next(line for line in (stored_text(RUN_LOG) or "").splitlines() if "JIT compilation during inference" in line)
    log = tmp_path / "server.log"
    log.write_text(jit + "\n")  # before the measured start: warm-up's business
    window = ServerLogWindow(log)
    with open(log, "a") as handle:
        handle.write("(APIServer) INFO 200 OK\n" + jit + "\n" + jit + "\n")
    (event,) = window.events()
    assert "compiled 2 kernel(s) while serving (fused_moe_kernel)" in event


def test_a_quiet_level_and_a_server_without_a_local_log_report_nothing(tmp_path):
    log = tmp_path / "server.log"
    log.write_text("INFO start\n")
    window = ServerLogWindow(log)
    log.write_text("INFO start\nINFO 200 OK\n")
    assert window.events() == []
    assert ServerLogWindow(None).events() == []
    assert ServerLogWindow(tmp_path / "never-written.log").events() == []

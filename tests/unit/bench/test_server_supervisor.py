"""The node-side supervisor runs where the harness is not installed: a bare interpreter, its folder
holding only server_supervisor.py and process_group.py, as a Ray node receives them."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import bench.server.launch.node.process_group
import bench.server.launch.node.server_supervisor
from tests.live.process_sessions import session_members


def test_supervisor_stands_alone_and_takes_its_server_down_on_sigterm(tmp_path):
    for module in (bench.server.launch.node.server_supervisor, bench.server.launch.node.process_group):
        shutil.copy(module.__file__, tmp_path)
    bare = getattr(sys, "_base_executable", sys.executable)  # the interpreter under the venv: no harness
    assert subprocess.run([bare, "-c", "import bench"], capture_output=True, cwd="/").returncode != 0
    subprocess.run(
        [bare, str(tmp_path / "server_supervisor.py"), str(tmp_path), "5", "--", "sh", "-c", "sleep 60 & sleep 60"],
        check=True,
        timeout=30,
        cwd="/",
    )
    deadline = time.monotonic() + 10
    while not (tmp_path / "server.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    server = int((tmp_path / "server.pid").read_text())
    assert len(session_members(server)) >= 2  # the shell and its sleeps: a group to take down, not one pid
    subprocess.run(["kill", "-TERM", (tmp_path / "supervisor.pid").read_text()], check=True)
    while not (tmp_path / "exit_code").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "exit_code").read_text() == str(-signal.SIGTERM)
    assert session_members(server) == []

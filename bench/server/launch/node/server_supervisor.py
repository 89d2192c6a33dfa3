"""Keeps one `vllm serve` process group from outliving its Ray actor (bench/server/launch/node/server_host.py).

Run as a script on the node: `python server_supervisor.py WORKDIR GRACE_S -- ARGV...`. It forks away
from the actor at once, because when an actor dies Ray SIGKILLs the worker's direct children, which
would take a supervisor down with it and orphan vLLM's engine core and workers (a parent-death signal
on the server has the same gap: only the API server gets it). Detached, it watches the actor's pid
and on the actor's end, or SIGTERM, tears the server's whole session down: SIGTERM, grace, SIGKILL.
It leaves server.pid and, at the end, exit_code in WORKDIR. Standard library only; copied to the node
with bench/server/launch/node/process_group.py beside it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

try:
    from bench.server.launch.node.process_group import group_alive
except ImportError:  # on a Ray node: the harness is not installed, its process_group.py lies beside this file
    from process_group import group_alive  # type: ignore[no-redef]


def _teardown(server: subprocess.Popen[bytes], grace_s: float) -> None:
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and (server.poll() is None or group_alive(server.pid)):
            time.sleep(0.1)  # poll() reaps the leader, else its zombie keeps the group "alive"


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat: tells a live actor from a new process that reused its pid."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()[19]


def main(args: list[str]) -> int:
    workdir, grace_s, argv = Path(args[0]), float(args[1]), args[3:]
    actor, stopping = os.getppid(), []
    actor_started = _start_time(actor)
    if os.fork():
        return 0  # the actor's direct child ends here; the grandchild below supervises
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    (workdir / "supervisor.pid").write_text(str(os.getpid()))
    server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
    (workdir / "server.pid").write_text(str(server.pid))
    while server.poll() is None and not stopping and _start_time(actor) == actor_started:
        time.sleep(0.2)
    _teardown(server, grace_s)
    code = server.wait()
    (workdir / "exit_code").write_text(str(code))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

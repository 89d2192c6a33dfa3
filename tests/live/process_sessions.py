"""Which processes belong to a session (vLLM is started with start_new_session, so its pid is the sid), and
`bench run` started as a child process to be interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.paths import REPO


def start_bench_run(scenario: Path, out: Path, *, ignore_sigint: bool = False) -> subprocess.Popen:
    """`bench run SCENARIO --out OUT` in the background, its output piped; `ignore_sigint`: as a background job
    of a non-interactive shell starts it (CI, nohup), SIGINT ignored."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "run", str(scenario), "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None,
    )


def _stat_fields(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces: the fields after the last ')' are fixed.
    return text[text.rindex(")") + 2 :].split()


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is `sid`."""
    members = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fields = _stat_fields(pid)
        if fields and fields[0] != "Z" and int(fields[3]) == sid:
            members.append(int(pid))
    return members


def children_of(ppid: int) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fields = _stat_fields(pid)
        if fields and int(fields[1]) == ppid:
            out.append(int(pid))
    return out

"""Which processes belong to a session (vLLM is started with start_new_session, so its pid is the sid)."""

from __future__ import annotations

import os
from pathlib import Path


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

"""Signalling a server's whole process group (API server, engine core, workers). Standard library only:
it also runs on Ray nodes (see bench/server/launch/node/server_host.py)."""

from __future__ import annotations

import os
import signal


def signal_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(group: int) -> bool:
    return alive(group, group=True)


def alive(pid: int, group: bool = False) -> bool:
    """Whether the process (or, with group=True, any process of the group) exists; signal 0 asks only."""
    try:
        (os.killpg if group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

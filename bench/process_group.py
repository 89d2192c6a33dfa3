"""Signalling a server's whole process group (API server, engine core, workers). Standard library only:
it also runs on Ray nodes (see bench/ray_node.py)."""

from __future__ import annotations

import os
import signal


def signal_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""The stretch of a local server's log written during one level's measured part, and what it says went
wrong for the requests served meanwhile (runfolder/server_log.py: serving_events)."""

from __future__ import annotations

from pathlib import Path

from runfolder.server_log import serving_events


class ServerLogWindow:
    """Opened at the measured start (the log's size then), read at the level's end."""

    def __init__(self, log_path: Path | None) -> None:
        self.path = log_path
        self.offset = log_path.stat().st_size if log_path is not None and log_path.exists() else None

    def events(self) -> list[str]:
        """Nothing for a server whose log this process does not write (external, Kubernetes)."""
        if self.path is None or self.offset is None or not self.path.exists():
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            return serving_events(handle.read().decode("utf-8", errors="replace"))

"""What a scenario run tells its display while it goes (bench/cli/run_view.py shows it; tests and
benchmarks may listen, or not)."""

from __future__ import annotations

from typing import Protocol

from bench.scenario.schema import Level
from runfolder.requests import RequestRecord


class RunEvents(Protocol):
    def deployment_started(self, name: str) -> None:
        """A deployment is being prepared and its server started."""

    def waiting(self, message: str) -> None:
        """A start-up (or a running server's readiness) is taking a while: what it waits for."""

    def level_started(self, deployment: str, level: Level, planned: int | None) -> None:
        """A load level begins: `planned` measured requests, or None for a duration-bound level."""

    def request_done(self, record: RequestRecord) -> None:
        """One request finished (warm-up requests included: record.warmup says so)."""


class Quiet:
    """Listens to nothing."""

    def deployment_started(self, name: str) -> None:
        pass

    def waiting(self, message: str) -> None:
        pass

    def level_started(self, deployment: str, level: Level, planned: int | None) -> None:
        pass

    def request_done(self, record: RequestRecord) -> None:
        pass

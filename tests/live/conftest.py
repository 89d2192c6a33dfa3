"""Live tests start real vLLM (CPU) and real processes; one server is shared by the whole session."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.run.deployment import build_server
from bench.run.model_source import materialize_model
from bench.scenario.deployment import DeploymentSpec, SynthModel
from bench.server.vllm_server import VllmServer
from tests.live.fast_start import EAGER
from tests.live.process_sessions import session_members


@dataclass
class RunningServer:
    spec: DeploymentSpec
    model_dir: Path
    server: VllmServer

    @property
    def base_url(self) -> str:
        return self.server.base_url


TINY_MINIMAX = DeploymentSpec(
    name="tiny-minimax",
    model=SynthModel(like="minimax-m2"),
    max_model_len=4096,
    extra_args=EAGER,
    cpu_kvcache_space_gib=1,
    startup_timeout_s=300,
)


@pytest.fixture(scope="session")
def cpu_server(tmp_path_factory):
    """One real vLLM (CPU) serving a 4-layer MiniMax-M2-architecture model, for the whole session."""
    run_dir = tmp_path_factory.mktemp("session-server")
    model_dir = materialize_model(TINY_MINIMAX, run_dir)
    server = build_server(TINY_MINIMAX, model_dir, run_dir)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(server.start())
    try:
        yield RunningServer(TINY_MINIMAX, model_dir, server)
    finally:
        leader = server.process.pid
        loop.run_until_complete(server.stop())
        loop.close()
        assert session_members(leader) == [], "vLLM processes survived teardown"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/live starts real servers or processes: `-m "not server"` leaves it out."""
    for item in items:
        if "tests/live/" in str(item.path):
            item.add_marker(pytest.mark.server)

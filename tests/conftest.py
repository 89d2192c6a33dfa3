"""Shared fixtures: catalog models and a writer for hand-made config.json files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner import load_model


@pytest.fixture(scope="session")
def minimax():
    return load_model("minimax-m2")


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config dict as <tmp>/<name>/config.json and return the directory."""

    def write(config: dict, name: str = "model") -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(config))
        return folder

    return write


# --- a real CPU vLLM server shared by the whole session --------------------------------------

import asyncio  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from bench.scenario.deployment import DeploymentSpec, SynthModel  # noqa: E402
from bench.run.deployment import build_server  # noqa: E402
from bench.run.model_source import materialize_model  # noqa: E402
from bench.server.vllm_server import VllmServer  # noqa: E402
from tests.fast_start import EAGER  # noqa: E402
from tests.process_sessions import session_members  # noqa: E402


@dataclass
class RunningServer:
    spec: DeploymentSpec
    model_dir: Path
    server: VllmServer

    @property
    def base_url(self) -> str:
        return self.server.base_url


TINY_MINIMAX = DeploymentSpec(name="tiny-minimax", model=SynthModel(like="minimax-m2"), max_model_len=4096,
                              extra_args=EAGER,
                              cpu_kvcache_space_gib=1, startup_timeout_s=300)


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

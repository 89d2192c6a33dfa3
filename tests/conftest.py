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

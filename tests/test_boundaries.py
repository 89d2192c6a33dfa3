"""planner and reports must import with the live dependencies unavailable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

BLOCKER = """
import sys
BLOCKED = %r
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError('blocked live dependency: ' + name)
sys.meta_path.insert(0, Block())
import %s
print('ok')
"""
LIVE = {"aiohttp", "pynvml", "vllm", "torch", "ray"}


MODULES = sorted(f"{folder.name}.{path.stem}" for folder in (ROOT / "planner", ROOT / "reports")
                 for path in folder.glob("*.py") if path.stem != "__init__") + ["planner", "reports"]


@pytest.mark.parametrize("package", MODULES)
def test_imports_without_live_dependencies(package):
    result = subprocess.run([sys.executable, "-c", BLOCKER % (LIVE, package)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_cli_loads_without_ray():
    """ray is optional: only a deployment that names a Ray cluster imports it."""
    result = subprocess.run([sys.executable, "-c", BLOCKER % ({"ray"}, "bench.cli")], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr

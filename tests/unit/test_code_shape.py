"""The code base keeps its shape: ruff (format and lint) and mypy run clean, files stay under 300 lines,
function bodies under 40. Run here so the README's one test command is also CI's whole check."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

SHIPPED = ("bench", "planner", "reports", "runfolder", "tools")
MAX_FILE_LINES, MAX_BODY_LINES = 300, 40


def shipped_files() -> list[Path]:
    return sorted(p for package in SHIPPED for p in (REPO / package).rglob("*.py"))


@pytest.mark.parametrize(
    "command",
    [["ruff", "format", "--check", "."], ["ruff", "check", "."], ["mypy"]],
    ids=["ruff-format", "ruff-check", "mypy"],
)
def test_linters_run_clean(command):
    tool = Path(sys.executable).parent / command[0]
    done = subprocess.run([str(tool), *command[1:]], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_files_and_functions_stay_small():
    large = []
    for path in shipped_files():
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE_LINES:
            large.append(f"{path.relative_to(REPO)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                lines = (node.end_lineno or node.lineno) - (body[0].lineno if body else node.lineno) + 1
                if lines > MAX_BODY_LINES:
                    large.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}: body of {lines} lines")
    assert large == []


def test_no_module_named_for_nothing():
    """No utils, common, base, helpers: a module is named for what it owns."""
    vague = {"utils", "util", "common", "base", "helpers", "misc"}
    assert [p for p in shipped_files() if p.stem in vague] == []

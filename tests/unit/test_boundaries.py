"""The import rules of CONTRIBUTING.md, checked on every module's imports (static) and, for the pure
rooms, by importing them with the live dependencies made unavailable (dynamic)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

OURS = {"bench", "planner", "reports", "runfolder", "traces", "tools", "tests"}
# Which of our packages each room may import. Inside bench, rooms are layered: a room imports its own
# modules and the rooms before it, never one after it; only the CLI reads run folders through reports.
BENCH_LAYERS = ["bench.scenario", "bench.server", "bench.observe", "bench.load", "bench.run", "bench.cli"]
ALLOWED = {
    "planner": {"planner", "traces"},  # a trace is input, like a config.json
    "runfolder": {"runfolder"},
    "traces": {"traces"},  # the trace formats, shared by the replay and the planner, owned by neither
    "reports": {"reports", "planner", "runfolder", "traces"},
    "tools": {"tools", "reports", "runfolder", "planner", "traces"},  # never bench
}
NODE = "bench.server.launch.node"  # shipped to cluster nodes: the standard library, its siblings, and ray
NODE_HAS = {"ray"}  # every Ray node runs ray; nothing else of ours or of PyPI's is there
LIVE = {"aiohttp", "pynvml", "vllm", "torch", "ray"}  # installed, but only bench may use them


def modules(package: str) -> list[tuple[str, Path]]:
    root = REPO / package
    return [
        (".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"), p)
        for p in sorted(root.rglob("*.py"))
    ]


def imports(path: Path) -> set[str]:
    """Every module a file imports, absolute names (this code base uses no relative imports)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            found.add(node.module or "")
    return found


def allowed_for(module: str) -> set[str]:
    """Prefixes of our modules that `module` may import."""
    top = module.split(".")[0]
    if top != "bench":
        return ALLOWED[top]
    room = next((r for r in BENCH_LAYERS if module == r or module.startswith(r + ".")), "bench")
    below = BENCH_LAYERS[: BENCH_LAYERS.index(room) + 1] if room in BENCH_LAYERS else []
    return {"planner", "runfolder", "traces", *below} | ({"reports"} if room == "bench.cli" else set())


@pytest.mark.parametrize("package", ["planner", "runfolder", "traces", "reports", "bench", "tools"])
def test_each_room_imports_only_what_its_rules_allow(package):
    wrong = []
    for module, path in modules(package):
        permitted = allowed_for(module)
        for name in imports(path):
            if name.split(".")[0] in OURS and not any(name == p or name.startswith(p + ".") for p in permitted):
                wrong.append(f"{module} imports {name}")
    assert wrong == []


def test_node_side_code_needs_only_the_standard_library():
    wrong = []
    node_files = modules(NODE.replace(".", "/"))
    siblings = {path.stem for _, path in node_files}  # on a node the files lie side by side: `import process_group`
    for module, path in node_files:
        for name in imports(path) - {"__future__"}:
            top = name.split(".")[0]
            if not (top in sys.stdlib_module_names or top in siblings | NODE_HAS or name.startswith(NODE)):
                wrong.append(f"{module} imports {name}")
    assert wrong == []


def test_the_pure_rooms_import_no_live_dependency_and_shipped_code_no_tests():
    for package in ("planner", "runfolder", "traces", "reports"):
        for module, path in modules(package):
            assert not {n.split(".")[0] for n in imports(path)} & (LIVE | {"subprocess"}), module
    for package in ("bench", "planner", "reports", "runfolder", "traces", "tools"):
        for module, path in modules(package):
            assert not any(n.split(".")[0] == "tests" for n in imports(path)), module


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


@pytest.mark.parametrize("package", ["planner", "runfolder", "traces", "reports"])
def test_pure_rooms_import_with_the_live_dependencies_unavailable(package):
    names = [m for m, _ in modules(package)]
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER % (LIVE, "; import ".join(names))],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_cli_loads_without_ray():
    """ray is optional: only a deployment that names a Ray cluster imports it."""
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER % ({"ray"}, "bench.cli")], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert result.returncode == 0, result.stderr


def test_the_rules_catch_an_upward_import():
    """The checker itself: a bench.server module importing bench.run is an upward import."""
    assert "bench.run" not in allowed_for("bench.server.vllm_server")
    assert "bench.server" in allowed_for("bench.run.deployment") and "reports" in allowed_for("bench.cli.report")
    assert "reports" not in allowed_for("bench.run.scenario_run")

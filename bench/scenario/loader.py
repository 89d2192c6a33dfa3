"""Reading a scenario file: YAML (safe), the schema, the dataset, and what this host can start, each
failure a ScenarioError naming the file, line and field; nothing is started on bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml
from pydantic import ValidationError

from bench.scenario.deployment import DeploymentSpec
from bench.scenario.errors import ScenarioError, line_of
from bench.scenario.schema import Scenario
from traces import TraceError, read_trace


def load_scenario(path: Path) -> Scenario:
    """Parse and validate; every failure is a ScenarioError naming the file, line and field."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(path, None, "file", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ScenarioError(path, mark.line + 1 if mark else None, "yaml", str(getattr(exc, "problem", exc))) from None
    if not isinstance(data, dict):
        raise ScenarioError(path, 1, "scenario", "expected a mapping of name, deployments, workload, load, ...")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc: list[object] = [
            p for p in err["loc"] if not (isinstance(p, str) and p in {"str", "SynthModel", "function-after"})
        ]
        field = ".".join(str(p) for p in loc) or "scenario"
        message = str(err["msg"]).removeprefix("Value error, ")  # pydantic's label for a validator's ValueError
        raise ScenarioError(path, line_of(root, loc), field, message) from None
    if scenario.workload.kind == "dataset" and scenario.workload.dataset:
        problem = dataset_problem(path.resolve().parent, scenario.workload.dataset)
        if problem:
            raise ScenarioError(path, line_of(root, ["workload", "dataset"]), "workload.dataset", problem)
        # checked, so resolved once here: nothing later needs to know where the scenario file was
        dataset = str((path.resolve().parent / scenario.workload.dataset).resolve())
        scenario = scenario.model_copy(update={"workload": scenario.workload.model_copy(update={"dataset": dataset})})
    if scenario.workload.kind == "trace" and scenario.workload.path:
        scenario = _checked_trace(path, root, scenario)
    return scenario


def _checked_trace(path: Path, root: yaml.Node | None, scenario: Scenario) -> Scenario:
    """The trace file read once here, so a bad row fails at its file:line before anything starts; its path
    resolved (nothing later needs to know where the scenario file was)."""
    workload = scenario.workload
    trace_path = (path.resolve().parent / str(workload.path)).resolve()
    if not trace_path.is_file():
        raise ScenarioError(path, line_of(root, ["workload", "path"]), "workload.path", f"no file {trace_path}")
    try:
        read_trace(trace_path, workload.format, speedup=workload.speedup)
    except TraceError as exc:
        raise ScenarioError(Path(exc.path), exc.line, f"workload.path ({workload.format})", exc.problem) from None
    return scenario.model_copy(update={"workload": workload.model_copy(update={"path": str(trace_path)})})


def check_on_this_host(
    path: Path,
    scenario: Scenario,
    refusal: Callable[[DeploymentSpec], tuple[str, str, str] | None],
    only: set[str] | None = None,
) -> None:
    """Deployments (of the file as loaded; `only` those names) this host cannot start fail here, before
    any starts: ScenarioError at the field's line. `refusal` gives (field, problem, value that fixes it)."""
    root = None
    for index, spec in enumerate(scenario.deployments):
        found = refusal(spec) if only is None or spec.name in only else None
        if found is None:
            continue
        field, problem, value = found
        root = root or yaml.compose(Path(path).read_text())
        raise ScenarioError(
            path,
            line_of(root, ["deployments", index, field]),
            f"deployments.{index}.{field}",
            f"{problem}; fix: {field}: {value}",
        )


def dataset_problem(scenario_dir: Path, name: str) -> str | None:
    """Why a JSONL dataset can't be used, or None. It must resolve (symlinks followed) to a file inside
    the scenario's folder: a scenario from elsewhere must not read arbitrary files."""
    root = scenario_dir.resolve()
    dataset = (scenario_dir / name).resolve()
    if not dataset.is_relative_to(root):
        return f"{name} resolves to {dataset}, outside the scenario's folder {root}; fix: keep datasets beside it"
    try:
        lines = [line for line in dataset.read_text().splitlines() if line.strip()]
    except OSError as exc:
        return f"cannot read {dataset}: {exc.strerror or exc}"
    if not lines:
        return f"{dataset} has no rows"
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            return f"{dataset} row {number}: not JSON ({exc.msg})"
        if not isinstance(row, dict) or not ("prompt" in row or "messages" in row):
            return f'{dataset} row {number}: needs "prompt" or "messages"'
    return None

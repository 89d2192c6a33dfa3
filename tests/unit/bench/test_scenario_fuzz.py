"""Random and mutated YAML into the scenario loader: a valid scenario or a ScenarioError, never a traceback."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.scenario.errors import ScenarioError
from bench.scenario.loader import load_scenario
from bench.scenario.schema import Scenario
from tests.paths import REPO

SHIPPED = [p.read_text() for p in sorted((REPO / "scenarios").glob("*.yaml"))]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=True), st.text(max_size=12)
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=5)),
    max_leaves=20,
)


def check(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    try:
        assert isinstance(load_scenario(path), Scenario)
    except ScenarioError as exc:
        assert str(exc).startswith(str(path))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_arbitrary_text(tmp_path, text):
    check(tmp_path, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents)
def test_arbitrary_yaml_documents(tmp_path, document):
    check(tmp_path, yaml.safe_dump(document))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SHIPPED), st.integers(0, 10_000), st.integers(1, 8), st.text(max_size=8))
def test_mutated_shipped_scenarios(tmp_path, text, position, length, insert):
    """Cut, splice and corrupt the real scenario files."""
    position %= max(1, len(text))
    check(tmp_path, text[:position] + insert + text[position + length :])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(SHIPPED), st.sampled_from(["deployments", "load", "workload", "levels", "model", "slo"]), documents
)
def test_shipped_scenarios_with_a_key_replaced(tmp_path, text, key, value):
    data = yaml.safe_load(text)

    def replace(node):
        if isinstance(node, dict):
            return {k: (value if k == key else replace(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [replace(v) for v in node]
        return node

    check(tmp_path, yaml.safe_dump(replace(data)))

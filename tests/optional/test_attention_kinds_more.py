"""The attention kinds CI leaves out (sliding-window, chunked-local, Mamba2): the planner's KV capacity
against the real CPU server's report, as tests/live/test_attention_kinds.py checks the other two."""

from __future__ import annotations

import pytest

from tests.live.attention_probe import IN_CI, KINDS, check_capacity_equals_the_servers_report

pytestmark = pytest.mark.server


@pytest.mark.parametrize("kind", sorted(set(KINDS) - set(IN_CI)))
def test_capacity_equals_the_servers_report(tmp_path, kind):
    check_capacity_equals_the_servers_report(kind, tmp_path)

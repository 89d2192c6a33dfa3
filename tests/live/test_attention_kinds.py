"""The KV capacity of two attention kinds against the real CPU server's report, in CI (tests/live/attention_probe.py
says which and why; the other three kinds run in tests/optional)."""

from __future__ import annotations

import pytest

from tests.live.attention_probe import IN_CI, check_capacity_equals_the_servers_report

pytestmark = pytest.mark.server


@pytest.mark.parametrize("kind", IN_CI)
def test_capacity_equals_the_servers_report(tmp_path, kind):
    check_capacity_equals_the_servers_report(kind, tmp_path)

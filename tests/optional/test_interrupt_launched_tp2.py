"""SIGTERM to `bench run` mid-level with a launched TP2 server (two ranks, each its own worker process):
tests/live/sigterm_probe.py's check at TP2, which CI leaves out (TP2's teardown runs in CI
through the deadline in tests/live/test_multi_rank.py)."""

from __future__ import annotations

import pytest

from tests.live.sigterm_probe import check_sigterm_mid_level

pytestmark = pytest.mark.server


def test_sigterm_mid_level_with_a_launched_tp2_server(tmp_path):
    check_sigterm_mid_level(tmp_path, tp=2)

"""SIGTERM to `bench run` while its own vLLM is serving a level: nothing of ours survives (one rank
here; two TP ranks, each its own worker, in tests/optional), the folder is readable and `bench report` calls
it partial (real CPU vLLM)."""

from __future__ import annotations

import pytest

from tests.live.sigterm_probe import check_sigterm_mid_level

pytestmark = pytest.mark.server


def test_sigterm_mid_level_with_a_launched_server(tmp_path):
    check_sigterm_mid_level(tmp_path, tp=1)  # TP2, each rank its own worker: tests/optional

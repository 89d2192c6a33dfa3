"""Errors the planner raises: each names the field at fault and the fix."""

from __future__ import annotations


class PlanError(ValueError):
    """Base: `field` is what the user set (a flag or a config key), `fix` what to change."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        super().__init__(f"{field}: {problem}; fix: {fix}")
        self.field = field
        self.problem = problem
        self.fix = fix


class InputError(PlanError):
    """The input itself is wrong: unknown name, unreadable config, missing field."""


class LayoutRejected(PlanError):
    """The input is well formed but vLLM would refuse to start this deployment."""

"""One coefficient fitted alone: the best of a grid over its bounds, refined by a bounded Brent search between the
grid point's neighbours. The costs these fits minimise are flat in places (a dense start's activation peak where
the forward pass outweighs the sampler's; the serving replay, piecewise constant in a factor), where a gradient's
finite step stops wherever the host's last bits take it: the H200's PIECEWISE floor came out 174 us a layer on one
host and 158 on another from the same levels under scipy's least_squares."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar

GRID_POINTS = 51


def fit_scalar(cost: Callable[[float], float], lower: float, upper: float) -> float:
    """The value in [lower, upper] that minimises `cost`."""
    grid = np.linspace(lower, upper, GRID_POINTS)
    best = int(np.argmin([cost(float(v)) for v in grid]))
    around = (grid[max(best - 1, 0)], grid[min(best + 1, GRID_POINTS - 1)])
    return float(minimize_scalar(cost, bounds=around, method="bounded").x)

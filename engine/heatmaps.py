"""Every neuron's output over an n×n grid of the input plane, in one vectorised pass.

The page computes its own maps from the weights (static/js/heatmaps.js) and the server
sends none; this is the reference those maps are tested against
(tests/test_heatmaps_browser.py), in the same layout and with the same uint8 codes. Row 0
of each map is the top of the plane (x2 = +6) and column 0 its left (x1 = −6), the order an
image is drawn in. Cells are sampled at their centres.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .config import FEATURES
from .datasets import DOMAIN
from .features import compute_features

MAX_GRID = 128


@lru_cache(maxsize=16)
def grid_inputs(n: int, features: tuple[str, ...]) -> np.ndarray:
    """(n·n, len(features)) float32 feature matrix of the grid's cell centres, row-major."""
    lo, hi = DOMAIN
    c = lo + (np.arange(n) + 0.5) * (hi - lo) / n
    x1, x2 = np.meshgrid(c, c[::-1])
    X = np.column_stack([x1.ravel(), x2.ravel()])
    F = compute_features(X, features).astype(np.float32)
    F.setflags(write=False)
    return F


@lru_cache(maxsize=4)
def feature_maps(n: int) -> np.ndarray:
    """(7, n, n) float32: every input feature over the grid, active or not, in FEATURES order
    (they do not depend on the weights, so a page needs them once)."""
    maps = np.ascontiguousarray(grid_inputs(n, FEATURES).T.reshape(len(FEATURES), n, n))
    maps.setflags(write=False)
    return maps


def quantize(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """uint8 codes: lo ↦ 0, hi ↦ 255, values clipped to [lo, hi]; NaN ↦ 255."""
    q = np.fmin(values, hi)  # fmin/fmax, unlike clip, turn NaN into a bound
    np.fmax(q, lo, out=q)
    q -= lo
    q *= 255.0 / (hi - lo)
    q += 0.5
    return q.astype(np.uint8)


@dataclass
class Grid:
    """Maps over an n×n grid, neuron-major: `output` (K, n, n), `neurons[l]` (width_l, n, n)
    per hidden layer, `inputs` (n_features, n, n); float32. `output_range` is the output's
    (lo, hi); map[k][r, c] is the value at row r (top = x2 = +6), column c (left = x1 = −6)."""

    n: int
    inputs: np.ndarray
    neurons: list[np.ndarray]
    output: np.ndarray
    output_range: tuple[float, float]

    NEURON_RANGE = (-1.0, 1.0)  # TensorFlow Playground's colour scale, clipped

    def quantized(self) -> dict:
        """uint8 maps with the same shapes, coded as the page codes its own (quantize)."""
        lo, hi = self.NEURON_RANGE
        return {
            "inputs": quantize(self.inputs, lo, hi),
            "neurons": [quantize(a, lo, hi) for a in self.neurons],
            "output": quantize(self.output, *self.output_range),
        }


def output_range(output_activation: str) -> tuple[float, float]:
    return (0.0, 1.0) if output_activation in ("sigmoid", "softmax") else (-1.0, 1.0)


def evaluate_grid(net, head, features: tuple[str, ...], n: int) -> Grid:
    """All layers of `net` over the n×n grid in evaluation mode, in float32."""
    if not 1 <= n <= MAX_GRID:
        raise ValueError(f"grid size must be in [1, {MAX_GRID}]")
    F = grid_inputs(n, tuple(features))
    with np.errstate(all="ignore"):
        outs = net.activations_on(F, head, dtype=np.float32)
    return Grid(
        n=n,
        inputs=F.T.reshape(-1, n, n),
        neurons=[a.reshape(-1, n, n) for a in outs[:-1]],
        output=outs[-1].reshape(-1, n, n),
        output_range=output_range(net.output_activation),
    )

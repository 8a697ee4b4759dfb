"""2-D data sets: TensorFlow Playground's six generators plus moons, checkerboard, blobs, spirals.

Every generator takes `(n, noise, rng, n_classes)` and returns `X` (n, 2) float64 in the
playground's domain and `y` (n,): int64 0/1 for binary sets (TF's +1 → 1, −1 → 0), float64 in
[-1, 1] for regression, int64 0..K-1 for multiclass. `noise` is 0–0.5 and scales as in TF:
circle, xor, plane and multi_gaussian move the point used to pick the label (the drawn point
stays put), spiral moves the drawn point, gaussian widens the variance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.config import DATASETS, FIELD_BY_NAME, task_of

DOMAIN = (-6.0, 6.0)
NOISE_RANGE = (0.0, 0.5)

DataGenerator = Callable[[int, float, np.random.Generator, int], "tuple[np.ndarray, np.ndarray]"]

_MULTI_GAUSSIANS = np.array(
    [  # TF regressGaussian: centre x, centre y, sign
        [-4.0, 2.5, 1.0],
        [0.0, 2.5, -1.0],
        [4.0, 2.5, 1.0],
        [-4.0, -2.5, -1.0],
        [0.0, -2.5, 1.0],
        [4.0, -2.5, -1.0],
    ]
)
MOON_SCALE = 3.0  # unit moons span x ∈ [-1, 2], y ∈ [-0.5, 1]; centred and scaled to ±4.5
CHECKER_CELL = 3.0  # a 4 × 4 board over the domain
BLOB_RADIUS = 3.0  # blob centres sit on this circle, the first one straight up


def _linear(v, d0: float, d1: float, r0: float, r1: float):
    """d3.scale.linear().domain([d0, d1]).range([r0, r1]) without clamping."""
    return r0 + (np.asarray(v, dtype=np.float64) - d0) * (r1 - r0) / (d1 - d0)


def _class_sizes(n: int, k: int) -> np.ndarray:
    """Split n points into k classes whose sizes differ by at most one, larger ones first."""
    return n // k + (np.arange(k) < n % k).astype(np.int64)


def _gaussian_variance(noise: float) -> float:
    return float(_linear(noise, 0.0, 0.5, 0.5, 4.0))


def _circle(n, noise, rng, n_classes):
    """TF classifyCircleData: label 1 iff the noise-shifted point lies within radius 2.5."""
    radius = 5.0
    n_in, n_out = _class_sizes(n, 2)
    r = np.concatenate(
        [rng.uniform(0.0, radius * 0.5, n_in), rng.uniform(radius * 0.7, radius, n_out)]
    )
    angle = rng.uniform(0.0, 2 * np.pi, n)
    X = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    shifted = X + rng.uniform(-radius, radius, (n, 2)) * noise
    y = np.linalg.norm(shifted, axis=1) < radius * 0.5
    return X, y.astype(np.int64)


def _xor(n, noise, rng, n_classes):
    """TF classifyXORData: uniform in ±5 pushed 0.3 off the axes; label 1 iff x1·x2 ≥ 0."""
    padding = 0.3
    X = rng.uniform(-5.0, 5.0, (n, 2))
    X += np.where(X > 0, padding, -padding)
    shifted = X + rng.uniform(-5.0, 5.0, (n, 2)) * noise
    return X, (shifted[:, 0] * shifted[:, 1] >= 0).astype(np.int64)


def _gaussian(n, noise, rng, n_classes):
    """TF classifyTwoGaussData: label 1 around (2, 2), label 0 around (-2, -2)."""
    sizes = _class_sizes(n, 2)
    centres = np.repeat([[2.0, 2.0], [-2.0, -2.0]], sizes, axis=0)
    X = rng.normal(centres, np.sqrt(_gaussian_variance(noise)))
    return X, np.repeat(np.array([1, 0], dtype=np.int64), sizes)


def _spiral_arms(sizes: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """TF's genSpiral for len(sizes) arms turned 2π/K apart; rows grouped by arm."""
    k = len(sizes)
    arms = []
    for arm, m in enumerate(sizes):
        frac = np.arange(m) / max(m, 1)
        r = frac * 5.0
        t = 1.75 * frac * 2 * np.pi + 2 * np.pi * arm / k
        arms.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    X = np.concatenate(arms)
    return X + rng.uniform(-1.0, 1.0, X.shape) * noise


def _spiral(n, noise, rng, n_classes):
    """TF classifySpiralData: two arms, the unturned one labelled 1."""
    sizes = _class_sizes(n, 2)
    return _spiral_arms(sizes, noise, rng), np.repeat(np.array([1, 0], dtype=np.int64), sizes)


def _plane(n, noise, rng, n_classes):
    """TF regressPlane: label (x1 + x2) / 10 at the noise-shifted point, clipped to [-1, 1]."""
    radius = 6.0
    X = rng.uniform(-radius, radius, (n, 2))
    shifted = X + rng.uniform(-radius, radius, (n, 2)) * noise
    return X, np.clip(_linear(shifted.sum(axis=1), -10.0, 10.0, -1.0, 1.0), -1.0, 1.0)


def _multi_gaussian(n, noise, rng, n_classes):
    """TF regressGaussian: the signed bump of largest magnitude among six, each 1 − d/2."""
    radius = 6.0
    X = rng.uniform(-radius, radius, (n, 2))
    shifted = X + rng.uniform(-radius, radius, (n, 2)) * noise
    d = np.linalg.norm(shifted[:, None, :] - _MULTI_GAUSSIANS[None, :, :2], axis=2)
    bumps = _MULTI_GAUSSIANS[:, 2] * np.clip(_linear(d, 0.0, 2.0, 1.0, 0.0), 0.0, 1.0)
    pick = np.argmax(np.abs(bumps), axis=1)  # first maximum, like TF's strict `>` scan
    return X, bumps[np.arange(n), pick] + 0.0  # + 0.0 turns -0.0 into TF's 0


def _moons(n, noise, rng, n_classes):
    """Two interleaved half circles (label 1 the upper one), moved by uniform noise."""
    n_up, n_down = _class_sizes(n, 2)
    t_up, t_down = rng.uniform(0.0, np.pi, n_up), rng.uniform(0.0, np.pi, n_down)
    up = np.column_stack([np.cos(t_up), np.sin(t_up)])
    down = np.column_stack([1.0 - np.cos(t_down), 0.5 - np.sin(t_down)])
    X = (np.concatenate([up, down]) - [0.5, 0.25]) * MOON_SCALE
    X += rng.uniform(-1.0, 1.0, (n, 2)) * noise * MOON_SCALE
    return X, np.repeat(np.array([1, 0], dtype=np.int64), [n_up, n_down])


def _checkerboard(n, noise, rng, n_classes):
    """Uniform points; label 1 on cells whose column + row index is even, XOR-style noise."""
    X = rng.uniform(*DOMAIN, (n, 2))
    shifted = X + rng.uniform(-CHECKER_CELL, CHECKER_CELL, (n, 2)) * noise
    cells = np.floor(shifted / CHECKER_CELL).sum(axis=1)
    return X, (cells % 2 == 0).astype(np.int64)


def _blobs(n, noise, rng, n_classes):
    """K Gaussian blobs on a circle of radius 3, with TF's two-Gaussian variance scale."""
    sizes = _class_sizes(n, n_classes)
    angle = np.pi / 2 + 2 * np.pi * np.arange(n_classes) / n_classes
    centres = BLOB_RADIUS * np.column_stack([np.cos(angle), np.sin(angle)])
    X = rng.normal(np.repeat(centres, sizes, axis=0), np.sqrt(_gaussian_variance(noise)))
    return X, np.repeat(np.arange(n_classes, dtype=np.int64), sizes)


def _multi_spiral(n, noise, rng, n_classes):
    """K of TF's spiral arms turned 2π/K apart; arm k has label k."""
    sizes = _class_sizes(n, n_classes)
    return _spiral_arms(sizes, noise, rng), np.repeat(np.arange(n_classes, dtype=np.int64), sizes)


def _custom(n, noise, rng, n_classes):
    """No points: the user adds them (or, for your_data*, a CSV file brings them: data.py)."""
    return np.empty((0, 2)), np.empty(0, dtype=np.int64)


GENERATORS: dict[str, DataGenerator] = {
    "circle": _circle,
    "xor": _xor,
    "gaussian": _gaussian,
    "spiral": _spiral,
    "moons": _moons,
    "checkerboard": _checkerboard,
    "custom": _custom,
    "plane": _plane,
    "multi_gaussian": _multi_gaussian,
    "blobs": _blobs,
    "multi_spiral": _multi_spiral,
    "your_data": _custom,
    "your_data_regression": _custom,
    "your_data_classes": _custom,
}

_LABEL_DTYPE = {"binary": np.int64, "regression": np.float64, "multiclass": np.int64}


def generate(
    name: str, n_points: int, noise: float, rng: np.random.Generator, n_classes: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Data set `name`: X (n, 2) float64 and y (n,), int64 labels or float64 targets.

    `custom` and the your_data sets always return zero points; every other set returns
    exactly `n_points`.
    """
    if name not in GENERATORS:
        raise ValueError(f"unknown dataset {name!r}; use one of {', '.join(DATASETS)}")
    if n_points < 0:
        raise ValueError(f"n_points must be ≥ 0, got {n_points}")
    if not NOISE_RANGE[0] <= noise <= NOISE_RANGE[1]:
        raise ValueError(f"noise must be in [{NOISE_RANGE[0]}, {NOISE_RANGE[1]}], got {noise}")
    task = task_of(name)
    k_field = FIELD_BY_NAME["n_classes"]
    if task == "multiclass" and not k_field.lo <= n_classes <= k_field.hi:
        raise ValueError(f"n_classes must be in [{k_field.lo}, {k_field.hi}], got {n_classes}")
    X, y = GENERATORS[name](int(n_points), float(noise), rng, int(n_classes))
    return X.astype(np.float64, copy=False), y.astype(_LABEL_DTYPE[task], copy=False)


def split(
    X: np.ndarray, y: np.ndarray, train_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle rows with rng, then (X_train, y_train, X_test, y_test).

    n_train = max(1, round(n · train_fraction)), capped so that n ≥ 2 leaves one test point.
    """
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)}")
    n_train = max(1, round(n * train_fraction))
    if n >= 2:
        n_train = min(n_train, n - 1)
    n_train = min(n_train, n)
    order = rng.permutation(n)
    train, test = order[:n_train], order[n_train:]
    return X[train], y[train], X[test], y[test]

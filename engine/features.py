"""TensorFlow Playground's seven input features, computed from the raw point (x1, x2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

FeatureFunc = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Same definitions and order as INPUTS in TF Playground's playground.ts.
FEATURE_FUNCS: dict[str, FeatureFunc] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1_sq": lambda x1, x2: x1 * x1,
    "x2_sq": lambda x1, x2: x2 * x2,
    "x1x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: np.sin(x1),
    "sin_x2": lambda x1, x2: np.sin(x2),
}

FEATURE_LABELS: dict[str, str] = {
    "x1": "X₁",
    "x2": "X₂",
    "x1_sq": "X₁²",
    "x2_sq": "X₂²",
    "x1x2": "X₁X₂",
    "sin_x1": "sin(X₁)",
    "sin_x2": "sin(X₂)",
}


def feature_label(name: str) -> str:
    """Display label for a feature, e.g. 'x1_sq' → 'X₁²'."""
    if name not in FEATURE_LABELS:
        raise ValueError(f"unknown feature {name!r}; use one of {', '.join(FEATURE_LABELS)}")
    return FEATURE_LABELS[name]


def compute_features(
    X: np.ndarray, names: Sequence[str], out: np.ndarray | None = None
) -> np.ndarray:
    """Features `names` of points X (n, 2) as (n, len(names)) float64, into `out` if given."""
    if isinstance(names, str):
        raise ValueError("names must be a sequence of feature names, not one string")
    unknown = [name for name in names if name not in FEATURE_FUNCS]
    if unknown:
        raise ValueError(f"unknown features {unknown}; use names from {', '.join(FEATURE_FUNCS)}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2), got {X.shape}")
    shape = (X.shape[0], len(names))
    if out is None:
        out = np.empty(shape)
    elif out.shape != shape or out.dtype != np.float64:
        raise ValueError(f"out must be float64 of shape {shape}, got {out.dtype} {out.shape}")
    x1, x2 = X[:, 0], X[:, 1]
    for j, name in enumerate(names):
        out[:, j] = FEATURE_FUNCS[name](x1, x2)
    return out

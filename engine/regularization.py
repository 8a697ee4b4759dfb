"""The L1/L2 penalty on the weights: its value beside its gradient.

L1 adds rate·Σ|w| and L2 rate·½Σw² to the batch's mean loss, over the weights only (not
biases, γ or β): `mask` is Network.weight_mask, 1.0 at each weight of the flat parameter
vector and 0.0 elsewhere. `kind` is "none", "l1" or "l2".
"""

from __future__ import annotations

import numpy as np


def penalty(params: np.ndarray, mask: np.ndarray, kind: str, rate: float) -> float:
    """The penalty at the flat parameters `params`."""
    if kind == "none" or rate == 0.0:
        return 0.0
    w = params * mask
    if kind == "l1":
        return rate * float(np.abs(w).sum())
    return rate * 0.5 * float(w @ w)


def add_gradient(grads: np.ndarray, params: np.ndarray, mask: np.ndarray, kind: str, rate: float):
    """grads += ∂penalty/∂params, in place: rate·sign(w) for L1 (0 at w = 0), rate·w for L2."""
    if kind == "none" or rate == 0.0:
        return
    if kind == "l1":
        grads += rate * np.sign(params) * mask
    else:
        grads += rate * params * mask

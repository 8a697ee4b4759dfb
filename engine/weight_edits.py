"""Weights set by hand: one weight, one bias, or all of them at once, each checked first.

A value must be a finite number within ±100 (MAX_HAND_WEIGHT); a bad one raises
TrainerError and changes nothing. An edit keeps the counters but not undo's checkpoints
(the weights no longer continue from them) and logs the loss at the new weights.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import TrainerError

MAX_HAND_WEIGHT = 100


def set_weight(t, layer: int, i: int, j: int, value: float) -> None:
    """Set w_ij of weight layer `layer` (0-based) of the trainer `t`."""
    W = layer_of(t.net.weights, layer)
    if not (0 <= i < W.shape[0] and 0 <= j < W.shape[1]):
        raise TrainerError(f"weight index must be within {W.shape[0]}×{W.shape[1]}")
    _set(t, W, (i, j), value)


def set_bias(t, layer: int, j: int, value: float) -> None:
    """Set b_j of weight layer `layer` (0-based)."""
    b = layer_of(t.net.biases, layer)
    if not 0 <= j < len(b):
        raise TrainerError(f"neuron index must be in [0, {len(b) - 1}]")
    _set(t, b, (j,), value)


def layer_of(arrays: list, layer: int):
    """`arrays[layer]`, one array per weight layer; TrainerError for a bad layer index."""
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(arrays):
        raise TrainerError(f"layer must be in [0, {len(arrays) - 1}]")
    return arrays[layer]


def set_parameters(t, weights: list, biases: list) -> None:
    """Set every weight and bias at once, in the shapes of `Trainer.parameters()`: all of
    them or, if any is misshapen, non-finite or past ±100, none."""
    net, pairs = t.net, []
    for name, have, given in (
        ("weights", net.weights, weights),
        ("biases", net.biases, biases),
    ):
        if len(given) != len(have):
            raise TrainerError(f"{name}: expected {len(have)} layers, got {len(given)}")
        for l, (a, g) in enumerate(zip(have, given)):
            try:
                g = np.asarray(g, dtype=np.float64)
            except (ValueError, TypeError):
                raise TrainerError(f"{name}[{l}] is not a rectangular array") from None
            if g.shape != a.shape:
                raise TrainerError(f"{name}[{l}] has shape {g.shape}, expected {a.shape}")
            if not np.isfinite(g).all() or np.abs(g).max(initial=0.0) > MAX_HAND_WEIGHT:
                raise TrainerError(f"{name}[{l}]: values must be finite, in [-100, 100]")
            pairs.append((a, g))
    t.discard_pending()
    for a, g in pairs:
        a[...] = g
    _edited(t)


def _set(t, arr: np.ndarray, index: tuple, value) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or abs(value) > MAX_HAND_WEIGHT
    ):
        raise TrainerError("value must be a finite number in [-100, 100]")
    t.discard_pending()
    arr[index] = float(value)
    _edited(t)


def _edited(t) -> None:
    t.checkpoints.clear()
    t.last_record = None
    t.log_metrics()

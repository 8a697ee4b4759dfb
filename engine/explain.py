"""The inspector: the chain rule with real numbers, for the step being shown.

The numbers are read off a `StepRecord`: the weights before its update, its batch and its
dropout masks, so what the page prints is exactly what produced the update it just showed.
Before any update, or for an example outside the batch, the record is a preview: forward
and backward at the same weights, leaving the trainer as it was (`preview`).
"""

from __future__ import annotations

import numpy as np

from . import undo
from .errors import TrainerError
from .graph import Chain
from .records import PHASES, StepRecord


def _f(x) -> float:
    return float(x)


def passes_shown(rec: StepRecord, phase: str | None) -> set[str]:
    """What may be shown of a record: in phase stepping, no gradient before the backward
    phase and no update before it is applied."""
    show = {"forward"}
    if phase != "forward":
        show.add("loss")
    if phase not in ("forward", "loss"):
        show.add("backward")
    if rec.applied:
        show.add("update")
    return show


def inspection_record(trainer, example: int | None = None) -> tuple[StepRecord, int, bool]:
    """The record the inspector explains, the batch row of `example`, and whether that
    example is in the update's batch.

    That is the last (or half-shown) update; before any, a preview of the next batch at
    the current weights. `example` is a training-set index; one outside the batch gets
    a one-example record at the same weights.
    """
    rec = trainer.pending or trainer.last_record
    if rec is None:
        rec = preview(trainer, trainer._next_batch().copy())
    if example is None:
        return rec, 0, True
    n = len(trainer.F_train)
    if isinstance(example, bool) or not isinstance(example, int) or not 0 <= example < n:
        raise TrainerError(f"example must be a training index in [0, {n - 1}]")
    rows = np.flatnonzero(rec.batch == example)
    if len(rows):
        return rec, int(rows[0]), True
    return preview(trainer, np.array([example]), rec.params_before), 0, False


def preview(trainer, idx: np.ndarray, params: np.ndarray | None = None) -> StepRecord:
    """Forward and backward on `idx` at `params` (default: the current ones) for the
    inspector, leaving no trace: weights, batch-norm statistics and the last update's
    gradients (which the backward view and the gradient-norm chart show) are kept."""
    net = trainer.net
    saved, grads = undo.save(trainer), net.grads.copy()
    try:
        if params is not None:
            np.copyto(net.params, params)
        return trainer._record(idx)
    finally:
        undo.restore(trainer, saved)
        np.copyto(net.grads, grads)


def explain(trainer, layer: int, j: int, i: int | None = None, example: int | None = None) -> dict:
    """Chain-rule numbers for neuron j of weight layer `layer` (0-based) or, with i, for
    the weight w_ij, on training example `example` (default: the batch's first), read
    off the step with the settings it was made with (graph.py)."""
    rec, row, in_batch = inspection_record(trainer, example)
    W = trainer._layer(layer, trainer.net.weights)
    if not 0 <= j < W.shape[1] or (i is not None and not 0 <= i < W.shape[0]):
        raise TrainerError(f"layer {layer} has weights of shape {W.shape[0]}×{W.shape[1]}")
    # a phase step's record, held at its phase (the update phase once applied)
    held = rec is trainer.pending or (rec is trainer.last_record and trainer.phase == "update")
    phase = trainer.phase if held else None
    return {
        "step": rec.step,
        "applied": rec.applied,
        "phase": phase,
        "example": int(rec.batch[row]),
        "in_batch": in_batch,
        **_numbers(trainer, rec, layer, j, i, row, phase),
    }


def _numbers(
    trainer, rec: StepRecord, layer: int, j: int, i: int | None, row: int, phase: str | None
) -> dict:
    """The inspector's numbers for neuron j of weight layer `layer` (and weight w_ij when i is
    given) on batch row `row`: the graph and its equations (graph.py), the neuron's values
    on the example and over the batch, and the weight's gradient and update."""
    show = passes_shown(rec, phase)
    t = rec.traces[layer]
    n = len(t.z)
    out = {
        "graph": Chain(trainer, rec, layer, j, i, row, show).build(),
        "shows": [p for p in PHASES if p in show],
        "settings_changed": rec.settings.changes_from(trainer._step_settings()),
    }
    backward = "backward" in show
    out["neuron"] = {
        "layer": layer,
        "neuron": j,
        "row": row,
        "z": _f(t.z[row, j]),
        "a": _f(t.a[row, j]),
        "z_mean": _f(t.z[:, j].mean()),
        "a_mean": _f(t.a[:, j].mean()),
        "delta": _f(t.dz[row, j] * n) if backward else None,
        "delta_mean": _f(t.dz[:, j].sum()) if backward else None,
    }
    if layer == len(rec.traces) - 1 and "loss" in show:
        target = rec.target[row]
        out["neuron"].update(
            yhat=_f(rec.yhat[row, j]),
            loss=_f(rec.per_example_loss[row]),
            target=_f(target) if np.ndim(target) == 0 else _f(target[0]),
        )
    if i is None:
        return out
    W_before, _ = rec.layer_arrays(rec.params_before, layer)
    w = {"layer": layer, "i": i, "j": j, "row": row, "weight": _f(W_before[i, j])}
    if backward:
        dW, _ = rec.layer_arrays(rec.grads, layer)
        w["grad"] = _f(dW[i, j])
    if "update" in show:
        W_after, _ = rec.layer_arrays(rec.params_after, layer)
        flat = rec.layout[layer][0].start + i * W_before.shape[1] + j
        if rec.optimizer is not None:
            w["update"] = rec.optimizer.update_terms(0, flat, w["grad"], w["weight"])
        w["weight_after"] = _f(W_after[i, j])
        w["delta_w"] = _f(W_after[i, j] - W_before[i, j])
    out["weight"] = w
    return out

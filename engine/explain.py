"""The inspector: the chain rule with real numbers, for the step being shown.

The numbers are read off a `StepRecord`: the weights before its update, its batch and its
dropout masks, so what the page prints is exactly what produced the update it just showed.
Before any update the record is a preview: forward and backward on the next batch at the
current weights, leaving the trainer as it was (`preview`).

An example outside the update's batch took no part in it, so it has no gradient to show: a
one-example gradient is not the one the optimizer used, and under batch norm a batch of one
has no statistics at all. It is shown as the model sees it now (`evaluation`): its forward
pass at the current weights in evaluation mode (batch norm with the running mean and
variance, no dropout), its prediction and its loss.
"""

from __future__ import annotations

import numpy as np

from . import undo
from .errors import TrainerError
from .graph import Chain
from .records import PHASES, StepRecord
from .weight_edits import layer_of


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
    its forward pass at the current weights in evaluation mode (`evaluation`).
    """
    rec = trainer.pending or trainer.last_record
    if rec is None:
        rec = preview(trainer, trainer.next_batch().copy())
    if example is None:
        return rec, 0, True
    n = len(trainer.F_train)
    if isinstance(example, bool) or not isinstance(example, int) or not 0 <= example < n:
        raise TrainerError(f"example must be a training index in [0, {n - 1}]")
    rows = np.flatnonzero(rec.batch == example)
    if len(rows):
        return rec, int(rows[0]), True
    return evaluation(trainer, example), 0, False


def evaluation(trainer, example: int) -> StepRecord:
    """Training example `example` at the current weights in evaluation mode: a forward-only
    record (no gradients: `grads` is zero and never shown) of step `trainer.step_count`."""
    net, idx = trainer.net, np.array([example])
    traces, yhat = net.forward(trainer.F_train[idx], trainer.head, train=False)
    target = trainer.T_train[idx]
    per = trainer.head.per_example(traces[-1].z, yhat, target)
    return StepRecord(
        step=trainer.step_count,
        epoch=trainer.epoch,
        batch=idx,
        traces=traces,
        yhat=yhat,
        target=target,
        per_example_loss=per,
        loss=float(per.mean()),
        penalty=0.0,
        grads=np.zeros_like(net.params),
        params_before=net.params.copy(),
        layout=net.layout,
        settings=trainer.step_settings(),
    )


def preview(trainer, idx: np.ndarray) -> StepRecord:
    """Forward and backward on `idx` at the current weights for the inspector, leaving no
    trace: weights, batch-norm statistics and the last update's gradients (which the
    backward view and the gradient-norm chart show) are kept."""
    net = trainer.net
    saved, grads = undo.save(trainer), net.grads.copy()
    try:
        return trainer.record_for(idx)
    finally:
        undo.restore(trainer, saved)
        np.copyto(net.grads, grads)


def explain(trainer, layer: int, j: int, i: int | None = None, example: int | None = None) -> dict:
    """Chain-rule numbers for neuron j of weight layer `layer` (0-based) or, with i, for
    the weight w_ij, on training example `example` (default: the batch's first), read
    off the step with the settings it was made with (graph.py)."""
    rec, row, in_batch = inspection_record(trainer, example)
    W = layer_of(trainer.net.weights, layer)
    if not 0 <= j < W.shape[1] or (i is not None and not 0 <= i < W.shape[0]):
        raise TrainerError(f"layer {layer} has weights of shape {W.shape[0]}×{W.shape[1]}")
    if not in_batch:  # not in the update's batch: the model now, in evaluation mode
        update = trainer.pending or trainer.last_record
        return {
            "step": rec.step,  # the weights shown are those after this many updates
            "applied": True,
            "phase": None,
            "example": example,
            "in_batch": False,
            "evaluation": True,
            "update": update.step if update is not None else trainer.step_count + 1,
            **_numbers(trainer, rec, layer, j, i, row, {"forward", "loss"}, evaluation=True),
        }
    # a phase step's record, held at its phase (the update phase once applied)
    held = rec is trainer.pending or (rec is trainer.last_record and trainer.phase == "update")
    phase = trainer.phase if held else None
    return {
        "step": rec.step,
        "applied": rec.applied,
        "phase": phase,
        "example": int(rec.batch[row]),
        "in_batch": True,
        "evaluation": False,
        **_numbers(trainer, rec, layer, j, i, row, passes_shown(rec, phase)),
    }


def _numbers(
    trainer,
    rec: StepRecord,
    layer: int,
    j: int,
    i: int | None,
    row: int,
    show: set[str],
    evaluation: bool = False,
) -> dict:
    """The inspector's numbers for neuron j of weight layer `layer` (and weight w_ij when i is
    given) on batch row `row`, of the passes in `show`: the graph and its equations
    (graph.py), the neuron's values on the example and over the batch (none for an
    evaluation, which has no batch), and the weight's gradient and update."""
    t = rec.traces[layer]
    n = len(t.z)
    out = {
        "graph": Chain(trainer, rec, layer, j, i, row, show, evaluation).build(),
        "shows": [p for p in PHASES if p in show],
        "settings_changed": rec.settings.changes_from(trainer.step_settings()),
    }
    backward = "backward" in show
    out["neuron"] = {
        "layer": layer,
        "neuron": j,
        "row": row,
        "z": _f(t.z[row, j]),
        "a": _f(t.a[row, j]),
        "z_mean": None if evaluation else _f(t.z[:, j].mean()),
        "a_mean": None if evaluation else _f(t.a[:, j].mean()),
        "delta": _f(t.dz[row, j] * n) if backward else None,
        "delta_mean": _f(t.dz[:, j].sum()) if backward else None,
    }
    if backward:  # the traced example's δ of every neuron, for the diagram to follow
        out["deltas"] = [[_f(len(rec.batch) * d) for d in tr.dz[row]] for tr in rec.traces]
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

"""The record of one update: everything needed to replay it phase by phase.

A `StepRecord` holds references to the arrays the forward and backward passes produced
(the trace is the cache: nothing is recomputed to build it). `arrays()` names the arrays a
page draws (per-link gradients and updates, per-neuron batch means, the losses): the server's
record frame sends them, and `to_dict` lists them as JSON-able data with the traced example
(and, not compact, the full per-example matrices).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .network import LayerTrace
from .optimizers import OptimizerStep

PHASES = ("forward", "loss", "backward", "update")


def _list(x):
    return None if x is None else np.asarray(x, dtype=float).tolist()


def layer_gradients(traces: list[LayerTrace], grads: np.ndarray, layout) -> list[dict]:
    """Per weight layer, an update's dW, db, the batch mean of the layer's output (a_mean) and
    of the per-example δ = ∂L_i/∂z (delta_mean), from its traces and flat gradient: what a
    weights frame carries, read from a record or from play mode's last update, which keeps
    none (Trainer.last_gradients)."""
    out = []
    for l, t in enumerate(traces):
        w_at, shape, b_at = layout[l]
        out.append(
            {
                "dW": grads[w_at].reshape(shape),
                "db": grads[b_at],
                "a_mean": np.add.reduce(t.a, axis=0) * (1.0 / len(t.a)),
                "delta_mean": np.add.reduce(t.dz, axis=0) if t.dz is not None else None,
            }
        )
    return out


def update_ratios(delta: np.ndarray, before: np.ndarray, offsets: np.ndarray) -> list[float]:
    """‖ΔW_l‖ / ‖W_l‖ per weight layer (b, γ and β included), from flat vectors; a ratio
    that is not finite becomes None."""
    num = np.add.reduceat(delta * delta, offsets[:-1])
    den = np.add.reduceat(before * before, offsets[:-1])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ratios = np.sqrt(num / np.maximum(den, 1e-300)).tolist()
    return ratios if math.isfinite(sum(ratios)) else [_finite(v) for v in ratios]


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class StepSettings:
    """The settings an update was made with, so that it is explained and checked with them
    even after a live change (another activation, loss, dropout rate or penalty)."""

    activations: tuple[str, ...]  # per hidden layer
    output_activation: str
    loss: str
    dropout: float
    batch_norm: bool
    skip: tuple[bool, ...]  # per weight layer: a residual connection around it
    regularization: str  # "none", "l1" or "l2"
    regularization_rate: float

    def changes_from(self, other: StepSettings) -> list[str]:
        """'name: then → now' for each setting that differs in `other` (the current ones)."""
        return [
            f"{name}: {_show(getattr(self, name))} → {_show(getattr(other, name))}"
            for name in self.__dataclass_fields__
            if getattr(self, name) != getattr(other, name)
        ]


def _show(v) -> str:
    return ", ".join(map(str, v)) if isinstance(v, tuple) else str(v)


@dataclass
class StepRecord:
    step: int  # updates so far, counting this one once it is applied
    epoch: int  # completed epochs before this update
    batch: np.ndarray  # (n,) indices into the training set
    traces: list[LayerTrace]
    yhat: np.ndarray  # (n, K)
    target: np.ndarray  # (n, K) float or (n,) class indices
    per_example_loss: np.ndarray  # (n,) data loss of each example
    loss: float  # mean data loss over the batch
    penalty: float  # L1/L2 penalty added to the loss
    grads: np.ndarray  # flat ∂L/∂θ including the penalty, the layout of Network.params
    params_before: np.ndarray  # flat θ before the update
    layout: list[tuple[slice, tuple[int, int], slice]]  # per layer: W slice, W shape, b slice
    params_after: np.ndarray | None = None  # flat θ after the update (None while pending)
    grad_norms: list[float] = field(default_factory=list)
    update_ratios: list[float] = field(default_factory=list)
    metrics: dict | None = None  # train/test loss and accuracy after the update
    settings: StepSettings | None = None  # what the update was made with
    optimizer: OptimizerStep | None = None  # the optimizer's state right after the update

    @property
    def applied(self) -> bool:
        return self.params_after is not None

    @property
    def delta(self) -> np.ndarray | None:
        """Flat update actually applied, θ_after − θ_before."""
        return None if self.params_after is None else self.params_after - self.params_before

    def layer_arrays(self, flat: np.ndarray, l: int) -> tuple[np.ndarray, np.ndarray]:
        """(W (fan_in, fan_out), b (fan_out,)) of layer l from a flat vector."""
        w_at, shape, b_at = self.layout[l]
        return flat[w_at].reshape(shape), flat[b_at]

    def arrays(self) -> list[tuple[dict, np.ndarray]]:
        """The record's arrays, each with its name (and weight layer l), in the order the
        record frame sends them (server/frames.py) and `to_dict` lists them.

        Per weight layer l: W, b, the weights shown (after the update once applied, before it
        while a phase step is half-shown); dW, db, ∂L/∂W and ∂L/∂b on the batch (penalty
        included); dW_applied, db_applied, the optimizer's change (once applied); a_mean,
        node layer l + 1's mean output over the batch; delta_mean, Σ over the batch of ∂L/∂z
        (L the batch's mean loss), i.e. the batch mean of δ = B·∂L/∂z (each example's own
        ∂ℓ_i/∂z without batch norm; with it, its share of the batch gradient, times B).
        Then per_example_loss (n,), yhat (n, K) and target, as float64.
        """
        shown = self.params_after if self.params_after is not None else self.params_before
        delta = self.delta
        out = []
        for l, trace in enumerate(self.traces):
            W, b = self.layer_arrays(shown, l)
            dW, db = self.layer_arrays(self.grads, l)
            layer = [("W", W), ("b", b), ("dW", dW), ("db", db)]
            if delta is not None:
                dWa, dba = self.layer_arrays(delta, l)
                layer += [("dW_applied", dWa), ("db_applied", dba)]
            layer.append(("a_mean", trace.a.mean(axis=0)))
            if trace.dz is not None:
                layer.append(("delta_mean", trace.dz.sum(axis=0)))
            out += [({"name": name, "layer": l}, a) for name, a in layer]
        for name in ("per_example_loss", "yhat", "target"):
            out.append(({"name": name}, np.asarray(getattr(self, name), dtype=np.float64)))
        return out

    def to_dict(self, compact: bool = True, example: int | None = None) -> dict:
        """JSON-able: `arrays()` as lists (a layer's under "layers", by name, as the page reads
        them off the record frame), the scalars, and per layer the traced `example` (a row of
        the batch, default 0). Not `compact`, also each layer's per-example matrices and the
        weights before the update."""
        row = 0 if example is None else int(example)
        layers: list[dict] = [{} for _ in self.traces]
        out = {
            "step": self.step,
            "epoch": self.epoch,
            "applied": self.applied,
            "batch": self.batch.tolist(),
            "example_row": row,
            "batch_loss": self.loss,
            "penalty": self.penalty,
            "layers": layers,
            "grad_norms": self.grad_norms,
            "update_ratios": self.update_ratios,
        }
        for entry, a in self.arrays():
            (layers[entry["layer"]] if "layer" in entry else out)[entry["name"]] = _list(a)
        for l, t in enumerate(self.traces):
            delta = t.dz[row] * len(t.dz) if t.dz is not None else None
            layers[l]["example"] = {
                "input": _list(t.input[row]),
                "z": _list(t.z[row]),
                "a": _list(t.a[row]),
                "dz": _list(delta),
            }
            if not compact:
                W0, b0 = self.layer_arrays(self.params_before, l)
                layers[l].update(
                    W_before=_list(W0),
                    b_before=_list(b0),
                    input=_list(t.input),
                    z=_list(t.z),
                    a=_list(t.a),
                    dz=_list(t.dz),
                    u=_list(t.u),
                    mask=None if t.mask is None else t.mask.tolist(),
                )
        if self.metrics is not None:
            out.update(loss=self.metrics["loss"], accuracy=self.metrics["accuracy"])
        return out

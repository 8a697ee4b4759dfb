"""The per-frame readouts: the numbers charted over training, listed once.

`Trainer.metrics()` is the step and epoch counters plus one entry per readout in `READOUTS`,
keyed by its name; the history keeps those dicts, snapshots check them by each readout's
`shape` and bounds, the server types its messages from this list (server/protocol.py) and
the page charts each by name (static/js/charts_view.js CHARTS). Adding a readout is one
entry here and one chart there.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .losses import correct

if TYPE_CHECKING:
    from .network import Network
    from .trainer import Trainer


class Shape(str, enum.Enum):
    """What a readout's value looks like; null where a number is not finite or not defined."""

    SPLITS = "splits"  # {"train": x | None, "test": x | None}, over the training and test sets
    LAYERS = "layers"  # [x | None for each weight layer]


@dataclass(frozen=True)
class Readout:
    """One readout. `read(trainer, evaluation)` computes it from the trainer as it stands,
    `evaluation` being `trainer.evaluate()` (made once for all readouts); values lie in
    [0, hi]."""

    name: str
    shape: Shape
    hi: float
    read: Callable[[Trainer, dict[str, Any]], Any]
    doc: str


def layer_norms(net: Network, flat: np.ndarray) -> list[float | None]:
    """‖·‖ of each weight layer's weights in `flat` (a vector laid out as `net.params`): the
    weights only, not b, γ or β."""
    with np.errstate(over="ignore", invalid="ignore"):
        squares = flat * flat * net.weight_mask
        norms = np.sqrt(np.add.reduceat(squares, net.layer_offsets[:-1])).tolist()
    return norms if math.isfinite(sum(norms)) else [v if math.isfinite(v) else None for v in norms]


READOUTS: tuple[Readout, ...] = (
    Readout(
        "loss",
        Shape.SPLITS,
        math.inf,
        lambda t, ev: ev["loss"],
        "mean data loss (no penalty) over each split",
    ),
    Readout(
        "accuracy",
        Shape.SPLITS,
        1.0,
        lambda t, ev: ev["accuracy"],
        "fraction classified right (null for regression)",
    ),
    Readout(
        "grad_norms",
        Shape.LAYERS,
        math.inf,
        lambda t, ev: list(t.grad_norms),
        "‖∂L/∂W_l‖ of the last gradient, as the optimizer used it (with the penalty's part)",
    ),
)
READOUT_NAMES = tuple(r.name for r in READOUTS)
COUNTERS = ("step", "epoch")  # what every metrics dict has besides its readouts
# a metrics dict's keys in the order snapshots have always written them (a version 1 file is
# written byte for byte the same, and one read back is written as it was read): the
# readouts over the splits, the counters, the readouts per layer
METRIC_KEYS = (
    *(r.name for r in READOUTS if r.shape is Shape.SPLITS),
    *COUNTERS,
    *(r.name for r in READOUTS if r.shape is not Shape.SPLITS),
)


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def evaluate(trainer: Trainer) -> dict[str, Any]:
    """`Trainer.evaluate()`: the mean loss and the accuracy over the training and test sets
    at the current weights, in evaluation mode, {"loss": {"train", "test"}, "accuracy": ...}
    (None for an empty split, a loss that is not finite, and a regression's accuracy)."""
    t, head = trainer, trainer.head
    n_train, n_all = len(t.F_train), len(t.F_all)
    out = {"loss": {"train": None, "test": None}, "accuracy": {"train": None, "test": None}}
    if n_all == 0:
        return out
    with np.errstate(all="ignore"):
        z, yhat = t.net.predict(t.F_all, head)
        per = head.per_example(z, yhat, t.T_all)
        bounds = [0, n_train] if 0 < n_train < n_all else [0]
        sums = np.add.reduceat(per, bounds).tolist()
        ok = None
        if t.config.task != "regression":
            ok = np.add.reduceat(
                correct(head, yhat, t.labels_all).view(np.uint8), bounds, dtype=np.int64
            ).tolist()
    splits = [("train", n_train), ("test", n_all - n_train)]
    splits = [s for s in splits if s[1]]
    for k, (name, count) in enumerate(splits):
        out["loss"][name] = _finite(sums[k] / count)
        if ok is not None:
            out["accuracy"][name] = ok[k] / count
    return out


def measure(trainer: Trainer, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """`Trainer.metrics()`: the counters and every readout of `trainer` by name; those in
    `given` (a record's, already computed) are taken as they are. The keys come in the order
    METRIC_KEYS."""
    given = given or {}
    evaluation = trainer.evaluate()
    values = {
        r.name: given[r.name] if r.name in given else r.read(trainer, evaluation) for r in READOUTS
    }
    values.update(step=trainer.step_count, epoch=trainer.epoch)
    return {k: values[k] for k in METRIC_KEYS}

"""Config changes: which rebuild the data or the network, and which the weights live through.

A change of the data (DATA_FIELDS) draws new points and a new network; one of the network's
shape (NETWORK_FIELDS, or the number of outputs) recomputes the input features and draws a
new network; any other (learning rate, optimizer, activations, output head, dropout,
regularisation, batch size, stopping criteria) keeps the weights, and undo replays the
updates after it with the new settings (undo.settings_changed).
"""

from __future__ import annotations

from typing import Any

from . import activations, undo
from .config import IMPORTED_DATASETS, ConfigError
from .data import imported_fits
from .network import skips
from .optimizers import make_optimizer

DATA_FIELDS = {"dataset", "n_points", "noise", "train_fraction", "seed", "n_classes"}
NETWORK_FIELDS = {"features", "hidden", "init", "batch_norm", "residual"}
# live changes of the function the network computes: the page gets another model
MODEL_FIELDS = {"activation", "output_activation", "loss"}


def configure(t, changes: dict[str, Any]) -> set[str]:
    """Apply a partial config to the trainer `t`; returns the fields that changed. Raises
    ConfigError and changes nothing if it is invalid."""
    new = t.config.replace(**changes)
    changed = new.changed_fields(t.config)
    if not changed:
        return changed
    if new.dataset in IMPORTED_DATASETS and not imported_fits(new, t.imported):
        if new.dataset == t.config.dataset and "n_classes" in changed:
            raise ConfigError("n_classes", f"your data has {t.imported.n_classes} classes")
        raise ConfigError("dataset", "your data comes from a CSV file: import one first")
    t._discard_pending()
    old = t.config
    t.config = new
    if changed & DATA_FIELDS:
        t._build_data()
        t._build_model()
    elif changed == {"residual"} and not any(skips(new.layer_sizes)):
        t.net.residual = new.residual  # no skip fits these widths: the same network, kept
    elif changed & NETWORK_FIELDS or new.n_outputs != old.n_outputs:
        t._refresh_features()
        t._build_model()
    else:
        _live(t, changed)
        undo.settings_changed(t)
    return changed


def _live(t, changed: set[str]) -> None:
    """A change the weights live through, into the network, the head and the optimizer."""
    c, net = t.config, t.net
    if "activation" in changed:
        net.activation_names = list(c.hidden_activations)
        net.acts = [activations.get(n) for n in net.activation_names]
    if changed & {"output_activation", "loss"}:
        net.output_activation = c.output_activation
        t._refresh_targets()
    net.dropout = c.dropout
    if "optimizer" in changed:
        t.optimizer = make_optimizer(c.optimizer, **c.optimizer_hyperparameters())
        t._checkpoints.clear()  # the old optimizer's state has another shape
    else:
        t.optimizer.set_hyperparameters(**c.optimizer_hyperparameters())
    if changed & MODEL_FIELDS:
        t._checkpoints.clear()
        t._model_key = None
    t.stopping.clear()


def variant(t, changes: dict[str, Any]):
    """A new trainer on `t`'s very points (hand edits included) with `changes` applied to its
    config, at step 0 with the weights its seed draws. Raises ConfigError, naming the field,
    for an invalid change or for a data field (DATA_FIELDS: other points)."""
    if same := sorted(changes.keys() & DATA_FIELDS):
        raise ConfigError(same[0], "a variant keeps the data and the seed")
    v = t.__class__(t.config.replace(**changes), t.imported)
    if t.edits:  # the seed's points, then the same edits
        v._build_data(t.edits)
        v._build_model()
    return v


__all__ = ["DATA_FIELDS", "MODEL_FIELDS", "NETWORK_FIELDS", "configure", "variant"]

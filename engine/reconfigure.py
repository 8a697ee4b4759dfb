"""Config changes: what each does to a trainer, decided in one place, and applied.

`effect_of` decides it, for the server before it applies a change and for `configure`
when it does: the most of the changed fields' effects (engine/config.py `Effect`), with two
rules about the network. A change of the number of outputs draws a new network; turning
`residual` on or off where no skip fits the widths changes nothing the network computes
(`none`). A data change draws new points and a new network; a network change recomputes
the input features and draws a new network; a live or model change (learning rate,
optimizer, activations, output head, dropout, regularisation, batch size, stopping
criteria) keeps the weights, and undo replays the updates after it with the new settings
(undo.settings_changed).
"""

from __future__ import annotations

from typing import Any

from . import activations, undo
from .config import (
    DATA_FIELDS,
    FIELD_BY_NAME,
    IMPORTED_DATASETS,
    MODEL_FIELDS,
    NETWORK_FIELDS,
    Config,
    ConfigError,
    Effect,
)
from .data import imported_fits
from .network import skips
from .optimizers import make_optimizer


def effect_of(config: Config, changes: dict[str, Any]) -> Effect:
    """What applying the partial config `changes` to a trainer with `config` does: `none`
    when it changes nothing the trainer computes, else the most of `live` < `model` <
    `network` < `data` (the weights are kept up to `model`). Raises ConfigError, naming the
    field, if the change is invalid."""
    return _effect(config, config.replace(**changes))


def _effect(old: Config, new: Config) -> Effect:
    changed = new.changed_fields(old)
    if changed == {"residual"} and not any(skips(new.layer_sizes)):
        return Effect.NONE  # no skip fits these widths: the same network
    effects = [FIELD_BY_NAME[name].effect for name in changed]
    if new.n_outputs != old.n_outputs:
        effects.append(Effect.NETWORK)
    return max(effects, key=lambda e: e.rank, default=Effect.NONE)


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
    effect = _effect(t.config, new)
    t.discard_pending()
    t.config = new
    if effect is Effect.DATA:
        t.rebuild_data()
        t.rebuild_model()
    elif effect is Effect.NETWORK:
        t.refresh_features()
        t.rebuild_model()
    elif effect is Effect.NONE:
        t.net.residual = new.residual
    else:
        _live(t, changed, effect)
        undo.settings_changed(t)
    return changed


def _live(t, changed: set[str], effect: Effect) -> None:
    """A change the weights live through, into the network, the head and the optimizer."""
    c, net = t.config, t.net
    if "activation" in changed:
        net.activation_names = list(c.hidden_activations)
        net.acts = [activations.get(n) for n in net.activation_names]
    if changed & {"output_activation", "loss"}:
        net.output_activation = c.output_activation
        t.refresh_targets()
    net.dropout = c.dropout
    if "optimizer" in changed:
        t.optimizer = make_optimizer(c.optimizer, **c.optimizer_hyperparameters())
        t.checkpoints.clear()  # the old optimizer's state has another shape
    else:
        t.optimizer.set_hyperparameters(**c.optimizer_hyperparameters())
    if effect is Effect.MODEL:  # undo's replay would redo them with today's function
        t.checkpoints.clear()
        t.model_changed()
    t.stopping.clear()


def variant(t, changes: dict[str, Any]):
    """A new trainer on `t`'s very points (hand edits included) with `changes` applied to its
    config, at step 0 with the weights its seed draws. Raises ConfigError, naming the field,
    for an invalid change or for a data field (DATA_FIELDS: other points)."""
    if same := sorted(changes.keys() & DATA_FIELDS):
        raise ConfigError(same[0], "a variant keeps the data and the seed")
    v = t.__class__(t.config.replace(**changes), t.imported)
    if t.edits:  # the seed's points, then the same edits
        v.rebuild_data(t.edits)
        v.rebuild_model()
    return v


__all__ = ["DATA_FIELDS", "MODEL_FIELDS", "NETWORK_FIELDS", "configure", "effect_of", "variant"]

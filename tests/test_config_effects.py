"""Each config field's effect and each optimizer's hyperparameters, declared once in the
engine, against what a trainer really does when they change."""

import numpy as np
import pytest

from engine import Trainer
from engine.config import (
    DATA_FIELDS,
    FIELD_BY_NAME,
    FIELDS,
    LIVE_FIELDS,
    MODEL_FIELDS,
    NETWORK_FIELDS,
    OPTIMIZER_FIELDS,
    OPTIMIZERS,
    Config,
    Effect,
    schema,
)
from engine.reconfigure import effect_of

# the four sets as they were written by hand before the table declared them (an oracle:
# deriving them must not move a field)
HAND_DATA = {"dataset", "n_points", "noise", "train_fraction", "seed", "n_classes"}
HAND_NETWORK = {"features", "hidden", "init", "batch_norm", "residual"}
HAND_MODEL = {"activation", "output_activation", "loss"}
HAND_LIVE = {
    *("learning_rate", "momentum", "beta1", "beta2", "eps", "alpha"),
    *("regularization", "regularization_rate", "batch_size"),
    *("max_epochs", "target_loss", "patience", "tolerance"),
    *("dropout", "activation", "output_activation", "loss", "optimizer"),
}
HYPERPARAMETER_FIELDS = ("learning_rate", "momentum", "beta1", "beta2", "eps", "alpha")
# far enough from the defaults that a use of the field shows in three updates
PERTURBED = {
    "learning_rate": 0.2,
    "momentum": 0.3,
    "beta1": 0.3,
    "beta2": 0.5,
    "eps": 0.5,
    "alpha": 0.3,
}


def test_every_field_has_exactly_one_effect_and_the_sets_are_the_old_ones():
    names = [f.name for f in FIELDS]
    assert len(names) == len(set(names))
    for f in FIELDS:
        assert isinstance(f.effect, Effect) and f.effect is not Effect.NONE, f.name
    by_effect = {e: {f.name for f in FIELDS if f.effect is e} for e in Effect}
    assert sum(len(s) for s in by_effect.values()) == len(FIELDS)  # one effect each
    assert DATA_FIELDS == by_effect[Effect.DATA] == HAND_DATA
    assert NETWORK_FIELDS == by_effect[Effect.NETWORK] == HAND_NETWORK
    assert MODEL_FIELDS == by_effect[Effect.MODEL] == HAND_MODEL
    assert LIVE_FIELDS == by_effect[Effect.LIVE] | by_effect[Effect.MODEL] == HAND_LIVE
    assert DATA_FIELDS | NETWORK_FIELDS | LIVE_FIELDS == set(names)
    assert {row["name"]: row["effect"] for row in schema()} == {
        f.name: f.effect.value for f in FIELDS
    }


def test_effects_are_ordered_none_live_model_network_data():
    order = [Effect.NONE, Effect.LIVE, Effect.MODEL, Effect.NETWORK, Effect.DATA]
    assert sorted(Effect, key=lambda e: e.rank) == order


def _params_after_updates(optimizer: str, **changes) -> np.ndarray:
    t = Trainer(Config(dataset="xor", n_points=60, optimizer=optimizer, **changes))
    for _ in range(3):
        t.step()
    return t.net.params.copy()


@pytest.mark.parametrize("field", HYPERPARAMETER_FIELDS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_an_optimizers_declared_fields_are_exactly_those_its_updates_read(optimizer, field):
    base = _params_after_updates(optimizer)
    changed = _params_after_updates(optimizer, **{field: PERTURBED[field]})
    declared = field in OPTIMIZER_FIELDS[optimizer]
    assert (not np.array_equal(base, changed)) == declared, (
        f"{optimizer}: {field} is {'declared but not read' if declared else 'read undeclared'}"
    )


def test_the_optimizer_table_names_config_fields_and_every_optimizer():
    assert tuple(OPTIMIZER_FIELDS) == OPTIMIZERS
    assert OPTIMIZER_FIELDS["sgd"] == ("learning_rate",)
    assert OPTIMIZER_FIELDS["adam"] == ("learning_rate", "beta1", "beta2", "eps")
    for name, fields in OPTIMIZER_FIELDS.items():
        c = Config(optimizer=name)
        assert list(c.optimizer_hyperparameters().values()) == [getattr(c, f) for f in fields]


# one changed value per field, from BASE, and what a trainer shows of the change
BASE = {"dataset": "circle", "n_points": 40, "output_activation": "sigmoid", "loss": "bce"}
CHANGE = {
    "dataset": "xor",
    "n_points": 50,
    "noise": 0.1,
    "train_fraction": 0.6,
    "seed": 1,
    "n_classes": 4,
    "features": ["x1", "x2", "x1x2"],
    "hidden": [3],
    "activation": "relu",
    "output_activation": "tanh",
    "loss": "mse",
    "init": "xavier",
    "batch_norm": True,
    "dropout": 0.2,
    "residual": True,
    "optimizer": "adam",
    "learning_rate": 0.1,
    "momentum": 0.5,
    "beta1": 0.5,
    "beta2": 0.9,
    "eps": 1e-4,
    "alpha": 0.5,
    "regularization": "l2",
    "regularization_rate": 0.01,
    "batch_size": 5,
    "max_epochs": 100,
    "target_loss": 0.01,
    "patience": 10,
    "tolerance": 1e-6,
}


def _observed(t: Trainer, changes: dict) -> Effect:
    """What `configure` did, read off the trainer: new points, a new network, another
    model over the same weights, or the same model."""
    data, net, head, key, params = t.data, t.net, t.head, t.model_key, t.net.params.copy()
    t.configure(changes)
    if t.data is not data:
        return Effect.DATA
    if t.net is not net:
        return Effect.NETWORK
    assert np.array_equal(t.net.params, params)  # the weights are kept
    if t.model_key != key or t.head is not head:  # another function, or another loss
        return Effect.MODEL
    # a live change marks undo's checkpoints (the updates after it replay with the new
    # settings) or, a new optimizer, clears them; a change of nothing leaves them
    checkpoints = list(t.checkpoints)
    return Effect.LIVE if not checkpoints or checkpoints[-1].config == t.config else Effect.NONE


@pytest.mark.parametrize("field", [f.name for f in FIELDS])
def test_effect_of_each_field_is_what_configure_does(field):
    assert set(CHANGE) == {f.name for f in FIELDS}
    t = Trainer(BASE)
    t.step()
    predicted = effect_of(t.config, {field: CHANGE[field]})
    # residual: no skip fits BASE's widths (2 → 4 → 2 → 1), so the network is the same
    assert predicted is (Effect.NONE if field == "residual" else FIELD_BY_NAME[field].effect)
    assert _observed(t, {field: CHANGE[field]}) is predicted


def test_effect_of_a_change_of_several_fields_is_the_most_of_theirs():
    c = Config(hidden=(4, 4))
    assert effect_of(c, {}) is Effect.NONE
    assert effect_of(c, {"learning_rate": c.learning_rate}) is Effect.NONE  # the same value
    assert effect_of(c, {"learning_rate": 0.1, "batch_size": 5}) is Effect.LIVE
    assert effect_of(c, {"learning_rate": 0.1, "activation": "relu"}) is Effect.MODEL
    assert effect_of(c, {"activation": "relu", "hidden": [3]}) is Effect.NETWORK
    assert effect_of(c, {"hidden": [3], "seed": 5, "learning_rate": 0.1}) is Effect.DATA
    # residual draws a new network only where a skip fits: 4 → 4 has one, 2 → 4 → 2 → 1 none
    assert effect_of(c, {"residual": True}) is Effect.NETWORK
    assert effect_of(Config(), {"residual": True}) is Effect.NONE
    # ... and only alone: with another field, the network is drawn anew as before
    assert effect_of(Config(), {"residual": True, "dropout": 0.1}) is Effect.NETWORK


def test_effect_of_an_invalid_change_raises_naming_the_field():
    from engine.config import ConfigError

    with pytest.raises(ConfigError) as e:
        effect_of(Config(), {"learning_rate": -1})
    assert e.value.field == "learning_rate"

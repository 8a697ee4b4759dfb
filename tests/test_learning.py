"""The engine learns: documented configurations reach their accuracy within a bounded number
of epochs, for several seeds. These are also the configs docs/engine.md describes."""

import pytest

from engine.trainer import Trainer

ALL_FEATURES = ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2"]
RECIPES = {
    # dataset: (config, epochs, test accuracy to reach)
    "circle": (dict(hidden=[4, 2], activation="tanh", learning_rate=0.03), 150, 0.95),
    "xor": (dict(hidden=[4, 2], activation="tanh", learning_rate=0.03), 150, 0.95),
    "gaussian": (dict(hidden=[], learning_rate=0.03), 20, 0.95),
    "spiral": (
        dict(
            hidden=[8, 8, 8],
            activation="tanh",
            optimizer="adam",
            learning_rate=0.01,
            features=ALL_FEATURES,
        ),
        200,
        0.90,
    ),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dataset", list(RECIPES))
def test_reaches_accuracy(dataset, seed):
    config, epochs, goal = RECIPES[dataset]
    t = Trainer({**config, "dataset": dataset, "seed": seed, "max_epochs": epochs})
    best = 0.0
    while t.stopped is None:
        t.run(50)
        best = max(best, t.evaluate()["accuracy"]["test"])
    assert t.stopped == "max_epochs" and t.epoch == epochs
    final = t.evaluate()["accuracy"]["test"]
    assert final >= goal, f"{dataset} seed {seed}: test accuracy {final:.3f} (best {best:.3f})"


def test_regression_loss_falls():
    t = Trainer(
        {
            "dataset": "multi_gaussian",
            "hidden": [8, 8],
            "output_activation": "linear",
            "optimizer": "adam",
            "learning_rate": 0.03,
            "seed": 0,
        }
    )
    start = t.evaluate()["loss"]["test"]
    t.run(3000)
    assert t.evaluate()["loss"]["test"] < 0.1 * start


def test_multiclass_blobs():
    t = Trainer(
        {
            "dataset": "blobs",
            "n_classes": 4,
            "hidden": [6],
            "optimizer": "adam",
            "learning_rate": 0.03,
            "seed": 0,
        }
    )
    t.run(1000)
    assert t.evaluate()["accuracy"]["test"] >= 0.9

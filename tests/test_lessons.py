"""The guided lessons (server/lessons.py): every config is valid, and every lesson's claim
holds in the engine with the lesson's own seed. The numbers in the comments are what the
engine measured when the lessons were written; the bounds leave room around them."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from engine.config import FIELD_BY_NAME, INITS, Config
from engine.trainer import Trainer
from server.lessons import LESSON_BY_ID, LESSONS, lesson_list, lessons_script_json

TOPICS = (
    "one-neuron",
    "xor",
    "diverge",
    "vanishing",
    "symmetry",
    "optimizers",
    "overfitting",
    "batch-size",
    "deep-rescue",
)
# Fields a lesson must set itself, so the run does not depend on the page's current config.
DETERMINING = (
    "dataset",
    "seed",
    "n_points",
    "noise",
    "train_fraction",
    "features",
    "hidden",
    "activation",
    "output_activation",
    "loss",
    "init",
    "learning_rate",
    "optimizer",
    "batch_size",
    "regularization",
    "regularization_rate",
    "dropout",
    "batch_norm",
    "residual",
)


def trainer(lesson_id: str, **changes) -> Trainer:
    return Trainer(Config.from_dict({**LESSON_BY_ID[lesson_id].config, **changes}))


def trained(lesson_id: str, updates: int, **changes) -> Trainer:
    t = trainer(lesson_id, **changes)
    assert t.run(updates) == updates, t.stop_message
    return t


def loss(t: Trainer, split: str = "train") -> float:
    return t.evaluate()["loss"][split]


def accuracy(t: Trainer, split: str = "test") -> float:
    return t.evaluate()["accuracy"][split]


# the table itself


def test_ids_unique_url_safe_and_cover_the_topics():
    ids = [lesson.id for lesson in LESSONS]
    assert len(ids) == len(set(ids)) >= 8
    assert set(TOPICS) <= set(ids)
    for i in ids:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i), i


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.id)
def test_config_is_valid_and_fully_determines_the_run(lesson):
    for name in lesson.config:
        assert name in FIELD_BY_NAME, f"{lesson.id}: unknown field {name}"
    c = Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in lesson.config.items()})
    missing = [f for f in DETERMINING if f not in lesson.config]
    assert not missing, f"{lesson.id} leaves {missing} to the page's current config"
    # the same run from any starting config: the lesson's fields override everything
    other = Config(
        dataset="spiral",
        seed=7,
        hidden=(3,),
        learning_rate=1.0,
        batch_size=3,
        optimizer="rmsprop",
        dropout=0.5,
        batch_norm=True,
        residual=True,
        regularization="l1",
        regularization_rate=0.3,
        init="he",
        noise=0.4,
    )
    assert other.replace(**lesson.config) == c
    if lesson.compare is not None:
        c.replace(**lesson.compare)  # the second run's changes are valid too


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.id)
def test_text_is_short_and_complete(lesson):
    d = lesson.to_dict()
    assert d["title"] and len(d["title"]) <= 70
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", d["explanation"]) if s]
    assert 2 <= len(sentences) <= 4, sentences
    assert 1 <= len(d["watch"]) <= 3
    assert 2 <= len(d["try"]) <= 4


def test_script_json_cannot_close_the_script_element():
    text = lessons_script_json()
    assert "</" not in text
    assert json.loads(text) == lesson_list()
    assert json.loads(json.dumps(lesson_list())) == lesson_list()


# the claims


def test_one_neuron_separates_the_clusters_with_a_line():
    t = trained("one-neuron", 200)
    assert t.config.layer_sizes == (2, 1)  # no hidden layer: the output neuron alone
    assert accuracy(t) >= 0.98  # measured 1.0


def test_xor_needs_the_hidden_layer():
    with_hidden = trained("xor", 1000)
    without = trained("xor", 1000, hidden=[])
    assert accuracy(with_hidden) >= 0.95  # measured 0.99
    assert accuracy(without) <= 0.65  # measured 0.52: a line gets about half the corners


def test_diverge_stops_with_reason_diverged_and_a_small_rate_learns():
    t = trainer("diverge")
    t.run(400)
    assert t.stopped == "diverged", t.stop_message  # measured: the loss overflowed at update 227
    assert t.step_count < 400
    assert "learning rate" in t.stop_message
    # the loss is already huge long before it overflows: visible on the loss chart
    early = trained("diverge", 40)
    assert loss(early) > 1e6  # measured 2e49
    calm = trained("diverge", 400, learning_rate=0.03)
    assert calm.stopped is None and loss(calm) < 0.05  # measured 0.003


def test_diverge_says_when_at_its_own_pace():
    """The lesson names the update where the loss overflows and how long that takes at its
    Play pace: true, and within 5 s (at its old pace of 10 a second it took 23 s)."""
    lesson = LESSON_BY_ID["diverge"]
    t = trainer("diverge")
    t.run(400)
    said = re.search(r"step (\d+)", " ".join(lesson.try_))
    stopped_at = int(re.search(r"step (\d+)", t.stop_message).group(1))
    assert said and int(said.group(1)) == stopped_at
    assert "three seconds" in " ".join(lesson.try_) and 2.5 <= stopped_at / lesson.rate <= 3.5


def test_xor_names_the_control_that_removes_the_layer():
    """The − above a hidden column removes a neuron; the layer's − is in the card's title."""
    text = " ".join(LESSON_BY_ID["xor"].try_)
    assert "above it" not in text and "hidden layer” in the Network card" in text


def test_vanishing_gradients_in_the_deep_sigmoid_network():
    t = trained("vanishing", 200)
    norms = t.metrics()["grad_norms"]
    assert len(norms) == 7
    assert norms[0] < 1e-3 * norms[-1]  # measured 6.6e-6 against 0.30: five orders
    assert all(a < b for a, b in zip(norms, norms[1:]))  # smaller at every layer back
    g = t.last_gradients()
    first, last = np.abs(g[0]["dW"]).mean(), np.abs(g[-1]["dW"]).mean()
    assert first < 1e-3 * last
    # the same net with relu keeps them within one order of magnitude
    relu = trained("vanishing", 200, activation="relu").metrics()["grad_norms"]
    assert max(relu) < 10 * min(relu)


def test_zero_init_keeps_the_hidden_neurons_identical():
    assert "zeros" in INITS
    t = trained("symmetry", 1000)
    W_in, W_out = t.net.weights[0], t.net.weights[1]
    b_hidden = t.net.biases[0]
    assert np.abs(W_in).max() > 1e-3  # the weights did move...
    for j in range(1, W_in.shape[1]):  # ...but every hidden neuron moved the same way
        np.testing.assert_array_equal(W_in[:, j], W_in[:, 0])
        np.testing.assert_array_equal(W_out[j], W_out[0])
        assert b_hidden[j] == b_hidden[0]
    assert accuracy(t) <= 0.65  # measured 0.59: four copies of one neuron, one line
    assert LESSON_BY_ID["symmetry"].compare == {"init": "uniform"}  # run B, beside it
    random = trained("symmetry", 1000, **LESSON_BY_ID["symmetry"].compare)
    assert np.abs(random.net.weights[0][:, 0] - random.net.weights[0][:, 1]).max() > 0.1
    assert accuracy(random) >= 0.9  # measured 0.996


def test_adam_and_momentum_beat_sgd_from_the_same_start():
    lesson = LESSON_BY_ID["optimizers"]
    assert lesson.compare == {"optimizer": "adam"}
    runs = {opt: trainer("optimizers", optimizer=opt) for opt in ("sgd", "momentum", "adam")}
    start = {opt: t.net.params.copy() for opt, t in runs.items()}
    np.testing.assert_array_equal(start["sgd"], start["adam"])  # the same initial weights
    np.testing.assert_array_equal(start["sgd"], start["momentum"])
    for t in runs.values():
        t.run(500)
    sgd, mom, adam = (loss(runs[o]) for o in ("sgd", "momentum", "adam"))
    assert adam < 0.1 * sgd  # measured 0.002 against 0.34
    assert mom < 0.1 * sgd  # measured 0.009; accuracy 1.0 (adam) and 0.78 (sgd)
    assert accuracy(runs["adam"]) >= 0.95 > accuracy(runs["sgd"])


def test_overfitting_and_the_two_cures():
    def gap(t):
        return loss(t, "test") - loss(t, "train")

    plain = trained("overfitting", 1500)
    assert len(plain.X_train) == 30  # few training points, many test points
    assert loss(plain) < 0.01 and loss(plain, "test") > 0.3  # measured 0.003, 0.47
    l2 = trained("overfitting", 1500, regularization="l2", regularization_rate=0.01)
    drop = trained("overfitting", 1500, dropout=0.3)
    for cured in (l2, drop):
        assert gap(cured) < 0.5 * gap(plain)  # measured 0.12 (L2), 0.13 (dropout), 0.47 (none)
        assert loss(cured, "test") < loss(plain, "test")


def test_batch_size_one_is_noisy_full_batch_is_smooth():
    def curve(bs, updates=100):
        t = trainer("batch-size", batch_size=bs)
        out = [loss(t)]
        for _ in range(updates):
            t.run(1)
            out.append(loss(t))
        return np.array(out)

    n_train = len(trainer("batch-size").X_train)
    assert n_train == 100
    rises = {bs: int((np.diff(curve(bs)) > 0).sum()) for bs in (1, 10, n_train)}
    assert rises[1] >= 20 and rises[n_train] == 0  # measured 37, 21, 0
    assert rises[1] > rises[10] > rises[n_train]
    # per epoch, though, many small steps get further than one big one
    after = {}
    for bs in (1, 10, n_train):
        t = trainer("batch-size", batch_size=bs)
        for _ in range(3):
            t.run_epoch()
        assert t.step_count == 3 * -(-n_train // bs)
        after[bs] = loss(t)
    assert after[1] < after[10] < after[n_train]  # measured 0.10, 0.14, 0.34


def test_batch_norm_and_residual_rescue_the_deep_network():
    plain = trained("deep-rescue", 600)
    assert accuracy(plain) <= 0.6  # measured 0.51: stuck
    norms = plain.metrics()["grad_norms"]
    assert norms[0] < 1e-2 * norms[-1]
    assert LESSON_BY_ID["deep-rescue"].compare == {"batch_norm": True}  # run B, beside it
    for fix in ({"batch_norm": True}, {"residual": True}):
        t = trained("deep-rescue", 600, **fix)
        assert accuracy(t) >= 0.9, fix  # measured 1.0 (batch norm) and 0.96 (residual)


def test_two_lessons_ask_the_class_at_their_moment():
    """Issue 27: the lessons' questions are valid `ask` questions the engine can answer at
    the lesson's start; where a lesson claims the answer (the loss goes up at learning rate
    3), the engine agrees, and so does a second trainer stepped here."""
    from server.messages_in import QuestionSpec
    from server.questions import pose

    asking = [lesson for lesson in LESSONS if lesson.question is not None]
    assert {lesson.id for lesson in asking} >= {"xor", "diverge"}
    for lesson in asking:
        assert lesson.moment and lesson.to_dict()["question"]["spec"] == lesson.question
        posed = pose(trainer(lesson.id), QuestionSpec(**lesson.question), None)
        assert posed.truth in posed.choices
        if lesson.answer is not None:
            assert posed.truth == lesson.answer
    t = trainer("diverge")
    before = loss(t)
    t.step()
    assert loss(t) > before  # the oracle: the lesson's own first update

"""Every equation the inspector shows is true: against its own numbers, and its numbers against
finite differences of an independent forward pass in plain NumPy (float64,
tests/helpers/inspector_oracle.py).

The oracle takes the step's batch, weights, dropout masks and settings, and can nudge any
quantity of one example (z, u, h, d or a of one neuron) by ε; B·(L(+ε) − L(−ε))/2ε is then
that node's gradient as the inspector prints it, G(x) = B·∂L/∂x.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import ACTIVATIONS, HEADS, OPTIMIZERS, REGULARIZATIONS, ConfigError, task_of
from engine.expressions import evaluate
from engine.trainer import Trainer, TrainerError
from tests.helpers.inspector_oracle import fd, oracle_loss, weight_fd


def check_tree(expr: dict) -> None:
    """Every operation in an equation gives the number printed for it."""
    if expr["op"] == "num":
        assert math.isfinite(expr["value"])
        return
    for a in expr["args"]:
        check_tree(a)
    assert evaluate(expr) == pytest.approx(expr["value"], rel=1e-9, abs=1e-12), expr


def check_explanation(t: Trainer, ex: dict, layer: int, kink_free: bool) -> None:
    rec, row, _ = t.inspection_record(ex["example"])
    B = len(rec.batch)
    graph = ex["graph"]
    for eq in graph["equations"]:
        check_tree(eq["expr"])
    # each edge's local derivative carries the gradient back to the node before it
    nodes = graph["nodes"]
    for prev, node in zip(nodes, nodes[1:]):
        if node["local"] and node["grad"] is not None and prev["grad"] is not None:
            assert prev["grad"] == pytest.approx(
                node["local"]["value"] * node["grad"], rel=1e-9, abs=1e-12
            ), (prev, node)
    if not kink_free:
        return
    for node in graph["nodes"]:
        if node["grad"] is None or node["id"] not in ("z", "u", "h", "drop", "a"):
            continue
        want = B * fd(
            lambda e, node=node: oracle_loss(
                t, rec, (layer, node["id"], row, ex["neuron"]["neuron"], e)
            )
        )
        assert node["grad"] == pytest.approx(want, rel=1e-4, abs=1e-7), (node, want)
    if "weight" in ex and "grad" in ex["weight"]:
        w = ex["weight"]
        g = next(e for e in graph["equations"] if e["id"] == "grad_w")["value"]
        assert g == w["grad"]
        if rec.settings.regularization != "l1" or abs(w["weight"]) > 1e-5:
            want = weight_fd(t, rec, layer, w["i"], w["j"])
            assert g == pytest.approx(want, rel=1e-4, abs=1e-7)


@st.composite
def configs(draw):
    dataset = draw(
        st.sampled_from(["xor", "circle", "gaussian", "spiral", "moons", "blobs", "plane"])
    )
    hidden = draw(st.lists(st.integers(2, 5), min_size=1, max_size=3))
    if draw(st.booleans()):  # same widths, so residual connections apply
        hidden = [hidden[0]] * len(hidden)
    out_act, loss = draw(st.sampled_from(HEADS[task_of(dataset)]))
    batch_norm = draw(st.booleans())
    return {
        "dataset": dataset,
        "n_points": 60,
        "seed": draw(st.integers(0, 999)),
        "features": ["x1", "x2", "x1x2"],
        "hidden": hidden,
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "output_activation": out_act,
        "loss": loss,
        "init": draw(st.sampled_from(["uniform", "xavier", "he"])),
        "batch_norm": batch_norm,
        "dropout": draw(st.sampled_from([0.0, 0.3])),
        "residual": draw(st.booleans()),
        "optimizer": draw(st.sampled_from(OPTIMIZERS)),
        "learning_rate": 0.03,
        "regularization": draw(st.sampled_from(REGULARIZATIONS)),
        "regularization_rate": draw(st.sampled_from([0.0, 0.01])),
        "batch_size": draw(st.sampled_from([2 if batch_norm else 1, 10, 30])),
    }


LIVE = [
    {},
    {"activation": "relu"},
    {"activation": "sigmoid"},
    {"dropout": 0.5},
    {"dropout": 0.0},
    {"optimizer": "adam"},
    {"optimizer": "sgd"},
    {"regularization": "l2", "regularization_rate": 0.1},
    {"learning_rate": 3.0},
]


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(configs(), st.sampled_from(LIVE), st.data())
def test_every_equation_is_true_and_its_numbers_match_finite_differences(cfg, live, data):
    t = Trainer(cfg)
    t.step()
    t.step()
    before = t.last_record
    t.configure(live)  # a live change between the step and its explanation
    assert t.last_record is before
    layer = data.draw(st.integers(0, len(t.net.weights) - 1))
    W = t.net.weights[layer]
    j, i = data.draw(st.integers(0, W.shape[1] - 1)), data.draw(st.integers(0, W.shape[0] - 1))
    example = int(data.draw(st.sampled_from(list(before.batch))))
    ex = t.explain(layer=layer, j=j, i=i, example=example)
    assert ex["in_batch"] and ex["shows"] == ["forward", "loss", "backward", "update"]
    if live and any(k in live for k in ("activation", "dropout", "regularization")):
        changed = before.settings.changes_from(t.step_settings())
        assert ex["settings_changed"] == changed
    kinks = {"relu", "leaky_relu"} & set(before.settings.activations)
    check_explanation(t, ex, layer, kink_free=not kinks)
    # the update uses exactly the gradient shown, and lands where the weights are now
    w = ex["weight"]
    assert w["update"]["grad"] == w["grad"]
    assert w["update"]["weight_after"] == pytest.approx(w["weight_after"], rel=1e-9, abs=1e-12)
    assert w["weight_after"] == t.net.weights[layer][i, j]
    # and the step is verified with the settings it was made with
    check = t.gradcheck()
    assert check["passed"] or check["loss"] > 10, check


def test_the_batch_table_sums_to_the_gradient_the_optimizer_used():
    t = Trainer(
        {
            "dataset": "circle",
            "hidden": [4],
            "batch_size": 10,
            "seed": 2,
            "regularization": "l2",
            "regularization_rate": 0.05,
            "optimizer": "momentum",
        }
    )
    rec = t.step()
    ex = t.explain(layer=0, j=1, i=0)
    eqs = {e["id"]: e for e in ex["graph"]["equations"]}
    rows = eqs["grad_w_data"]["expr"]["args"]
    assert len(rows) == 10 and [r["label"] for r in rows] == [f"#{k}" for k in rec.batch]
    traced = eqs["grad_w_example"]["value"]
    assert rows[0]["value"] == traced  # the traced example is the batch's first
    data = np.mean([r["value"] for r in rows])
    assert eqs["grad_w_data"]["value"] == pytest.approx(data, rel=1e-12)
    penalty = 0.05 * rec.params_before[rec.layout[0][0]][0 * 4 + 1]
    assert eqs["grad_w_penalty"]["value"] == pytest.approx(penalty, rel=1e-12)
    assert eqs["grad_w"]["value"] == ex["weight"]["grad"] == ex["weight"]["update"]["grad"]
    # w ← w − α·b with b = g at the first step: the student's arithmetic gives the new weight
    assert ex["weight"]["weight"] - 0.03 * ex["weight"]["grad"] == pytest.approx(
        ex["weight"]["weight_after"], rel=1e-12
    )


def test_a_long_batch_sends_a_subtotal_for_the_rows_it_leaves_out():
    t = Trainer(
        {
            "dataset": "circle",
            "hidden": [3],
            "n_points": 800,
            "train_fraction": 0.5,
            "batch_size": 400,
        }
    )
    t.step()
    ex = t.explain(layer=0, j=0, i=1, example=int(t.last_record.batch[300]))
    mean = next(e for e in ex["graph"]["equations"] if e["id"] == "grad_w_data")["expr"]
    assert mean["count"] == 400 and len(mean["args"]) == 257  # 256 rows, then the rest
    check_tree(mean)


def test_phase_by_phase_shows_no_gradient_before_the_backward_pass():
    t = Trainer({"dataset": "xor", "hidden": [3, 3], "batch_norm": True, "dropout": 0.2})
    seen = []
    for phase in ("forward", "loss", "backward", "update"):
        t.phase_step()
        ex = t.explain(layer=0, j=1, i=0)
        grads = [n["grad"] for n in ex["graph"]["nodes"] if n["grad"] is not None]
        ids = {e["id"] for e in ex["graph"]["equations"]}
        seen.append((phase, ex["shows"]))
        if phase in ("forward", "loss"):
            assert not grads and ex["neuron"]["delta"] is None and "grad" not in ex["weight"]
            assert not ids & {"delta", "grad_w", "grad_a"}
        else:
            assert grads and "delta" in ids and "grad_w" in ids
        assert ("loss" in {n["id"] for n in ex["graph"]["nodes"]}) == (phase != "forward")
        assert ("update" in ex["weight"]) == (phase == "update")
    assert seen[0][1] == ["forward"] and seen[-1][1] == ["forward", "loss", "backward", "update"]


def test_changing_the_optimizer_keeps_the_steps_update_explained():
    t = Trainer({"dataset": "xor", "hidden": [3], "optimizer": "adam"})
    t.step()
    t.configure({"optimizer": "sgd"})  # a fresh optimizer that has made no step
    upd = t.explain(layer=0, j=0, i=1)["weight"]["update"]
    assert upd["optimizer"] == "adam" and "m_hat" in upd


def test_a_changed_activation_or_dropout_leaves_the_step_verifiable():
    for change in ({"activation": "relu"}, {"dropout": 0.5}, {"output_activation": "linear"}):
        t = Trainer({"dataset": "xor", "hidden": [4, 4], "activation": "tanh", "seed": 4})
        t.step()
        t.configure(change)
        ex = t.explain(layer=0, j=1, i=0)
        assert ex["settings_changed"], change
        check_explanation(t, ex, 0, kink_free=True)
        check = t.gradcheck()
        assert check["passed"] and check["max_rel_error"] <= 1e-6, (change, check)


def test_inspecting_leaves_the_last_updates_gradients_alone():
    t = Trainer({"dataset": "circle", "hidden": [4, 3], "batch_size": 5})
    t.step()
    grads, norms = t.net.grads.copy(), t.metrics()["grad_norms"]
    outside = next(k for k in range(len(t.F_train)) if k not in t.last_record.batch)
    t.explain(layer=0, j=0, i=0, example=outside)  # a one-example pass at the same weights
    np.testing.assert_array_equal(t.net.grads, grads)
    t.run(3)  # play's fast path keeps no record: inspecting previews the next batch
    grads, norms = t.net.grads.copy(), t.metrics()["grad_norms"]
    t.explain(layer=1, j=2, i=1)
    t.gradcheck()
    np.testing.assert_array_equal(t.net.grads, grads)
    assert t.metrics()["grad_norms"] == norms


def test_gradcheck_explains_a_relu_at_its_kink_and_noise_it_cannot_resolve():
    # a point at the origin with biases 0: its ReLU inputs are exactly 0, on the kink
    t = Trainer(
        {
            "dataset": "custom",
            "hidden": [3],
            "activation": "relu",
            "init": "he",
            "features": ["x1", "x2"],
            "batch_size": 4,
        }
    )
    for x, label in (((0.0, 0.0), 1), ((1.0, 2.0), 0), ((-2.0, 1.0), 1), ((2.0, -1.0), 0)):
        t.add_point(*x, label)
    t.step()
    check = t.gradcheck()
    assert check["passed"] and check["n_kink"] > 0 and check["notes"]
    # batch norm cancels the first layer's biases: their gradients are rounding noise
    t = Trainer({"dataset": "xor", "hidden": [4, 4], "batch_norm": True, "batch_size": 10})
    t.step()
    check = t.gradcheck()
    assert check["passed"], check
    t.last_record.grads[3] += 1e-3  # a wrong gradient is never excused as noise or a kink
    assert not t.gradcheck()["passed"]


def test_batch_norm_refuses_batches_of_one_and_never_leaves_a_last_batch_of_one():
    with pytest.raises(ConfigError, match="batch norm needs at least 2"):
        Trainer({"batch_norm": True, "hidden": [3], "batch_size": 1})
    t = Trainer(
        {"dataset": "xor", "hidden": [3], "n_points": 22, "train_fraction": 0.5, "batch_size": 10}
    )
    assert len(t.F_train) == 11
    assert len(t.step().batch) == 10 and len(t.step().batch) == 1  # without batch norm
    t = Trainer(
        {
            "dataset": "xor",
            "hidden": [3],
            "n_points": 22,
            "train_fraction": 0.5,
            "batch_size": 10,
            "batch_norm": True,
        }
    )
    rec = t.step()
    assert len(rec.batch) == 11 and t.epoch == 1  # the last one joined the batch
    t = Trainer({"dataset": "custom", "hidden": [3], "batch_norm": True, "batch_size": 2})
    t.add_point(0.5, 0.5, 1)
    with pytest.raises(TrainerError, match="two training points"):
        t.step()


def test_gradient_norms_are_the_weights_gradient_only():
    t = Trainer({"dataset": "circle", "hidden": [4, 3], "batch_norm": True})
    rec = t.step()
    want = [
        float(np.linalg.norm(rec.layer_arrays(rec.grads, l)[0])) for l in range(len(rec.traces))
    ]
    np.testing.assert_allclose(rec.grad_norms, want, rtol=1e-12)
    np.testing.assert_allclose(t.metrics()["grad_norms"], want, rtol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "swish", "elu"])
def test_a_saturated_activations_delta_is_its_printed_product(activation):
    """δ = f′ × G(h) holds to rounding as printed (issue 21, item 7): f′ is the factor the
    backward pass used, not 1 − a² computed again (which differs where f saturates: "δ =
    4.441e−16 × (−0.05387) = −2.082e−17" had a true product of −2.392e−17)."""
    worst = 0.0
    for seed in range(6):
        t = Trainer(
            {
                "dataset": "xor",
                "n_points": 60,
                "seed": seed,
                "features": ["x1", "x2"],
                "hidden": [3],
                "activation": activation,
                "batch_size": 10,
            }
        )
        t.net.weights[0] *= 20.0  # deep into saturation
        rec = t.step()
        for j in range(3):
            for example in rec.batch:
                ex = t.explain(0, j, 0, example=int(example))
                eq = next(e for e in ex["graph"]["equations"] if e["id"] == "delta")
                fprime, g = (a["value"] for a in eq["expr"]["args"])
                if eq["value"]:
                    worst = max(worst, abs(fprime * g - eq["value"]) / abs(eq["value"]))
    assert worst <= 1e-15, worst  # a few ulps (G is summed apart); the bug was 0.42


@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("phase_steps", [0, 2])
def test_an_example_outside_the_batch_is_its_forward_pass_now_in_evaluation_mode(
    batch_norm, phase_steps
):
    """Issue 21, item 3: an example the update did not use has no gradient in it. The
    inspector shows it as the model sees it now: the current weights, batch norm with its
    running statistics (never a batch of one: ẑ = 0, every gradient 0), no dropout; and the
    step it names is the one whose weights it used."""
    t = Trainer(
        {
            "dataset": "xor",
            "n_points": 60,
            "seed": 3,
            "features": ["x1", "x2"],
            "hidden": [4, 3],
            "batch_norm": batch_norm,
            "dropout": 0.3,
            "batch_size": 10,
        }
    )
    for _ in range(3):
        t.step()
    for _ in range(phase_steps):  # half-shown: the weights are still those of update 3
        t.phase_step()
    rec = t.pending or t.last_record
    example = next(k for k in range(len(t.F_train)) if k not in set(rec.batch.tolist()))
    # an independent forward pass: the current weights, running statistics, no dropout
    a = t.F_train[example]
    zs = []
    for l, (W, b) in enumerate(zip(t.net.weights, t.net.biases, strict=True)):
        z = a @ W + b
        zs.append(z)
        if l == len(t.net.weights) - 1:
            break
        if batch_norm:
            mean, var = t.net.running_mean[l], t.net.running_var[l]
            gamma, beta = t.net.gammas[l], t.net.betas[l]
            z = (z - mean) / np.sqrt(var + 1e-5) * gamma + beta
        a = np.tanh(z)
    for layer in range(3):
        ex = t.explain(layer, 0, 0, example=example)
        assert not ex["in_batch"]
        assert ex["shows"] == ["forward", "loss"], ex["shows"]
        assert ex["neuron"]["z"] == pytest.approx(zs[layer][0], rel=1e-12, abs=1e-12)
        assert ex["evaluation"] and ex["step"] == 3 and ex["update"] == rec.step
        assert "grad" not in ex["weight"] and "update" not in ex["weight"]
        assert all(n["grad"] is None for n in ex["graph"]["nodes"])
        assert ex["neuron"]["delta"] is None and ex["neuron"]["z_mean"] is None
        assert ex["weight"]["weight"] == t.net.weights[layer][0, 0]
        ids = {e["id"] for e in ex["graph"]["equations"]}
        assert not ids & {"grad_w", "grad_w_example", "delta", "grad_a"}
        if batch_norm and layer < 2:
            z_hat = next(n for n in ex["graph"]["nodes"] if n["id"] == "z_hat")["value"]
            assert z_hat != 0.0
            assert (
                "running"
                in next(e for e in ex["graph"]["equations"] if e["id"] == "z_hat")["title"]
            )
        for eq in ex["graph"]["equations"]:
            check_tree(eq["expr"])

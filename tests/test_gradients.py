"""Every backprop gradient against central finite differences in float64."""

import numpy as np
import pytest

from engine.config import ACTIVATIONS
from engine.gradcheck import GRADCHECK_FLOOR, relative_error
from engine.network import Network

H = 1e-5
HEADS = [  # output activation, loss, labels for a batch of 8
    ("tanh", "mse", lambda r: np.sign(r.normal(size=8))),
    ("linear", "mse", lambda r: r.normal(size=8)),
    ("sigmoid", "mse", lambda r: (r.random(8) > 0.5).astype(float)),
    ("sigmoid", "bce", lambda r: (r.random(8) > 0.5).astype(float)),
    ("softmax", "cross_entropy", lambda r: r.integers(0, 3, 8)),
]
OPTIONS = {  # batch_norm, residual, dropout
    "plain": (False, False, 0.0),
    "batch_norm": (True, False, 0.0),
    "residual": (False, True, 0.0),
    "dropout": (False, False, 0.4),
    "all": (True, True, 0.3),
}


def _targets(net, loss, y):
    return y.astype(np.int64) if loss == "cross_entropy" else y.astype(float).reshape(-1, 1)


def central_differences(net, total_loss) -> np.ndarray:
    """∂(total_loss)/∂θ for every parameter by central differences with step H."""
    g = np.empty(net.n_params)
    for k in range(net.n_params):
        w = net.params[k]
        net.params[k] = w + H
        up = total_loss()
        net.params[k] = w - H
        down = total_loss()
        net.params[k] = w
        g[k] = (up - down) / (2 * H)
    return g


def numeric_gradient(net, X, y, loss, masks):
    head = net.head(loss)
    t = _targets(net, loss, y)
    buffers = net.buffers.copy()

    def L():
        traces, yhat = net.forward(X, head, train=True, masks=masks)
        np.copyto(net.buffers, buffers)
        return head.per_example(traces[-1].z, yhat, t).mean()

    return central_differences(net, L)


def make_case(act, out_act, loss, labels, options, seed=3):
    bn, res, p = OPTIONS[options]
    rng = np.random.default_rng(seed)
    k = 3 if loss == "cross_entropy" else 1
    net = Network(
        [3, 5, 5, 4, k],
        activation=act,
        output_activation=out_act,
        init="xavier",
        seed=seed,
        batch_norm=bn,
        residual=res,
        dropout=p,
    )
    # random non-zero parameters keep every relu input away from its kink at exactly 0
    net.params[...] = rng.normal(0, 0.7, net.n_params)
    X = rng.normal(size=(8, 3))
    masks = [rng.random((8, w)) >= p for w in (5, 5, 4)] if p else None
    return net, X, labels(rng), masks


@pytest.mark.parametrize("options", list(OPTIONS))
@pytest.mark.parametrize("out_act,loss,labels", HEADS, ids=[f"{a}-{b}" for a, b, _ in HEADS])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_backprop_matches_finite_differences(act, out_act, loss, labels, options):
    net, X, y, masks = make_case(act, out_act, loss, labels, options)
    numeric = numeric_gradient(net, X, y, loss, masks)
    head = net.head(loss)
    t = _targets(net, loss, y)
    traces, yhat = net.forward(X, head, train=True, masks=masks)
    net.backward(traces, head.dz(traces[-1].z, yhat, t))
    assert np.abs(numeric).max() > 1e-3  # the check is not vacuous
    err = relative_error(numeric, net.grads, GRADCHECK_FLOOR)
    assert err.max() <= 1e-6, f"worst parameter {err.argmax()}: {err.max():.2e}"


def test_loss_and_gradients_public_api():
    net = Network([2, 4, 2, 1], activation="tanh", output_activation="tanh", seed=0)
    assert net.weights[0].shape == (2, 4) and net.biases[0].shape == (4,)
    X = np.array([[0.5, -1.0], [1.5, 2.0], [-0.3, 0.1]])
    y = np.array([1.0, -1.0, 1.0])
    loss, dW, db = net.loss_and_gradients(X, y, loss="mse")
    # an independent forward pass written out by hand
    a1 = np.tanh(X @ net.weights[0] + net.biases[0])
    a2 = np.tanh(a1 @ net.weights[1] + net.biases[1])
    yhat = np.tanh(a2 @ net.weights[2] + net.biases[2])[:, 0]
    np.testing.assert_allclose(loss, np.mean(0.5 * (yhat - y) ** 2), rtol=1e-14)
    num = numeric_gradient(net, X, y, "mse", None)
    flat = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])
    assert relative_error(num, flat).max() <= 1e-6
    net.weights[0][0, 0] += 1.0  # writable in place
    assert net.params[0] == net.weights[0][0, 0]


@pytest.mark.parametrize("init", ["uniform", "xavier", "he", "zeros"])
def test_initialisation(init):
    net = Network([7, 32, 32, 1], init=init, seed=5)
    W = net.weights[1]
    if init == "uniform":
        assert -0.5 <= W.min() and W.max() <= 0.5 and np.all(net.biases[0] == 0.1)
    elif init == "xavier":
        assert np.abs(W).max() <= np.sqrt(6 / 64) and abs(W.std() - np.sqrt(2 / 64)) < 0.02
    elif init == "he":
        assert abs(W.std() - np.sqrt(2 / 32)) < 0.03
    else:
        assert not net.params.any()
    again = Network([7, 32, 32, 1], init=init, seed=5)
    np.testing.assert_array_equal(net.params, again.params)


def test_zero_init_keeps_hidden_neurons_symmetric():
    net = Network([2, 3, 1], activation="sigmoid", output_activation="tanh", init="zeros")
    X = np.random.default_rng(0).normal(size=(10, 2))
    y = np.sign(X[:, 0])
    for _ in range(5):
        _, dW, db = net.loss_and_gradients(X, y)
        for w, g in zip(net.weights, dW):
            w -= 0.5 * g
        for b, g in zip(net.biases, db):
            b -= 0.5 * g
    assert np.allclose(net.weights[0], net.weights[0][:, :1])  # every column the same
    assert np.allclose(net.weights[1], net.weights[1][0])


@pytest.mark.parametrize("options", ["plain", "all"])
@pytest.mark.parametrize("reg", ["l1", "l2"])
def test_penalty_gradients_match_finite_differences(reg, options):
    from engine.trainer import Trainer

    bn, res, p = OPTIONS[options]
    t = Trainer(
        {
            "n_points": 60,
            "hidden": [5, 5],
            "regularization": reg,
            "regularization_rate": 0.03,
            "batch_norm": bn,
            "residual": res,
            "dropout": p,
            "seed": 4,
        }
    )
    rec = t.step()
    net, head = t.net, t.head
    masks = [tr.mask for tr in rec.traces[:-1]] if p else None
    X = t.F_train[rec.batch]
    np.copyto(net.params, rec.params_before)
    buffers = net.buffers.copy()
    w = net.weight_mask.astype(bool)

    def total():
        traces, yhat = net.forward(X, head, train=True, masks=masks)
        np.copyto(net.buffers, buffers)
        data = head.per_example(traces[-1].z, yhat, rec.target).mean()
        W = net.params[w]
        return data + (0.03 * np.abs(W).sum() if reg == "l1" else 0.03 * 0.5 * W @ W)

    numeric = central_differences(net, total)
    assert relative_error(numeric, rec.grads).max() <= 1e-6
    # the penalty really is in there
    assert np.abs(rec.grads[w] - numeric[w]).max() < 1e-8
    data_only = rec.grads.copy()
    data_only[w] -= 0.03 * (np.sign(rec.params_before[w]) if reg == "l1" else rec.params_before[w])
    assert relative_error(numeric, data_only).max() > 1e-3

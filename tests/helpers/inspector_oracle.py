"""An independent forward pass of a recorded step, in plain float64 NumPy, for checking the
inspector's numbers by central finite differences.

It takes the step's batch, weights, dropout masks and settings, and can nudge any quantity of
one example (z, u, h, d or a of one neuron) by ε; B·(L(+ε) − L(−ε))/2ε is then that node's
gradient as the inspector prints it, G(x) = B·∂L/∂x.
"""

from __future__ import annotations

import numpy as np

from engine.network import BN_EPS
from engine.trainer import Trainer

LEAKY, ELU = 0.01, 1.0
F = {
    "linear": lambda u: u,
    "sigmoid": lambda u: 1 / (1 + np.exp(-u)),
    "tanh": np.tanh,
    "relu": lambda u: np.maximum(u, 0),
    "leaky_relu": lambda u: np.where(u > 0, u, LEAKY * u),
    "elu": lambda u: np.where(u > 0, u, ELU * (np.exp(np.minimum(u, 0)) - 1)),
    "swish": lambda u: u / (1 + np.exp(-u)),
}


def oracle_loss(t: Trainer, rec, bump=None) -> float:
    """L = mean ℓ + penalty on the record's batch, from scratch. `bump` = (weight layer,
    quantity, row, j, ε) adds ε to one example's quantity."""
    s, net = rec.settings, t.net
    p = rec.params_before
    a = t.F_train[rec.batch]
    n_layers = len(rec.traces)

    def nudge(x, layer, what):
        if bump and bump[0] == layer and bump[1] == what:
            x = x.copy()
            x[bump[2], bump[3]] += bump[4]
        return x

    for l in range(n_layers):
        spans = net.spans[l]
        o, size, shape = spans["W"]
        W = p[o : o + size].reshape(shape)
        o, size, _ = spans["b"]
        z = nudge(a @ W + p[o : o + size], l, "z")
        if l == n_layers - 1:
            break
        u = z
        if s.batch_norm:
            g = p[spans["gamma"][0] : spans["gamma"][0] + spans["gamma"][1]]
            beta = p[spans["beta"][0] : spans["beta"][0] + spans["beta"][1]]
            u = g * (z - z.mean(0)) / np.sqrt(z.var(0) + BN_EPS) + beta
        u = nudge(u, l, "u")
        h = nudge(F[s.activations[l]](u), l, "h")
        mask = rec.traces[l].mask
        d = nudge(h * mask / (1 - s.dropout) if mask is not None else h, l, "drop")
        a = nudge(d + a if s.skip[l] else d, l, "a")
    y = rec.target
    if s.loss == "mse":
        yhat = F[s.output_activation](z)
        per = 0.5 * ((yhat - y) ** 2).sum(1)
    elif s.loss == "bce":
        per = (np.logaddexp(0, z) - y * z).sum(1)
    else:
        m = z.max(1)
        per = m + np.log(np.exp(z - m[:, None]).sum(1)) - z[np.arange(len(z)), y]
    weights = p * net.weight_mask
    pen = {
        "none": 0.0,
        "l1": s.regularization_rate * np.abs(weights).sum(),
        "l2": 0.5 * s.regularization_rate * weights @ weights,
    }[s.regularization]
    return float(per.mean() + pen)


def fd(f, eps=1e-6) -> float:
    return (f(eps) - f(-eps)) / (2 * eps)


def weight_fd(t: Trainer, rec, layer: int, i: int, j: int) -> float:
    """∂L/∂w_ij of the record's step by central differences of the oracle."""
    k = rec.layout[layer][0].start + i * rec.layout[layer][1][1] + j

    def moved(e):
        saved = rec.params_before[k]
        rec.params_before[k] = saved + e
        try:
            return oracle_loss(t, rec)
        finally:
            rec.params_before[k] = saved

    return fd(moved)

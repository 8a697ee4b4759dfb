"""The finite-difference check of a step's gradients: central differences in float64 on the
step's own batch, weights, dropout masks and settings, against its backprop gradient.

It reads a `StepRecord` (the last update, or a preview of the next), so what it checks is
exactly what produced the update the page just showed.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from . import activations, regularization
from .losses import make_head
from .records import StepRecord

GRADCHECK_H = 1e-5  # relative to max(1, |w|), so large weights still move by a visible step
GRADCHECK_FLOOR = 1e-4  # |a − b| / max(|a| + |b|, floor): below it, an absolute test
GRADCHECK_MAX_PARAMS = 2000


def _f(x) -> float:
    return float(x)


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = GRADCHECK_FLOOR) -> np.ndarray:
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)


# activations with a corner at 0 (ELU with ELU_ALPHA = 1 has none: its slope is 1 on both sides)
KINKED = ("relu", "leaky_relu")


def inputs_at_kink(rec: StepRecord) -> int:
    """How many of the step's hidden pre-activations sit exactly on a kink (z = 0 into a ReLU
    or leaky ReLU): with zero biases, dropout dropping every unit of a layer for an example
    puts the next layer's z there. Backprop takes one side's slope (ReLU's f′(0) = 0)."""
    count = 0
    for name, t in zip(rec.settings.activations, rec.traces[:-1]):
        if name in KINKED:
            u = t.u if t.u is not None else t.z
            count += int(np.count_nonzero(u == 0.0))
    return count


class _OnBranch(activations.Activation):
    """`act` with the inputs at `at` (a bool (n, width) array) held on the line through the
    kink that backprop's f′(0) describes: f(u) = f′(0)·u there (f(0) = 0 for both)."""

    def __init__(self, act: activations.Activation, at: np.ndarray):
        self.act, self.at, self.name = act, at, act.name
        zero = np.zeros(1)
        self.slope = float(act.derivative(zero, act.forward(zero))[0])

    def forward(self, z):
        a = self.act.forward(z)
        a[self.at] = self.slope * z[self.at]
        return a

    def forward_into(self, z, out):
        np.copyto(out, self.forward(z))


def _branch_acts(net, rec: StepRecord) -> list:
    """The replay network's activations with the record's inputs at a kink on their branch."""
    acts = list(net.acts)
    for l, (name, t) in enumerate(zip(rec.settings.activations, rec.traces[:-1])):
        if name in KINKED:
            u = t.u if t.u is not None else t.z
            acts[l] = _OnBranch(acts[l], u == 0.0)
    return acts


def _masks(rec: StepRecord):
    masks = [t.mask for t in rec.traces[:-1]]
    return masks if any(m is not None for m in masks) else None


GRADCHECK_TOL = 1e-6  # largest relative error that passes
# rounding in the loss, amplified by the stencil: |numeric − exact| ≲ NOISE·ε·max(1, |L|)/h
GRADCHECK_NOISE = 50.0


def _replay_net(trainer, rec: StepRecord):
    """(network, head) as they were when `rec` was made: its activations, dropout rate and
    output head, over the trainer's own parameter arrays."""
    s = rec.settings
    net = copy.copy(trainer.net)
    net.activation_names = list(s.activations)
    net.acts = [activations.get(name) for name in s.activations]
    net.dropout, net.output_activation = s.dropout, s.output_activation
    return net, make_head(s.output_activation, s.loss)


def check(trainer, rec: StepRecord, seed: int = 0) -> dict:
    """Central differences in float64 (five-point stencil) on the record's batch, weights,
    masks and settings, against the record's backprop gradient (data loss plus penalty).

    A parameter passes when the relative error is at most 1e-6, or when the difference is
    within the rounding noise of finite differences ("below the noise floor": a gradient
    that batch norm cancels, say). Where the loss has a kink at the parameter's value (a
    ReLU input exactly at 0), it is not differentiable: the one-sided slopes differ at every
    step size, and central differences straddle them. There backprop's value is checked
    against differences of the loss with those inputs held on the branch backprop took
    (f′(0)·u, f′(0) = 0 for ReLU by convention): it passes as "at a kink" when they agree
    and fails otherwise, so a wrong gradient at a kink is never excused.
    """
    net, head = _replay_net(trainer, rec)
    X = trainer.F_train[rec.batch]
    target = rec.target
    masks = _masks(rec)
    saved_params = net.params.copy()
    saved_buffers = net.buffers.copy()
    s = rec.settings

    def penalty(params: np.ndarray) -> float:
        return regularization.penalty(
            params, net.weight_mask, s.regularization, s.regularization_rate
        )

    def total_loss() -> float:
        traces, yhat = net.forward(X, head, train=True, masks=masks)
        np.copyto(net.buffers, saved_buffers)
        return float(head.per_example(traces[-1].z, yhat, target).mean()) + penalty(net.params)

    def at(k: int, value: float) -> float:
        net.params[k] = value
        return total_loss()

    def stencil(k: int, w: float, h: float) -> float:
        """Five-point central differences in parameter k at value w: truncation O(h⁴)."""
        f = [at(k, w + step * h) for step in (-2.0, -1.0, 1.0, 2.0)]
        net.params[k] = w
        return (f[0] - 8.0 * f[1] + 8.0 * f[2] - f[3]) / (12.0 * h)

    def on_branch(k: int, w: float, h: float, grad: float, noise: float) -> bool:
        """Whether backprop's value is the derivative of the loss with every input that sat
        exactly on a kink held on the branch backprop took (f′(0)·u there): central
        differences of that function, smooth near w, are an oracle for the subgradient."""
        acts = net.acts
        net.acts = branch_acts
        try:
            for hh in (h, h / 10):
                if abs(stencil(k, w, hh) - grad) <= max(
                    GRADCHECK_TOL * max(abs(grad), GRADCHECK_FLOOR), noise * h / hh
                ):
                    return True
            return False
        finally:
            net.acts = acts

    idx = np.arange(net.n_params)
    if len(idx) > GRADCHECK_MAX_PARAMS:
        idx = np.sort(np.random.default_rng(seed).choice(idx, GRADCHECK_MAX_PARAMS, replace=False))
    numeric, steps = np.empty(len(idx)), np.empty(len(idx))
    analytic = rec.grads[idx]
    status = np.zeros(len(idx), dtype=np.int8)  # 0 checked, 1 below the noise floor, 2 kink
    loss = abs(rec.loss + rec.penalty)
    at_kink = inputs_at_kink(rec)
    branch_acts = _branch_acts(net, rec) if at_kink else None
    try:
        np.copyto(net.params, rec.params_before)
        for n, k in enumerate(idx):
            w = net.params[k]
            h = GRADCHECK_H * max(1.0, abs(w))
            # Where the loss curves sharply at this scale (batch norm over nearly equal z,
            # say), h is too coarse: the estimates at h and h/10 disagree, and the pair
            # h/10, h/100 that agrees better is used instead.
            e0, e1 = stencil(k, w, h), stencil(k, w, h / 10)
            numeric[n], steps[n] = e0, h
            if abs(e0 - e1) > 1e-7 * max(abs(e0), GRADCHECK_FLOOR):
                e2 = stencil(k, w, h / 100)
                if abs(e1 - e2) < abs(e0 - e1):
                    numeric[n], steps[n] = e2, h / 100
            if relative_error(numeric[n], analytic[n]) <= GRADCHECK_TOL:
                continue
            noise = GRADCHECK_NOISE * np.finfo(float).eps * max(1.0, loss) / steps[n]
            if abs(numeric[n] - analytic[n]) <= noise:
                status[n] = 1
            elif at_kink and on_branch(k, w, h, analytic[n], noise * steps[n] / h):
                status[n] = 2
    finally:
        np.copyto(net.params, saved_params)
        np.copyto(net.buffers, saved_buffers)
    err = relative_error(numeric, analytic)
    checked = np.flatnonzero(status == 0)
    worst = int(checked[np.argmax(err[checked])]) if len(checked) else None
    max_err = float(err[worst]) if worst is not None else 0.0
    layer = (
        int(np.searchsorted(net.layer_offsets, idx[worst], side="right") - 1)
        if worst is not None
        else None
    )
    n_noise, n_kink = int((status == 1).sum()), int((status == 2).sum())
    notes = []
    if n_noise:
        notes.append(
            f"{n_noise} gradient{'s are' if n_noise > 1 else ' is'} below the noise "
            "floor of finite differences: backprop and the differences agree to "
            "within rounding (a gradient near 0, e.g. a bias that batch norm cancels)"
        )
    if n_kink:
        notes.append(
            f"{at_kink} ReLU input{'s sit' if at_kink > 1 else ' sits'} exactly at the kink "
            "(z = 0: with zero biases, dropout dropped every unit feeding it), where the "
            "loss has no derivative and finite differences straddle the two slopes. "
            f"Backprop takes f′(0) = 0 for ReLU (the leak for leaky ReLU): for {n_kink} "
            f"parameter{'s' if n_kink > 1 else ''} its value is checked, and right, against "
            "differences that keep those inputs on that side"
        )
    return {
        "max_rel_error": max_err if math.isfinite(max_err) else None,
        "n_checked": int(len(idx)),
        "n_params": int(net.n_params),
        "n_noise": n_noise,
        "n_kink": n_kink,
        "n_at_kink": at_kink,
        "notes": notes,
        "h": GRADCHECK_H,
        "floor": GRADCHECK_FLOOR,
        "tolerance": GRADCHECK_TOL,
        "step": rec.step,
        "loss": _f(rec.loss + rec.penalty),  # rounding in the differences grows with it
        "worst": {
            "index": int(idx[worst]) if worst is not None else None,
            "layer": layer,
            "numeric": _f(numeric[worst]) if worst is not None else None,
            "backprop": _f(analytic[worst]) if worst is not None else None,
        },
        "passed": bool(max_err <= GRADCHECK_TOL),
    }

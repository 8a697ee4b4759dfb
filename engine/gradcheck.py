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


# What a check may cost, in weight-examples (one loss evaluation costs about the batch
# size times the parameter count): at most this many in all, so the largest legal network
# (8×32, every feature, batch norm, a batch of 1,800) checks a stated sample of its
# parameters in a few CPU-seconds instead of 2,000 of them in three CPU-minutes; a small
# network is checked whole. A check runs in slices of about SLICE_COST, each a job of its
# own, so it is paid for as it runs, shares the pool with others, and stops when asked.
GRADCHECK_COST = 3.0e9
GRADCHECK_MIN_PARAMS = 24  # at least this many (or all), whatever they cost
SLICE_COST = 5.0e7
EVALS_PER_PARAM = 10  # loss evaluations one parameter takes, about (8 to 14)


class GradCheck:
    """A finite-difference check of one step record, run a slice at a time.

    Central differences in float64 (five-point stencil) on the record's batch, weights,
    masks and settings, against the record's backprop gradient (data loss plus penalty).
    The parameters checked are every one when that costs under GRADCHECK_COST, else a
    sample spread evenly over the layers (`n_checked` of `n_params`, stated in the result).

    A parameter passes when the relative error is at most 1e-6, or when the difference is
    within the rounding noise of finite differences ("below the noise floor": a gradient
    that batch norm cancels, say). Where the loss has a kink at the parameter's value (a
    ReLU input exactly at 0), it is not differentiable: the one-sided slopes differ at every
    step size, and central differences straddle them. There backprop's value is checked
    against differences of the loss with those inputs held on the branch backprop took
    (f′(0)·u, f′(0) = 0 for ReLU by convention): it passes as "at a kink" when they agree
    and fails otherwise, so a wrong gradient at a kink is never excused.

    `run(trainer, n)` checks the next `n` (with the trainer's lock held; the trainer's
    parameters are as they were after it), `done` says when all are, `result()` reads it.
    """

    def __init__(self, trainer, rec: StepRecord, seed: int = 0):
        self.rec = rec
        n_params = trainer.net.n_params
        per_param = EVALS_PER_PARAM * max(1, len(rec.batch)) * n_params
        budget = max(GRADCHECK_MIN_PARAMS, int(GRADCHECK_COST // per_param))
        self.idx = _sample(trainer.net.layer_offsets, min(budget, GRADCHECK_MAX_PARAMS), seed)
        self.slice = max(1, int(SLICE_COST // per_param))
        self.n_params = n_params
        self.layer_offsets = list(trainer.net.layer_offsets)
        self.numeric = np.empty(len(self.idx))
        self.steps = np.empty(len(self.idx))
        self.status = np.zeros(len(self.idx), dtype=np.int8)  # 0 checked, 1 noise, 2 kink
        self.analytic = rec.grads[self.idx]
        self.at_kink = inputs_at_kink(rec)
        self.next = 0

    @property
    def done(self) -> bool:
        return self.next >= len(self.idx)

    def run(self, trainer, n: int | None = None) -> None:
        """Check the next `n` parameters (default: a slice)."""
        rec, n = self.rec, self.slice if n is None else n
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

        branch_acts = _branch_acts(net, rec) if self.at_kink else None
        numeric, steps, status, analytic = self.numeric, self.steps, self.status, self.analytic
        loss = abs(rec.loss + rec.penalty)
        stop = min(len(self.idx), self.next + n)
        try:
            np.copyto(net.params, rec.params_before)
            for n_ in range(self.next, stop):
                k = self.idx[n_]
                w = net.params[k]
                h = GRADCHECK_H * max(1.0, abs(w))
                # Where the loss curves sharply at this scale (batch norm over nearly equal z,
                # say), h is too coarse: the estimates at h and h/10 disagree, and the pair
                # h/10, h/100 that agrees better is used instead.
                e0, e1 = stencil(k, w, h), stencil(k, w, h / 10)
                numeric[n_], steps[n_] = e0, h
                if abs(e0 - e1) > 1e-7 * max(abs(e0), GRADCHECK_FLOOR):
                    e2 = stencil(k, w, h / 100)
                    if abs(e1 - e2) < abs(e0 - e1):
                        numeric[n_], steps[n_] = e2, h / 100
                if relative_error(numeric[n_], analytic[n_]) <= GRADCHECK_TOL:
                    continue
                noise = GRADCHECK_NOISE * np.finfo(float).eps * max(1.0, loss) / steps[n_]
                if abs(numeric[n_] - analytic[n_]) <= noise:
                    status[n_] = 1
                elif self.at_kink and on_branch(k, w, h, analytic[n_], noise * steps[n_] / h):
                    status[n_] = 2
        finally:
            np.copyto(net.params, saved_params)
            np.copyto(net.buffers, saved_buffers)
        self.next = stop

    def result(self) -> dict:
        """The check's findings (all of them once `done`)."""
        return _result(self)


def _sample(offsets: list[int], n: int, seed: int) -> np.ndarray:
    """`n` parameter indices (all of them if there are no more), spread evenly over the
    layers (a layer with fewer than its share gives the rest to the others), sorted."""
    total = offsets[-1]
    if n >= total:
        return np.arange(total)
    rng = np.random.default_rng(seed)
    sizes = np.diff(offsets)
    quota = np.zeros(len(sizes), dtype=int)
    left = n
    while left > 0:  # water-filling: an even share, capped at each layer's size
        open_ = np.flatnonzero(quota < sizes)
        share = max(1, left // len(open_))
        for l in open_:
            take = min(share, sizes[l] - quota[l], left)
            quota[l] += take
            left -= take
            if left == 0:
                break
    picked = [
        offsets[l] + rng.choice(sizes[l], quota[l], replace=False)
        for l in range(len(sizes))
        if quota[l]
    ]
    return np.sort(np.concatenate(picked))


def check(trainer, rec: StepRecord, seed: int = 0) -> dict:
    """The whole check at once (GradCheck run to the end): its result."""
    job = GradCheck(trainer, rec, seed)
    while not job.done:
        job.run(trainer)
    return job.result()


def _result(job: GradCheck) -> dict:
    idx, numeric, analytic, status, rec = job.idx, job.numeric, job.analytic, job.status, job.rec
    at_kink = job.at_kink
    idx, numeric, analytic, status = (a[: job.next] for a in (idx, numeric, analytic, status))
    layer_offsets = np.asarray(job.layer_offsets)
    err = relative_error(numeric, analytic)
    checked = np.flatnonzero(status == 0)
    worst = int(checked[np.argmax(err[checked])]) if len(checked) else None
    max_err = float(err[worst]) if worst is not None else 0.0
    layer = (
        int(np.searchsorted(layer_offsets, idx[worst], side="right") - 1)
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
        "n_params": int(job.n_params),
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

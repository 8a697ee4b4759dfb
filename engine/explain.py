"""The chain rule with real numbers, and the finite-difference check of a step's gradients.

Both read a `StepRecord`: the weights before its update, its batch and its dropout masks,
so what the page prints is exactly what produced the update it just showed.
"""

from __future__ import annotations

import math

import numpy as np

from .records import StepRecord

GRADCHECK_H = 1e-5  # relative to max(1, |w|), so large weights still move by a visible step
GRADCHECK_FLOOR = 1e-4  # |a − b| / max(|a| + |b|, floor): below it, an absolute test
GRADCHECK_MAX_PARAMS = 2000


def _f(x) -> float:
    return float(x)


def relative_error(a: np.ndarray, b: np.ndarray, floor: float = GRADCHECK_FLOOR) -> np.ndarray:
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)


def _masks(rec: StepRecord):
    masks = [t.mask for t in rec.traces[:-1]]
    return masks if any(m is not None for m in masks) else None


def neuron(trainer, rec: StepRecord, layer: int, j: int, row: int) -> dict:
    """δ_j = ∂L_i/∂z_j for neuron j of weight layer `layer` (0-based) on batch row `row`.

    Per-example δ is n·dz, because the record's dz is the gradient of the batch mean.
    """
    net = trainer.net
    t = rec.traces[layer]
    n = len(t.z)
    last = layer == net.n_layers - 1
    out = {
        "layer": layer, "neuron": j, "row": row,
        "z": _f(t.z[row, j]), "a": _f(t.a[row, j]),
        "delta": _f(t.dz[row, j] * n),
        "z_mean": _f(t.z[:, j].mean()), "a_mean": _f(t.a[:, j].mean()),
        "delta_mean": _f(t.dz[:, j].mean() * n),
    }
    if last:
        head = trainer.head
        yhat, target = rec.yhat[row], rec.target[row]
        out["yhat"] = _f(yhat[j])
        out["target"] = _f(target) if np.ndim(target) == 0 else _f(target[0])
        out["loss"] = _f(rec.per_example_loss[row])
        if head.name == "mse":
            dL_dyhat = _f(head.dyhat(rec.yhat[row : row + 1], rec.target[row : row + 1])[0, j])
            fprime = _f(head.act.derivative(t.z[row : row + 1], rec.yhat[row : row + 1])[0, j])
            out.update(rule="δ = ∂L/∂ŷ · g′(z) = (ŷ − y) · g′(z)", dL_dyhat=dL_dyhat,
                       fprime=fprime,
                       formula=f"δ = ({dL_dyhat:.4g}) × {fprime:.4g} = {out['delta']:.4g}")
        else:
            out.update(rule="δ = ŷ − y (sigmoid or softmax with cross-entropy)",
                       formula=f"δ = {out['yhat']:.4g} − {out['target'] if head.name == 'bce' else float(j == int(target))} = {out['delta']:.4g}")  # noqa: E501
        return out
    nxt = rec.traces[layer + 1]
    W_next, _ = rec.layer_arrays(rec.params_before, layer + 1)
    deltas = nxt.dz[row] * n
    terms = [{"k": k, "w": _f(W_next[j, k]), "delta": _f(deltas[k]),
              "product": _f(W_next[j, k] * deltas[k])} for k in range(W_next.shape[1])]
    upstream = _f(t.da[row, j] * n)
    u = t.u if t.u is not None else t.z
    fprime = _f(net.acts[layer].derivative(u[row : row + 1], t.f_out[row : row + 1])[0, j])
    out.update(
        rule="δ_j = f′(z_j) · Σ_k w_jk δ_k", terms=terms, sum=_f(sum(x["product"] for x in terms)),
        upstream=upstream, fprime=fprime, activation=net.activation_names[layer],
        residual=bool(net.skip[layer + 1]) if layer + 1 < len(net.skip) else False,
        dropout_kept=None if t.mask is None else bool(t.mask[row, j]),
        batch_norm=t.u is not None,
    )
    parts = " + ".join(f"({x['w']:.3g})({x['delta']:.3g})" for x in terms[:6])
    more = " + …" if len(terms) > 6 else ""
    out["formula"] = f"δ = {fprime:.4g} × [{parts}{more}] = {out['delta']:.4g}"
    if out["residual"] or t.mask is not None or t.u is not None:
        out["note"] = ("the sum also passes through "
                       + ", ".join(n for n, on in (("the skip connection", out["residual"]),
                                                   ("dropout", t.mask is not None),
                                                   ("batch norm", t.u is not None)) if on))
    return out


def weight(trainer, rec: StepRecord, layer: int, i: int, j: int, row: int) -> dict:
    """∂L/∂w_ij = δ_j · a_i for one example and over the batch, plus the update applied."""
    t = rec.traces[layer]
    n = len(t.z)
    W_before, _ = rec.layer_arrays(rec.params_before, layer)
    dW, _ = rec.layer_arrays(rec.grads, layer)
    a_i = _f(t.input[row, i])
    delta_j = _f(t.dz[row, j] * n)
    per_example = a_i * delta_j
    data_grad = _f((t.input[:, i] * t.dz[:, j]).sum())
    grad = _f(dW[i, j])
    out = {
        "layer": layer, "i": i, "j": j, "row": row,
        "weight": _f(W_before[i, j]), "a_i": a_i, "delta_j": delta_j,
        "grad_example": per_example, "grad_batch": data_grad, "grad": grad,
        "penalty_grad": grad - data_grad,
        "formula": f"∂L/∂w = δ_j · a_i = ({delta_j:.4g}) × ({a_i:.4g}) = {per_example:.4g}",
        "batch_formula": f"mean over {n} examples = {data_grad:.6g}"
        + (f", plus the penalty's {grad - data_grad:.4g} = {grad:.6g}"
           if trainer.config.regularization != "none" and trainer.config.regularization_rate
           else ""),
    }
    if rec.applied:
        flat = rec.layout[layer][0].start + i * W_before.shape[1] + j
        W_after, _ = rec.layer_arrays(rec.params_after, layer)
        if trainer.last_record is rec:
            out["update"] = trainer.optimizer.update_terms(0, flat, grad, _f(W_before[i, j]))
        out["weight_after"] = _f(W_after[i, j])
        out["delta_w"] = _f(W_after[i, j] - W_before[i, j])
    return out


def gradcheck(trainer, rec: StepRecord, seed: int = 0) -> dict:
    """Central differences in float64 (five-point stencil) on the record's batch, weights and
    masks, against the record's backprop gradient (data loss plus penalty)."""
    net, head = trainer.net, trainer.head
    X = trainer.F_train[rec.batch]
    target = rec.target
    masks = _masks(rec)
    saved_params = net.params.copy()
    saved_buffers = net.buffers.copy()

    def total_loss() -> float:
        traces, yhat = net.forward(X, head, train=True, masks=masks)
        np.copyto(net.buffers, saved_buffers)
        return float(head.per_example(traces[-1].z, yhat, target).mean()) \
            + trainer._penalty(net.params)

    def stencil(k: int, w: float, h: float) -> float:
        """Five-point central differences in parameter k at value w: truncation O(h⁴)."""
        f = []
        for step in (-2.0, -1.0, 1.0, 2.0):
            net.params[k] = w + step * h
            f.append(total_loss())
        net.params[k] = w
        return (f[0] - 8.0 * f[1] + 8.0 * f[2] - f[3]) / (12.0 * h)

    idx = np.arange(net.n_params)
    if len(idx) > GRADCHECK_MAX_PARAMS:
        idx = np.sort(np.random.default_rng(seed).choice(idx, GRADCHECK_MAX_PARAMS, replace=False))
    numeric = np.empty(len(idx))
    try:
        np.copyto(net.params, rec.params_before)
        for n, k in enumerate(idx):
            w = net.params[k]
            h = GRADCHECK_H * max(1.0, abs(w))
            # Where the loss curves sharply at this scale (batch norm over nearly equal z,
            # say), h is too coarse: the estimates at h and h/10 disagree, and the pair
            # h/10, h/100 that agrees better is used instead.
            e0, e1 = stencil(k, w, h), stencil(k, w, h / 10)
            numeric[n] = e0
            if abs(e0 - e1) > 1e-7 * max(abs(e0), GRADCHECK_FLOOR):
                e2 = stencil(k, w, h / 100)
                if abs(e1 - e2) < abs(e0 - e1):
                    numeric[n] = e2
    finally:
        np.copyto(net.params, saved_params)
        np.copyto(net.buffers, saved_buffers)
    analytic = rec.grads[idx]
    err = relative_error(numeric, analytic)
    worst = int(np.argmax(err)) if len(err) else 0
    layer = int(np.searchsorted(net.layer_offsets, idx[worst], side="right") - 1) if len(err) else 0
    max_err = float(err.max()) if len(err) else 0.0
    return {
        "max_rel_error": max_err if math.isfinite(max_err) else None,
        "n_checked": int(len(idx)), "n_params": int(net.n_params),
        "h": GRADCHECK_H, "floor": GRADCHECK_FLOOR, "step": rec.step,
        "loss": _f(rec.loss + rec.penalty),  # rounding in the differences grows with it
        "worst": {"index": int(idx[worst]) if len(idx) else None, "layer": layer,
                  "numeric": _f(numeric[worst]) if len(err) else None,
                  "backprop": _f(analytic[worst]) if len(err) else None},
        "passed": bool(max_err <= 1e-6),
    }

"""The computation graph of one neuron (or one weight) on one example, read off a step's record.

For weight w_ij of a layer and the traced example r of the batch, the engine ran

    a_i ─(× w_ij)─▶ z_j = Σ a·w + b ─▶ [ẑ, u = γ·ẑ + β] ─▶ h = f(u) ─▶ [× m/(1−p)] ─▶ [+ skip]
        ─▶ a_j ─▶ (every z_k of the next layer) ─▶ … ─▶ ŷ ─▶ ℓ_r

(brackets: batch norm, dropout, a residual connection, when on). Each node carries its
value (forward) and its gradient (backward); each equation the inspector prints is an
expression tree over these numbers, built here, so it is true for every configuration.

Gradients are of the batch objective L = (1/B)·Σ_r ℓ_r + penalty, shown per example times B:
G(x) = B·∂L/∂x⁽ʳ⁾. Without batch norm that is the example's own ∂ℓ_r/∂x, and δ_j = G(z_j) is
the textbook δ. With batch norm, z of one example moves every example's loss through the
batch mean and variance, so G(x) is that example's share of the batch gradient, times B.
Either way ∂L/∂w = (1/B)·Σ_r δ_j⁽ʳ⁾·a_i⁽ʳ⁾ + the penalty's part.

Each equation is an expression tree (engine/expressions.py) whose values are the engine's
own numbers, so a test that evaluates its args checks the printed equation against the engine.
"""

from __future__ import annotations

import numpy as np

from . import activations
from .expressions import num, op
from .losses import make_head
from .records import StepRecord

MAX_TERMS = 256  # per-example rows sent for a batch sum; the rest travel as one subtotal
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def equation(key: str, title: str, lhs: str, expr: dict) -> dict:
    return {"id": key, "title": title, "lhs": lhs, "expr": expr, "value": expr["value"]}


SUPERSCRIPTS = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


def sub(n: int) -> str:
    return str(n).translate(SUBSCRIPTS)


def sup(n: int) -> str:
    return f"({n})".translate(SUPERSCRIPTS)


class Chain:
    """The graph and its equations for neuron j of weight layer `layer` (0-based) on batch
    row `row`, and for weight w_ij when `i` is given. `show` is the set of passes whose
    numbers may be shown: "forward", "loss", "backward", "update". `evaluation`: the record is
    a forward pass in evaluation mode (explain.evaluation): batch norm with the running mean
    and variance."""

    def __init__(
        self,
        trainer,
        rec: StepRecord,
        layer: int,
        j: int,
        i: int | None,
        row: int,
        show: set[str],
        evaluation: bool = False,
    ):
        self.rec, self.layer, self.j, self.i, self.r = rec, layer, j, i, row
        self.settings = s = rec.settings
        self.net = trainer.net
        self.B = len(rec.batch)
        self.last = layer == len(rec.traces) - 1
        self.t = rec.traces[layer]
        self.head = make_head(s.output_activation, s.loss)
        self.act = None if self.last else activations.get(s.activations[layer])
        self.show = show
        self.evaluation = evaluation
        self.nodes: list[dict] = []
        self.equations: list[dict] = []
        self.G = "B·∂L/∂" if s.batch_norm else "∂ℓ/∂"  # how a node's gradient is written

    # the graph

    def build(self) -> dict:
        self._forward()
        if "loss" in self.show:
            self._output()
        if "backward" in self.show:
            self._backward()
            if self.i is not None:
                self._weight_gradient()
        return {
            "nodes": self.nodes,
            "equations": self.equations,
            "grad_symbol": self.G,
            "batch_size": self.B,
            "row": self.r,
        }

    def _node(
        self,
        key: str,
        label: str,
        value,
        what: str,
        grad=None,
        local: tuple[str, float] | None = None,
    ) -> dict:
        """A node; `local` is (name, value) of its derivative with respect to the node before
        it in the chain, where that edge is one example's own (not batch norm's)."""
        node = {
            "id": key,
            "label": label,
            "value": float(value),
            "what": what,
            "grad": None,
            "local": None,
        }
        if "backward" in self.show:
            if grad is not None:
                node["grad"] = float(grad)
            if local is not None:
                node["local"] = {"label": local[0], "value": float(local[1])}
        self.nodes.append(node)
        return node

    def _forward(self) -> None:
        t, r, j, B = self.t, self.r, self.j, self.B
        W, b = self.rec.layer_arrays(self.rec.params_before, self.layer)
        fan_in = W.shape[0]
        self.a_in = lambda k: f"a{sub(k + 1)}{sup(self.layer)}"  # the previous layer's output
        self.a_out = f"a{sub(j + 1)}{sup(self.layer + 1)}"
        ins = [num(t.input[r, k], self.a_in(k)) for k in range(fan_in)]
        weights = [num(W[k, j], f"w{sub(k + 1)}{sub(j + 1)}") for k in range(fan_in)]
        if self.i is not None:
            self._node("a_in", self.a_in(self.i), t.input[r, self.i], "input to this layer")
            self._node(
                "w",
                f"w{sub(self.i + 1)}{sub(j + 1)}",
                W[self.i, j],
                "the weight",
                grad=None if t.dz is None else B * t.dz[r, j] * t.input[r, self.i],
            )
        products = [op("mul", [a, w], a["value"] * w["value"]) for a, w in zip(ins, weights)]
        z = t.z[r, j]
        self._node(
            "z",
            f"z{sub(j + 1)}",
            z,
            "Σ a·w + b",
            grad=None if t.dz is None else B * t.dz[r, j],
            local=None if self.i is None else ("∂z/∂w = a", t.input[r, self.i]),
        )
        self.equations.append(
            equation(
                "z",
                "Weighted sum",
                f"z{sub(j + 1)} = Σᵢ aᵢ{sup(self.layer)}·wᵢ{sub(j + 1)} + b{sub(j + 1)}",
                op("add", [*products, num(b[j], f"b{sub(j + 1)}")], z),
            )
        )
        if self.last:
            return
        u = z
        if t.u is not None:  # batch norm: ẑ = (z − μ)/σ over the batch, u = γ·ẑ + β
            l = self.layer
            inv = float(t.inv_std[j])
            if self.evaluation:  # the running statistics, as inv_std is
                mu, stats = float(self.net.running_mean[l][j]), "with the running mean and variance"
                mu_label, inv_label = "μ_run", "1/σ_run"
            else:
                mu, stats = float(t.z[:, j].mean()), "over the batch"
                mu_label, inv_label = "μ", "1/σ"
            gamma = float(self.rec.params_before[self.net.spans[l]["gamma"][0] + j])
            beta = float(self.rec.params_before[self.net.spans[l]["beta"][0] + j])
            z_hat, u = t.z_hat[r, j], t.u[r, j]
            self._node("z_hat", f"ẑ{sub(j + 1)}", z_hat, f"(z − μ)/σ {stats}")
            self.equations.append(
                equation(
                    "z_hat",
                    f"Batch norm: normalise {stats}",
                    f"ẑ{sub(j + 1)} = (z{sub(j + 1)} − {mu_label}) · {inv_label}",
                    op(
                        "mul",
                        [
                            op("sub", [num(z, f"z{sub(j + 1)}"), num(mu, mu_label)], z - mu),
                            num(inv, inv_label),
                        ],
                        z_hat,
                    ),
                )
            )
            grad_u = None if t.du is None else self.B * t.du[r, j]
            self._node("u", f"u{sub(j + 1)}", u, "γ·ẑ + β", grad=grad_u)
            self.equations.append(
                equation(
                    "u",
                    "Batch norm: scale and shift",
                    f"u{sub(j + 1)} = γ·ẑ{sub(j + 1)} + β",
                    op(
                        "add",
                        [
                            op(
                                "mul",
                                [num(gamma, "γ"), num(z_hat, f"ẑ{sub(j + 1)}")],
                                gamma * z_hat,
                            ),
                            num(beta, "β"),
                        ],
                        u,
                    ),
                )
            )
            self.gamma = gamma
        f_name = self.act.name
        h = t.f_out[r, j]
        arg = "u" if t.u is not None else "z"
        self.h = "h" if t.mask is not None or self.settings.skip[self.layer] else "a"
        # the factor backward multiplied by (network.py), so δ = f′ · G(h) holds as printed
        self.fprime = None if t.fprime is None else float(t.fprime[r, j])
        slope = (f"{f_name}′({arg})", self.fprime)
        if self.h == "h":  # else the activation's output is the neuron's output, node "a"
            self._node("h", f"h{sub(j + 1)}", h, f"{f_name}({arg})", local=slope)
        a = h
        p = self.settings.dropout
        if t.mask is not None:
            keep = float(t.mask[r, j]) / (1.0 - p)
            a = h * keep
            self._node(
                "drop",
                f"d{sub(j + 1)}",
                a,
                f"dropout: kept, × 1/(1−{p:g})" if t.mask[r, j] else "dropout: dropped, × 0",
                local=("m/(1−p)", keep),
            )
            self.equations.append(
                equation(
                    "drop",
                    "Dropout",
                    f"d{sub(j + 1)} = h{sub(j + 1)} · m/(1−p)",
                    op("mul", [num(h, f"h{sub(j + 1)}"), num(keep, "m/(1−p)")], a),
                )
            )
        if self.settings.skip[self.layer]:
            before = a
            a = t.a[r, j]
            d = f"{'d' if t.mask is not None else 'h'}{sub(j + 1)}"
            self.equations.append(
                equation(
                    "skip",
                    "Residual connection",
                    f"{self.a_out} = {d} + {self.a_in(j)}",
                    op("add", [num(before, d), num(t.input[r, j], self.a_in(j))], a),
                )
            )
        self._node(
            "a",
            self.a_out,
            t.a[r, j],
            "this neuron's output" if self.h == "h" else f"{f_name}({arg}), the output",
            local=slope
            if self.h == "a"
            else ("∂a/∂d = 1 (+ skip)", 1.0)
            if self.settings.skip[self.layer]
            else None,
        )

    def _output(self) -> None:
        """ŷ and ℓ of the traced example (forward values, shown from the loss phase on)."""
        rec, r = self.rec, self.r
        if self.last:
            self._node(
                "yhat",
                f"ŷ{sub(self.j + 1)}",
                rec.yhat[r, self.j],
                f"{self.settings.output_activation}(z), the prediction",
            )
        self._node(
            "loss",
            "ℓ",
            rec.per_example_loss[r],
            f"{self.head.formula.replace('L =', 'ℓ =')}, example #{int(rec.batch[r])}",
        )

    # the backward pass

    def _grad(self, key: str, value) -> None:
        for node in self.nodes:
            if node["id"] == key:
                node["grad"] = float(value)

    def _backward(self) -> None:
        t, r, j, B = self.t, self.r, self.j, self.B
        dj = sub(j + 1)
        if self.last:
            self._output_delta(j)
            return
        # the walk starts at the loss: the output layer's δ, which flows back to this neuron
        for k in range(self.rec.traces[-1].z.shape[1]):
            self._output_delta(k, f"delta_out_{k + 1}")
        a_grad = B * t.da[r, j]
        self._grad("a", a_grad)
        nxt = self.rec.traces[self.layer + 1]
        W_next, _ = self.rec.layer_arrays(self.rec.params_before, self.layer + 1)
        terms = [
            op(
                "mul",
                [num(W_next[j, k], f"w{dj}{sub(k + 1)}"), num(B * nxt.dz[r, k], f"δ{sub(k + 1)}")],
                W_next[j, k] * B * nxt.dz[r, k],
            )
            for k in range(W_next.shape[1])
        ]
        fan = op("add", terms, sum(x["value"] for x in terms), "Σₖ w·δₖ")
        a_out = self.a_out
        if self.layer + 1 < len(self.settings.skip) and self.settings.skip[self.layer + 1]:
            skip = B * nxt.da[r, j]
            above = f"a{dj}{sup(self.layer + 2)}"
            fan = op("add", [fan, num(skip, f"{self.G}{above}")], a_grad)
            rule = (
                f"{self.G}{a_out} = Σₖ w{dj}ₖ·δₖ + {self.G}{above} (the next layer's "
                "skip connection passes its gradient straight back)"
            )
        else:
            fan = {**fan, "value": float(a_grad)}
            rule = f"{self.G}{a_out} = Σₖ w{dj}ₖ·δₖ (every neuron k of the next layer)"
        self.equations.append(equation("grad_a", "Backward: into this neuron's output", rule, fan))
        g = a_grad  # a = d + input passes G(a) unchanged to d (and to the input)
        p = self.settings.dropout
        if t.mask is not None:
            keep = float(t.mask[r, j]) / (1.0 - p)
            self._grad("drop", g)
            h_grad = g * keep
            self.equations.append(
                equation(
                    "grad_h",
                    "Backward through dropout",
                    f"{self.G}h{dj} = {self.G}{a_out} · m/(1−p)",
                    op("mul", [num(g, f"{self.G}{a_out}"), num(keep, "m/(1−p)")], h_grad),
                )
            )
            g = h_grad
        self._grad(self.h, g)
        h_label = f"h{dj}" if self.h == "h" else a_out
        arg = "u" if t.u is not None else "z"
        fprime = self.fprime
        u_grad = B * t.du[r, j]
        self.equations.append(
            equation(
                "grad_u" if t.u is not None else "delta",
                "Backward through the activation",
                f"{'δ' + dj if t.u is None else self.G + 'u' + dj} = {self.act.name}′({arg}{dj}) · "
                f"{self.G}{h_label}",
                op(
                    "mul",
                    [num(fprime, f"{self.act.name}′({arg}{dj})"), num(g, f"{self.G}{h_label}")],
                    u_grad,
                ),
            )
        )
        if t.u is not None:
            self._grad("u", u_grad)
            Gu = B * t.du[:, j]
            zh = t.z_hat[:, j]
            m1, m2 = float(Gu.mean()), float((Gu * zh).mean())
            inv = float(t.inv_std[j])
            inner = op(
                "sub",
                [
                    num(Gu[r], f"{self.G}u{dj}"),
                    num(m1, f"mean_B({self.G}u)"),
                    op("mul", [num(zh[r], f"ẑ{dj}"), num(m2, f"mean_B({self.G}u·ẑ)")], zh[r] * m2),
                ],
                Gu[r] - m1 - zh[r] * m2,
            )
            self.equations.append(
                equation(
                    "delta",
                    "Backward through batch norm (it couples the batch)",
                    f"δ{dj} = γ · 1/σ · ({self.G}u{dj} − mean_B({self.G}u) "
                    f"− ẑ{dj}·mean_B({self.G}u·ẑ))",
                    op("mul", [num(self.gamma, "γ"), num(inv, "1/σ"), inner], B * t.dz[r, j]),
                )
            )

    def _output_delta(self, j: int, key: str = "delta") -> None:
        """δ of output neuron j on the traced example, where every backward walk starts."""
        t, r, B = self.rec.traces[-1], self.r, self.B
        # the output's own neuron is this one; another layer's names carry their layer
        dj = sub(j + 1) if key == "delta" else f"{sub(j + 1)}{sup(len(self.rec.traces))}"
        delta = B * t.dz[r, j]
        yhat = float(self.rec.yhat[r, j])
        head = self.head
        if head.name == "mse":
            target = float(self.rec.target[r, j])
            gprime = float(
                head.act.derivative(t.z[r : r + 1, j : j + 1], self.rec.yhat[r : r + 1, j : j + 1])[
                    0, 0
                ]
            )
            if key == "delta":
                self._grad("yhat", yhat - target)
            diff = op("sub", [num(yhat, "ŷ"), num(target, "y")], yhat - target)
            expr = op("mul", [diff, num(gprime, f"{head.output_activation}′(z)")], delta)
            rule = f"δ{dj} = ∂ℓ/∂ŷ · g′(z) = (ŷ − y) · {head.output_activation}′(z{dj})"
        else:
            if head.name == "bce":
                target, y_label = float(self.rec.target[r, 0]), "y"
            else:
                target = float(int(self.rec.target[r]) == j)
                y_label = f"[y = {j + 1}]"
            expr = op(
                "sub",
                [num(yhat, f"ŷ{dj}" if head.name != "bce" else "ŷ"), num(target, y_label)],
                delta,
            )
            rule = (
                f"δ{dj} = ŷ − y ({head.output_activation} with cross-entropy: g′ and ∂ℓ/∂ŷ cancel)"
            )
        self.equations.append(
            equation(key, "The output's error (where the walk starts)", rule, expr)
        )

    def _weight_gradient(self) -> None:
        """∂L/∂w from the traced example to the batch, then the penalty: the number the
        optimizer used."""
        rec, t, i, j, r, B = self.rec, self.t, self.i, self.j, self.r, self.B
        dj = sub(j + 1)
        a_i, delta = t.input[:, i], B * t.dz[:, j]
        ai = self.a_in(i)
        products = a_i * delta
        self.equations.append(
            equation(
                "grad_w_example",
                "The chain rule on the traced example",
                f"δ{dj}·{ai}  (example #{int(rec.batch[r])})",
                op("mul", [num(delta[r], f"δ{dj}"), num(a_i[r], ai)], products[r]),
            )
        )
        dW, _ = rec.layer_arrays(rec.grads, self.layer)
        data = float((t.input[:, i] * t.dz[:, j]).sum())
        shown = _rows_to_show(B, r)
        rows = [
            op(
                "mul",
                [num(delta[k], f"δ{dj}"), num(a_i[k], ai)],
                products[k],
                label=f"#{int(rec.batch[k])}",
            )
            for k in shown
        ]
        args = rows
        if len(shown) < B:
            rest = float(products.sum() - products[shown].sum())
            args = [*rows, num(rest, f"the other {B - len(shown)} examples")]
        mean = {**op("mean", args, data), "count": B}
        self.equations.append(
            equation(
                "grad_w_data",
                f"Over the batch of {B}",
                f"∂L_data/∂w = (1/{B})·Σ over the batch of δ{dj}·{ai}",
                mean,
            )
        )
        s, w = self.settings, float(rec.layer_arrays(rec.params_before, self.layer)[0][i, j])
        grad = float(dW[i, j])
        if s.regularization != "none" and s.regularization_rate:
            lam = num(s.regularization_rate, "λ")
            if s.regularization == "l2":
                pen = op("mul", [lam, num(w, "w")], s.regularization_rate * w)
                pen_rule = "∂(λ·½w²)/∂w = λ·w"
            else:
                pen = op(
                    "mul", [lam, num(np.sign(w), "sign(w)")], s.regularization_rate * np.sign(w)
                )
                pen_rule = "∂(λ·|w|)/∂w = λ·sign(w)"
            self.equations.append(equation("grad_w_penalty", "The penalty's part", pen_rule, pen))
            total = op("add", [num(data, "∂L_data/∂w"), num(pen["value"], "penalty")], grad)
            self.equations.append(
                equation(
                    "grad_w",
                    "The gradient the optimizer used",
                    "g = ∂L/∂w = ∂L_data/∂w + penalty",
                    total,
                )
            )
        else:
            self.equations.append(
                equation(
                    "grad_w",
                    "The gradient the optimizer used",
                    "g = ∂L/∂w = ∂L_data/∂w (no penalty)",
                    op("add", [num(data, "∂L_data/∂w")], grad),
                )
            )


def _rows_to_show(B: int, row: int) -> np.ndarray:
    if B <= MAX_TERMS:
        return np.arange(B)
    shown = np.arange(MAX_TERMS - 1)
    return shown if row in shown else np.append(shown, row)

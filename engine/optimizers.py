"""Optimizers with torch.optim's update rules (weight decay 0), updating NumPy arrays in place.

State arrays (one per state name, each the shape of its parameter) and one scratch array per
parameter are allocated on the first step and reused, so a step allocates nothing. At t = 0 the
state is zeroed, so momentum's first buffer is exactly g and the averages start from 0.
Symbols in the rules: α learning rate, μ momentum, ρ RMSprop's `alpha`, β1, β2, ε.

Each optimizer's `defaults` lists the hyperparameters it uses, beside its rule; `fields`
names them as the config does (CONFIG_FIELDS: `lr` is `learning_rate`), and the config's
OPTIMIZER_FIELDS, what a change of optimizer offers, follows from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .expressions import num, op

# each keyword's config field (engine/config.py)
CONFIG_FIELDS = {
    "lr": "learning_rate",
    "momentum": "momentum",
    "alpha": "alpha",
    "beta1": "beta1",
    "beta2": "beta2",
    "eps": "eps",
}
HYPERPARAMETERS = tuple(CONFIG_FIELDS)


@dataclass(frozen=True)
class OptimizerStep:
    """An optimizer's step, kept: the values it used and the state it left, enough to explain
    its update of any element later, whatever the optimizer has done or been replaced by
    since. (Not a snapshot: that word is a saved trainer, engine/snapshots.py.)"""

    name: str
    t: int
    hyperparameters: dict[str, float]  # the values the step used
    state: tuple[tuple[np.ndarray, ...], ...]  # per parameter, one copy per state name

    def update_terms(
        self, param_index: int, flat_index: int, grad: float, weight_before: float
    ) -> dict:
        """`Optimizer.update_terms` as of this step."""
        opt = REGISTRY[self.name](**self.hyperparameters)
        opt.resume_after(self)
        return opt.update_terms(param_index, flat_index, grad, weight_before)


class Optimizer:
    """Base class: `step(params, grads)` updates a list of float64 arrays in place."""

    name: ClassVar[str]
    defaults: ClassVar[dict[str, float]]  # the hyperparameters it uses, torch's defaults
    state_names: ClassVar[tuple[str, ...]] = ()
    rule: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]  # its hyperparameters' config fields, from `defaults`

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls.fields = tuple(CONFIG_FIELDS[k] for k in cls.defaults)

    def __init__(self, **hyperparameters: float | None):
        self._hp = dict(self.defaults)
        self.set_hyperparameters(**hyperparameters)
        self._used = self._hp  # the values the last step used, for update_terms
        self.reset_state()

    @property
    def hyperparameters(self) -> dict[str, float]:
        """The ones this optimizer uses, e.g. {"lr": 0.001, "momentum": 0.9}."""
        return dict(self._hp)

    def set_hyperparameters(self, **kw: float | None) -> None:
        """Change hyperparameters between steps, keeping the state; None and unused ones are
        ignored; names outside HYPERPARAMETERS raise TypeError."""
        unknown = set(kw) - set(HYPERPARAMETERS)
        if unknown:
            raise TypeError(f"unknown hyperparameters {sorted(unknown)}; known: {HYPERPARAMETERS}")
        new = {k: float(v) for k, v in kw.items() if k in self._hp and v is not None}
        self._hp = {**self._hp, **new}  # a new dict, so `_used` keeps the last step's values

    def reset_state(self) -> None:
        """t = 0 and no state; buffers are allocated again on the next step."""
        self.t = 0
        self._shapes: list[tuple[int, ...]] = []
        self._state: list[list[np.ndarray]] = []  # per parameter, one array per state name
        self._scratch: list[np.ndarray] = []

    def last_step(self) -> OptimizerStep:
        """A copy of what the last step used and left, for explaining it later."""
        if self.t == 0:
            raise RuntimeError("no step has been taken yet")
        return OptimizerStep(
            self.name,
            self.t,
            dict(self._used),
            tuple(tuple(a.copy() for a in arrays) for arrays in self._state),
        )

    def resume_after(self, step: OptimizerStep) -> None:
        """Be the optimizer right after `step` (its state shared, not copied)."""
        self.t, self._used = step.t, dict(step.hyperparameters)
        self._state = [list(arrays) for arrays in step.state]

    def state_arrays(self) -> list[np.ndarray]:
        """The live state arrays (references), parameter by parameter in `state_names` order;
        empty before the first step."""
        return [a for arrays in self._state for a in arrays]

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """One update of every parameter array from its gradient (same shapes, float64)."""
        if self.t == 0 or len(self._scratch) != len(params):
            self._prepare(params)
        hp = self._used = self._hp
        self.t += 1
        for p, g, state, s in zip(params, grads, self._state, self._scratch, strict=True):
            self._update(p, g, state, s, hp)

    def _prepare(self, params: list[np.ndarray]) -> None:
        shapes = [p.shape for p in params]
        if shapes != self._shapes:
            if self.t and self._state:
                raise ValueError("parameter shapes changed mid-run; call reset_state() first")
            self._allocate(shapes)
        elif self.t == 0:
            for a in self.state_arrays():
                a.fill(0.0)

    def _allocate(self, shapes: list[tuple[int, ...]]) -> None:
        self._shapes = shapes
        self._state = [[np.zeros(sh) for _ in self.state_names] for sh in shapes]
        self._scratch = [np.empty(sh) for sh in shapes]

    def _update(self, p, g, state, s, hp) -> None:
        """Update `p` in place from `g`, using `state` and the scratch array `s`."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """JSON-able state: {"optimizer", "t", "hyperparameters", "shapes", "state"}, where
        state[i][k] is parameter i's `state_names[k]` array as nested lists of floats."""
        return {
            "optimizer": self.name,
            "t": self.t,
            "hyperparameters": dict(self._hp),
            "shapes": [list(sh) for sh in self._shapes],
            "state": [[a.tolist() for a in arrays] for arrays in self._state],
        }

    def load_state_dict(self, d: dict) -> None:
        """Restore `state_dict()` exactly; raises ValueError if it is another optimizer's or
        its arrays do not fit their shapes."""
        if d["optimizer"] != self.name:
            raise ValueError(f"state is for {d['optimizer']!r}, not {self.name!r}")
        t = int(d["t"])
        shapes = [tuple(int(n) for n in sh) for sh in d["shapes"]]
        state = [
            [np.array(a, dtype=np.float64).reshape(sh) for a in arrays]
            for sh, arrays in zip(shapes, d["state"], strict=True)
        ]
        if any(len(arrays) != len(self.state_names) for arrays in state):
            raise ValueError(f"{self.name} keeps {len(self.state_names)} arrays per parameter")
        self.set_hyperparameters(**d["hyperparameters"])
        self._allocate(shapes)
        self._state, self.t = state, t

    def update_terms(
        self, param_index: int, flat_index: int, grad: float, weight_before: float
    ) -> dict:
        """The terms of one element's last update, with numbers: rule, hyperparameters, grad,
        state values, `step` (the change applied), `weight_after`, and `expr`: w − the amount
        subtracted, as an expression tree over these numbers (engine/expressions.py)."""
        if self.t == 0:
            raise RuntimeError("no step has been taken yet")
        hp = self._used
        values = {
            n: float(a.flat[flat_index])
            for n, a in zip(self.state_names, self._state[param_index], strict=True)
        }
        terms, delta, amount = self._terms(float(grad), values, hp)
        w, after = float(weight_before), float(weight_before) - delta
        return {
            "optimizer": self.name,
            "rule": self.rule,
            **hp,
            "t": self.t,
            "grad": float(grad),
            "weight_before": w,
            **terms,
            "step": -delta,
            "weight_after": after,
            "expr": op("sub", [num(w, "w"), amount], after),
        }

    def _terms(self, g: float, values: dict[str, float], hp: dict) -> tuple[dict, float, str]:
        """(named terms, the amount subtracted from w, that amount as an expression tree)."""
        raise NotImplementedError


class SGD(Optimizer):
    name, defaults, rule = "sgd", {"lr": 1e-3}, "w ← w − α·g"

    def _update(self, p, g, state, s, hp):
        np.multiply(g, hp["lr"], out=s)
        p -= s

    def _terms(self, g, values, hp):
        amount = hp["lr"] * g
        return {}, amount, op("mul", [num(hp["lr"], "α"), num(g, "g")], amount)


class Momentum(Optimizer):
    name, defaults = "momentum", {"lr": 1e-3, "momentum": 0.9}
    state_names = ("velocity",)
    rule = "b ← μ·b + g (b = g at the first step); w ← w − α·b"

    def _update(self, p, g, state, s, hp):
        b = state[0]
        b *= hp["momentum"]  # zero at t = 0, so the first b is exactly g
        b += g
        np.multiply(b, hp["lr"], out=s)
        p -= s

    def _terms(self, g, values, hp):
        b = values["velocity"]
        amount = b * hp["lr"]
        return {"velocity": b}, amount, op("mul", [num(hp["lr"], "α"), num(b, "b")], amount)


class Nesterov(Momentum):
    name = "nesterov"
    rule = "b ← μ·b + g (b = g at the first step); w ← w − α·(g + μ·b)"

    def _update(self, p, g, state, s, hp):
        b = state[0]
        b *= hp["momentum"]
        b += g
        np.multiply(b, hp["momentum"], out=s)
        s += g
        s *= hp["lr"]
        p -= s

    def _terms(self, g, values, hp):
        b, lr, mu = values["velocity"], hp["lr"], hp["momentum"]
        ahead = b * mu + g
        return (
            {"velocity": b, "lookahead": ahead},
            ahead * lr,
            op(
                "mul",
                [
                    num(lr, "α"),
                    op("add", [num(g, "g"), op("mul", [num(mu, "μ"), num(b, "b")], b * mu)], ahead),
                ],
                ahead * lr,
            ),
        )


class RMSprop(Optimizer):
    name, defaults = "rmsprop", {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8}
    state_names = ("v",)
    rule = "v ← ρ·v + (1−ρ)·g²; w ← w − α·g/(√v + ε)"

    def _update(self, p, g, state, s, hp):
        v = state[0]
        v *= hp["alpha"]
        np.multiply(g, g, out=s)
        s *= 1.0 - hp["alpha"]
        v += s
        np.sqrt(v, out=s)
        s += hp["eps"]
        np.divide(g, s, out=s)
        s *= hp["lr"]
        p -= s

    def _terms(self, g, values, hp):
        v, lr, eps = values["v"], hp["lr"], hp["eps"]
        root = math.sqrt(v)
        amount = g / (root + eps) * lr
        return (
            {"v": v},
            amount,
            op("mul", [num(lr, "α"), _ratio(num(g, "g"), v, "v", eps)], amount),
        )


class Adam(Optimizer):
    name, defaults = "adam", {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    state_names = ("m", "v")
    rule = (
        "m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; m̂ = m/(1−β1ᵗ); v̂ = v/(1−β2ᵗ); "
        "w ← w − α·m̂/(√v̂ + ε)"
    )

    def _scales(self, hp) -> tuple[float, float]:
        # α·m̂/(√v̂ + ε) = [α·√(1−β2ᵗ)/(1−β1ᵗ)]·m/(√v + ε·√(1−β2ᵗ)): two fewer array passes.
        root_bc2 = math.sqrt(1.0 - hp["beta2"] ** self.t)
        return hp["lr"] * root_bc2 / (1.0 - hp["beta1"] ** self.t), hp["eps"] * root_bc2

    def _update(self, p, g, state, s, hp):
        m, v = state
        b1, b2 = hp["beta1"], hp["beta2"]
        np.multiply(g, 1.0 - b1, out=s)
        m *= b1
        m += s
        np.multiply(g, g, out=s)
        s *= 1.0 - b2
        v *= b2
        v += s
        step_size, eps_hat = self._scales(hp)
        np.sqrt(v, out=s)
        s += eps_hat
        np.divide(m, s, out=s)
        s *= step_size
        p -= s

    def _terms(self, g, values, hp):
        m, v = values["m"], values["v"]
        m_hat, v_hat = m / (1.0 - hp["beta1"] ** self.t), v / (1.0 - hp["beta2"] ** self.t)
        step_size, eps_hat = self._scales(hp)
        amount = m / (math.sqrt(v) + eps_hat) * step_size
        return (
            {"m": m, "v": v, "m_hat": m_hat, "v_hat": v_hat},
            amount,
            op("mul", [num(hp["lr"], "α"), _ratio(num(m_hat, "m̂"), v_hat, "v̂", hp["eps"])], amount),
        )


def _ratio(top: dict, v: float, v_name: str, eps: float) -> dict:
    """top/(√v + ε), as printed."""
    root = math.sqrt(v)
    below = op("add", [op("sqrt", [num(v, v_name)], root), num(eps, "ε")], root + eps)
    return op("div", [top, below], top["value"] / below["value"])


REGISTRY: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, Nesterov, RMSprop, Adam)
}


def make_optimizer(
    name: str,
    *,
    lr: float | None = None,
    momentum: float | None = None,
    alpha: float | None = None,
    beta1: float | None = None,
    beta2: float | None = None,
    eps: float | None = None,
) -> Optimizer:
    """The optimizer called `name`; None means torch.optim's default (lr 1e-3, or 1e-2 for
    rmsprop; alpha 0.99; betas 0.9, 0.999; eps 1e-8), except momentum, which defaults to 0.9
    because torch's 0 would make "momentum" and "nesterov" plain SGD. Unused ones are ignored."""
    if name not in REGISTRY:
        raise ValueError(f"unknown optimizer {name!r}; expected one of: {', '.join(REGISTRY)}")
    return REGISTRY[name](lr=lr, momentum=momentum, alpha=alpha, beta1=beta1, beta2=beta2, eps=eps)


__all__ = [
    "CONFIG_FIELDS",
    "HYPERPARAMETERS",
    "REGISTRY",
    "OptimizerStep",
    "Optimizer",
    "SGD",
    "Momentum",
    "Nesterov",
    "RMSprop",
    "Adam",
    "make_optimizer",
]

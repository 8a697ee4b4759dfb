"""Activation functions, each with its derivative right beside it.

`forward(z)` returns a = f(z); `derivative(z, a)` returns f'(z), given the forward output `a`
so that sigmoid and tanh reuse it instead of recomputing. Arrays keep their shape.
"""

from __future__ import annotations

import numpy as np

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0


class Activation:
    name = ""
    formula = ""
    derivative_formula = ""

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> None:
        """out[...] = f(z); subclasses on the hot path avoid the temporary."""
        np.copyto(out, self.forward(z))

    def backprop_into(self, z: np.ndarray, a: np.ndarray, da: np.ndarray, out: np.ndarray):
        """out = da · f′(z), the chain rule through this activation."""
        np.multiply(da, self.derivative(z, a), out=out)


class Linear(Activation):
    name, formula, derivative_formula = "linear", "f(z) = z", "f′(z) = 1"

    def forward(self, z):
        return z.copy()

    def derivative(self, z, a):
        return np.ones_like(z)

    def forward_into(self, z, out):
        np.copyto(out, z)

    def backprop_into(self, z, a, da, out):
        np.copyto(out, da)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 1/(1+e^-z) written through tanh: no overflow warnings for large |z|.
    s = np.tanh(z * 0.5)
    s += 1.0
    s *= 0.5
    return s


class Sigmoid(Activation):
    name, formula, derivative_formula = "sigmoid", "σ(z) = 1/(1+e^−z)", "σ′(z) = σ(z)(1−σ(z))"

    def forward(self, z):
        return _sigmoid(z)

    def derivative(self, z, a):
        return a * (1.0 - a)

    def forward_into(self, z, out):
        np.multiply(z, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1.0
        out *= 0.5

    def backprop_into(self, z, a, da, out):
        np.subtract(1.0, a, out=out)
        out *= a
        out *= da


class Tanh(Activation):
    name, formula, derivative_formula = "tanh", "tanh(z)", "tanh′(z) = 1 − tanh²(z)"

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        d = a * a
        np.subtract(1.0, d, out=d)
        return d

    def forward_into(self, z, out):
        np.tanh(z, out=out)

    def backprop_into(self, z, a, da, out):
        np.multiply(a, a, out=out)  # da − da·a² = da·(1 − a²)
        out *= da
        np.subtract(da, out, out=out)


class ReLU(Activation):
    name, formula, derivative_formula = "relu", "max(0, z)", "1 if z > 0 else 0"

    def forward(self, z):
        return np.maximum(z, 0.0)

    def derivative(self, z, a):
        return (z > 0.0).astype(z.dtype)

    def forward_into(self, z, out):
        np.maximum(z, 0.0, out=out)

    def backprop_into(self, z, a, da, out):
        np.multiply(da, z > 0.0, out=out)


class LeakyReLU(Activation):
    name = "leaky_relu"
    formula = f"z if z > 0 else {LEAKY_SLOPE}·z"
    derivative_formula = f"1 if z > 0 else {LEAKY_SLOPE}"

    def forward(self, z):
        return np.maximum(z, LEAKY_SLOPE * z)

    def derivative(self, z, a):
        return np.where(z > 0.0, 1.0, LEAKY_SLOPE).astype(z.dtype, copy=False)


class ELU(Activation):
    name, formula, derivative_formula = "elu", "z if z > 0 else eˣ−1", "1 if z > 0 else f(z)+1"

    def forward(self, z):
        return np.where(z > 0.0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0)))

    def derivative(self, z, a):
        return np.where(z > 0.0, 1.0, a + ELU_ALPHA).astype(z.dtype, copy=False)


class Swish(Activation):
    name, formula, derivative_formula = "swish", "z·σ(z)", "σ(z) + z·σ(z)(1−σ(z))"

    def forward(self, z):
        return z * _sigmoid(z)

    def derivative(self, z, a):
        s = _sigmoid(z)
        return s + a * (1.0 - s)


ACTIVATIONS: dict[str, Activation] = {
    cls.name: cls() for cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Swish)
}


def get(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        known = ", ".join(ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; use one of {known}") from None

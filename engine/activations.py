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
    """f(z) = z; f′(z) = 1."""

    name = "linear"

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
    """σ(z) = 1/(1+e^−z); σ′(z) = σ(z)(1−σ(z))."""

    name = "sigmoid"

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
    """f(z) = tanh(z); f′(z) = 1 − tanh²(z)."""

    name = "tanh"

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
    """f(z) = max(0, z); f′(z) = 1 if z > 0 else 0."""

    name = "relu"

    def forward(self, z):
        return np.maximum(z, 0.0)

    def derivative(self, z, a):
        return (z > 0.0).astype(z.dtype)

    def forward_into(self, z, out):
        np.maximum(z, 0.0, out=out)

    def backprop_into(self, z, a, da, out):
        np.multiply(da, z > 0.0, out=out)


class LeakyReLU(Activation):
    """f(z) = z if z > 0 else LEAKY_SLOPE·z; f′(z) = 1 if z > 0 else LEAKY_SLOPE."""

    name = "leaky_relu"

    def forward(self, z):
        return np.maximum(z, LEAKY_SLOPE * z)

    def derivative(self, z, a):
        return np.where(z > 0.0, 1.0, LEAKY_SLOPE).astype(z.dtype, copy=False)


class ELU(Activation):
    """f(z) = z if z > 0 else ELU_ALPHA·(eᶻ − 1); f′(z) = 1 if z > 0 else f(z) + ELU_ALPHA."""

    name = "elu"

    def forward(self, z):
        return np.where(z > 0.0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0)))

    def derivative(self, z, a):
        return np.where(z > 0.0, 1.0, a + ELU_ALPHA).astype(z.dtype, copy=False)


class Swish(Activation):
    """f(z) = z·σ(z); f′(z) = σ(z) + f(z)·(1 − σ(z))."""

    name = "swish"

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

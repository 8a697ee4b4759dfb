"""Activation functions, each with its derivative right beside it.

`forward(z)` returns a = f(z); `derivative(z, a)` returns f'(z), given the forward output `a`
so that sigmoid and tanh reuse it instead of recomputing. Arrays keep their shape.
"""

from __future__ import annotations

import numpy as np

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0
# Saturation: beyond |z| = SATURATED, σ, 1 − σ, 1 − tanh² and eᶻ + (−1 + 1) lose relative
# precision as 1e-16·e^|z| in their plain forms (σ(−30) shown as 9.3592e−14 for 9.3576e−14;
# 0 below −37). There the values are recomputed in forms exact to the last bits (from e^−|z|,
# which never overflows); inside, the plain forms are within 1e-13 and kept, so the numbers
# of every unsaturated run stay bit for bit what they were (tests/data/snapshot-v1.json).
SATURATED = 4.0


class Activation:
    name = ""

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def derivative(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward_into(self, z: np.ndarray, out: np.ndarray) -> None:
        """out[...] = f(z); subclasses on the hot path avoid the temporary."""
        np.copyto(out, self.forward(z))


class Linear(Activation):
    """f(z) = z; f′(z) = 1."""

    name = "linear"

    def forward(self, z):
        return z.copy()

    def derivative(self, z, a):
        return np.ones_like(z)

    def forward_into(self, z, out):
        np.copyto(out, z)


def _saturated(z: np.ndarray, limit: float = SATURATED) -> np.ndarray | None:
    """Where |z| > limit (the plain forms' precision is spent), or None if nowhere."""
    big = np.abs(z) > limit
    return big if big.any() else None


def _sigmoid_exact(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(σ(z), σ(−z)), each to full relative precision for any z: with e = e^−|z|, they are
    1/(1+e) and e/(1+e), the first on the side where σ is near 1."""
    e = np.exp(-np.abs(z))
    inv = 1.0 / (1.0 + e)
    small = e * inv
    pos = z >= 0.0
    return np.where(pos, inv, small), np.where(pos, small, inv)


def _sigmoid_slope_exact(z: np.ndarray) -> np.ndarray:
    """σ′(z) = σ(z)·σ(−z) = e/(1+e)² with e = e^−|z|."""
    e = np.exp(-np.abs(z))
    return e / ((1.0 + e) * (1.0 + e))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 1/(1+e^-z) written through tanh: no overflow warnings for large |z|.
    s = np.tanh(z * 0.5)
    s += 1.0
    s *= 0.5
    if (big := _saturated(z, 2 * SATURATED)) is not None:
        s[big] = _sigmoid_exact(z[big])[0]
    return s


class Sigmoid(Activation):
    """σ(z) = 1/(1+e^−z); σ′(z) = σ(z)(1−σ(z)) = σ(z)·σ(−z) (the latter in saturation)."""

    name = "sigmoid"

    def forward(self, z):
        return _sigmoid(z)

    def derivative(self, z, a):
        d = a * (1.0 - a)
        if (big := _saturated(z, 2 * SATURATED)) is not None:
            d[big] = _sigmoid_slope_exact(z[big])
        return d

    def forward_into(self, z, out):
        np.copyto(out, _sigmoid(z))


class Tanh(Activation):
    """f(z) = tanh(z); f′(z) = 1 − tanh²(z) = 4σ′(2z) (the latter in saturation, where a
    rounds to ±1 and 1 − a² to 0 while the true slope is 4e^−2|z|)."""

    name = "tanh"

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        d = a * a
        np.subtract(1.0, d, out=d)
        if (big := _saturated(z)) is not None:
            d[big] = 4.0 * _sigmoid_slope_exact(2.0 * z[big])
        return d

    def forward_into(self, z, out):
        np.tanh(z, out=out)


class ReLU(Activation):
    """f(z) = max(0, z); f′(z) = 1 if z > 0 else 0."""

    name = "relu"

    def forward(self, z):
        return np.maximum(z, 0.0)

    def derivative(self, z, a):
        return (z > 0.0).astype(z.dtype)

    def forward_into(self, z, out):
        np.maximum(z, 0.0, out=out)


class LeakyReLU(Activation):
    """f(z) = z if z > 0 else LEAKY_SLOPE·z; f′(z) = 1 if z > 0 else LEAKY_SLOPE."""

    name = "leaky_relu"

    def forward(self, z):
        return np.maximum(z, LEAKY_SLOPE * z)

    def derivative(self, z, a):
        return np.where(z > 0.0, 1.0, LEAKY_SLOPE).astype(z.dtype, copy=False)


class ELU(Activation):
    """f(z) = z if z > 0 else ELU_ALPHA·(eᶻ − 1); f′(z) = 1 if z > 0 else f(z) + ELU_ALPHA
    = ELU_ALPHA·eᶻ (the latter in saturation, where the sum cancels to 0)."""

    name = "elu"

    def forward(self, z):
        return np.where(z > 0.0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0.0)))

    def derivative(self, z, a):
        d = np.where(z > 0.0, 1.0, a + ELU_ALPHA).astype(z.dtype, copy=False)
        if (big := _saturated(np.minimum(z, 0.0), 2 * SATURATED)) is not None:
            d[big] = ELU_ALPHA * np.exp(z[big])
        return d


class Swish(Activation):
    """f(z) = z·σ(z); f′(z) = σ(z) + f(z)·(1 − σ(z)) = σ(z)·(1 + z·σ(−z)) (the latter in
    saturation, with σ(±z) each exact)."""

    name = "swish"

    def forward(self, z):
        return z * _sigmoid(z)

    def derivative(self, z, a):
        s = _sigmoid(z)
        d = s + a * (1.0 - s)
        if (big := _saturated(z, 2 * SATURATED)) is not None:
            zb = z[big]
            s_plus, s_minus = _sigmoid_exact(zb)
            d[big] = s_plus * (1.0 + zb * s_minus)
        return d


ACTIVATIONS: dict[str, Activation] = {
    cls.name: cls() for cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Swish)
}


def get(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        known = ", ".join(ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; use one of {known}") from None

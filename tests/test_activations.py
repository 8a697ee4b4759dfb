"""Every activation and its derivative hold relative accuracy deep in saturation: over
z ∈ [−700, 700], against values computed apart in 60-digit decimal arithmetic (Python's
`decimal`, whose exp is correctly rounded), not with the engine's own formulas."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest

from engine.activations import ACTIVATIONS, ELU_ALPHA, LEAKY_SLOPE

TINY = 2.2250738585072014e-308  # the smallest normal double: below it, values are subnormal


def _exact(name: str, z: float) -> tuple[Decimal, Decimal]:
    """(f(z), f′(z)) in 60 digits, from exp alone."""
    with localcontext() as ctx:
        ctx.prec = 60
        x = Decimal(z)
        e = x.exp()
        em1 = x + x * x / 2 + x**3 / 6 if abs(x) < Decimal("1e-20") else e - 1  # eᶻ − 1
        s = e / (1 + e)  # σ(z)
        if name == "linear":
            return x, Decimal(1)
        if name == "sigmoid":
            return s, s * (1 - s) if z < 0 else (1 / (1 + e)) * s
        if name == "tanh":
            e2 = (2 * x).exp()
            if abs(x) < Decimal("1e-20"):
                return x - x**3 / 3, 1 - x * x
            return (e2 - 1) / (e2 + 1), 4 * e2 / (e2 + 1) ** 2
        if name == "relu":
            return (x, Decimal(1)) if z > 0 else (Decimal(0), Decimal(0))
        if name == "leaky_relu":
            k = Decimal(LEAKY_SLOPE)
            return (x, Decimal(1)) if z > 0 else (k * x, k)
        if name == "elu":
            a = Decimal(ELU_ALPHA)
            return (x, Decimal(1)) if z > 0 else (a * em1, a * e)
        if name == "swish":
            return x * s, s * (1 + x * (1 - s))
    raise AssertionError(f"no reference for {name}")


# a grid over the whole range, denser near 0, with the points the issue names
Z = np.unique(
    np.concatenate(
        [
            np.linspace(-700.0, 700.0, 1401),
            np.linspace(-40.0, 40.0, 801),
            [-37.5, -30.0, -1e-300, 0.0, 1e-300, 30.0, 37.5, 709.0, -709.0],
        ]
    )
)


def _close(got: float, want: Decimal, scale: Decimal) -> bool:
    """Relative error ≤ 1e-12 of `scale` (the size of the terms the value is made of: the
    value itself, except at swish′'s zero crossing); below the normal range, ±TINY."""
    err = abs(Decimal(got) - want)
    return err <= Decimal("1e-12") * scale or (abs(want) < Decimal(TINY) and err <= Decimal(TINY))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_and_derivative_are_accurate_in_deep_saturation(name):
    act = ACTIVATIONS[name]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = act.forward(Z)
        d = act.derivative(Z, a)
        out = np.empty_like(Z)
        act.forward_into(Z, out)
    np.testing.assert_array_equal(out, a)
    bad = []
    for k, z in enumerate(Z):
        f, df = _exact(name, float(z))
        scale_d = abs(df)
        if name == "swish":  # f′ = σ(z)·(1 + z·σ(−z)) crosses 0 near z = −1.28
            scale_d = max(scale_d, abs(f / Decimal(float(z)) if z else df) * Decimal("1e-3"))
        if not _close(a[k], f, abs(f)):
            bad.append(("f", float(z), float(a[k]), float(f)))
        if not _close(d[k], df, scale_d):
            bad.append(("f′", float(z), float(d[k]), float(df)))
    assert not bad, f"{name}: {len(bad)} values off, e.g. {bad[:4]}"


def test_sigmoid_at_minus_30_is_the_true_value():
    # the example: σ(−30) = 9.3576e−14, once shown as 9.3592e−14
    s = ACTIVATIONS["sigmoid"].forward(np.array([-30.0]))[0]
    assert math.isclose(s, 9.357622968839299e-14, rel_tol=1e-14)

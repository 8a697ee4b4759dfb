"""Expression trees: the equations the inspector prints, with the engine's numbers.

An expression is {"op", "value", "label"?, "args"?}: op "num" is a leaf; "mul", "add", "sub",
"div" and "mean" (with "count") combine their args, "sqrt" takes one. Every value is the
engine's own number, never recomputed from the args, so evaluating the args checks the
printed equation against the engine (tests), and the page prints each leaf with as many
digits as its equation's value needs (static/js/format.js).
"""

from __future__ import annotations

import math

import numpy as np


def num(value, label: str) -> dict:
    return {"op": "num", "label": label, "value": float(value)}


def op(name: str, args: list[dict], value, label: str | None = None) -> dict:
    out = {"op": name, "args": args, "value": float(value)}
    if label:
        out["label"] = label
    return out


def evaluate(expr: dict) -> float:
    """The value an expression's args give (what a student computes from the printout)."""
    if expr["op"] == "num":
        return expr["value"]
    vals = [evaluate(a) for a in expr["args"]]
    if expr["op"] == "mul":
        return float(np.prod(vals))
    if expr["op"] == "add":
        return float(sum(vals))
    if expr["op"] == "sub":
        return vals[0] - sum(vals[1:])
    if expr["op"] == "div":
        return vals[0] / vals[1]
    if expr["op"] == "sqrt":
        return math.sqrt(vals[0])
    if expr["op"] == "mean":
        return float(sum(vals) / expr["count"])
    raise ValueError(f"unknown op {expr['op']!r}")


# Printing, for a console (the page prints with static/js/format.js, by the same rule): each
# leaf with the fewest significant digits (at least 4) with which the expression, evaluated
# on its printed numbers, gives its printed value to one unit of that value's last digit.

_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_number(x: float, digits: int = 4) -> str:
    """0.011, −4.77×10⁻⁵: a leading zero, U+2212, `digits` significant digits."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    a = abs(float(f"{x:.{digits - 1}e}"))
    mantissa, exponent = f"{a:.{digits - 1}e}".split("e")
    e = int(exponent)
    if 1e-3 <= a < 1e4 and e < digits:
        s = f"{a:.{max(0, digits - 1 - e)}f}"
        s = s.rstrip("0").rstrip(".") if "." in s else s
    else:
        m = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        s = f"{m}×10{str(e).translate(_SUPERSCRIPTS)}"
    return f"−{s}" if x < 0 else s


def _rounded(expr: dict, digits: int) -> dict:
    if expr["op"] == "num":
        return {**expr, "value": float(f"{expr['value']:.{digits - 1}e}")}
    return {**expr, "args": [_rounded(a, digits) for a in expr["args"]]}


def numbers(expr: dict, digits: int = 4) -> str:
    """An expression with its numbers, as printed: 0.5 × (−1.2) + 0.1."""
    if expr["op"] == "num":
        text = format_number(expr["value"], digits)
        return f"({text})" if expr["value"] < 0 else text
    if expr["op"] == "sqrt":
        return f"√({numbers(expr['args'][0], digits)})"
    parts = [
        f"[{numbers(a, digits)}]"
        if expr["op"] != "add"
        and (a["op"] in ("add", "sub", "mean") or (expr["op"] == "div" and a["op"] == "mul"))
        else numbers(a, digits)
        for a in expr["args"]
    ]
    if expr["op"] == "mean":
        return f"({' + '.join(parts)})/{expr['count']}"
    return {"mul": " × ", "add": " + ", "sub": " − ", "div": "/"}[expr["op"]].join(parts)


def text(eq: dict, result_digits: int = 4) -> str:
    """One equation on one line, `lhs = its numbers = value`, true as printed."""
    value = eq["value"]
    shown = float(f"{value:.{result_digits - 1}e}")
    unit = 10 ** (math.floor(math.log10(abs(shown))) - result_digits + 1) if shown else 0.0
    digits = result_digits
    while digits < 17:
        got = evaluate(_rounded(eq["expr"], digits))
        if (got == 0) if value == 0 else abs(got - shown) <= 0.999 * unit:
            break
        digits += 1
    return f"{eq['lhs']} = {numbers(eq['expr'], digits)} = {format_number(value, result_digits)}"

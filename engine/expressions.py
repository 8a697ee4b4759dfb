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

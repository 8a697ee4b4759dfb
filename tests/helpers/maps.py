"""A protocol-3 page's side of a weights frame, written apart from the engine: split a frame's
flat `params` / `grads` by the state's `model`, and evaluate the network over the plane.

The forward pass is float64 NumPy on its own (only the input features come from
engine.features), so comparing it with `engine.heatmaps.evaluate_grid` checks both the
frame's layout and the engine's maps. Maps are (units, n, n); row 0 is the top of the plane
(x2 = +6), column 0 its left (x1 = −6), cells sampled at their centres.
"""

from __future__ import annotations

import numpy as np

from engine.features import compute_features

PLANE = (-6.0, 6.0)
MAP_TOLERANCE = 1e-5  # float32 engine maps against this float64 pass on the same weights
# (absolute, and relative for the hidden values past 1 that ReLU and residual layers make)


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ACTIVATIONS = {  # name → f(z, constants), as a page evaluates them
    "linear": lambda z, c: z,
    "sigmoid": lambda z, c: _sigmoid(z),
    "tanh": lambda z, c: np.tanh(z),
    "relu": lambda z, c: np.where(z > 0, z, 0.0),
    "leaky_relu": lambda z, c: np.where(z > 0, z, c["leaky_slope"] * z),
    "elu": lambda z, c: np.where(z > 0, z, c["elu_alpha"] * np.expm1(np.minimum(z, 0.0))),
    "swish": lambda z, c: z * _sigmoid(z),
    "softmax": lambda z, c: _softmax(z),
}


def param_layout(model: dict) -> list[list[tuple[str, tuple[int, ...]]]]:
    """Per weight layer the (name, shape) of each array in `params`: W (fan_in, fan_out), b
    and, under batch norm on a hidden layer, scale and shift (fan_out,)."""
    sizes = model["sizes"]
    last = len(sizes) - 2
    out = []
    for l, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = [("W", (fi, fo)), ("b", (fo,))]
        if model["batch_norm"] and l < last:
            layer += [("scale", (fo,)), ("shift", (fo,))]
        out.append(layer)
    return out


def grad_layout(model: dict) -> list[list[tuple[str, tuple[int, ...]]]]:
    """Per weight layer the (name, shape) of each array in `grads`: dW, db, dz."""
    sizes = model["sizes"]
    return [
        [("dW", (fi, fo)), ("db", (fo,)), ("dz", (fo,))] for fi, fo in zip(sizes[:-1], sizes[1:])
    ]


def split(flat: np.ndarray, layout) -> list[dict[str, np.ndarray]]:
    """A flat vector cut by `layout` into per-layer {name: array}; every number used once."""
    assert flat.ndim == 1
    out, o = [], 0
    for layer in layout:
        arrays = {}
        for name, shape in layer:
            n = int(np.prod(shape))
            arrays[name] = flat[o : o + n].reshape(shape)
            o += n
        out.append(arrays)
    assert o == flat.size, f"{flat.size} numbers for a layout of {o}"
    return out


def params_of(flat: np.ndarray, model: dict) -> list[dict[str, np.ndarray]]:
    return split(flat, param_layout(model))


def grads_of(flat: np.ndarray, model: dict) -> list[dict[str, np.ndarray]]:
    return split(flat, grad_layout(model))


def engine_params(eval_arrays) -> list[dict[str, np.ndarray]]:
    """`Network.eval_arrays()` named as in `param_layout`."""
    names = ("W", "b", "scale", "shift")
    return [dict(zip(names, layer)) for layer in eval_arrays]


def engine_grads(last_gradients) -> list[dict[str, np.ndarray]]:
    """`Trainer.last_gradients()` named as in `grad_layout` (dz: the batch mean of δ)."""
    return [{"dW": g["dW"], "db": g["db"], "dz": g["delta_mean"]} for g in last_gradients]


def assert_arrays_are(got: list[dict], want: list[dict], dtype) -> None:
    """Each of the frame's arrays equals the engine's float64 one rounded once to `dtype`."""
    assert [list(g) for g in got] == [list(w) for w in want]
    for l, (g, w) in enumerate(zip(got, want, strict=True)):
        for name in g:
            assert g[name].dtype == np.dtype(dtype), (l, name, g[name].dtype)
            np.testing.assert_array_equal(
                g[name], np.asarray(w[name]).astype(dtype), err_msg=f"layer {l} {name}"
            )


def plane(n: int) -> np.ndarray:
    """(n·n, 2) cell centres of the n×n grid, row-major, top row first."""
    lo, hi = PLANE
    c = lo + (np.arange(n) + 0.5) * (hi - lo) / n
    x1 = np.tile(c, n)
    x2 = np.repeat(c[::-1], n)
    return np.column_stack([x1, x2])


def maps(layers: list[dict[str, np.ndarray]], model: dict, n: int) -> dict:
    """The network of `model` with weights `layers` over the n×n grid, in float64:
    {"inputs": (F, n, n), "neurons": [(width, n, n)] per hidden layer, "output": (K, n, n)}.

    Hidden layer l: u = (a·W + b)·scale + shift (batch norm folded; u = z without it),
    a' = f(u), plus a when skip[l]. Output: ŷ = g(a·W + b)."""
    consts = model["constants"]
    a = compute_features(plane(n), model["features"])
    inputs, neurons = a, []
    last = len(layers) - 1
    for l, p in enumerate(layers):
        z = a @ p["W"].astype(np.float64) + p["b"].astype(np.float64)
        if l == last:
            out = ACTIVATIONS[model["output_activation"]](z, consts)
            break
        if "scale" in p:
            z = z * p["scale"].astype(np.float64) + p["shift"].astype(np.float64)
        h = ACTIVATIONS[model["activations"][l]](z, consts)
        a = h + a if model["skip"][l] else h
        neurons.append(a)

    def square(v):
        return v.T.reshape(-1, n, n)

    return {
        "inputs": square(inputs),
        "neurons": [square(h) for h in neurons],
        "output": square(out),
    }


def assert_maps_match(
    layers: list[dict[str, np.ndarray]],
    model: dict,
    trainer,
    n: int = 40,
    atol: float = MAP_TOLERANCE,
) -> dict:
    """The maps a page computes from a frame's weights against the engine's reference
    (`engine.heatmaps.evaluate_grid` through `trainer.grid`), within `atol`; returns ours."""
    ours = maps(layers, model, n)
    ref = trainer.grid(n)
    np.testing.assert_allclose(ours["inputs"], ref.inputs, rtol=atol, atol=atol)
    assert len(ours["neurons"]) == len(ref.neurons)
    for l, (h, r) in enumerate(zip(ours["neurons"], ref.neurons, strict=True)):
        np.testing.assert_allclose(h, r, rtol=atol, atol=atol, err_msg=f"hidden layer {l + 1}")
    np.testing.assert_allclose(ours["output"], ref.output, rtol=atol, atol=atol)
    return ours


def frame_arrays(header: dict, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    """A frame's arrays by name (a weights frame's names are unique)."""
    names = [e["name"] for e in header["arrays"]]
    assert len(set(names)) == len(names), names
    return dict(zip(names, arrays, strict=True))

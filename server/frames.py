"""Binary frames: bulk arrays (heatmaps, weights, a step's gradients) in one WebSocket message.

Byte layout (all integers little-endian; documented in docs/protocol.md):

    0   4  magic b"BPLF"
    4   2  u16 format version (FORMAT_VERSION)
    6   2  u16 reserved, 0
    8   4  u32 H: length of the JSON header in bytes
    12  H  UTF-8 JSON header, padded with spaces so that 12 + H is a multiple of 8
    12+H   payload: each array's bytes at header `offset` (from the payload's start),
           every offset a multiple of 4 so a Float32Array can view it without copying

The header is `{"kind": "frame" | "record", ..., "arrays": [entry, ...]}` where an entry is
`{"name", "layer"?, "shape", "dtype": "uint8" | "float32", "offset", "lo"?, "hi"?}`; maps
come as one (units, rows, cols) entry per layer, unit k being neuron k (or class k).
Layers count node layers for maps (0 = inputs, 1..H hidden, H + 1 = output) and weight
layers for W, b and gradients (weight layer l feeds node layer l + 1). A uint8 map value q
stands for lo + q·(hi − lo)/255; row 0 is the top of the plane (x2 = +6), column 0 its left.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from engine.heatmaps import quantize

MAGIC = b"BPLF"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<4sHHI")
WIRE_NAMES = {"delta_mean": "dz_sum"}  # one name on the wire for the engine's batch-mean δ
FRAME_GRADIENTS = ("dW", "db", "delta_mean")  # a_mean too would push 7→[8×6]→1 past 40 KB


def pack(kind: str, meta: dict, arrays: list[tuple[dict, np.ndarray]]) -> bytes:
    """One frame: `meta` goes into the header; each (entry, array) gets shape, dtype, offset.

    Float arrays are converted to float32 in one block (NaN ↦ 0, ±inf ↦ ±float32 max) and
    come first; uint8 arrays follow. The header's "arrays" text depends only on the entries,
    shapes and dtypes, which repeat frame after frame: it is encoded once per layout.
    """
    floats = [(e, a) for e, a in arrays if a.dtype.kind == "f"]
    ordered = floats + [(e, a) for e, a in arrays if a.dtype.kind != "f"]
    chunks = []
    if floats:
        with np.errstate(over="ignore", invalid="ignore"):
            block = np.concatenate([a.ravel() for _, a in floats], dtype=np.float32)
        if not np.isfinite(block).all():
            np.nan_to_num(block, copy=False)
        chunks.append(block.tobytes())
    chunks += [np.ascontiguousarray(a).tobytes() for _, a in ordered[len(floats):]]
    key = tuple((*e.items(), a.shape, a.dtype.char) for e, a in ordered)
    layout = _LAYOUTS.get(key)
    if layout is None:
        layout = _layout(ordered)
        if len(_LAYOUTS) < 512:
            _LAYOUTS[key] = layout
    head = json.dumps({"kind": kind, **meta}, allow_nan=False, separators=(",", ":"))
    header = f'{head[:-1]},"arrays":{layout}}}'.encode()
    header += b" " * (-(_PREFIX.size + len(header)) % 8)
    return b"".join([_PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(header)), header, *chunks])


_LAYOUTS: dict[tuple, str] = {}


def _layout(ordered: list[tuple[dict, np.ndarray]]) -> str:
    """The header's "arrays" JSON for arrays in payload order."""
    entries, offset = [], 0
    for entry, arr in ordered:
        dtype = "float32" if arr.dtype.kind == "f" else arr.dtype.name
        entries.append({**entry, "shape": list(arr.shape), "dtype": dtype, "offset": offset})
        offset += arr.size * (4 if arr.dtype.kind == "f" else arr.itemsize)
    return json.dumps(entries, allow_nan=False, separators=(",", ":"))


def unpack(frame: bytes) -> tuple[dict, list[np.ndarray]]:
    """(header, arrays in header order): the reader's side of `pack`, for tests and tools."""
    magic, version, _, n = _PREFIX.unpack_from(frame)
    if magic != MAGIC or version != FORMAT_VERSION:
        raise ValueError(f"not a version {FORMAT_VERSION} Backprop Lab frame")
    header = json.loads(frame[_PREFIX.size : _PREFIX.size + n])
    start = _PREFIX.size + n
    arrays = []
    for e in header["arrays"]:
        count = int(np.prod(e["shape"]))
        arrays.append(np.frombuffer(frame, dtype=e["dtype"], count=count,
                                    offset=start + e["offset"]).reshape(e["shape"]))
    return header, arrays


def _subsample(maps: np.ndarray, m: int) -> np.ndarray:
    """(C, n, n) → (C, m, m): the cells whose centres are nearest the m×m grid's centres
    (exact when m divides n)."""
    n = maps.shape[-1]
    if n % m == 0:
        k = n // m
        return maps[:, k // 2 :: k, k // 2 :: k]
    idx = ((np.arange(m) + 0.5) * n / m).astype(np.intp)
    return maps[:, idx[:, None], idx]




def fit_view(view: dict, sizes: tuple[int, ...], compare: bool, max_bytes: int) -> dict:
    """`view` with its grids shrunk until a frame's maps fit `max_bytes`: the neuron maps
    first (down to 8×8), then the output's. A view is capped by the bytes it makes, not by
    side length alone (128×128 maps of 263 neurons were 4.2 MiB a frame)."""
    g, m = view["grid"], view["neuron_grid"]
    small_maps = sum(sizes[:-1])  # the inputs and every hidden neuron
    big_maps = sizes[-1] * (2 if compare else 1) + (1 if view.get("focus") else 0)

    def size(g: int, m: int) -> int:
        return small_maps * min(m, g) ** 2 + big_maps * g * g

    while size(g, m) > max_bytes and min(m, g) > 8:
        m = min(m, g) - 1
    while size(g, m) > max_bytes and g > 8:
        g -= 1
    return view if (g, m) == (view["grid"], view["neuron_grid"]) else \
        {**view, "grid": g, "neuron_grid": m}


def heatmap_frame(grid, neuron_grid: int, params: dict, meta: dict,
                  gradients: list[dict] | None = None, focus: dict | None = None,
                  twin=None) -> bytes:
    """The "frame" kind: the output maps at the grid's own size (one per output unit, K class
    probabilities for softmax), each input and hidden neuron's map subsampled to neuron_grid,
    every layer's W (fan_in, fan_out) and b (fan_out,) as float32, and, once there has been
    an update, the last update's dW, db and dz_sum per layer (the engine's
    last_gradients(), which play mode keeps too; its delta_mean goes out as dz_sum, the
    record frame's name for the same numbers). With `focus` ({"layer", "neuron"}, node
    layers 0..H), that one map also goes out whole, (1, n, n), as "focus"; a focus that no
    longer names a map (the topology changed) is skipped.

    `twin` (compare mode) is trainer B's Grid: its output maps go out as "compare_output".

    `grid` is an engine Grid, neuron-major: `output` (K, n, n), `neurons[l]` (width, n, n),
    `inputs` (F, n, n), `output_range`, `NEURON_RANGE`; `params` is
    Trainer.weight_arrays() (or parameters()).
    """
    lo, hi = grid.NEURON_RANGE
    m = min(neuron_grid, grid.n)
    layers = [grid.inputs, *grid.neurons]
    small = quantize(np.concatenate([_subsample(a, m) for a in layers]), lo, hi)  # one call
    bounds = np.cumsum([0] + [len(a) for a in layers])
    arrays = [({"name": "input" if l == 0 else "neuron", "layer": l, "lo": lo, "hi": hi},
               np.ascontiguousarray(small[bounds[l] : bounds[l + 1]]))
              for l in range(len(layers))]
    out_lo, out_hi = grid.output_range
    arrays.append(({"name": "output", "layer": len(layers), "lo": out_lo, "hi": out_hi},
                   quantize(grid.output, out_lo, out_hi)))
    if focus is not None and focus["layer"] < len(layers) \
            and focus["neuron"] < len(layers[focus["layer"]]):
        l, j = focus["layer"], focus["neuron"]
        arrays.append(({"name": "focus", "layer": l, "neuron": j, "lo": lo, "hi": hi},
                       quantize(layers[l][j : j + 1], lo, hi)))
    if twin is not None:
        t_lo, t_hi = twin.output_range
        arrays.append(({"name": "compare_output", "layer": len(layers), "lo": t_lo,
                        "hi": t_hi}, quantize(twin.output, t_lo, t_hi)))
    arrays += _weights(params["weights"], params["biases"])
    for l, layer in enumerate(gradients or ()):
        arrays += [({"name": WIRE_NAMES.get(name, name), "layer": l},
                    np.asarray(layer[name], dtype=np.float64))
                   for name in FRAME_GRADIENTS if layer.get(name) is not None]
    return pack("frame", meta, arrays)


def features_frame(maps: np.ndarray, names: tuple[str, ...], m: int) -> bytes:
    """The "features" kind: every input feature's map (the page's feature pickers), whether
    the network uses it or not, subsampled to m×m; `maps` is (F, n, n) float32."""
    q = quantize(_subsample(maps, min(m, maps.shape[-1])), -1.0, 1.0)
    return pack("features", {"names": list(names)},
                [({"name": "features", "lo": -1.0, "hi": 1.0}, q)])


def _weights(weights: list, biases: list):
    out = []
    for l, (W, b) in enumerate(zip(weights, biases, strict=True)):
        out.append(({"name": "W", "layer": l}, np.asarray(W, dtype=np.float64)))
        out.append(({"name": "b", "layer": l}, np.asarray(b, dtype=np.float64)))
    return out


def record_frame(rec, meta: dict) -> bytes:
    """The "record" kind: one update's arrays per weight layer l, all float32.

    W, b: the weights the record shows (after the update once applied, before it while a
    phase step is half-shown); dW, db: ∂L/∂W, ∂L/∂b on the batch (with the penalty);
    dW_applied, db_applied: the change the optimizer made (only once applied); a_mean: node
    layer l + 1's mean output over the batch; dz_sum: Σ over the batch of ∂L/∂z (L the
    batch's mean loss), i.e. the batch mean of δ = B·∂L/∂z (each example's own ∂ℓ_i/∂z
    without batch norm; with it, its share of the batch gradient, times B). Then
    per_example_loss (n,), yhat (n, K) and target. `rec` is an engine StepRecord.
    """
    shown = rec.params_after if rec.params_after is not None else rec.params_before
    delta = rec.delta
    arrays = []
    for l, trace in enumerate(rec.traces):
        W, b = rec.layer_arrays(shown, l)
        dW, db = rec.layer_arrays(rec.grads, l)
        layer = [("W", W), ("b", b), ("dW", dW), ("db", db)]
        if delta is not None:
            dWa, dba = rec.layer_arrays(delta, l)
            layer += [("dW_applied", dWa), ("db_applied", dba)]
        layer.append(("a_mean", trace.a.mean(axis=0)))
        if trace.dz is not None:
            layer.append(("dz_sum", trace.dz.sum(axis=0)))
        arrays += [({"name": name, "layer": l}, a) for name, a in layer]
    for name in ("per_example_loss", "yhat", "target"):
        arrays.append(({"name": name}, np.asarray(getattr(rec, name), dtype=np.float64)))
    return pack("record", meta, arrays)

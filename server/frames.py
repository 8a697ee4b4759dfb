"""Binary frames: bulk arrays (weights, a step's gradients, a record) in one WebSocket message.

Byte layout (all integers little-endian; documented in docs/protocol.md):

    0   4  magic b"BPLF"
    4   2  u16 format version (FORMAT_VERSION)
    6   2  u16 reserved, 0
    8   4  u32 H: length of the JSON header in bytes
    12  H  UTF-8 JSON header, padded with spaces so that 12 + H is a multiple of 8
    12+H   payload: each array's bytes at header `offset` (from the payload's start),
           every offset a multiple of 4 so a Float32Array can view it without copying

The header is `{"kind": "frame" | "record", ..., "arrays": [entry, ...]}` where an entry is
`{"name", "layer"?, "shape", "dtype": "float32" | "float16", "offset"}`; float arrays come
first, each padded with zeros to a multiple of 4 bytes (a float16 array of odd length gets
one zero: format 2 padded only the block's end, so a follower's `grads` sat at 2 mod 4).
Weight layer l feeds node layer l + 1. Formats 2 and 3 carry no heatmaps: the page
computes them from the weights (format 1 sent uint8 maps).
"""

from __future__ import annotations

import json
import struct

import numpy as np

MAGIC = b"BPLF"
FORMAT_VERSION = 3
_PREFIX = struct.Struct("<4sHHI")
PREFIX_BYTES = _PREFIX.size  # magic, version, reserved, H
HEADER_ALIGN = 8  # 12 + H is a multiple of it
OFFSET_ALIGN = 4  # every array's offset is a multiple of it
KINDS = ("frame", "record")
DTYPES = ("float32", "float16", "uint8")
# A "frame"'s arrays, in payload order; each is one flat vector of every weight layer's parts:
WEIGHTS_ARRAYS = ("params", "grads", "compare_params")
# per weight layer, in this order (scale and shift only under batch norm, hidden layers only)
PARAM_PARTS = ("W", "b", "scale", "shift")
GRADIENT_PARTS = ("dW", "db", "delta_mean")


def pack(
    kind: str, meta: dict, arrays: list[tuple[dict, np.ndarray]], floats_as=np.float32
) -> bytes:
    """One frame: `meta` goes into the header; each (entry, array) gets shape, dtype, offset.

    Float arrays are converted to `floats_as` (float32, or float16 for a room's followers) in
    one block (NaN ↦ 0, ±inf ↦ ± its max) and come first, each padded to 4 bytes; uint8
    arrays follow. The header's "arrays" text depends only on the entries, shapes and dtypes, which
    repeat frame after frame: it is encoded once per layout.
    """
    floats = [(e, a) for e, a in arrays if a.dtype.kind == "f"]
    ordered = floats + [(e, a) for e, a in arrays if a.dtype.kind != "f"]
    chunks = []
    if floats:
        per_word = 4 // np.dtype(floats_as).itemsize  # elements in 4 bytes: 1 or 2
        pad = [np.zeros(-a.size % per_word) for _, a in floats]
        with np.errstate(over="ignore", invalid="ignore"):
            block = np.concatenate(
                [x for (_, a), z in zip(floats, pad) for x in (a.ravel(), z)], dtype=floats_as
            )
        if not np.isfinite(block).all():
            np.nan_to_num(block, copy=False)
        chunks.append(block.tobytes())
    chunks += [np.ascontiguousarray(a).tobytes() for _, a in ordered[len(floats) :]]
    key = (np.dtype(floats_as).char, *((*e.items(), a.shape, a.dtype.char) for e, a in ordered))
    layout = _LAYOUTS.get(key)
    if layout is None:
        layout = _layout(ordered, np.dtype(floats_as))
        if len(_LAYOUTS) < 512:
            _LAYOUTS[key] = layout
    head = json.dumps({"kind": kind, **meta}, allow_nan=False, separators=(",", ":"))
    header = f'{head[:-1]},"arrays":{layout}}}'.encode()
    header += b" " * (-(_PREFIX.size + len(header)) % HEADER_ALIGN)
    return b"".join([_PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(header)), header, *chunks])


_LAYOUTS: dict[tuple, str] = {}


def _layout(ordered: list[tuple[dict, np.ndarray]], floats_as: np.dtype) -> str:
    """The header's "arrays" JSON for arrays in payload order."""
    entries, offset = [], 0
    for entry, arr in ordered:
        dtype = floats_as if arr.dtype.kind == "f" else arr.dtype
        entries.append({**entry, "shape": list(arr.shape), "dtype": dtype.name, "offset": offset})
        offset += arr.size * dtype.itemsize
        if arr.dtype.kind == "f":  # each float array is padded to 4 bytes
            offset += -offset % OFFSET_ALIGN
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
        arrays.append(
            np.frombuffer(frame, dtype=e["dtype"], count=count, offset=start + e["offset"]).reshape(
                e["shape"]
            )
        )
    return header, arrays


def _flat(layers: list[tuple[np.ndarray, ...]]) -> np.ndarray:
    """Network.eval_arrays() as one vector: per weight layer W (row-major), b, [scale, shift]."""
    return np.concatenate([a.ravel() for layer in layers for a in layer])


def _flat_gradients(gradients: list[dict]) -> np.ndarray:
    """Per weight layer dW (row-major), db and dz, the batch mean of δ = B·∂L/∂z (zeros where
    a step left none)."""
    parts = []
    for g in gradients:
        for name in GRADIENT_PARTS:  # delta_mean: zeros where the step left none
            a = g.get(name)
            parts.append((np.zeros_like(g["db"]) if a is None else a).ravel())
    return np.concatenate(parts)


def weights_frame(
    layers: list[tuple[np.ndarray, ...]],
    meta: dict,
    gradients: list[dict] | None = None,
    b_layers: list[tuple[np.ndarray, ...]] | None = None,
    floats_as=np.float32,
) -> bytes:
    """The "frame" kind: what only the engine knows, for the page to draw the rest (every
    heatmap is computed in the page from these, static/js/heatmaps.js, with the `model` of
    the session's last `state`).

    `params`: per weight layer W (fan_in, fan_out) row-major, then b, then under batch norm
    the evaluation-mode scale and shift (Network.eval_arrays), all layers in one vector.
    `grads`, once there has been an update (the engine's last_gradients(), which play mode
    keeps too): per weight layer dW, db and dz, the batch mean of δ. `compare_params`
    (compare mode): run B's params, laid out by B's model. Floats are float32, or float16
    (`floats_as`) for a room's followers, whose bytes a classroom's Wi-Fi shares.
    """
    params, grads, compare_params = WEIGHTS_ARRAYS
    arrays = [({"name": params}, _flat(layers))]
    if gradients:
        arrays.append(({"name": grads}, _flat_gradients(gradients)))
    if b_layers is not None:
        arrays.append(({"name": compare_params}, _flat(b_layers)))
    return pack("frame", meta, arrays, floats_as)


def session_weights(
    trainer, run_b=None, room: bool = False, room_grads: bool = False
) -> tuple[bytes, bytes | None]:
    """A session's weights frames, read off its trainer (lock held): the page's (float32) and,
    with `room`, its followers' (float16: a classroom's Wi-Fi is shared; the gradients only
    with `room_grads`). `run_b`, compare mode's trainer B, adds its params and model key."""
    meta = {"step": trainer.step_count, "epoch": trainer.epoch, "model": trainer.model_key}
    layers = trainer.eval_arrays()
    grads = trainer.last_gradients()
    b_layers = None
    if run_b is not None:
        b_layers = run_b.eval_arrays()
        meta["compare_model"] = run_b.model_key
    own = weights_frame(layers, meta, grads, b_layers)
    if not room:
        return own, None
    grads = grads if room_grads else None
    return own, weights_frame(layers, meta, grads, b_layers, floats_as="float16")


def record_frame(rec, meta: dict) -> bytes:
    """The "record" kind: one update's arrays, all float32, as the engine's StepRecord names
    them (`rec.arrays()`, engine/records.py, says what each is): per weight layer l W, b,
    dW, db, dW_applied and db_applied once applied, a_mean and delta_mean; then
    per_example_loss (n,), yhat (n, K) and target."""
    return pack("record", meta, rec.arrays())

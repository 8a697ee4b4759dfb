"""Snapshots (an exported session): written from a trainer, checked, and loaded into a new one.

`write` is everything needed to continue exactly, as a JSON-able dict; `load` rebuilds a
trainer from it. A snapshot file is untrusted input: it may come from another machine, an
older version or a student's editor. `load` refuses it whole, naming the field, unless every
part holds to the rules a live session keeps: the config as `configure` checks it, finite
weights, buffers and optimizer state (as large as training leaves them: a run that blows up
passes |w| = 1e6 with a finite loss, and what `write` wrote `load` reads back bit for bit),
weights whose sum of squares and training loss are finite (training keeps no other state),
counters that fit the data, an optimizer state of the right shape and sign, and the
config's own hyperparameters (the file's are ignored, so the page and the engine agree).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from . import csv_points
from .config import IMPORTED_DATASETS, Config
from .csv_points import CsvError, ImportedData
from .data import edit_from_json, imported_fits
from .errors import SnapshotError, TrainerError
from .history import HISTORY_MAX
from .readouts import COUNTERS, METRIC_KEYS, READOUT_NAMES, READOUTS, Shape
from .stopping import STOP_MESSAGES

SNAPSHOT_VERSION = 1
KEYS = {
    "version",
    "config",
    "edits",
    "imported",
    "params",
    "buffers",
    "optimizer",
    "counters",
    "stopped",
    "stop_message",
    "history",
}
MAX_EDITS = 4000  # point edits a session may carry (each is replayed on import and compare)
MAX_COUNTER = 10**9


def write(t) -> dict:
    """The trainer `t` as a JSON-able dict. A half-shown phase step is left out (and left
    alone): the snapshot is the state before it."""
    buffers = t.pending_state.buffers if t.pending is not None else t.net.buffers
    stopping = t.stopping
    return {
        "version": SNAPSHOT_VERSION,
        "config": t.config.to_dict(),
        "edits": [e.to_json() for e in t.edits],
        **({} if t.imported is None else {"imported": imported_json(t.imported)}),
        "params": t.net.params.tolist(),
        "buffers": buffers.tolist(),
        "optimizer": t.optimizer.state_dict(),
        "counters": {
            "step": t.step_count,
            "epoch": t.epoch,
            "pos": t.pos,
            "best_test": None if math.isinf(stopping.best_test) else stopping.best_test,
            "bad_epochs": stopping.bad_epochs,
        },
        "stopped": t.stopped,
        "stop_message": t.stop_message,
        "history": list(t.history),
    }


def load(cls, snap: dict):
    """A `cls` (Trainer) rebuilt from `write()`, all or nothing: a malformed or out-of-range
    part raises SnapshotError naming it, a bad config ConfigError."""
    check_top(snap)
    config = Config.from_dict(snap["config"])
    imported = load_imported(snap.get("imported"), config)
    t = cls(config, imported)
    for k, edit in enumerate(snap.get("edits", [])):
        try:
            t.data.apply(t.data.checked(edit_from_json(edit), t.config))
        except TrainerError as e:
            raise SnapshotError(f"edits.{k}", str(e)) from None
    t.refresh_features()
    s = check_state(snap, t, tuple(STOP_MESSAGES))
    np.copyto(t.net.params, s["params"])
    np.copyto(t.net.buffers, s["buffers"])
    opt = t.optimizer
    if s["t"]:
        opt.load_state_dict(
            {
                "optimizer": opt.name,
                "t": s["t"],
                "shapes": s["shapes"],
                "hyperparameters": opt.hyperparameters,
                "state": [[a.tolist() for a in s["state"]]],
            }
        )
    opt.set_hyperparameters(**t.config.optimizer_hyperparameters())  # the config's, not the file's
    cnt = s["counters"]
    t.step_count, t.epoch, t.pos = cnt["step"], cnt["epoch"], cnt["pos"]
    stopping = t.stopping
    stopping.best_test = math.inf if cnt["best_test"] is None else cnt["best_test"]
    stopping.bad_epochs = cnt["bad_epochs"]
    stopping.reason, stopping.message = s["stopped"], s["stop_message"]
    # the gradient itself is not saved: the readout of the last update is its history entry
    now = [h for h in s["history"][-1:] if h["step"] == t.step_count]
    if now:
        t.grad_norms = now[0]["grad_norms"]
    t.history = s["history"] or [t.metrics()]
    if len(t.F_train) and t.evaluate()["loss"]["train"] is None:
        raise SnapshotError(
            "params", "give an infinite training loss: training never keeps such weights"
        )
    return t


def imported_json(imported: ImportedData) -> dict:
    """A CSV file's points as a snapshot keeps them: its name and its canonical text."""
    return {"name": imported.name, "csv": imported.to_csv()}


def load_imported(value, config: Config) -> ImportedData | None:
    """The file a snapshot carries, read by the same parser as an upload."""
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or set(value) != {"name", "csv"}
        or not isinstance(value["name"], str)
        or not isinstance(value["csv"], str)
    ):
        raise SnapshotError("imported", 'must be null or {"name": text, "csv": text}')
    try:
        imported = csv_points.parse(value["csv"], value["name"])
    except CsvError as e:
        raise SnapshotError("imported.csv", str(e)) from None
    if config.dataset in IMPORTED_DATASETS and not imported_fits(config, imported):
        raise SnapshotError("imported", f"is not a file for the data set {config.dataset!r}")
    return imported


def integer(value, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise SnapshotError(field, f"must be an integer in [{lo}, {hi}]")
    return value


def number(
    value, field: str, lo: float = -math.inf, hi: float = math.inf, none: bool = False
) -> float | None:
    if value is None and none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or not lo <= value <= hi
    ):
        raise SnapshotError(
            field, f"must be a finite number in [{lo:g}, {hi:g}]" + (" or null" if none else "")
        )
    return float(value)


def array(value, field: str, size: int, lo: float | None = None) -> np.ndarray:
    """A flat list of `size` finite numbers (≥ lo)."""
    if not isinstance(value, list) or len(value) != size:
        raise SnapshotError(field, f"must be a list of {size} numbers")
    if not all(type(x) is float or type(x) is int for x in value):  # not "1", true or null
        raise SnapshotError(field, "must hold numbers only")
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SnapshotError(field, "must hold numbers only") from None
    if a.shape != (size,) or not np.isfinite(a).all():
        raise SnapshotError(field, "must hold finite numbers")
    if lo is not None and a.min(initial=lo) < lo:
        raise SnapshotError(field, f"must hold numbers ≥ {lo:g}")
    return a


def check_top(snap) -> dict:
    if not isinstance(snap, dict):
        raise SnapshotError("snapshot", "must be a JSON object")
    if snap.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError("version", f"not a version {SNAPSHOT_VERSION} Backprop Lab snapshot")
    unknown = sorted(set(snap) - KEYS)
    if unknown:
        raise SnapshotError(unknown[0], "is not a snapshot field")
    missing = sorted({"config", "params", "buffers", "optimizer", "counters"} - set(snap))
    if missing:
        raise SnapshotError(missing[0], "is missing")
    edits = snap.get("edits", [])
    if not isinstance(edits, list) or len(edits) > MAX_EDITS:
        raise SnapshotError("edits", f"must be a list of at most {MAX_EDITS} point edits")
    for k, e in enumerate(edits):
        if (
            not isinstance(e, list)
            or not e
            or e[0] not in ("add", "remove")
            or len(e) != (5 if e[0] == "add" else 3)
        ):
            raise SnapshotError(
                f"edits.{k}", 'must be ["add", split, x1, x2, label] or ["remove", split, index]'
            )
        if e[0] == "add":
            number(e[2], f"edits.{k}.2")
            number(e[3], f"edits.{k}.3")
        else:
            integer(e[2], f"edits.{k}.2", 0, MAX_COUNTER)
    return snap


def check_state(snap: dict, trainer, stop_reasons) -> dict:
    """The parts that must fit `trainer`, a fresh one built from the snapshot's config and
    edits: returns them as arrays and numbers, ready to load."""
    net = trainer.net
    params = array(snap["params"], "params", net.n_params)
    with np.errstate(over="ignore"):
        if not math.isfinite(np.dot(params, params)):  # as training checks after every update
            raise SnapshotError("params", "must have a finite sum of squares")
    n_buf = len(net.buffers)
    buffers = array(snap["buffers"], "buffers", n_buf)
    if n_buf and buffers[n_buf // 2 :].min() < 0:
        raise SnapshotError("buffers", "running variances must be ≥ 0")
    opt = snap["optimizer"]
    if not isinstance(opt, dict) or opt.get("optimizer") != trainer.config.optimizer:
        raise SnapshotError(
            "optimizer.optimizer", f"must be the config's optimizer, {trainer.config.optimizer!r}"
        )
    t = integer(opt.get("t"), "optimizer.t", 0, MAX_COUNTER)
    names = trainer.optimizer.state_names
    shapes, state = opt.get("shapes"), opt.get("state")
    if t == 0 and not state:
        shapes, state = [], []
    elif (
        shapes != [[net.n_params]]
        or not isinstance(state, list)
        or len(state) != 1
        or not isinstance(state[0], list)
        or len(state[0]) != len(names)
    ):
        raise SnapshotError(
            "optimizer.state",
            f"must be {len(names)} array(s) of "
            f"{net.n_params} numbers ({', '.join(names) or 'none'})",
        )
    arrays = [
        array(
            a,
            f"optimizer.state.{name}",
            net.n_params,
            lo=0.0 if name == "v" else None,
        )
        for a, name in zip(state[0] if state else [], names)
    ]
    cnt = snap["counters"]
    if not isinstance(cnt, dict):
        raise SnapshotError("counters", "must be an object")
    n_train = len(trainer.F_train)
    counters = {
        "step": integer(cnt.get("step"), "counters.step", 0, MAX_COUNTER),
        "epoch": integer(cnt.get("epoch"), "counters.epoch", 0, MAX_COUNTER),
        "pos": integer(cnt.get("pos"), "counters.pos", 0, max(n_train - 1, 0)),
        "best_test": number(cnt.get("best_test"), "counters.best_test", 0.0, none=True),
        "bad_epochs": integer(cnt.get("bad_epochs", 0), "counters.bad_epochs", 0, MAX_COUNTER),
    }
    stopped = snap.get("stopped")
    if stopped is not None and stopped not in stop_reasons:
        raise SnapshotError("stopped", f"must be null or one of {', '.join(stop_reasons)}")
    message = snap.get("stop_message", "")
    if not isinstance(message, str) or len(message) > 1000:
        raise SnapshotError("stop_message", "must be a text of at most 1000 characters")
    history = check_history(snap.get("history", []), net.n_layers, trainer)
    return {
        "params": params,
        "buffers": buffers,
        "t": t,
        "shapes": shapes,
        "state": arrays,
        "counters": counters,
        "stopped": stopped,
        "stop_message": message,
        "history": history,
    }


def check_history(history, n_layers: int, trainer) -> list[dict]:
    if not isinstance(history, list) or len(history) > HISTORY_MAX:
        raise SnapshotError("history", f"must be a list of at most {HISTORY_MAX} entries")
    keys = {*COUNTERS, *READOUT_NAMES}
    out = []
    for k, h in enumerate(history):
        f = f"history.{k}"
        if not isinstance(h, dict) or set(h) != keys:
            raise SnapshotError(f, f"must be {{{', '.join((*COUNTERS, *READOUT_NAMES))}}}")
        entry = {c: integer(h[c], f"{f}.{c}", 0, MAX_COUNTER) for c in COUNTERS}
        for r in READOUTS:
            v, at = h[r.name], f"{f}.{r.name}"
            if r.shape is Shape.SPLITS:
                if not isinstance(v, dict) or set(v) != {"train", "test"}:
                    raise SnapshotError(at, "must be {train, test}")
                entry[r.name] = {
                    s: number(v[s], f"{at}.{s}", 0.0, r.hi, none=True) for s in ("train", "test")
                }
            else:
                if not isinstance(v, list) or len(v) != n_layers:
                    raise SnapshotError(at, f"must be a list of {n_layers} numbers")
                entry[r.name] = [
                    number(x, f"{at}.{i}", 0.0, r.hi, none=True) for i, x in enumerate(v)
                ]
        out.append({k: entry[k] for k in METRIC_KEYS})
    return out

"""static/js/contract.js, the page's generated copy of the contract: current, valid JavaScript,
and true to what the server and the engine do."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from engine.config import FIELDS, Config
from engine.optimizers import make_optimizer
from server import contract, frames


def _constant(text: str, name: str):
    """An exported constant's value, read back from the generated text (it is JSON)."""
    m = re.search(rf"^export const {name} = (.*?);$", text, re.S | re.M)
    assert m, name
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def text() -> str:
    return contract.PATH.read_text(encoding="utf-8")


def test_the_checked_in_file_is_current(text):
    """Fails when a model, enum, limit or table changed without `python -m server.contract`."""
    generated = contract.build()
    assert generated == text, contract.differences(text, generated)


def test_check_names_what_is_stale(tmp_path, monkeypatch, capsys):
    stale = contract.build().replace('"max_width": 32', '"max_width": 31')
    path = tmp_path / "contract.js"
    path.write_text(stale, encoding="utf-8")
    monkeypatch.setattr(contract, "PATH", path)
    assert contract.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "changed: LIMITS" in err and "CONFIG_FIELDS" not in err
    path.write_text(contract.build(), encoding="utf-8")
    assert contract.main(["--check"]) == 0


def test_it_is_valid_javascript():
    node = shutil.which("node")
    assert node, "node is needed to check static/js/contract.js"
    done = subprocess.run(
        [node, "--experimental-default-type=module", "--check", str(contract.PATH)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def _typedefs(text: str) -> dict[str, str]:
    """name → type expression of every @typedef."""
    out = {}
    for block in re.findall(r"/\*\*(.*?)\*/", text, re.S):
        lines = [line.strip().lstrip("*").strip() for line in block.splitlines()]
        body = " ".join(lines)
        if "@typedef" not in body:
            continue
        body = body.split("@typedef", 1)[1].strip()
        name = body.rsplit(" ", 1)[1]
        out[name] = body[: -len(name)].strip()[1:-1]
    return out


def test_every_type_a_typedef_names_is_defined(text):
    types = _typedefs(text)
    assert {"ClientMessage", "ServerMessage", "Inspection", "State", "Hello"} <= set(types)
    used = set()
    for expr in types.values():
        used |= set(re.findall(r"\b[A-Z]\w*\b", re.sub(r'"[^"]*"', "", expr)))
    assert used - {"Array", "Object"} <= set(types), sorted(used - set(types))


def test_every_message_has_a_typedef(text):
    types = _typedefs(text)
    client = re.findall(r"\w+", types["ClientMessage"])
    server = re.findall(r"\w+", types["ServerMessage"])
    assert len(client) == len(_constant(text, "CLIENT_MESSAGES"))
    assert len(server) == len(_constant(text, "SERVER_MESSAGES"))
    for name in client + server:
        assert re.search(r'\btype: "\w+"', types[name]), name


def test_optimizer_fields_are_the_hyperparameters_each_optimizer_uses(text):
    """Oracle: change one optimizer field at a time and see whether the engine's optimizer
    notices."""
    table = _constant(text, "OPTIMIZER_FIELDS")
    floats = [f for f in FIELDS if f.group == "optimizer" and f.kind == "float"]
    for name, fields in table.items():
        base = Config(optimizer=name)
        before = make_optimizer(name, **base.optimizer_hyperparameters()).hyperparameters
        for f in floats:
            changed = base.replace(**{f.name: (f.lo + f.hi) / 2})
            after = make_optimizer(name, **changed.optimizer_hyperparameters()).hyperparameters
            assert (after != before) == (f.name in fields), (name, f.name)


def test_config_effects_are_what_configure_does(text):
    """Oracle: a trained trainer configured with one field changed keeps its trained weights
    exactly when the contract says the field is live or model, and keeps its points unless it says
    data."""
    from engine.trainer import Trainer

    rows = {r["name"]: r for r in _constant(text, "CONFIG_FIELDS")}
    assert list(rows) == [f.name for f in FIELDS]
    other = {
        "dataset": "xor",
        "n_points": 60,
        "noise": 0.2,
        "train_fraction": 0.6,
        "seed": 3,
        "n_classes": 4,
        "features": ["x1", "x2", "x1x2"],
        "hidden": [3],
        "activation": "relu",
        "output_activation": "linear",
        "loss": "mse",
        "init": "xavier",
        "batch_norm": True,
        "dropout": 0.1,
        "residual": True,
        "optimizer": "adam",
        "learning_rate": 0.1,
        "momentum": 0.5,
        "beta1": 0.5,
        "beta2": 0.9,
        "eps": 1e-4,
        "alpha": 0.5,
        "regularization": "l2",
        "regularization_rate": 0.01,
        "batch_size": 5,
        "max_epochs": 10,
        "target_loss": 0.1,
        "patience": 5,
        "tolerance": 0.01,
    }
    assert set(other) == set(rows)
    base = dict(n_points=40, hidden=(2, 2), dataset="blobs", loss="cross_entropy")
    base["output_activation"] = "softmax"
    for name, value in other.items():
        config = Config(**base)
        if name in ("output_activation", "loss", "dataset"):
            config = Config(n_points=40, hidden=(2, 2))
        if name == "residual":
            config = config.replace(hidden=(2, 2))
        t = Trainer(config)
        for _ in range(3):
            t.step()
        weights = [w.copy() for w in t.net.weights]
        x = t.X_train.copy()
        t.configure({name: value})
        kept = len(weights) == len(t.net.weights) and all(
            a.shape == b.shape and np.array_equal(a, b) for a, b in zip(weights, t.net.weights)
        )
        same_points = x.shape == t.X_train.shape and np.array_equal(x, t.X_train)
        effect = rows[name]["effect"]
        assert kept == (effect in ("live", "model")), (name, effect)
        if effect != "data":
            assert same_points, name


def test_frame_layout_is_what_frames_pack(text):
    """Oracle: unpack a real weights frame of a batch-norm network by the contract's layout."""
    from engine.trainer import Trainer

    layout = _constant(text, "FRAME")
    t = Trainer(Config(n_points=20, hidden=(3,), batch_norm=True))
    t.step()
    own, _ = frames.session_weights(t)
    assert own[:4].decode() == layout["magic"]
    header, arrays = frames.unpack(own)
    assert [e["name"] for e in header["arrays"]] == layout["weights_arrays"][:2]
    params, grads = arrays
    o, parts = 0, []
    for layer in t.eval_arrays():
        for name, a in zip(layout["param_parts"], layer):
            parts.append(name)
            np.testing.assert_allclose(params[o : o + a.size], a.ravel(), rtol=1e-6, atol=1e-7)
            o += a.size
    assert o == params.size and parts == ["W", "b", "scale", "shift", "W", "b"]
    o = 0
    for g in t.last_gradients():
        for name in layout["gradient_parts"]:
            a = g[name]
            np.testing.assert_allclose(grads[o : o + a.size], a.ravel(), rtol=1e-5, atol=1e-7)
            o += a.size
    assert o == grads.size

"""The readouts the engine lists (engine/readouts.py) reach the wire whole: in `hello`, in
`state.metrics` and its history, at the top level of `step` and play's `metrics`, and in
compare mode's run B, each equal to an engine trainer's built apart and trained as often."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.readouts import COUNTERS, READOUT_NAMES, READOUTS, Shape, layer_norms
from engine.trainer import Trainer


def test_metrics_are_the_counters_and_every_readout():
    t = Trainer({"dataset": "xor", "hidden": [3, 2]})
    t.step()
    assert set(t.metrics()) == {*COUNTERS, *READOUT_NAMES}
    for r in READOUTS:
        v = t.metrics()[r.name]
        if r.shape is Shape.SPLITS:
            assert set(v) == {"train", "test"}, r.name
            values = list(v.values())
        else:
            assert len(v) == t.net.n_layers, r.name
            values = v
        assert all(x is None or 0.0 <= x <= r.hi for x in values), (r.name, v)


def test_grad_norms_are_the_weight_gradients_norms_per_layer():
    t = Trainer({"dataset": "circle", "hidden": [4, 3], "regularization": "l2"})
    t.step()
    expected = [float(np.linalg.norm(g["dW"])) for g in t.last_gradients()]
    np.testing.assert_allclose(t.metrics()["grad_norms"], expected, rtol=1e-12)
    flat = np.full_like(t.net.params, math.inf)
    assert layer_norms(t.net, flat) == [None] * t.net.n_layers


def test_hello_names_every_readout(tab):
    assert tab.hello["readouts"] == list(READOUT_NAMES)
    assert set(tab.state["metrics"]) == {*COUNTERS, *READOUT_NAMES}


def _oracle(config: dict, n: int) -> dict:
    t = Trainer(config)
    t.run(n)
    return t.metrics()


def test_every_readout_reaches_step_play_and_state_as_the_engine_has_it(tab):
    config = tab.state["config"]
    for k in range(1, 4):
        msg = tab.ask({"type": "step"}, "step")
        assert msg["step"] == k
        oracle = _oracle(config, k)
        for name in (*COUNTERS, *READOUT_NAMES):
            assert msg[name] == oracle[name], name
    tab.send({"type": "play", "speed": 2})
    msg = tab.until("metrics")
    tab.send({"type": "pause"})
    oracle = _oracle(config, msg["step"])
    for name in (*COUNTERS, *READOUT_NAMES):
        assert msg[name] == oracle[name], name
    state = tab.ask({"type": "view"}, "state")
    done = state["metrics"]["step"]
    t = Trainer(config)
    t.run(done)
    assert state["metrics"] == t.metrics()


@pytest.mark.parametrize("changes", [{"learning_rate": 0.3}, {"hidden": [5]}])
def test_compare_modes_run_b_carries_every_readout(tab, changes):
    state = tab.ask({"type": "compare", "config": changes}, "state")
    config = {**state["config"], **changes}
    b = state["compare"]["metrics"]
    assert b == {**Trainer(config).metrics(), "stopped": None}
    for k in range(1, 3):
        msg = tab.ask({"type": "step"}, "step")
        assert msg["compare"] == {**_oracle(config, k), "stopped": None}

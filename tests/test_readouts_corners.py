"""Every readout true in the corners (issue 21, items 1 and 2, and its property test): after a
step back, after an import, and while a phase step is half-shown, each readout the server
sends for step s is that step's entry in the history and what a fresh engine trainer, run
apart to step s with the same changes, computes."""

from __future__ import annotations

import random

import pytest

from engine.readouts import COUNTERS, READOUT_NAMES
from engine.trainer import Trainer
from tests.helpers.tabs import LiveTab

XOR = {"dataset": "xor", "n_points": 100, "hidden": [4, 2], "seed": 0, "batch_size": 10}
NAMES = (*COUNTERS, *READOUT_NAMES)


def _fresh(config: dict, ops: list) -> dict:
    """The metrics of a trainer built apart from `config`, after `ops`: ("update",) or
    ("set", changes), in order."""
    t = Trainer(config)
    for op in ops:
        if op[0] == "update":
            t.step()
        else:
            t.configure(op[1])
    return t.metrics()


def _readings(msg: dict) -> dict:
    return {name: msg[name] for name in NAMES}


def test_step_back_restores_the_gradient_norms_of_the_step_it_returns_to():
    # the case: five updates and a step back read as a fresh run of four
    t = Trainer(XOR)
    for _ in range(5):
        t.step()
    t.step_back()
    want = _fresh(XOR, [("update",)] * 4)
    assert t.metrics() == want
    assert t.history[-1] == want


@pytest.mark.parametrize("updates", [1, 4])
def test_an_imported_session_reads_the_gradient_norms_it_was_saved_with(updates):
    t = Trainer(XOR)
    t.run(updates)
    loaded = Trainer.from_snapshot(t.snapshot())
    assert loaded.metrics() == t.metrics() == _fresh(XOR, [("update",)] * updates)
    assert loaded.metrics()["grad_norms"] != [0.0, 0.0, 0.0]


def test_a_half_shown_phase_step_shows_nothing_of_its_gradient():
    t = Trainer(XOR)
    t.run(2)
    before = t.metrics()
    for _ in range(3):  # forward, loss, backward: the update is not made yet
        t.phase_step()
        assert t.metrics() == before
    t.phase_step()
    assert t.metrics() == _fresh(XOR, [("update",)] * 3)


@pytest.fixture
def tab(live):
    with LiveTab.open(live.ws_url) as tab:
        yield tab


def _configure(tab, config: dict) -> dict:
    tab.send({"type": "configure", "config": config})
    return tab.recv_json("state")


def test_step_back_and_import_over_a_real_server(tab):
    _configure(tab, XOR)
    for _ in range(5):
        tab.send({"type": "step"})
        tab.recv_json("step")
    tab.send({"type": "step_back"})
    state = tab.recv_json("state")
    want = _fresh(XOR, [("update",)] * 4)
    assert _readings(state["metrics"]) == want
    assert state["history"][-1] == want
    tab.send({"type": "export"})
    snap = tab.recv_json("snapshot")["snapshot"]
    tab.send({"type": "step", "count": 3})
    tab.recv_json("step")
    tab.send({"type": "import", "snapshot": snap})
    state = tab.recv_json("state")
    assert _readings(state["metrics"]) == want


def test_phase_steps_carry_the_readouts_of_the_current_step(tab):
    _configure(tab, XOR)
    for _ in range(2):
        tab.send({"type": "step"})
        tab.recv_json("step")
    want = _fresh(XOR, [("update",)] * 2)
    for phase in ("forward", "loss", "backward"):
        tab.send({"type": "step", "unit": "phase"})
        msg = tab.recv_json("step")
        assert msg["phase"] == phase and msg["step"] == 2
        assert _readings(msg) == want, phase
    tab.send({"type": "step", "unit": "phase"})
    msg = tab.recv_json("step")
    assert msg["applied"] and _readings(msg) == _fresh(XOR, [("update",)] * 3)


def _random_config(rng: random.Random) -> dict:
    return {
        "dataset": rng.choice(["xor", "circle", "gaussian", "spiral", "moons"]),
        "n_points": rng.choice([40, 60, 100]),
        "hidden": [rng.randint(1, 5) for _ in range(rng.randint(1, 3))],
        "activation": rng.choice(["tanh", "relu", "sigmoid", "leaky_relu", "elu", "swish"]),
        "optimizer": rng.choice(["sgd", "momentum", "adam", "rmsprop"]),
        "learning_rate": rng.choice([0.01, 0.03, 0.1, 0.3]),
        "batch_size": rng.choice([1, 5, 10, 17]),
        "dropout": rng.choice([0.0, 0.0, 0.2]),
        "regularization": rng.choice(["none", "l1", "l2"]),
        "regularization_rate": rng.choice([0.0, 0.001, 0.01]),
        "seed": rng.randrange(1000),
    }


@pytest.mark.parametrize("seed", range(8))
def test_every_readout_sent_for_step_s_is_the_history_and_a_fresh_run(tab, seed):
    """Random configs and random sequences of steps, phase steps, live changes, step backs
    and imports: every `step` and `state` the server sends carries, for its step s, the
    readouts of a fresh run to s (with the same changes at the same steps), and the
    history the server keeps (read whole through an export) agrees entry by entry."""
    rng = random.Random(seed)
    config = {**_random_config(rng), "max_epochs": None, "target_loss": None}
    state = _configure(tab, config)
    config = state["config"]
    ops: list = []  # the updates and live changes a fresh run replays
    sent: dict[int, dict] = {}  # the last readouts sent for each step
    undoable, pending = 0, False

    def check(msg: dict, where: str) -> None:
        got = _readings(msg)
        assert got == _fresh(config, ops), (where, ops)
        sent[got["step"]] = got

    check(state["metrics"], "start")
    for k in range(14):
        op = rng.choice(["step", "step", "steps", "phase", "phase", "set", "back", "import"])
        where = f"op {k}: {op}"
        if op in ("step", "steps"):
            count = 1 if op == "step" else rng.randint(2, 4)
            tab.send({"type": "step", "count": count})
            msg = tab.recv_json("step")
            if msg["step"] < sent_step(ops) + count:  # stopped (diverged): compare what it says
                break
            ops += [("update",)] * count
            undoable, pending = undoable + count, False
            check(msg, where)
        elif op == "phase":
            tab.send({"type": "step", "unit": "phase"})
            msg = tab.recv_json("step")
            if msg["applied"] and msg["phase"] == "update":
                ops.append(("update",))
                undoable, pending = undoable + 1, False
            else:
                pending = True
            check(msg, where)
        elif op == "set":
            changes = {"learning_rate": rng.choice([0.01, 0.05, 0.2])}
            tab.send({"type": "set", "config": changes})
            state = tab.recv_json("state")
            ops.append(("set", changes))
            pending = False
            check(state["metrics"], where)
        elif op == "back":
            if not (pending or undoable):
                continue
            tab.send({"type": "step_back"})
            state = tab.recv_json("state")
            if pending:
                pending = False
            else:
                last = max(i for i, o in enumerate(ops) if o[0] == "update")
                ops.pop(last)
                undoable -= 1
            check(state["metrics"], where)
            assert _readings(state["history"][-1]) == _readings(state["metrics"]), where
        else:
            tab.send({"type": "export"})
            snap = tab.recv_json("snapshot")["snapshot"]
            tab.send({"type": "import", "snapshot": snap})
            state = tab.recv_json("state")
            undoable, pending = 0, False
            check(state["metrics"], where)
    tab.send({"type": "export"})
    history = tab.recv_json("snapshot")["snapshot"]["history"]
    assert history[-1]["step"] == sent_step(ops)
    for entry in history:
        if entry["step"] in sent:
            assert entry == sent[entry["step"]], entry["step"]


def sent_step(ops: list) -> int:
    return sum(op[0] == "update" for op in ops)


def test_residual_where_no_skip_fits_keeps_the_weights_and_the_counters():
    # issue 21 item 12: the same network either way, so nothing is rebuilt or reset
    t = Trainer(XOR)  # hidden [4, 2]: no two adjacent widths match
    t.run(3)
    before, metrics = t.net.params.copy(), t.metrics()
    t.configure({"residual": True})
    assert t.step_count == 3 and (t.net.params == before).all() and t.metrics() == metrics
    assert not any(t.net.skip) and t.can_step_back
    t.configure({"hidden": [4, 4]})  # now one fits: a new network with its skip
    assert t.net.skip == [False, True, False] and t.step_count == 0

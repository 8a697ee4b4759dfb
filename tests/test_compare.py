"""Compare mode with a run B whose network differs from A's (server/compare.py), over a real
server (websockets sync client).

Oracle: independent engine trainers built from A's config plus B's changes, on the same
points (the same hand edits), stepped the same way; the server's numbers must equal theirs
bit for bit (float64 through JSON); frames carry B's weights laid out by B's model, equal to
the oracle's rounded to float32, and the maps made from them are B's network's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.config import Config
from engine.trainer import Trainer
from server.compare import SAME_FIELDS, STRUCTURE_FIELDS
from tests.helpers import maps
from tests.helpers.tabs import LiveTab

POINT = {"x1": 0.5, "x2": -1.0, "label": 1, "split": "train"}
STRUCTURAL = [
    {"batch_norm": True},
    {"init": "he"},
    {"hidden": [8, 8]},
    {"features": ["x1", "x2", "x1_sq", "x2_sq", "x1x2"]},
    {"residual": True, "hidden": [4, 4], "init": "xavier"},
]


def send(ws, type_: str, **fields) -> None:
    ws.send(json.dumps({"type": type_, **fields}))


def quiet_state(ws) -> dict:
    """The session's state as it is, asked for with `pause` (which changes nothing)."""
    send(ws, "pause")
    return ws.recv_json("state")


def assert_same_numbers(readout: dict, oracle: Trainer) -> None:
    """B's `progress` (in a step, metrics or state) against an engine trainer, exactly."""
    m = oracle.metrics()
    assert readout["step"] == oracle.step_count and readout["epoch"] == oracle.epoch
    assert readout["loss"] == m["loss"] and readout["accuracy"] == m["accuracy"]
    assert readout["grad_norms"] == m["grad_norms"]


def weights_frame(ws, step: int) -> tuple[dict, dict]:
    """The first weights frame at A's `step`: (header, {name: flat array})."""

    def wanted(d):
        return (
            "binary" in d and d["binary"][0]["kind"] == "frame" and d["binary"][0]["step"] == step
        )

    header, arrays = ws.recv_until(wanted)["binary"]
    return header, maps.frame_arrays(header, arrays)


@pytest.mark.parametrize("changes", STRUCTURAL, ids=lambda c: "+".join(c))
def test_a_structural_comparison_restarts_both_runs_and_b_is_a_network_of_its_own(live, changes):
    with LiveTab.open(live.ws_url) as ws:
        send(ws, "configure", config={"dataset": "spiral", "seed": 3, "noise": 0.1})
        ws.recv_json("state")
        send(ws, "add_point", **POINT)  # a hand edit B must train on too
        ws.recv_json("state")
        send(ws, "step", count=7)
        ws.recv_json("step")
        send(ws, "compare", config=changes)
        state = ws.recv_json("state")
        b = state["compare"]
        a_config = state["config"]
        b_config = Config.from_dict(a_config).replace(**changes).to_dict()
        assert a_config["dataset"] == "spiral" and a_config["hidden"] == [4, 2]
        assert b["config"] == b_config and b["changes"] == {k: b_config[k] for k in changes}
        assert all(b["config"][k] != a_config[k] for k in changes)
        assert state["metrics"]["step"] == b["metrics"]["step"] == 0  # both restarted
        a_oracle, b_oracle = Trainer(a_config), Trainer(b_config)
        for t in (a_oracle, b_oracle):
            t.add_point(POINT["x1"], POINT["x2"], POINT["label"], POINT["split"])
        assert state["params"] == a_oracle.parameters()  # A from the seed again
        assert_same_numbers(b["metrics"], b_oracle)
        sizes = (len(b_config["features"]), *b_config["hidden"], 1)
        assert b_oracle.config.layer_sizes == sizes
        assert len(b["metrics"]["grad_norms"]) == len(sizes) - 1  # one per layer of B's own

        send(ws, "step", count=12)
        step = ws.recv_json("step")
        a_oracle.run(12)
        b_oracle.run(12)
        assert step["loss"] == a_oracle.metrics()["loss"]
        assert_same_numbers(step["compare"], b_oracle)
        assert step["compare"]["loss"] != step["loss"]
        # the frame carries both runs' weights, B's laid out by B's own model
        a_model, b_model = state["model"], b["model"]
        assert b_model == b_oracle.model() and a_model == a_oracle.model()
        assert (b_model["key"] == a_model["key"]) == (changes == {"init": "he"})  # weights only
        header, got = weights_frame(ws, 12)
        assert (header["model"], header["compare_model"]) == (a_model["key"], b_model["key"])
        a_params = maps.params_of(got["params"], a_model)
        b_params = maps.params_of(got["compare_params"], b_model)
        maps.assert_arrays_are(a_params, maps.engine_params(a_oracle.eval_arrays()), np.float32)
        maps.assert_arrays_are(b_params, maps.engine_params(b_oracle.eval_arrays()), np.float32)
        maps.assert_arrays_are(
            maps.grads_of(got["grads"], a_model),
            maps.engine_grads(a_oracle.last_gradients()),
            np.float32,
        )
        # B's maps, made from them, are B's network's, not A's
        b_maps = maps.assert_maps_match(b_params, b_model, b_oracle)
        maps.assert_maps_match(a_params, a_model, a_oracle)
        assert np.abs(b_maps["output"] - a_oracle.grid(40).output).max() > 1e-3


def test_edits_of_a_keep_b_structurally_different(live):
    changes = {"batch_norm": True, "hidden": [6]}
    with LiveTab.open(live.ws_url) as ws:
        send(
            ws,
            "configure",
            config={
                "dataset": "circle",
                "seed": 5,
                "noise": 0.1,
                "batch_size": 8,
                "hidden": [4, 4],
            },
        )
        a_config = ws.recv_json("state")["config"]
        send(ws, "compare", config=changes)
        ws.recv_json("state")
        a = Trainer(a_config)
        b = Trainer({**a_config, **changes})

        def check(progress: dict, state: dict | None = None) -> None:
            assert_same_numbers(progress, b)
            if state is not None:
                assert state["params"] == a.parameters()
                assert state["compare"]["config"]["batch_norm"] is True
                assert state["compare"]["config"]["hidden"] == [6]

        def stepped(count: int) -> None:
            send(ws, "step", count=count)
            step = ws.recv_json("step")
            a.run(count)
            b.run(count)
            assert step["loss"] == a.metrics()["loss"]
            check(step["compare"])

        stepped(10)
        # a point added, one removed: the same edits on both; each keeps its weights and step
        send(ws, "add_point", x1=1.0, x2=1.0, label=0, split="train")
        state = ws.recv_json("state")
        for t in (a, b):
            t.add_point(1.0, 1.0, 0, "train")
        assert state["compare"]["metrics"]["step"] == 10
        check(state["compare"]["metrics"], state)
        send(ws, "remove_point", split="train", index=3)
        ws.recv_json("state")
        for t in (a, b):
            t.remove_point("train", 3)
        stepped(5)
        # a live setting reaches both
        send(ws, "set", config={"learning_rate": 0.1})
        state = ws.recv_json("state")
        assert state["compare"]["config"]["learning_rate"] == 0.1
        for t in (a, b):
            t.configure({"learning_rate": 0.1})
        stepped(3)
        # A's weights set by hand: B keeps its own network and weights
        weights = [(0.5 * np.asarray(w)).tolist() for w in state["params"]["weights"]]
        send(ws, "set_params", weights=weights, biases=state["params"]["biases"])
        state = ws.recv_json("state")
        a.set_parameters(weights, state["params"]["biases"])
        check(state["compare"]["metrics"], state)
        stepped(2)
        # a data change: both restart from the seed on the new points, B keeps its structure
        send(ws, "configure", config={"noise": 0.2})
        state = ws.recv_json("state")
        a = Trainer({**a_config, "learning_rate": 0.1, "noise": 0.2})
        b = Trainer({**a.config.to_dict(), **changes})
        assert state["metrics"]["step"] == state["compare"]["metrics"]["step"] == 0
        check(state["compare"]["metrics"], state)
        stepped(4)
        # A's structure changes: B follows but in its compared fields, both restart
        send(ws, "configure", config={"hidden": [3, 3], "init": "xavier"})
        state = ws.recv_json("state")
        a = Trainer(state["config"])
        b = Trainer({**state["config"], **changes})
        assert state["config"]["hidden"] == [3, 3]
        assert state["compare"]["config"]["init"] == "xavier"
        check(state["compare"]["metrics"], state)
        stepped(6)
        # step back undoes both
        send(ws, "step_back")
        state = ws.recv_json("state")
        assert state["metrics"]["step"] == state["compare"]["metrics"]["step"] == 5
        # an import: the snapshot's run, both restarted, B still its own network
        send(ws, "export")
        snap = ws.recv_json("snapshot")["snapshot"]
        snap["edits"] = [["add", "test", -2.0, 2.0, 1]]
        send(ws, "import", snapshot=snap)
        state = ws.recv_until(lambda d: d.get("type") == "state")
        a = Trainer(state["config"])
        b = Trainer({**state["config"], **changes})
        for t in (a, b):
            t.add_point(-2.0, 2.0, 1, "test")
        assert state["metrics"]["step"] == 0
        check(state["compare"]["metrics"], state)
        stepped(7)


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"seed": 4}, "bad_config", "seed"),
        ({"dataset": "xor"}, "bad_config", "dataset"),
        ({"init": "he", "n_points": 100}, "bad_config", "n_points"),
        ({"noise": 0.2}, "bad_config", "noise"),
        ({"no_such_field": 1}, "bad_config", "no_such_field"),
        ({"hidden": [99]}, "bad_config", "hidden"),
        ({"init": "glorot"}, "bad_config", "init"),
        ({"batch_norm": True}, "bad_config", "batch_size"),  # A's batch size is 1
        ({"output_activation": "softmax"}, "bad_config", "loss"),  # no head for a binary task
    ],
)
@pytest.mark.parametrize("running", [None, {"optimizer": "adam"}, {"init": "xavier"}])
def test_a_refused_comparison_leaves_the_session_as_it_was(live, changes, code, field, running):
    with LiveTab.open(live.ws_url) as ws:
        send(ws, "configure", config={"dataset": "xor", "seed": 2, "batch_size": 1})
        ws.recv_json("state")
        if running is not None:
            send(ws, "compare", config=running)
            ws.recv_json("state")
        send(ws, "step", count=4)
        ws.recv_json("step")
        before = quiet_state(ws)
        send(ws, "compare", config=changes)
        error = ws.recv_json("error")
        assert (error["code"], error["field"]) == (code, field), error
        assert quiet_state(ws) == before


def test_a_structural_comparison_cannot_keep_a_weights(live):
    with LiveTab.open(live.ws_url) as ws:
        send(ws, "step", count=3)
        ws.recv_json("step")
        before = quiet_state(ws)
        send(ws, "compare", config={"init": "he"}, restart=False)
        assert ws.recv_json("error")["code"] == "rejected"
        assert quiet_state(ws) == before
        # a live-only comparison may keep them: B is a copy of A at step 3
        send(ws, "compare", config={"learning_rate": 0.3}, restart=False)
        state = ws.recv_json("state")
        assert state["metrics"]["step"] == state["compare"]["metrics"]["step"] == 3


def test_an_edit_b_cannot_follow_is_refused_and_changes_neither_run(live):
    with LiveTab.open(live.ws_url) as ws:
        send(ws, "compare", config={"batch_norm": True})
        ws.recv_json("state")
        send(ws, "step", count=5)
        ws.recv_json("step")
        before = quiet_state(ws)
        send(ws, "set", config={"batch_size": 1})  # fine for A, not beside B's batch norm
        error = ws.recv_json("error")
        assert (error["code"], error["field"]) == ("bad_config", "batch_size")
        assert "run B" in error["message"]
        assert quiet_state(ws) == before


def test_every_config_field_is_live_structural_or_shared_with_a(live):
    with LiveTab.open(live.ws_url) as tab:
        names = {row["name"] for row in tab.hello["schema"]}
        live_fields = set(tab.hello["live_fields"])
    assert STRUCTURE_FIELDS == {"features", "hidden", "init", "batch_norm", "residual"}
    assert SAME_FIELDS == {"dataset", "n_points", "noise", "train_fraction", "seed", "n_classes"}
    assert live_fields | STRUCTURE_FIELDS | SAME_FIELDS == names
    assert len(live_fields) + len(STRUCTURE_FIELDS) + len(SAME_FIELDS) == len(names)

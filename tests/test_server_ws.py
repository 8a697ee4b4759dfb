"""Every message type through Starlette's TestClient WebSocket, against the real engine."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from engine.config import (
    BINARY_DATASETS,
    FEATURES,
    HEADS,
    LIVE_FIELDS,
    MULTICLASS_DATASETS,
    REGRESSION_DATASETS,
    Config,
)
from engine.features import feature_label
from server import frames
from server.app import create_app
from server.protocol import PROTOCOL_VERSION, ErrorCode
from server.settings import Settings
from tests.helpers import maps
from tests.helpers.tabs import Tab


@pytest.fixture
def session(app, tab):
    return app.state.sessions.sessions[tab.hello["session"]]


def weights(state: dict) -> list:
    return state["params"]["weights"]


def test_hello_state_and_first_frame(tab, session):
    h = tab.hello
    assert h["type"] == "hello" and h["protocol"] == PROTOCOL_VERSION
    assert isinstance(h["session"], str) and len(h["session"]) >= 16 and h["resumed"] is False
    assert h["defaults"] == Config().to_dict()
    assert {row["name"] for row in h["schema"]} == set(Config().to_dict())
    assert h["limits"]["max_message_bytes"] == 65536
    assert not {"grid_max", "grid", "neuron_grid"} & set(h["limits"])  # the page's own now
    assert h["tasks"] == {
        "binary": list(BINARY_DATASETS),
        "regression": list(REGRESSION_DATASETS),
        "multiclass": list(MULTICLASS_DATASETS),
    }
    assert (
        sum(h["tasks"].values(), [])
        == [row for row in h["schema"] if row["name"] == "dataset"][0]["choices"]
    )
    assert {t: [tuple(p) for p in pairs] for t, pairs in h["heads"].items()} == {
        t: list(pairs) for t, pairs in HEADS.items()
    }
    assert set(h["live_fields"]) == LIVE_FIELDS
    assert h["feature_labels"] == {name: feature_label(name) for name in FEATURES}
    s = tab.state
    assert s["metrics"]["step"] == 0 and s["playing"] is False
    assert len(s["points"]["train"]["x"]) == 250 and len(s["history"]) == 1
    assert [np.shape(w) for w in weights(s)] == [(2, 4), (4, 2), (2, 1)]
    assert "view" not in s
    model = s["model"]
    assert model == {
        "sizes": [2, 4, 2, 1],
        "activations": ["tanh", "tanh"],
        "output_activation": "tanh",
        "batch_norm": False,
        "skip": [False, False, False],
        "constants": {"leaky_slope": 0.01, "elu_alpha": 1.0},
        "features": ["x1", "x2"],
        "key": model["key"],
    }
    header, frame = tab.weights(model)
    assert header["step"] == 0 and header["epoch"] == 0
    assert frame["grads"] is None  # no update yet, so no gradients
    with session.lock:
        trainer = session.trainer
        assert model == trainer.model()
        maps.assert_arrays_are(
            frame["params"], maps.engine_params(trainer.eval_arrays()), np.float32
        )
        maps.assert_maps_match(frame["params"], model, trainer)
    for l, p in enumerate(frame["params"]):  # without batch norm: the state's own weights
        np.testing.assert_array_equal(p["W"], np.float32(weights(s)[l]))
        np.testing.assert_array_equal(p["b"], np.float32(s["params"]["biases"][l]))
    # the first frames are weights frames only: no features frame any more
    tab.ask({"type": "step"}, "step")
    assert {frames.unpack(f)[0]["kind"] for f in tab.frames} <= {"frame", "record"}


def test_bare_step_makes_exactly_one_update(tab, session):
    before = np.array(weights(tab.state)[0])
    m = tab.ask({"type": "step"}, "step")
    assert m["step"] == 1 and m["record_step"] == 1 and m["applied"] and m["count"] == 1
    assert m["epoch"] == 0 and len(m["batch"]) == 10
    assert set(m["loss"]) == {"train", "test"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in m["loss"].values())
    assert session.trainer.step_count == 1
    header, rec = tab.frame("record")
    assert header["step"] == 1 and header["applied"] is True
    assert rec[("dW", 0)].shape == (2, 4) and rec[("dW_applied", 2)].shape == (2, 1)
    # plain SGD: the applied update is −α·∂L/∂W, and W shown is the weight after it
    np.testing.assert_allclose(rec[("dW_applied", 0)], -0.03 * rec[("dW", 0)], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(rec[("W", 0)], before + rec[("dW_applied", 0)], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(rec[("W", 0)], session.trainer.parameters()["weights"][0], rtol=1e-6)
    # the weights frame after it carries the same gradients and the weights after the update
    header, frame = tab.weights(session.trainer.model())
    assert header["step"] == 1
    for l in range(3):
        np.testing.assert_array_equal(frame["grads"][l]["dW"], rec[("dW", l)])
        np.testing.assert_array_equal(frame["grads"][l]["db"], rec[("db", l)])
        np.testing.assert_array_equal(frame["grads"][l]["dz"], rec[("delta_mean", l)])
        np.testing.assert_array_equal(frame["params"][l]["W"], rec[("W", l)])


def test_step_counts_epochs_and_phases(tab, session):
    assert tab.ask({"type": "step", "count": 5}, "step")["step"] == 5
    m = tab.ask({"type": "step", "unit": "epoch"}, "step")
    assert m["epoch"] == 1 and m["step"] == 25  # 250 training points, batches of 10
    phases = [tab.ask({"type": "step", "unit": "phase"}, "step") for _ in range(4)]
    assert [p["phase"] for p in phases] == ["forward", "loss", "backward", "update"]
    assert [p["applied"] for p in phases] == [False, False, False, True]
    assert [p["step"] for p in phases] == [25, 25, 25, 26]
    assert all(p["record_step"] == 26 for p in phases)
    assert session.trainer.step_count == 26


def test_configure_answers_state_with_the_new_data(tab, session):
    s = tab.ask({"type": "configure", "config": {"dataset": "xor", "hidden": [3]}}, "state")
    assert s["config"]["dataset"] == "xor" and s["config"]["hidden"] == [3]
    assert s["points"] is not None and s["metrics"]["step"] == 0
    assert [np.shape(w) for w in weights(s)] == [(2, 3), (3, 1)]
    assert session.trainer.config.dataset == "xor"
    assert s["model"]["sizes"] == [2, 3, 1] and s["model"]["key"] != tab.state["model"]["key"]
    _, frame = tab.weights(s["model"])
    assert [p["W"].shape for p in frame["params"]] == [(2, 3), (3, 1)]
    with session.lock:
        maps.assert_maps_match(frame["params"], s["model"], session.trainer)


def test_configure_softmax_makes_one_map_per_class(tab, session):
    s = tab.ask({"type": "configure", "config": {"dataset": "blobs", "n_classes": 4}}, "state")
    assert s["config"]["output_activation"] == "softmax"
    assert s["model"]["output_activation"] == "softmax" and s["model"]["sizes"][-1] == 4
    _, frame = tab.weights(s["model"])
    with session.lock:
        out = maps.assert_maps_match(frame["params"], s["model"], session.trainer)["output"]
    assert out.shape == (4, 40, 40)
    # K class probabilities: the four maps of one cell add up to 1
    np.testing.assert_allclose(out.sum(axis=0), 1.0, rtol=0, atol=1e-12)


def test_set_changes_a_live_hyperparameter_and_keeps_weights(tab, session):
    s = tab.ask({"type": "set", "config": {"learning_rate": 0.3, "optimizer": "adam"}}, "state")
    assert s["config"]["learning_rate"] == 0.3 and s["config"]["optimizer"] == "adam"
    assert weights(s) == weights(tab.state) and s["points"] is None


def test_play_streams_the_loss_pair_until_pause(tab, session):
    s = tab.ask({"type": "play", "speed": 2}, "state")
    assert s["playing"] is True and s["speed"] == 2
    steps = []
    for _ in range(5):
        m = tab.until("metrics")
        assert m["playing"] is True and m["updates"] == 2
        assert set(m["loss"]) == {"train", "test"} and all(
            isinstance(v, float) for v in m["loss"].values()
        )
        steps.append(m["step"])
    assert steps == sorted(steps) and steps[-1] >= 10
    header, frame = tab.weights(s["model"])  # play frames keep the backward view live
    assert header["step"] >= 10 and frame["grads"][0]["dW"].shape == (2, 4)
    assert frame["grads"][1]["dz"].shape == (2,) and frame["grads"][2]["dz"].shape == (1,)
    assert np.abs(frame["grads"][0]["dW"]).sum() > 0
    s = tab.ask({"type": "pause"}, "state")
    assert s["playing"] is False and not session.playing
    count = session.trainer.step_count
    tab.ask({"type": "export"}, "snapshot")  # a round trip later, training has not moved
    assert session.trainer.step_count == count == s["metrics"]["step"]


def test_play_stops_with_a_stopped_event_on_divergence(tab, session):
    tab.ask(
        {
            "type": "configure",
            "config": {"dataset": "plane", "output_activation": "linear", "learning_rate": 10.0},
        },
        "state",
    )
    tab.ask({"type": "play", "speed": 5}, "state")
    stop = tab.until("stopped")
    assert stop["reason"] == "diverged" and "learning rate" in stop["message"]
    assert not session.playing
    params = np.concatenate([np.ravel(w) for w in session.trainer.parameters()["weights"]])
    assert np.isfinite(params).all()


def test_reset_restores_the_seeded_weights(tab):
    tab.ask({"type": "step", "count": 3}, "step")
    s = tab.ask({"type": "reset"}, "state")
    assert s["metrics"]["step"] == 0 and weights(s) == weights(tab.state)
    assert len(s["history"]) == 1


def test_reset_with_data_drops_the_points_added_by_hand(tab):
    n = len(tab.state["points"]["train"]["x"])
    tab.ask({"type": "add_point", "x1": 1.0, "x2": 2.0, "label": 1}, "state")
    s = tab.ask({"type": "reset"}, "state")  # weights only: the added point stays
    assert s.get("points") is None or len(s["points"]["train"]["x"]) == n + 1
    s = tab.ask({"type": "reset", "data": True}, "state")
    assert len(s["points"]["train"]["x"]) == n and s["points"] == tab.state["points"]
    assert weights(s) == weights(tab.state)


def test_step_back_undoes_one_update(tab):
    tab.ask({"type": "step"}, "step")
    after_one = tab.ask({"type": "export"}, "snapshot")["snapshot"]["params"]
    tab.ask({"type": "step"}, "step")
    s = tab.ask({"type": "step_back"}, "state")
    assert s["metrics"]["step"] == 1
    assert tab.ask({"type": "export"}, "snapshot")["snapshot"]["params"] == after_one


def test_inspect_gives_the_chain_rule_numbers(tab):
    tab.ask({"type": "step"}, "step")
    r = tab.ask({"type": "inspect", "layer": 1, "neuron": 0, "source": 3}, "inspection")["result"]
    assert r["step"] == 1 and "neuron" in r and "weight" in r
    r = tab.ask({"type": "inspect", "layer": 0, "neuron": 2, "example": 7}, "inspection")
    assert r["result"]["example"] == 7 and "weight" not in r["result"]


def test_set_weight_and_bias(tab, session):
    s = tab.ask(
        {"type": "set_weight", "layer": 1, "source": 3, "neuron": 1, "value": -2.5}, "state"
    )
    assert weights(s)[1][3][1] == -2.5
    s = tab.ask({"type": "set_weight", "layer": 2, "neuron": 0, "value": 0.75}, "state")
    assert s["params"]["biases"][2][0] == 0.75
    assert session.trainer.parameters()["biases"][2][0] == 0.75


def test_add_and_remove_a_point(tab):
    s = tab.ask({"type": "add_point", "x1": 1.5, "x2": -2.0, "label": 1}, "state")
    assert len(s["points"]["train"]["x"]) == 251 and s["points"]["train"]["x"][-1] == [1.5, -2.0]
    s = tab.ask({"type": "remove_point", "split": "train", "index": 250}, "state")
    assert len(s["points"]["train"]["x"]) == 250


def test_export_then_import_restores_the_session(tab, session, hash_state):
    tab.ask({"type": "step", "count": 3}, "step")
    snap = tab.ask({"type": "export"}, "snapshot")["snapshot"]
    saved = hash_state(session)
    tab.ask({"type": "step", "count": 4}, "step")
    s = tab.ask({"type": "import", "snapshot": snap}, "state")
    assert s["metrics"]["step"] == 3 and s["points"] is not None
    assert hash_state(session) == saved


def test_gradcheck(tab):
    tab.ask({"type": "step"}, "step")
    r = tab.ask({"type": "gradcheck"}, "gradcheck")["result"]
    assert r["n_checked"] > 0 and r["max_rel_error"] < 1e-5


def test_view_answers_with_the_state_and_changes_nothing(tab, session, hash_state):
    tab.ask({"type": "step", "count": 2}, "step")
    before = hash_state(session)
    s = tab.ask({"type": "view"}, "state")
    assert s["metrics"]["step"] == 2 and "view" not in s
    assert s["model"] == tab.state["model"]
    assert s["params"] == session.trainer.parameters()
    assert hash_state(session) == before


@pytest.mark.parametrize(
    "fields",
    [{"grid": 50}, {"neuron_grid": 10}, {"focus": {"layer": 1, "neuron": 2}}, {"focus": None}],
)
def test_a_view_with_a_grid_or_focus_is_an_unknown_field(tab, session, hash_state, fields):
    before = hash_state(session)
    err = tab.ask({"type": "view", **fields}, "error")
    assert err["code"] == "unknown_field" and err["field"] == next(iter(fields))
    assert err["re"] == "view" and hash_state(session) == before
    assert tab.ask({"type": "step"}, "step")["step"] == 1  # the connection is still up


def test_state_model_describes_a_batch_norm_residual_network(tab, session):
    config = {
        "hidden": [4, 4, 3],
        "batch_norm": True,
        "residual": True,
        "activation": ["relu", "elu", "swish"],
        "features": ["x1", "x2", "x1x2"],
    }
    s = tab.ask({"type": "configure", "config": config}, "state")
    model = s["model"]
    # an engine network built on its own from the same config (not the session's trainer)
    from engine.network import Network

    net = Network(
        [3, 4, 4, 3, 1], activation=["relu", "elu", "swish"], batch_norm=True, residual=True
    )
    assert {k: v for k, v in model.items() if k not in ("features", "key")} == net.describe()
    assert model["skip"] == [False, True, False, False]  # only 4 → 4 keeps its width
    assert model["batch_norm"] is True and model["features"] == ["x1", "x2", "x1x2"]
    tab.ask({"type": "step", "count": 5}, "step")  # running statistics move off 0 and 1
    header, frame = tab.weights(model)
    while header["step"] < 5:
        header, frame = tab.weights(model)
    assert [sorted(p) for p in frame["params"]] == [["W", "b", "scale", "shift"]] * 3 + [["W", "b"]]
    with session.lock:
        trainer = session.trainer
        maps.assert_arrays_are(
            frame["params"], maps.engine_params(trainer.eval_arrays()), np.float32
        )
        maps.assert_arrays_are(
            frame["grads"], maps.engine_grads(trainer.last_gradients()), np.float32
        )
        maps.assert_maps_match(frame["params"], model, trainer)
        assert not np.allclose(trainer.net.running_mean[0], 0)


@pytest.mark.parametrize(
    "query",
    [f"?protocol={PROTOCOL_VERSION - 1}", f"?protocol={PROTOCOL_VERSION + 1}", "?protocol=three"],
)
def test_another_protocol_is_closed_with_4006_naming_the_servers(client, query):
    with pytest.raises(WebSocketDisconnect) as e, client.websocket_connect("/ws" + query) as ws:
        Tab(ws).recv()
    assert e.value.code == 4006 and f"protocol {PROTOCOL_VERSION}" in e.value.reason
    # the version is read from the code; the documentation and the page say the same one
    docs = (Path(__file__).parents[1] / "docs/protocol.md").read_text(encoding="utf-8")
    assert f"# Backprop Lab WebSocket protocol, version {PROTOCOL_VERSION}\n" in docs


@pytest.mark.parametrize("query", ["", f"?protocol={PROTOCOL_VERSION}"])
def test_this_protocol_or_none_is_served(client, query):
    with client.websocket_connect("/ws" + query) as ws:
        tab = Tab(ws)
        assert tab.until("hello")["protocol"] == PROTOCOL_VERSION
        assert tab.until("state")["metrics"]["step"] == 0


INVALID = [
    ("not json", "malformed"),
    ("[1, 2]", "malformed"),
    ('{"type": 3}', "wrong_type"),
    ('{"no_type": 1}', "missing_field"),
    ('{"type": "jump"}', "unknown_type"),
    ('{"type": "step", "extra": 1}', "unknown_field"),
    ('{"type": "configure"}', "missing_field"),
    ('{"type": "step", "count": "2"}', "wrong_type"),
    ('{"type": "step", "count": 2.0}', "wrong_type"),
    ('{"type": "step", "count": true}', "wrong_type"),
    ('{"type": "step", "count": 0}', "out_of_range"),
    ('{"type": "step", "count": 1001}', "out_of_range"),
    ('{"type": "step", "unit": "epoch", "count": 11}', "out_of_range"),
    ('{"type": "step", "unit": "minibatch"}', "out_of_range"),
    ('{"type": "play", "speed": 201}', "out_of_range"),
    ('{"type": "play", "speed": NaN}', "not_finite"),
    ('{"type": "set", "config": {"learning_rate": Infinity}}', "not_finite"),
    ('{"type": "set", "config": {"learning_rate": 1e999}}', "not_finite"),
    ('{"type": "set", "config": {"learning_rate": 0}}', "bad_config"),
    ('{"type": "set", "config": {"learning_rate": -0.1}}', "bad_config"),
    ('{"type": "set", "config": {"learning_rate": 10.5}}', "bad_config"),
    ('{"type": "set", "config": {"hidden": [3]}}', "bad_config"),
    ('{"type": "configure", "config": {"hidden": [33]}}', "bad_config"),
    ('{"type": "configure", "config": {"hidden": [2, 2, 2, 2, 2, 2, 2, 2, 2]}}', "bad_config"),
    ('{"type": "configure", "config": {"n_points": 5000}}', "bad_config"),
    ('{"type": "configure", "config": {"wings": 2}}', "bad_config"),
    ('{"type": "configure", "config": {"seed": 100000000000000000000}}', "not_finite"),
    ('{"type": "view", "grid": 100}', "unknown_field"),
    ('{"type": "view", "neuron_grid": 20}', "unknown_field"),
    ('{"type": "set_weight", "layer": 0, "neuron": 0, "source": 0, "value": 1000}', "out_of_range"),
    ('{"type": "set_weight", "layer": 5, "neuron": 0, "source": 0, "value": 1}', "rejected"),
    ('{"type": "inspect", "layer": 0, "neuron": 9}', "rejected"),
    ('{"type": "add_point", "x1": 0, "x2": 0, "label": 7}', "rejected"),
    ('{"type": "add_point", "x1": 50, "x2": 0, "label": 1}', "rejected"),
    ('{"type": "remove_point", "split": "train", "index": 999}', "rejected"),
    ('{"type": "remove_point", "split": "dev", "index": 0}', "out_of_range"),
    ('{"type": "import", "snapshot": {"version": 99}}', "rejected"),
    ('{"type": "import", "snapshot": []}', "wrong_type"),
    ('{"type": "step_back"}', "rejected"),
    ('{"type": "step", "count": 1}' + " " * 70_000, "too_large"),
    ('{"type": "configure", "config": {"x": "' + "a" * 70_000 + '"}}', "too_large"),
    ('{"type":"import","snapshot":{"pad": "' + "a" * 70_000 + '"}}', "rejected"),
    ("[" * 5000 + "]" * 5000, "malformed"),
]


@pytest.mark.parametrize(("text", "code"), INVALID)
def test_every_invalid_message_gets_a_typed_error_and_changes_nothing(
    tab, session, hash_state, text, code
):
    before = hash_state(session)
    tab.send(text)
    err = tab.until("error")
    assert set(err) >= {"type", "code", "message"} and err["code"] == code, err
    assert err["code"] in {c.value for c in ErrorCode}
    assert hash_state(session) == before
    assert tab.ask({"type": "step"}, "step")["step"] == 1  # the connection is still up


def test_binary_frame_gets_an_error(tab, session, hash_state):
    before = hash_state(session)
    tab.ws.send_bytes(b'{"type": "step"}')
    assert tab.until("error")["code"] == "binary_frame"
    assert hash_state(session) == before


def test_bad_config_names_its_field(tab):
    tab.send({"type": "configure", "config": {"noise": 0.9}})
    err = tab.until("error")
    assert err["field"] == "noise" and err["re"] == "configure" and "0.5" in err["message"]


def test_internal_fault_is_logged_answered_and_survived(tab, session, caplog, monkeypatch):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(session.trainer, "gradcheck_job", broken)
    tab.send({"type": "gradcheck"})
    err = tab.until("error")
    assert err["code"] == "internal" and "boom" not in err["message"]
    assert any("boom" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    assert tab.ask({"type": "step"}, "step")["step"] == 1


def test_a_flood_is_rate_limited_per_client():
    app = create_app(Settings(trusted_hosts=["testserver"], rate_burst=5, rate_per_s=0.5))
    with TestClient(app) as c, c.websocket_connect("/ws") as ws:
        tab = Tab(ws)
        tab.until("state")
        for _ in range(12):
            tab.send({"type": "export"})
        replies = [tab.json() for _ in range(6)]
        # the five in the burst are answered in order; the refusal goes out at once, and
        # only once while the flood lasts
        assert sorted(r["type"] for r in replies) == ["error"] + ["snapshot"] * 5
        assert [r["code"] for r in replies if r["type"] == "error"] == ["rate_limited"]


def test_resume_by_session_id(client):
    with client.websocket_connect("/ws") as ws:
        tab = Tab(ws)
        sid = tab.until("hello")["session"]
        tab.ask({"type": "step", "count": 3}, "step")
        snap = tab.ask({"type": "export"}, "snapshot")["snapshot"]
    with client.websocket_connect(f"/ws?session={sid}") as ws:
        tab = Tab(ws)
        h = tab.until("hello")
        assert h["session"] == sid and h["resumed"] is True
        s = tab.until("state")
        assert s["metrics"]["step"] == 3 and len(s["history"]) == len(snap["history"])
        assert tab.ask({"type": "export"}, "snapshot")["snapshot"]["params"] == snap["params"]
    with client.websocket_connect("/ws?session=unknown-session-id-000") as ws:
        h = Tab(ws).until("hello")
        assert h["resumed"] is False and h["session"] != sid


def test_idle_sessions_expire():
    app = create_app(Settings(trusted_hosts=["testserver"], session_ttl_s=0.05))
    with TestClient(app) as c:
        with c.websocket_connect("/ws") as ws:
            sid = Tab(ws).until("hello")["session"]
        time.sleep(0.2)
        with c.websocket_connect(f"/ws?session={sid}") as ws:
            h = Tab(ws).until("hello")
            assert h["resumed"] is False and h["session"] != sid
        assert sid not in app.state.sessions.sessions


def test_the_session_cap_closes_with_a_4xxx_code_and_reason():
    app = create_app(Settings(trusted_hosts=["testserver"], max_sessions=2))
    with TestClient(app) as c, c.websocket_connect("/ws") as a, c.websocket_connect("/ws") as b:
        Tab(a).until("hello")
        Tab(b).until("hello")
        with pytest.raises(WebSocketDisconnect) as e, c.websocket_connect("/ws") as third:
            Tab(third).recv()
        assert e.value.code == 4003 and "full" in e.value.reason


def test_leave_ends_the_session_at_once_and_frees_its_slot():
    app = create_app(Settings(trusted_hosts=["testserver"], max_sessions=1))
    with TestClient(app) as c:
        with c.websocket_connect("/ws") as ws:
            tab = Tab(ws)
            sid = tab.until("hello")["session"]
            tab.ask({"type": "step", "count": 2}, "step")
            tab.send({"type": "leave"})
            with pytest.raises(WebSocketDisconnect) as e:
                while True:
                    tab.recv()
            assert e.value.code == 4002
        assert app.state.sessions.sessions == {}
        # the one slot is free again, and the old id no longer resumes anything
        with c.websocket_connect(f"/ws?session={sid}") as ws:
            tab = Tab(ws)
            h = tab.until("hello")
            assert h["resumed"] is False and h["session"] != sid
            assert tab.until("state")["metrics"]["step"] == 0
            tab.send({"type": "leave"})
            with pytest.raises(WebSocketDisconnect):
                while True:
                    tab.recv()
        assert app.state.sessions.sessions == {}


def test_leave_with_a_field_is_refused_and_the_session_stays(tab, app):
    err = tab.ask({"type": "leave", "now": True}, "error")
    assert err["code"] == "unknown_field" and err["field"] == "now"
    assert tab.hello["session"] in app.state.sessions.sessions


def test_a_second_connection_to_a_session_replaces_the_first(client):
    with client.websocket_connect("/ws") as a:
        first = Tab(a)
        sid = first.until("hello")["session"]
        with client.websocket_connect(f"/ws?session={sid}") as b:
            assert Tab(b).until("hello")["resumed"] is True
            with pytest.raises(WebSocketDisconnect) as e:
                while True:
                    first.recv()
            assert e.value.code == 4001


def test_play_takes_a_rate_in_updates_a_second(tab, session):
    s = tab.ask({"type": "play", "rate": 750}, "state")
    assert s["playing"] and s["rate"] == 750 and s["speed"] == 25
    s = tab.ask({"type": "play", "rate": 2}, "state")  # slower than the frames: one a frame
    assert s["rate"] == 2 and s["speed"] == 1 and session.period == 0.5
    tab.send({"type": "play", "rate": 10**5})
    err = tab.json()
    while err["type"] != "error":
        err = tab.json()
    assert err["code"] == "out_of_range" and err["field"] == "rate"
    tab.ask({"type": "pause"}, "state")

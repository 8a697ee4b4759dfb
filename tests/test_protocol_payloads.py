"""Typed payloads (server/payloads.py) carry what the engine wrote, number for number and key
for key; integer labels stay integers on the wire; `configure` is the one config message and
its `state` says what the engine did with the change (`set` is a deprecated alias)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from engine.config import FIELD_BY_NAME, FIELDS
from engine.trainer import Trainer
from server import frames
from server.messages_in import CLIENT_MODELS, Configure, Set
from server.protocol import ErrorCode

ROUND = re.compile(r"\d\.0\b")  # a float printed where an integer was


def _raw(tab, type_: str) -> tuple[str, dict]:
    """The next `type_` message's text and JSON (frames skipped)."""
    while True:
        m = tab.ws.receive()
        if m.get("text"):
            msg = json.loads(m["text"])
            assert msg["type"] != "error", msg
            if msg["type"] == type_:
                return m["text"], msg


def _weights(tab) -> np.ndarray:
    tab.send({"type": "view"})
    return np.concatenate([np.ravel(w) for w in tab.until("state")["params"]["weights"]])


def test_configure_says_what_the_engine_did(tab):
    tab.ask({"type": "step", "count": 5}, "step")
    before = _weights(tab)
    live = tab.ask({"type": "configure", "config": {"learning_rate": 0.1}}, "state")
    assert live["effect"] == "live" and live["metrics"]["step"] == 5
    assert live["points"] is None and live["history"] is None  # nothing rebuilt: not resent
    assert np.array_equal(_weights(tab), before)  # weights kept
    same = tab.ask({"type": "configure", "config": {"learning_rate": 0.1}}, "state")
    assert same["effect"] is None
    net = tab.ask({"type": "configure", "config": {"hidden": [3]}}, "state")
    assert net["effect"] == "network" and net["metrics"]["step"] == 0
    assert net["history"] is not None and net["points"] is None
    data = tab.ask({"type": "configure", "config": {"dataset": "xor"}}, "state")
    assert data["effect"] == "data" and data["points"] is not None
    model = tab.ask({"type": "configure", "config": {"activation": "relu"}}, "state")
    assert model["effect"] == "model" and model["history"] is None  # weights kept
    # the engine's field table says the same for one field at a time
    names = ("learning_rate", "activation", "hidden", "dataset")
    assert [FIELD_BY_NAME[n].effect.value for n in names] == ["live", "model", "network", "data"]


def test_a_residual_switch_that_fits_no_skip_keeps_the_network(tab):
    # widths 4, 2 leave no layer whose input and output widths match: the engine keeps the
    # network (engine/reconfigure.py effect_of), and the reply says so, not the field's own
    tab.ask({"type": "step", "count": 3}, "step")
    before = _weights(tab)
    state = tab.ask({"type": "configure", "config": {"residual": True}}, "state")
    assert state["effect"] == "none" and state["metrics"]["step"] == 3
    assert np.array_equal(_weights(tab), before)
    assert FIELD_BY_NAME["residual"].effect.value == "network"


def test_set_is_configure_refusing_what_would_not_keep_the_weights(tab):
    state = tab.ask({"type": "set", "config": {"learning_rate": 0.2}}, "state")
    assert state["effect"] == "live" and state["config"]["learning_rate"] == 0.2
    tab.send({"type": "set", "config": {"learning_rate": 0.3, "hidden": [3]}})
    err = tab.json()
    assert (err["type"], err["code"], err["field"], err["re"]) == (
        "error",
        "bad_config",
        "hidden",
        "set",
    )
    tab.send({"type": "view"})
    assert tab.until("state")["config"]["learning_rate"] == 0.2  # refused whole
    assert Configure.model_fields["config"].annotation is Set.model_fields["config"].annotation
    assert {m.__name__ for m in CLIENT_MODELS} >= {"Configure", "Set"}


@pytest.mark.parametrize(
    ("config", "integers"),
    [
        ({"dataset": "xor", "n_points": 40}, True),
        ({"dataset": "blobs", "n_points": 40}, True),
        ({"dataset": "plane", "output_activation": "linear", "n_points": 40}, False),
    ],
)
def test_labels_keep_their_json_type_on_the_wire(tab, config, integers):
    tab.send({"type": "configure", "config": config})
    text, state = _raw(tab, "state")
    labels = state["points"]["train"]["y"] + state["points"]["test"]["y"]
    trainer = Trainer(config)
    assert labels == trainer.points()["train"]["y"] + trainer.points()["test"]["y"]
    assert all(isinstance(y, int) for y in labels) == integers
    ys = re.search(r'"train":\{"x":\[.*?\],"y":\[(.*?)\]', text).group(1)
    if integers:
        assert not ROUND.search(ys), ys[:80]
    tab.send({"type": "add_point", "x1": 0.5, "x2": 0.5, "label": 1 if integers else 0.25})
    _, state = _raw(tab, "state")
    assert state["points"]["train"]["y"][-1] == (1 if integers else 0.25)
    assert isinstance(state["points"]["train"]["y"][-1], int) == integers


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, allow_nan=False)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
def test_the_inspection_is_the_engines_key_for_key(tab, app, optimizer):
    tab.ask({"type": "configure", "config": {"optimizer": optimizer, "hidden": [3]}}, "state")
    tab.ask({"type": "step", "count": 2}, "step")
    session = app.state.sessions.sessions[tab.hello["session"]]
    for msg in (
        {"type": "inspect", "layer": 0, "neuron": 1, "source": 0},
        {"type": "inspect", "layer": 1, "neuron": 0},
        {"type": "inspect", "layer": 0, "neuron": 2, "source": 1, "example": 7},
    ):
        got = tab.ask(msg, "inspection")["result"]
        with session.lock:
            want = session.trainer.explain(
                layer=msg["layer"], j=msg["neuron"], i=msg.get("source"), example=msg.get("example")
            )
        assert _json(got) == _json(want)


def test_gradcheck_and_snapshot_are_the_engines(tab, app):
    tab.ask({"type": "step", "count": 3}, "step")
    session = app.state.sessions.sessions[tab.hello["session"]]
    got = tab.ask({"type": "gradcheck"}, "gradcheck")["result"]
    assert got["passed"] is True and isinstance(got["n_checked"], int)
    snap = tab.ask({"type": "export"}, "snapshot")["snapshot"]
    with session.lock:
        assert _json(snap) == _json(session.trainer.snapshot())
    assert "imported" not in snap  # left out, as the engine leaves it, not null


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"hidden": [2, "wide"]}, "hidden"),
        ({"batch_norm": 1}, "batch_norm"),
        ({"wings": 2}, "wings"),
    ],
)
def test_a_config_value_of_the_wrong_type_is_the_engines_to_name(
    tab, hash_state, app, config, field
):
    session = app.state.sessions.sessions[tab.hello["session"]]
    before = hash_state(session)
    tab.send({"type": "configure", "config": config})
    err = tab.json()
    assert (err["code"], err["field"], err["re"]) == (ErrorCode.BAD_CONFIG, field, "configure")
    assert err["message"].startswith(f"{field}: ")
    assert hash_state(session) == before


def test_every_config_field_has_a_typed_slot():
    from server.payloads import ConfigChanges, ConfigValues

    names = [f.name for f in FIELDS]
    assert list(ConfigChanges.model_fields) == names == list(ConfigValues.model_fields)


def test_frames_layout_constants_are_what_pack_writes():
    t = Trainer({"hidden": [3], "n_points": 20})
    t.step()
    own, _ = frames.session_weights(t)
    header, _ = frames.unpack(own)
    assert header["kind"] in frames.KINDS
    assert [e["name"] for e in header["arrays"]] == list(frames.WEIGHTS_ARRAYS[:2])
    assert {e["dtype"] for e in header["arrays"]} <= set(frames.DTYPES)
    n = int.from_bytes(own[8:12], "little")
    assert (frames.PREFIX_BYTES + n) % frames.HEADER_ALIGN == 0
    assert all(e["offset"] % frames.OFFSET_ALIGN == 0 for e in header["arrays"])


def test_a_snapshot_saved_by_version_5_code_passes_the_typed_import_unchanged():
    """tests/data/snapshot-v1.json (written before payloads were typed): the parser's model
    hands the engine the very same JSON, and the run continues bit for bit."""
    from pathlib import Path

    from server.messages_in import parse_client_message

    text = (Path(__file__).parent / "data" / "snapshot-v1.json").read_text(encoding="utf-8")
    snap = json.loads(text)
    msg = parse_client_message(json.dumps({"type": "import", "snapshot": snap}))
    typed = msg.snapshot.model_dump(mode="json")
    assert _json(typed) == _json(snap)
    a, b = Trainer.from_snapshot(json.loads(text)), Trainer.from_snapshot(typed)
    a.run(20)
    b.run(20)
    assert np.array_equal(a.net.params, b.net.params)

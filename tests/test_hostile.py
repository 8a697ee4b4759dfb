"""One student's script cannot take the class down: crafted files and messages are refused
whole with a typed error naming the field; caps per address keep the class and the teacher
able to get in; memory stays bounded. (The timing figures are in bench/hostile.py.)"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from engine.trainer import Trainer
from tests.test_server_ws import Tab, tab  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def good_snapshot() -> dict:
    t = Trainer({"dataset": "xor", "hidden": [3], "optimizer": "adam", "batch_norm": True})
    t.run(12)
    return json.loads(json.dumps(t.snapshot()))


def crafted(snap: dict, path: str, value) -> dict:
    """A copy of `snap` with the field at dotted `path` set to `value`."""
    out = copy.deepcopy(snap)
    *parents, last = path.split(".")
    node = out
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


CRAFTED = [
    ("stopped", 123, "snapshot.stopped"),
    ("stopped", "melted", "snapshot.stopped"),
    ("stop_message", "x" * 5000, "snapshot.stop_message"),
    ("counters.pos", 10**15, "snapshot.counters.pos"),
    ("counters.step", -1, "snapshot.counters.step"),
    ("counters.epoch", True, "snapshot.counters.epoch"),
    ("counters.best_test", -3.0, "snapshot.counters.best_test"),
    ("params.0", 1e308, "snapshot.params"),
    ("params", [0.1, 0.2], "snapshot.params"),
    ("buffers.0", "a", "snapshot.buffers"),
    ("optimizer.optimizer", "sgd", "snapshot.optimizer.optimizer"),
    ("optimizer.t", -5, "snapshot.optimizer.t"),
    ("optimizer.shapes", [[3]], "snapshot.optimizer.state"),
    ("optimizer.state.0.1.0", -1.0, "snapshot.optimizer.state.v"),
    ("history.0.grad_norms", [1.0], "snapshot.history.0.grad_norms"),
    ("history.0.loss.train", "NaN", "snapshot.history.0.loss.train"),
    ("edits", [["add", "train", 0.0, 0.0, 1]] * 4001, "snapshot.edits"),
    ("edits", [["melt"]], "snapshot.edits.0"),
    ("edits", [["add", "train", 99.0, 0.0, 1]], "snapshot.edits.0"),
    ("extra", 1, "snapshot.extra"),
    ("config.learning_rate", -0.5, "snapshot.config.learning_rate"),
]


@pytest.mark.parametrize(("path", "value", "field"), CRAFTED)
def test_a_crafted_import_is_refused_whole_naming_its_field(tab, good_snapshot,  # noqa: F811
                                                           path, value, field):
    before = tab.ask({"type": "export"}, "snapshot")["snapshot"]
    tab.send({"type": "import", "snapshot": crafted(good_snapshot, path, value)})
    err = tab.json()
    assert err["type"] == "error" and err["code"] in ("rejected", "bad_config"), err
    assert err["field"] == field, err
    # nothing changed, and the session goes on answering
    assert tab.ask({"type": "export"}, "snapshot")["snapshot"] == before
    assert tab.ask({"type": "step"}, "step")["step"] == before["counters"]["step"] + 1


def test_an_imported_files_hyperparameters_are_the_configs(tab, good_snapshot):  # noqa: F811
    snap = crafted(good_snapshot, "optimizer.hyperparameters.lr", -0.5)
    state = tab.ask({"type": "import", "snapshot": snap}, "state")
    assert state["config"]["learning_rate"] == 0.03
    exported = tab.ask({"type": "export"}, "snapshot")["snapshot"]
    assert exported["optimizer"]["hyperparameters"]["lr"] == 0.03
    before = np.array(exported["params"])
    tab.ask({"type": "step"}, "step")
    after = np.array(tab.ask({"type": "export"}, "snapshot")["snapshot"]["params"])
    assert np.abs(after - before).max() < 0.05  # Adam moves each weight by about lr, not 0.5


def test_a_good_import_round_trips(tab, good_snapshot):  # noqa: F811
    tab.ask({"type": "import", "snapshot": good_snapshot}, "state")
    again = tab.ask({"type": "export"}, "snapshot")["snapshot"]
    assert again["params"] == good_snapshot["params"]
    assert again["counters"] == good_snapshot["counters"]
    assert again["optimizer"] == good_snapshot["optimizer"]


def test_the_size_cap_goes_by_the_parsed_type_and_duplicate_keys_are_refused(tab):  # noqa: F811
    big = {"type": "configure", "config": {"dataset": "xor"}, "pad": "x" * 100_000}
    tab.send(json.dumps(big))  # with spaces after the colons, unlike the page
    err = tab.json()
    assert err["type"] == "error" and err["code"] == "too_large", err
    # an import's cap cannot be borrowed by a second `type` key
    sneaky = '{"type":"import","type":"configure","config":{"dataset":"xor"},"x":"' \
        + "y" * 100_000 + '"}'
    tab.send(sneaky)
    err = tab.json()
    assert err["code"] == "malformed" and "twice" in err["message"], err
    tab.send('{"type": "step", "type": "reset"}')
    assert tab.json()["code"] == "malformed"
    assert tab.ask({"type": "step"}, "step")["step"] == 1  # and the session goes on


def test_every_page_response_carries_the_security_headers(client):
    from server.security import SECURITY_HEADERS

    for path in ("/", "/static/js/main.js", "/healthz", "/no-such-page"):
        r = client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (path, name)
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["Content-Security-Policy"]

"""Your own data over the wire: `import_points` previews (changing nothing) or applies a CSV
file, refuses a bad one with its line and the session unchanged, takes files over the
ordinary message cap up to the import cap, and `export_points` gives the points back. A room
carries the file to its followers, a fork keeps it, compare mode's run B follows it.
Oracle: the engine's own parser and trainer on the same text."""

from __future__ import annotations

import json

import numpy as np

from engine.csv_points import MAX_CSV_CHARS, parse
from engine.trainer import Trainer
from tests.helpers.tabs import LiveTab

SPECIES = ("setosa", "versicolor", "virginica")
IRIS = "length,width,species\n" + "".join(
    f"{4 + (i * 37 % 50) / 10},{2 + (i * 11 % 23) / 10},{SPECIES[i % 3]}\n" for i in range(150)
)


def test_a_preview_changes_nothing_and_an_apply_trains_on_the_file(tab, app, hash_state):
    session = app.state.sessions.sessions[tab.hello["session"]]
    before = hash_state(session)
    p = tab.ask({"type": "import_points", "name": "iris.csv", "csv": IRIS}, "points_preview")
    assert p["preview"] == json.loads(json.dumps(parse(IRIS, "iris.csv").preview()))
    assert p["preview"]["rows"] == 150 and p["preview"]["class_names"] == list(SPECIES)
    assert hash_state(session) == before
    s = tab.ask({"type": "import_points", "name": "iris.csv", "csv": IRIS, "apply": True}, "state")
    oracle = Trainer(dict(session.trainer.config.to_dict()))
    oracle.import_points(parse(IRIS, "iris.csv"))
    assert s["points"] == json.loads(json.dumps(oracle.points()))
    assert s["config"]["dataset"] == "your_data_classes" and s["metrics"]["step"] == 0
    assert s["points"]["source"]["name"] == "iris.csv"
    assert tab.ask({"type": "step", "count": 3}, "step")["step"] == 3


def test_a_bad_file_is_rejected_naming_its_line_and_nothing_changes(tab, app, hash_state):
    session = app.state.sessions.sessions[tab.hello["session"]]
    before = hash_state(session)
    for apply in (False, True):
        err = tab.ask(
            {"type": "import_points", "name": "b.csv", "csv": "1,2,0\n1,x,1\n", "apply": apply},
            "error",
        )
        assert err["code"] == "rejected" and err["field"] == "csv" and err["re"] == "import_points"
        assert err["message"] == "line 2: 'x' in column 2 is not a number"
    for bad, code in (
        ({"name": "", "csv": "1,2,0"}, "out_of_range"),
        ({"name": "a.csv", "csv": 5}, "wrong_type"),
        ({"name": "a.csv", "csv": "1,2,0", "apply": "yes"}, "wrong_type"),
        ({"name": "a.csv", "csv": "1,2,0\n" * (MAX_CSV_CHARS // 6 + 1)}, "out_of_range"),
    ):
        err = tab.ask({"type": "import_points", **bad}, "error")
        assert err["code"] == code, err
    assert hash_state(session) == before
    assert tab.ask({"type": "step"}, "step")["step"] == 1


def test_a_file_over_the_message_cap_is_taken_up_to_the_import_cap(tab):
    text = "x1,x2,label\n" + "".join(f"{i * 0.001:.6f},{i % 97:.6f},{i % 2}\n" for i in range(5000))
    assert len(text) > tab.hello["limits"]["max_message_bytes"]
    p = tab.ask({"type": "import_points", "name": "big.csv", "csv": text}, "points_preview")
    assert p["preview"]["rows"] == 5000
    other = {"type": "configure", "config": {"x": "a" * 70_000}}
    assert tab.ask(other, "error")["code"] == "too_large"  # only files may be that big


def test_export_points_gives_the_same_points_back(tab):
    first = tab.ask(
        {"type": "import_points", "name": "iris.csv", "csv": IRIS, "apply": True}, "state"
    )
    out = tab.ask({"type": "export_points"}, "points_csv")
    assert out["name"] == "iris.csv" and out["csv"].startswith("# classes: setosa")
    tab.ask({"type": "configure", "config": {"seed": 5}}, "state")
    s = tab.ask(
        {"type": "import_points", "name": "again.csv", "csv": out["csv"], "apply": True}, "state"
    )
    for split in ("train", "test"):
        assert s["points"][split]["y"] == first["points"][split]["y"]
        np.testing.assert_allclose(s["points"][split]["x"], first["points"][split]["x"], atol=1e-12)


def test_a_generated_set_exports_in_plot_units(tab):
    out = tab.ask({"type": "export_points"}, "points_csv")
    assert out["name"] == "circle.csv"
    rows = out["csv"].splitlines()
    assert rows[0] == "x1,x2,label,split" and len(rows) == 501
    s = tab.state
    x, y = s["points"]["train"]["x"][0], s["points"]["train"]["y"][0]
    assert rows[1] == f"{x[0]!r},{x[1]!r},{y},train"


def test_a_room_carries_the_file_and_a_fork_keeps_it(live):
    with LiveTab.open(live.ws_url) as teacher:
        teacher.send('{"type": "open_room"}')
        room = teacher.recv_json("room")
        with LiveTab.open(f"{live.ws_url}?room={room['code']}", leave=False) as student:
            teacher.send(
                json.dumps(
                    {"type": "import_points", "name": "iris.csv", "csv": IRIS, "apply": True}
                )
            )
            mine = teacher.recv_json("state")
            seen = student.recv_until(lambda m: m.get("type") == "state" and m.get("points"))
            assert seen["points"]["source"]["name"] == "iris.csv"
            assert len(seen["points"]["train"]["x"]) == len(mine["points"]["train"]["x"])
            student.send('{"type": "import_points", "name": "x.csv", "csv": "1,2,0"}')
            assert student.recv_json("error")["code"] == "forbidden"
            student.send('{"type": "export_points"}')
            assert student.recv_json("points_csv")["name"] == "iris.csv"
            student.send('{"type": "fork"}')
            forked = student.recv_json("forked")
        with LiveTab.open(f"{live.ws_url}?session={forked['session']}") as fork:
            points = fork.state["points"]
            assert points["source"]["name"] == "iris.csv"
            assert points["train"] == mine["points"]["train"]


def test_compare_mode_run_b_follows_an_imported_file(tab, app):
    session = app.state.sessions.sessions[tab.hello["session"]]
    tab.ask({"type": "compare", "config": {"learning_rate": 0.3}}, "state")
    tab.ask({"type": "import_points", "name": "iris.csv", "csv": IRIS, "apply": True}, "state")
    a, b = session.trainer, session.run_b
    assert b is not None and b.config.learning_rate == 0.3
    assert b.points() == a.points() and a.points()["source"]["name"] == "iris.csv"


def test_a_snapshot_carries_the_file_and_a_crafted_one_is_refused(tab, app, hash_state):
    session = app.state.sessions.sessions[tab.hello["session"]]
    tab.ask({"type": "import_points", "name": "iris.csv", "csv": IRIS, "apply": True}, "state")
    tab.ask({"type": "step", "count": 4}, "step")
    snap = tab.ask({"type": "export"}, "snapshot")["snapshot"]
    assert snap["imported"] == {"name": "iris.csv", "csv": parse(IRIS, "iris.csv").to_csv()}
    saved = hash_state(session)
    tab.ask({"type": "configure", "config": {"dataset": "xor"}}, "state")
    s = tab.ask({"type": "import", "snapshot": snap}, "state")
    assert s["points"]["source"]["name"] == "iris.csv" and hash_state(session) == saved
    for imported, field in (
        ("iris", "snapshot.imported"),
        ({"name": "a.csv"}, "snapshot.imported"),
        ({"name": "a.csv", "csv": "1,2,0\n", "extra": 1}, "snapshot.imported"),
        ({"name": "a.csv", "csv": "1,2,0\n1,2\n"}, "snapshot.imported.csv"),
        ({"name": "a.csv", "csv": "1,2,0.5\n3,4,0.25\n"}, "snapshot.imported"),  # regression
    ):
        err = tab.ask({"type": "import", "snapshot": {**snap, "imported": imported}}, "error")
        assert err["code"] == "rejected" and err["field"] == field, err
    assert hash_state(session) == saved

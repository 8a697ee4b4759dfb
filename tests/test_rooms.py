"""Rooms, forks, compare mode and bulk weights over a real server (websockets sync client).

Oracles: the engine itself (a Trainer restored from the same snapshot and stepped the same
way), the presenter's own messages (a follower must see the same bytes; its frames the same
weights in float16), and the protocol's typed errors.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from engine.trainer import Trainer
from server.rooms import CODE_ALPHABET, qr_rows
from server.settings import Settings
from tests.helpers import maps
from tests.helpers.stalled import stalled_client
from tests.helpers.tabs import LiveTab


@pytest.fixture(scope="module")
def unmetered(live_server_factory):
    """A server whose followers' byte budget never binds (for tests of stalled sockets)."""
    with live_server_factory(Settings(follower_bytes_per_s=10**9)) as server:
        yield server


def open_room(ws) -> dict:
    ws.send('{"type": "open_room"}')
    return ws.recv_json("room")


def follow(live, code: str):
    """A follower of room `code` (a `LiveTab`), closed without `leave` when the block ends."""
    return LiveTab.open(f"{live.ws_url}?room={code}", leave=False)


def test_a_room_has_a_code_a_secret_and_followers_see_the_presenters_steps(live):
    with LiveTab.open(live.ws_url) as teacher:
        room = open_room(teacher)
        assert len(room["code"]) == 6 and set(room["code"]) <= set(CODE_ALPHABET)
        assert room["role"] == "presenter" and len(room["token"]) >= 24
        assert room["join_path"] == f"/?join={room['code']}"
        assert open_room(teacher)["code"] == room["code"]  # opening again: the same room
        with follow(live, room["code"]) as student:
            assert student.hello["role"] == "follower" and student.hello["session"] is None
            assert student.hello["room"]["token"] is None and student.hello["room"]["qr"] is None
            assert teacher.hello["session"] not in json.dumps(student.hello)
            assert student.state["points"] is not None and student.state["history"]
            teacher.send('{"type": "step", "count": 3}')
            mine = teacher.recv_json("step")
            theirs = student.recv_json("step")
            assert theirs == mine and theirs["step"] == 3
            # the presenter's selection, and its inspection, reach the follower
            teacher.send(
                '{"type": "ui", "view": "backward", "selection": '
                '{"kind": "link", "layer": 0, "i": 1, "j": 2}}'
            )
            ui = student.recv_json("room_ui")["ui"]
            assert ui == {
                "view": "backward",
                "selection": {"kind": "link", "layer": 0, "i": 1, "j": 2},
            }
            # the inspector's walk back through the graph, one equation per press of Step
            teacher.send('{"type": "ui", "reveal": 2}')
            assert student.recv_json("room_ui")["ui"]["reveal"] == 2
            teacher.send('{"type": "ui", "reveal": null}')
            assert student.recv_json("room_ui")["ui"]["reveal"] is None
            teacher.send('{"type": "inspect", "layer": 0, "neuron": 2, "source": 1}')
            assert student.recv_json("inspection") == teacher.recv_json("inspection")
            # the open lesson too; an unknown one is refused and changes nothing
            teacher.send('{"type": "ui", "lesson": "xor"}')
            assert student.recv_json("room_ui")["ui"]["lesson"] == "xor"
            teacher.send('{"type": "ui", "lesson": "no-such-lesson"}')
            assert teacher.recv_json("error")["code"] == "out_of_range"
            teacher.send('{"type": "ui", "lesson": null}')
            assert student.recv_json("room_ui")["ui"]["lesson"] is None
            # presence: the presenter hears the follower count
            assert teacher.recv_until(lambda d: d.get("type") == "room" and d["followers"] == 1)[
                "presenter_online"
            ]


def test_a_follower_cannot_drive_and_nothing_changes(live, hash_state):
    with LiveTab.open(live.ws_url) as teacher:
        room = open_room(teacher)
        session = live.app.state.sessions.sessions[teacher.hello["session"]]
        with follow(live, room["code"]) as student:
            before = hash_state(session)
            for msg in (
                '{"type": "step"}',
                '{"type": "play"}',
                '{"type": "reset"}',
                '{"type": "configure", "config": {"dataset": "xor"}}',
                '{"type": "set", "config": {"learning_rate": 1}}',
                '{"type": "set_weight", "layer": 0, "neuron": 0, "value": 1}',
                '{"type": "ui", "view": "backward"}',
                '{"type": "open_room"}',
                '{"type": "close_room"}',
                '{"type": "view"}',
                '{"type": "compare", "config": {"optimizer": "adam"}}',
            ):
                student.send(msg)
                err = student.recv_json("error")
                assert err["code"] == "forbidden" and err["re"] == json.loads(msg)["type"]
            assert hash_state(session) == before
            student.send('{"type": "leave"}')  # stops following only
            with pytest.raises(ConnectionClosed):
                while True:
                    student.recv(timeout=5)
            assert student.close_code == 4002
        teacher.send('{"type": "step"}')
        assert teacher.recv_json("step")["step"] == 1  # the room goes on


def test_a_fork_continues_exactly_and_diverges_from_the_room(live):
    with LiveTab.open(live.ws_url) as teacher:
        room = open_room(teacher)
        teacher.send('{"type": "set", "config": {"optimizer": "adam"}}')
        teacher.recv_json("state")
        teacher.send('{"type": "step", "count": 25}')
        teacher.recv_json("step")
        teacher.send('{"type": "export"}')
        snap = teacher.recv_json("snapshot")["snapshot"]
        with follow(live, room["code"]) as student:
            student.send('{"type": "fork"}')
            forked = student.recv_json("forked")
            assert forked["step"] == 25
        with LiveTab.open(f"{live.ws_url}?session={forked['session']}") as mine:
            assert (
                mine.hello["resumed"]
                and mine.hello["role"] == "solo"
                and mine.state["metrics"]["step"] == 25
            )
            oracle = Trainer.from_snapshot(snap)
            oracle.run(4)
            mine.send('{"type": "step", "count": 4}')
            step = mine.recv_json("step")
            assert step["loss"]["train"] == oracle.metrics()["loss"]["train"]  # bit for bit
            mine.send('{"type": "set", "config": {"learning_rate": 3}}')
            mine.recv_json("state")
            mine.send('{"type": "step", "count": 5}')
            mine.recv_json("step")
            teacher.send('{"type": "export"}')  # the room did not move
            assert teacher.recv_json("snapshot")["snapshot"]["counters"]["step"] == 25


def test_a_late_joiner_gets_the_current_state_and_a_frame_at_once(live):
    with LiveTab.open(live.ws_url) as teacher:
        room = open_room(teacher)
        teacher.send('{"type": "configure", "config": {"dataset": "xor", "hidden": [3]}}')
        teacher.recv_json("state")
        teacher.send('{"type": "step", "count": 40}')
        teacher.recv_json("step")
        teacher.send('{"type": "ui", "discretize": true}')
        with follow(live, room["code"]) as student:
            state = student.state
            assert state["metrics"]["step"] == 40 and state["config"]["dataset"] == "xor"
            assert state["config"]["hidden"] == [3]
            head, arrays = student.recv_until(
                lambda d: "binary" in d and d["binary"][0]["kind"] == "frame"
            )["binary"]
            assert head["step"] == 40 and head["model"] == state["model"]["key"]
            # the weights as they are now, in a follower's float16
            params = maps.params_of(maps.frame_arrays(head, arrays)["params"], state["model"])
            want = [
                {"W": w, "b": b}
                for w, b in zip(state["params"]["weights"], state["params"]["biases"], strict=True)
            ]
            maps.assert_arrays_are(params, want, np.float16)
            assert student.recv_json("room_ui")["ui"] == {"discretize": True}


def frame_at(ws, step: int) -> dict[str, np.ndarray]:
    """The arrays of the first weights frame at `step`."""
    header, arrays = ws.recv_until(
        lambda d: (
            "binary" in d and d["binary"][0]["kind"] == "frame" and d["binary"][0]["step"] == step
        ),
    )["binary"]
    return maps.frame_arrays(header, arrays)


def test_followers_get_float16_frames_and_the_presenter_float32_of_the_same_weights(live):
    with LiveTab.open(live.ws_url) as teacher:
        room = open_room(teacher)
        teacher.send('{"type": "configure", "config": {"hidden": [5, 3], "batch_norm": true}}')
        state = teacher.recv_json("state")
        with (
            follow(live, room["code"]) as student,
            follow(live, room["code"]) as other,
        ):
            # the backward view draws the gradients: the followers' frames carry them
            teacher.send('{"type": "ui", "view": "backward"}')
            student.recv_json("room_ui")
            teacher.send('{"type": "step", "count": 6}')
            teacher.recv_json("step")
            mine, theirs, others = (frame_at(ws, 6) for ws in (teacher, student, other))
            teacher.send('{"type": "export"}')
            oracle = Trainer.from_snapshot(teacher.recv_json("snapshot")["snapshot"])
            model = state["model"]
            for got, dtype in ((mine, np.float32), (theirs, np.float16), (others, np.float16)):
                assert list(got) == ["params", "grads"]
                maps.assert_arrays_are(
                    maps.params_of(got["params"], model),
                    maps.engine_params(oracle.eval_arrays()),
                    dtype,
                )
            # the same values to float16 precision: half the bytes for a classroom's Wi-Fi
            for name in ("params", "grads"):
                np.testing.assert_allclose(theirs[name], mine[name], rtol=2**-11, atol=6e-8)
                assert theirs[name].nbytes * 2 == mine[name].nbytes
            np.testing.assert_array_equal(theirs["params"], others["params"])
            maps.assert_maps_match(maps.params_of(mine["params"], model), model, oracle)
            # the forward view draws none: the followers' frames leave them out
            teacher.send('{"type": "ui", "view": "forward"}')
            student.recv_json("room_ui")
            teacher.send('{"type": "step"}')
            teacher.recv_json("step")
            assert list(frame_at(teacher, 7)) == ["params", "grads"]
            assert list(frame_at(student, 7)) == ["params"]


def test_the_presenter_resumes_with_the_token_and_the_room_survives(live):
    with LiveTab.open(live.ws_url, leave=False) as teacher:
        room = open_room(teacher)
        teacher.send('{"type": "step", "count": 2}')
        teacher.recv_json("step")
    with follow(live, room["code"]) as student:
        assert student.recv_until(lambda d: d.get("type") == "room" and not d["presenter_online"])
        with LiveTab.open(
            f"{live.ws_url}?room={room['code']}&token=nope", greeting=(), leave=False
        ) as bad:
            with pytest.raises(ConnectionClosed):
                bad.recv(timeout=5)
        assert bad.close_code == 4004
        with LiveTab.open(f"{live.ws_url}?room={room['code']}&token={room['token']}") as teacher:
            hello, state = teacher.hello, teacher.state
            assert hello["role"] == "presenter" and hello["resumed"]
            assert hello["room"]["token"] == room["token"] and state["metrics"]["step"] == 2
            assert student.recv_until(lambda d: d.get("type") == "room" and d["presenter_online"])
            teacher.send('{"type": "step"}')
            assert student.recv_json("step")["step"] == 3
        # the presenter's `leave` ends the session and so the room
        with pytest.raises(ConnectionClosed):
            while True:
                student.recv(timeout=5)
        assert student.close_code == 4004


def test_an_unknown_room_is_refused_with_4004(live):
    with LiveTab.open(f"{live.ws_url}?room=ZZZZZZ", greeting=(), leave=False) as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert ws.close_code == 4004


def test_compare_mode_steps_both_runs_in_lockstep_from_the_same_start(live):
    with LiveTab.open(live.ws_url) as ws:
        ws.send('{"type": "configure", "config": {"dataset": "spiral", "seed": 3}}')
        ws.recv_json("state")
        ws.send('{"type": "compare", "config": {"optimizer": "adam"}}')
        state = ws.recv_json("state")
        b = state["compare"]
        assert b["changes"] == {"optimizer": "adam"} and b["config"]["optimizer"] == "adam"
        assert state["metrics"]["step"] == 0 and b["metrics"]["step"] == 0
        a_oracle = Trainer(state["config"])
        b_oracle = Trainer({**state["config"], "optimizer": "adam"})
        assert b_oracle.parameters() == a_oracle.parameters()  # the same initial weights
        ws.send('{"type": "step", "count": 12}')
        step = ws.recv_json("step")
        a_oracle.run(12)
        b_oracle.run(12)
        assert step["compare"]["step"] == step["step"] == 12
        assert step["loss"]["train"] == a_oracle.metrics()["loss"]["train"]
        assert step["compare"]["loss"]["train"] == b_oracle.metrics()["loss"]["train"]
        ws.send('{"type": "play", "speed": 3}')
        for _ in range(5):
            m = ws.recv_json("metrics")
            assert m["compare"]["step"] == m["step"]
        ws.send('{"type": "pause"}')
        head = ws.recv_until(lambda d: "binary" in d and d["binary"][0]["kind"] == "frame")
        header, arrays = head["binary"]
        assert header["compare_model"] == b["model"]["key"] == state["model"]["key"]
        got = maps.frame_arrays(header, arrays)
        assert list(got) == ["params", "grads", "compare_params"]
        assert got["compare_params"].shape == got["params"].shape  # adam: the same network
        # a shared live change reaches both; the compared field stays different
        ws.send('{"type": "set", "config": {"learning_rate": 0.1, "optimizer": "momentum"}}')
        s2 = ws.recv_until(
            lambda d: d.get("type") == "state" and d["config"]["optimizer"] == "momentum"
        )
        assert s2["compare"]["config"]["learning_rate"] == 0.1
        assert s2["compare"]["config"]["optimizer"] == "adam"
        ws.send('{"type": "compare", "config": {"seed": 4}}')  # B keeps A's data and seed
        error = ws.recv_json("error")
        assert (error["code"], error["field"]) == ("bad_config", "seed")
        ws.send('{"type": "compare", "config": null}')
        assert ws.recv_json("state")["compare"] is None


def test_set_params_sets_every_weight_or_none(live):
    with LiveTab.open(live.ws_url) as ws:
        other = Trainer({**ws.state["config"], "seed": 99}).parameters()
        ws.send(
            json.dumps(
                {"type": "set_params", "weights": other["weights"], "biases": other["biases"]}
            )
        )
        got = ws.recv_json("state")["params"]
        assert got["weights"] == other["weights"] and got["biases"] == other["biases"]
        bad = [row[:-1] for row in other["weights"][0]]
        ws.send(
            json.dumps(
                {
                    "type": "set_params",
                    "weights": [bad, *other["weights"][1:]],
                    "biases": other["biases"],
                }
            )
        )
        assert ws.recv_json("error")["code"] == "rejected"


def test_qr_rows_are_a_square_qr_matrix():
    rows = qr_rows("http://192.168.1.20:8000/?join=K7QF2M")
    assert len(rows) in (25, 29, 33) and all(len(r) == len(rows) for r in rows)
    assert rows[0].startswith("1111111")  # a finder pattern in the corner


def test_on_a_lan_the_room_offers_the_lan_join_url_and_its_qr_code():
    from types import SimpleNamespace

    from server.rooms import Room
    from server.security import lan_addresses, trusted_hosts

    lan = Settings(host="0.0.0.0", port=8123)
    ips = lan_addresses()
    room = Room("K7QF2M", SimpleNamespace(followers=set(), client=None), lan)
    assert room.join_urls == [f"http://{ip}:8123/?join=K7QF2M" for ip in ips]
    assert set(ips) <= set(trusted_hosts(lan))  # a student's browser may use them
    if ips:  # a machine with a route has one; the QR then encodes the first URL
        assert room.qr == qr_rows(room.join_urls[0])
    local = Room("K7QF2M", SimpleNamespace(followers=set(), client=None), Settings())
    assert local.join_urls == [] and local.qr is None
    msg = room.message("follower")
    assert msg.token is None and msg.qr is None and room.message("presenter").token


# the largest network: a follower's frame is ~32 KB (float16), so stalled buffers fill soon
BIG = {
    "features": ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2"],
    "hidden": [32] * 8,
    "batch_norm": True,
}


def test_a_stalled_follower_never_slows_the_room(unmetered):
    live = unmetered
    with LiveTab.open(live.ws_url) as teacher:
        room = open_room(teacher)
        session = live.app.state.sessions.sessions[teacher.hello["session"]]
        teacher.send(json.dumps({"type": "configure", "config": BIG}))  # big frames
        teacher.recv_json("state")
        stalled = [stalled_client(live.port, f"?room={room['code']}") for _ in range(3)]
        try:
            with follow(live, room["code"]) as student:
                teacher.send('{"type": "play", "speed": 1}')
                time.sleep(1.5)  # the stalled sockets' buffers fill
                student.recv_json("metrics")
                steps = [student.recv_json("metrics")["step"] for _ in range(60)]
                # one update a frame: the healthy follower got most of the frames the room
                # made, never waiting behind the stalled ones
                assert len(set(steps)) >= 0.5 * (steps[-1] - steps[0]), steps
                for _ in range(900):  # until the stalled ones have skipped frames
                    if sum(f.outbox.replaced_frames > 10 for f in session.followers) == 3:
                        break
                    student.recv_json("metrics")
                slow = [f for f in session.followers if f.outbox.replaced_frames > 10]
                assert len(slow) == 3 and all(len(f.outbox) <= 3 for f in slow)
                teacher.send('{"type": "pause"}')
        finally:
            for s in stalled:
                s.close()


def test_a_playing_room_keeps_to_its_followers_byte_budget(live_server_factory):
    """A classroom's Wi-Fi is shared: past `follower_bytes_per_s` a follower skips play frames
    (the newest still comes), and what it gets never exceeds the budget plus one burst."""
    budget = 20_000
    deep = {"features": BIG["features"], "hidden": [8] * 6, "activation": "tanh"}
    with (
        live_server_factory(Settings(follower_bytes_per_s=budget)) as live,
        LiveTab.open(live.ws_url) as teacher,
    ):
        room = open_room(teacher)
        teacher.send(json.dumps({"type": "configure", "config": deep}))
        teacher.recv_json("state")
        with follow(live, room["code"]) as student:
            teacher.send('{"type": "ui", "view": "backward"}')  # the largest frames
            student.recv_json("room_ui")
            teacher.send('{"type": "play", "speed": 1}')
            student.recv_json("metrics")
            got, seen = [], set()
            while len(got) < 40:  # (time, bytes) of each play message
                m = student.recv(timeout=5)
                got.append((time.monotonic(), len(m) if isinstance(m, bytes) else len(m.encode())))
                if isinstance(m, str) and json.loads(m)["type"] == "metrics":
                    seen.add(json.loads(m)["step"])
            teacher.send('{"type": "pause"}')
        span = got[-1][0] - got[0][0]
        total = sum(n for _, n in got[1:])
        assert total <= budget * span + budget / 4 + max(n for _, n in got), (total, span)
        assert len(seen) >= 15  # still a moving picture, of the newest steps

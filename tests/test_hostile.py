"""One student's script cannot take the class down: crafted files and messages are refused
whole with a typed error naming the field; caps per address keep the class and the teacher
able to get in; memory stays bounded. (The timing figures are in bench/hostile.py.)"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import struct
import time

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from engine.trainer import Trainer
from server import frames
from server.settings import Settings
from tests.helpers.tabs import LiveTab


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
def test_a_crafted_import_is_refused_whole_naming_its_field(
    tab,
    good_snapshot,
    path,
    value,
    field,
):
    before = tab.ask({"type": "export"}, "snapshot")["snapshot"]
    tab.send({"type": "import", "snapshot": crafted(good_snapshot, path, value)})
    err = tab.json()
    assert err["type"] == "error" and err["code"] in ("rejected", "bad_config"), err
    assert err["field"] == field, err
    # nothing changed, and the session goes on answering
    assert tab.ask({"type": "export"}, "snapshot")["snapshot"] == before
    assert tab.ask({"type": "step"}, "step")["step"] == before["counters"]["step"] + 1


def test_an_imported_files_hyperparameters_are_the_configs(tab, good_snapshot):
    snap = crafted(good_snapshot, "optimizer.hyperparameters.lr", -0.5)
    state = tab.ask({"type": "import", "snapshot": snap}, "state")
    assert state["config"]["learning_rate"] == 0.03
    exported = tab.ask({"type": "export"}, "snapshot")["snapshot"]
    assert exported["optimizer"]["hyperparameters"]["lr"] == 0.03
    before = np.array(exported["params"])
    tab.ask({"type": "step"}, "step")
    after = np.array(tab.ask({"type": "export"}, "snapshot")["snapshot"]["params"])
    assert np.abs(after - before).max() < 0.05  # Adam moves each weight by about lr, not 0.5


def test_a_good_import_round_trips(tab, good_snapshot):
    tab.ask({"type": "import", "snapshot": good_snapshot}, "state")
    again = tab.ask({"type": "export"}, "snapshot")["snapshot"]
    assert again["params"] == good_snapshot["params"]
    assert again["counters"] == good_snapshot["counters"]
    assert again["optimizer"] == good_snapshot["optimizer"]


def test_the_size_cap_goes_by_the_parsed_type_and_duplicate_keys_are_refused(tab):
    big = {"type": "configure", "config": {"dataset": "xor"}, "pad": "x" * 100_000}
    tab.send(json.dumps(big))  # with spaces after the colons, unlike the page
    err = tab.json()
    assert err["type"] == "error" and err["code"] == "too_large", err
    # an import's cap cannot be borrowed by a second `type` key
    sneaky = (
        '{"type":"import","type":"configure","config":{"dataset":"xor"},"x":"'
        + "y" * 100_000
        + '"}'
    )
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


# caps per address, against a real server; 127.0.0.2 plays the student's machine and
# 127.0.0.1 (exempt, as by default) the teacher's

STUDENT = "127.0.0.2"


def tab_from(address: str, url: str, leave: bool = False):
    """A `LiveTab` opened from `address` that has read its `hello`; closed (without `leave`,
    so its session stays, detached) when the block ends."""
    return LiveTab.open(url, greeting=("hello",), leave=leave, source_address=address)


def refused(address: str, url: str) -> tuple[int, str]:
    """The close code and reason of a connection the server refuses."""
    with tab_from(address, url) as ws:
        raise AssertionError(f"not refused: {ws.hello}")


def close_of(address: str, url: str) -> tuple[int, str]:
    try:
        with tab_from(address, url) as ws:
            ws.recv(timeout=10)
            ws.recv(timeout=10)
    except ConnectionClosed as e:
        return e.rcvd.code, e.rcvd.reason
    raise AssertionError("the server did not close the connection")


@pytest.fixture
def strict(live_server_factory):
    with live_server_factory(
        Settings(
            max_sessions=6,
            max_sessions_per_address=3,
            max_followers_per_address=3,
            max_rooms_per_address=1,
            evict_grace_s=0.0,
            exempt_addresses=["127.0.0.1"],
        )
    ) as s:
        yield s


def test_abandoned_sessions_cannot_lock_the_class_or_the_teacher_out(strict):
    sessions = strict.app.state.sessions.sessions
    for _ in range(10):  # a script opens sessions and abandons them
        with tab_from(STUDENT, strict.ws_url):
            pass
    mine = [s for s in sessions.values() if s.address == STUDENT]
    assert len(mine) == 3  # its own oldest went first
    with contextlib.ExitStack() as stack:  # the rest of the server fills with live tabs
        for _ in range(3):
            stack.enter_context(tab_from("127.0.0.1", strict.ws_url))
        assert len(sessions) == 6
        with tab_from("127.0.0.1", strict.ws_url) as ws:  # full: a student's goes
            assert ws.hello["type"] == "hello"
        assert sum(s.address == STUDENT for s in sessions.values()) == 2
        assert len(sessions) == 6
    # and a full server evicts an address's own abandoned sessions first
    with tab_from(STUDENT, strict.ws_url):
        pass
    assert sum(s.address == STUDENT for s in sessions.values()) == 2


def test_an_address_holding_its_share_of_live_tabs_is_told_so(strict):
    with contextlib.ExitStack() as stack:
        for _ in range(3):
            stack.enter_context(tab_from(STUDENT, strict.ws_url))
        code, reason = close_of(STUDENT, strict.ws_url)
        assert code == 4003 and "your address" in reason, reason
        with tab_from("127.0.0.1", strict.ws_url) as ws:  # the teacher is not capped
            assert ws.hello["type"] == "hello"


def test_follower_sockets_and_rooms_are_capped_per_address(strict):
    with tab_from("127.0.0.1", strict.ws_url) as teacher:
        teacher.recv_json("state")
        teacher.send('{"type": "open_room"}')
        code = teacher.recv_json("room")["code"]
        room_url = f"{strict.ws_url}?room={code}"
        with contextlib.ExitStack() as stack:
            for _ in range(3):
                stack.enter_context(tab_from(STUDENT, room_url))
            got, reason = close_of(STUDENT, room_url)
            assert got == 4003 and "follows with 3" in reason, reason
            with tab_from("127.0.0.1", room_url) as ws:  # another tab of the teacher's
                assert ws.hello["role"] == "follower"
    with tab_from(STUDENT, strict.ws_url) as a:
        a.recv_json("state")
        a.send('{"type": "open_room"}')
        a.recv_json("room")
        with tab_from(STUDENT, strict.ws_url) as b:
            b.recv_json("state")
            b.send('{"type": "open_room"}')
            err = b.recv_json("error")
            assert err["code"] == "rejected" and "room" in err["message"]


def test_wrong_room_codes_back_off(strict):
    for k in range(6):
        got, _ = close_of(STUDENT, f"{strict.ws_url}?room=ZZZZZ{k}")
        assert got == 4004
    got, reason = close_of(STUDENT, f"{strict.ws_url}?room=ZZZZZZ")
    assert got == 4005 and "try again in" in reason, reason
    got, _ = close_of("127.0.0.1", f"{strict.ws_url}?room=ZZZZZZ")  # the teacher is not
    assert got == 4004


def test_an_empty_room_whose_presenter_left_keeps_only_a_sessions_ttl():
    from server.pool import PriorityPool
    from server.rooms import Room
    from server.sessions import Session

    settings = Settings(session_ttl_s=10, room_ttl_s=1000)
    s = Session("r" * 16, object(), settings, PriorityPool(1, "t"))
    s.room, s.detached_at = Room("ABCDEF", s, settings), 0.0
    assert s.expired(11.0)  # no one follows: the session's TTL
    s.followers = {object()}
    assert not s.expired(11.0) and s.expired(1001.0)  # a class follows: the room's


# sockets that never finish a request


def test_idle_and_dripping_sockets_are_closed_at_the_header_deadline(
    live_server_factory, monkeypatch
):
    from server.connections import DeadlineH11

    monkeypatch.setattr(DeadlineH11, "header_timeout_s", 0.5)
    with live_server_factory(Settings()) as server:
        idle = socket.create_connection(("127.0.0.1", server.port))
        drip = socket.create_connection(("127.0.0.1", server.port))
        drip.settimeout(0.1)
        drip.sendall(b"GET / HTTP/1.1\r\n")
        closed = False
        for _ in range(300):  # a byte every 0.1 s, which restarts uvicorn's own timer
            try:
                if drip.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
            try:
                drip.sendall(b"X")
            except OSError:
                closed = True
                break
        assert closed, "a dripping socket was never closed"
        idle.settimeout(30)
        assert idle.recv(1) == b""  # closed by the server
        # a real request still gets its page
        with socket.create_connection(("127.0.0.1", server.port)) as ok:
            ok.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
            ok.settimeout(30)
            assert ok.recv(12) == b"HTTP/1.1 200"
        idle.close()
        drip.close()


def test_a_repeated_log_line_is_let_through_once_a_period():
    import logging

    from server.connections import RepeatFilter

    f = RepeatFilter(period_s=3600)
    records = [
        logging.LogRecord(
            "asyncio", logging.ERROR, "x", 1, "socket.accept() out of system resource", None, None
        )
        for _ in range(1000)
    ]
    assert sum(f.filter(r) for r in records) == 1


def test_the_largest_frame_is_the_weights_and_nothing_a_client_asks_for(tab):
    # a page computes its heatmaps itself, so no message can make frames bigger: the old
    # attack (128×128 maps of every neuron, 4.2 MiB a frame) is an unknown field now
    err = tab.ask({"type": "view", "grid": 128, "neuron_grid": 128}, "error")
    assert err["code"] == "unknown_field"
    # the largest network, compared with a run B as large, after an update: three vectors
    # of float32 (A's weights, A's gradients, B's weights) and the header, nothing else
    tab.ask(
        {
            "type": "configure",
            "config": {
                "features": ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2"],
                "hidden": [32] * 8,
                "batch_norm": True,
            },
        },
        "state",
    )
    state = tab.ask({"type": "compare", "config": {"optimizer": "adam"}}, "state")
    tab.ask({"type": "step"}, "step")
    while True:
        m = tab.recv()
        if isinstance(m, bytes) and frames.unpack(m)[0]["kind"] == "frame":
            header, arrays = frames.unpack(m)
            if header["step"] == 1:
                break
    n_params = sum(a.size for layer in Trainer(state["config"]).eval_arrays() for a in layer)
    sizes = state["model"]["sizes"]
    n_grads = sum(fi * fo + 2 * fo for fi, fo in zip(sizes[:-1], sizes[1:], strict=False))
    assert [a.size for a in arrays] == [n_params, n_grads, n_params]
    head = struct.unpack_from("<I", m, 8)[0]
    assert len(m) == 12 + head + 4 * (2 * n_params + n_grads) < 100 * 1024, len(m)


def test_past_the_memory_budget_no_session_or_compare_run_starts(live_server_factory, monkeypatch):
    import server.budgets

    with live_server_factory(Settings()) as server_:
        with tab_from("127.0.0.1", server_.ws_url) as ws:
            ws.recv_json("state")
            monkeypatch.setattr(server.budgets, "process_rss", lambda: 10 << 30)  # 10 GiB
            code, reason = close_of("127.0.0.1", server_.ws_url)
            assert code == 4003 and "memory budget" in reason, reason
            ws.send('{"type": "compare", "config": {"learning_rate": 0.3}}')
            err = ws.recv_json("error")
            assert err["code"] == "rejected" and "memory" in err["message"]
            monkeypatch.setattr(server.budgets, "process_rss", lambda: 1 << 20)
            ws.send('{"type": "compare", "config": {"learning_rate": 0.3}}')
            assert ws.recv_json("state")["compare"] is not None


def test_cpu_time_is_charged_per_address_and_debt_makes_it_wait():
    from server.budgets import Budgets

    b = Budgets(Settings(cpu_share=0.5, cpu_burst_s=3.0, exempt_addresses=["127.0.0.1"]))
    assert b.cpu_wait(STUDENT) == 0.0
    b.charge_cpu(STUDENT, 2.0)  # within the burst
    assert b.cpu_wait(STUDENT) == 0.0
    b.charge_cpu(STUDENT, 3.0)  # 2 s in debt at 0.5 CPU-s a second: about 4 s to wait
    assert 3.5 < b.cpu_wait(STUDENT) <= 4.0
    assert b.cpu_wait("127.0.0.4") == 0.0  # another student is not held up
    b.charge_cpu("127.0.0.1", 100.0)
    assert b.cpu_wait("127.0.0.1") == 0.0  # nor the teacher


def test_a_follower_asking_for_exports_gets_one_encode_and_pays_by_size(strict):
    with tab_from("127.0.0.1", strict.ws_url) as teacher:
        teacher.recv_json("state")
        teacher.send(
            json.dumps(
                {
                    "type": "configure",
                    "config": {
                        "n_points": 2000,
                        "features": ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2"],
                        "hidden": [32] * 8,
                    },
                }
            )
        )
        teacher.recv_json("state")
        teacher.send('{"type": "open_room"}')
        code = teacher.recv_json("room")["code"]
        session = strict.app.state.sessions.sessions[teacher.hello["session"]]
        with tab_from(STUDENT, f"{strict.ws_url}?room={code}") as follower:
            answers = []
            while "rate_limited" not in answers and len(answers) < 60:
                follower.send('{"type": "export"}')
                while True:
                    d = json.loads(m) if isinstance(m := follower.recv(timeout=30), str) else {}
                    if d.get("type") in ("snapshot", "error"):
                        answers.append(d.get("code", d["type"]))
                        break
            first = session.export_cache
            assert answers[0] == "snapshot" and "rate_limited" in answers, answers
            time.sleep(3)  # the bucket refills
            follower.send('{"type": "export"}')
            assert follower.recv_json("snapshot")
            assert session.export_cache is first  # the same state: not encoded again


def test_forks_from_one_address_stay_within_its_share(strict):
    sessions = strict.app.state.sessions.sessions
    with tab_from("127.0.0.1", strict.ws_url) as teacher:
        teacher.recv_json("state")
        teacher.send('{"type": "open_room"}')
        code = teacher.recv_json("room")["code"]
        with tab_from(STUDENT, f"{strict.ws_url}?room={code}") as follower:
            for _ in range(6):
                follower.send('{"type": "fork"}')
                while True:
                    m = follower.recv(timeout=30)
                    if isinstance(m, str) and json.loads(m)["type"] in ("forked", "error"):
                        break
            assert sum(s.address == STUDENT for s in sessions.values()) <= 3

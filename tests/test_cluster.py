"""Cluster mode: two server processes sharing one redis-server, as two machines of one
service would (tests/helpers/cluster.py). The oracle for "carries on bit for bit" is an
engine Trainer run here, in this process, for the same updates."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed

from engine.trainer import Trainer
from tests.helpers.cluster import ROOT, RedisServer, ServerProcess, cluster, free_port
from tests.helpers.tabs import LiveTab

STUDENT = "127.0.0.2"  # not the teacher's exempt loopback: the per-address caps apply


@pytest.fixture(scope="module")
def two():
    """A Redis and two server processes ("A" and "B") sharing it."""
    with cluster(2) as (redis_server, servers):
        yield redis_server, servers


def present(tab: LiveTab) -> str:
    """Open a room from `tab`; its join code."""
    tab.send({"type": "open_room"})
    return tab.recv_json("room")["code"]


def weights_of(state: dict) -> list[np.ndarray]:
    return [np.array(w) for w in state["params"]["weights"]]


def assert_same_weights(state: dict, trainer: Trainer) -> None:
    got = weights_of(state)
    assert len(got) == len(trainer.net.weights)
    for g, w in zip(got, trainer.net.weights, strict=True):
        np.testing.assert_array_equal(g, w)  # exact: float64 JSON round-trips


def fresh_state(tab: LiveTab) -> dict:
    tab.send({"type": "view"})
    return tab.recv_json("state")


def steps_seen(tab: LiveTab, last: int, timeout: float = 10.0) -> list[int]:
    """The `step` numbers a tab reads until it has seen step `last`."""
    seen: list[int] = []
    while not seen or seen[-1] < last:
        seen.append(tab.recv_json("step", timeout=timeout)["step"])
    return seen


def test_followers_on_another_machine_see_every_step(two):
    _, (a, b) = two
    with LiveTab.open(a.ws_url) as presenter:
        code = present(presenter)
        with (
            LiveTab.open(f"{b.ws_url}?room={code}", leave=False) as on_b,
            LiveTab.open(f"{a.ws_url}?room={code}", leave=False) as on_a,
        ):
            assert on_b.hello["role"] == on_a.hello["role"] == "follower"
            start = on_b.state["metrics"]["step"]
            for _ in range(12):  # quickly, one after another: none may be lost on the way
                presenter.send({"type": "step", "count": 1})
            expect = list(range(start + 1, start + 13))
            assert steps_seen(on_b, expect[-1]) == expect
            assert steps_seen(on_a, expect[-1]) == expect
            # and what the follower on B may export is the presenter's session, exactly
            on_b.send({"type": "export"})
            snapshot = on_b.recv_json("snapshot")["snapshot"]
            mine = fresh_state(presenter)
            flat = np.concatenate([np.concatenate([np.ravel(w), b]) for w, b in _layers(mine)])
            np.testing.assert_array_equal(np.array(snapshot["params"])[: flat.size], flat)
            # play frames reach the follower on the other machine
            presenter.send({"type": "play", "speed": 1})
            frames = 0
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                if isinstance(on_b.recv(timeout=2), bytes):
                    frames += 1
            presenter.send({"type": "pause"})
            assert frames >= 10, frames


def _layers(state: dict):
    p = state["params"]
    return [(np.array(w), np.array(b)) for w, b in zip(p["weights"], p["biases"], strict=True)]


def test_a_late_joiner_on_another_machine_starts_from_the_truth(two):
    _, (a, b) = two
    with LiveTab.open(a.ws_url) as presenter:
        code = present(presenter)
        presenter.send({"type": "step", "count": 7})
        presenter.recv_json("step")
        oracle = Trainer()
        oracle.run(presenter.state["metrics"]["step"] + 7)
        with LiveTab.open(f"{b.ws_url}?room={code}", leave=False) as late:
            assert late.state["metrics"]["step"] == oracle.step_count
            assert_same_weights(late.state, oracle)


def test_a_session_opened_on_one_machine_resumes_exactly_on_the_other(two):
    _, (a, b) = two
    with LiveTab.open(a.ws_url, leave=False) as tab:
        sid = tab.hello["session"]
        tab.send({"type": "set", "config": {"learning_rate": 0.1}})
        tab.recv_json("state")
        tab.send({"type": "step", "count": 25})
        assert tab.recv_json("step")["step"] == 25
    with LiveTab.open(f"{b.ws_url}?session={sid}") as tab:
        assert tab.hello["resumed"] is True
        assert tab.hello["session"] == sid
        assert tab.state["config"]["learning_rate"] == 0.1
        assert tab.state["metrics"]["step"] == 25
        resumed = tab.state
        tab.send({"type": "step", "count": 10})
        assert tab.recv_json("step")["step"] == 35
        after = fresh_state(tab)
    # the oracle: the same config and updates, in this process
    reference = _reference(resumed["config"], 25)
    assert_same_weights(resumed, reference)
    reference.run(10)
    assert_same_weights(after, reference)


def _reference(config: dict, updates: int) -> Trainer:
    """A trainer of `config`, fresh from its seed, after `updates` updates."""
    from engine.config import Config

    t = Trainer(Config.from_dict(config))
    t.run(updates)
    return t


def test_a_session_resumes_at_once_on_another_machine_while_playing(two):
    """The holder hands it over (checkpoint, lease), play state included."""
    _, (a, b) = two
    with LiveTab.open(a.ws_url, leave=False) as tab:
        sid = tab.hello["session"]
        tab.send({"type": "play", "speed": 2})
        tab.recv_until(lambda m: m.get("type") == "metrics" and m["step"] >= 20)
    with LiveTab.open(f"{b.ws_url}?session={sid}") as tab:
        assert tab.hello["resumed"] is True
        assert tab.state["playing"] is True
        step = tab.state["metrics"]["step"]
        assert step >= 20
        reference = _reference(tab.state["config"], step)
        assert_same_weights(tab.state, reference)
        later = tab.recv_until(lambda m: m.get("type") == "metrics" and m["step"] > step + 10)
        assert later["playing"] is True


def test_per_address_caps_hold_across_both_machines(two):
    _, (a, b) = two
    cap = 8  # Settings.max_sessions_per_address
    tabs = []
    try:
        for i in range(cap):
            server = (a, b)[i % 2]
            cm = LiveTab.open(server.ws_url, source_address=STUDENT)
            tabs.append(cm)
            cm.__enter__()
        for server in (a, b):
            with pytest.raises(ConnectionClosed) as refused:
                with LiveTab.open(server.ws_url, source_address=STUDENT):
                    pass
            assert refused.value.rcvd.code == 4003
            assert "limit" in refused.value.rcvd.reason
    finally:
        for cm in reversed(tabs):
            cm.__exit__(None, None, None)
    # once they left, the address may open sessions again, on either machine
    time.sleep(0.3)
    with LiveTab.open(b.ws_url, source_address=STUDENT) as tab:
        assert tab.hello["session"]


def test_follower_caps_hold_across_both_machines(two):
    _, (a, b) = two
    cap = 8  # Settings.max_followers_per_address
    with LiveTab.open(a.ws_url) as presenter:
        code = present(presenter)
        followers = []
        try:
            for i in range(cap):
                cm = LiveTab.open(
                    f"{(a, b)[i % 2].ws_url}?room={code}", leave=False, source_address=STUDENT
                )
                cm.__enter__()
                followers.append(cm)
            for server in (a, b):
                with pytest.raises(ConnectionClosed) as refused:
                    with LiveTab.open(
                        f"{server.ws_url}?room={code}", leave=False, source_address=STUDENT
                    ):
                        pass
                assert refused.value.rcvd.code == 4003
            presenter.recv_until(lambda m: m.get("type") == "room" and m["followers"] == cap)
        finally:
            for cm in reversed(followers):
                cm.__exit__(None, None, None)


def test_wrong_room_codes_back_off_across_both_machines(two):
    _, (a, b) = two
    codes = []
    for i in range(7):
        server = (a, b)[i % 2]
        with pytest.raises(ConnectionClosed) as refused:
            with LiveTab.open(f"{server.ws_url}?room=ZZZZZ{i}", source_address="127.0.0.3"):
                pass
        codes.append(refused.value.rcvd.code)
    assert codes[:6] == [4004] * 6, codes  # five free wrong codes, the sixth starts the wait
    assert codes[6] == 4005, codes


def test_a_room_survives_its_presenters_worker_being_killed():
    with cluster(2) as (_, (a, b)):
        with LiveTab.open(a.ws_url, leave=False) as presenter:
            sid = presenter.hello["session"]
            presenter.send({"type": "open_room"})
            room = presenter.recv_json("room")
            presenter.send({"type": "step", "count": 30})
            presenter.recv_json("step")
            time.sleep(2.5)  # a checkpoint (checkpoint_period_s = 2) has been written
            with LiveTab.open(f"{b.ws_url}?room={room['code']}", leave=False) as follower:
                a.kill9()
                gone = follower.recv_until(
                    lambda m: m.get("type") == "room" and not m["presenter_online"], timeout=10
                )
                assert gone["code"] == room["code"]
                # the presenter's page reconnects (a load balancer sends it to B)
                with LiveTab.open(f"{b.ws_url}?session={sid}") as back:
                    assert back.hello["resumed"] is True
                    assert back.hello["role"] == "presenter"
                    assert back.state["metrics"]["step"] == 30
                    charted = [e["step"] for e in back.state["history"]]
                    assert charted[0] == 0 and charted[-1] == 30, charted  # the charts too
                    assert_same_weights(back.state, _reference(back.state["config"], 30))
                    back.send({"type": "step", "count": 2})
                    assert steps_seen(follower, 32)[-1] == 32
                    follower.recv_until(
                        lambda m: m.get("type") == "room" and m["presenter_online"], timeout=10
                    )


def test_the_presenter_token_resumes_the_room_on_another_machine(two):
    _, (a, b) = two
    with LiveTab.open(a.ws_url, leave=False) as presenter:
        presenter.send({"type": "open_room"})
        room = presenter.recv_json("room")
    url = f"{b.ws_url}?room={room['code']}&token={room['token']}"
    with LiveTab.open(url) as back:
        assert back.hello["role"] == "presenter"
        assert back.hello["room"]["code"] == room["code"]
    with pytest.raises(ConnectionClosed) as refused:
        with LiveTab.open(f"{a.ws_url}?room={room['code']}&token=wrong"):
            pass
    assert refused.value.rcvd.code == 4004


def test_redis_lost_mid_class_sessions_play_on_and_rooms_recover():
    with cluster(2) as (redis_server, (a, b)):
        with LiveTab.open(a.ws_url) as presenter:
            code = present(presenter)
            with LiveTab.open(f"{b.ws_url}?room={code}", leave=False) as follower:
                presenter.send({"type": "play", "speed": 1})
                follower.recv_until(lambda m: "binary" in m)
                redis_server.stop()
                follower.recv_until(
                    lambda m: m.get("type") == "room" and m["relay"] == "reconnecting", timeout=10
                )
                # the presenter's own session plays on without Redis
                first = presenter.recv_until(lambda m: m.get("type") == "metrics")["step"]
                presenter.recv_until(
                    lambda m: m.get("type") == "metrics" and m["step"] > first + 15
                )
                redis_server.start()
                follower.recv_until(
                    lambda m: m.get("type") == "room" and m["relay"] == "ok", timeout=15
                )
                fresh = follower.recv_until(lambda m: m.get("type") == "metrics", timeout=10)
                assert fresh["step"] > first + 9
                presenter.send({"type": "pause"})
        # nothing crashed: both still serve new tabs
        for server in (a, b):
            with LiveTab.open(server.ws_url) as tab:
                assert tab.hello["session"]


def test_redis_unreachable_at_start_is_one_clear_line_and_a_failure():
    port = free_port()
    run = subprocess.run(
        [sys.executable, "-m", "server", "--no-browser", "--port", "0"]
        + ["--redis", f"redis://127.0.0.1:{port}/0", "--workers", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("backprop-lab: cannot reach Redis at redis://127.0.0.1:")


def test_more_than_one_worker_needs_redis():
    run = subprocess.run(
        [sys.executable, "-m", "server", "--no-browser", "--port", "0", "--workers", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "--workers 2 needs --redis" in run.stderr


def test_two_workers_on_one_port_share_sessions():
    """`--workers 2`: one port, two processes; a session resumes whichever one a
    reconnection reaches, and both answer."""
    redis_server = RedisServer()
    redis_server.start()
    server = ServerProcess(redis_server.url, "--workers", "2")
    try:
        workers = set()
        sid = None
        for _ in range(40):
            url = server.ws_url + (f"?session={sid}" if sid else "")
            with LiveTab.open(url, leave=False) as tab:
                sid = tab.hello["session"]
                tab.send({"type": "step", "count": 1})
                step = tab.recv_json("step")["step"]
            workers.add(json.loads(_get(server.url + "/healthz"))["worker"])
            if len(workers) == 2 and step >= 3:
                break
        assert step >= 3
        assert len(workers) == 2, workers
        with LiveTab.open(f"{server.ws_url}?session={sid}") as tab:
            assert tab.state["metrics"]["step"] == step
            assert_same_weights(tab.state, _reference(tab.state["config"], step))
    finally:
        server.stop()
        redis_server.stop()


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def test_a_fork_made_on_one_machine_is_driven_from_the_other(two):
    _, (a, b) = two
    with LiveTab.open(a.ws_url) as presenter:
        code = present(presenter)
        presenter.send({"type": "step", "count": 9})
        step = presenter.recv_json("step")["step"]
        with LiveTab.open(f"{b.ws_url}?room={code}", leave=False) as follower:
            follower.send({"type": "fork"})
            forked = follower.recv_json("forked")
            assert forked["step"] == step
        # the page drives the fork with its id; a load balancer may send it to A
        with LiveTab.open(f"{a.ws_url}?session={forked['session']}") as fork:
            assert fork.hello["resumed"] is True
            assert fork.hello["role"] == "solo"
            assert fork.state["metrics"]["step"] == step
            assert_same_weights(fork.state, _reference(fork.state["config"], step))


def test_closing_a_room_closes_its_followers_on_every_machine(two):
    _, (a, b) = two
    with LiveTab.open(a.ws_url) as presenter:
        code = present(presenter)
        with (
            LiveTab.open(f"{a.ws_url}?room={code}", leave=False) as on_a,
            LiveTab.open(f"{b.ws_url}?room={code}", leave=False) as on_b,
        ):
            presenter.send({"type": "close_room"})
            for follower in (on_a, on_b):
                with pytest.raises(ConnectionClosed):
                    while True:
                        follower.recv(timeout=10)
                assert follower.close_code == 4004
    with pytest.raises(ConnectionClosed) as refused:
        with LiveTab.open(f"{b.ws_url}?room={code}", leave=False):
            pass
    assert refused.value.rcvd.code == 4004


def test_rooms_per_address_hold_across_both_machines(two):
    _, (a, b) = two
    cap = 2  # Settings.max_rooms_per_address
    with (
        LiveTab.open(a.ws_url, source_address=STUDENT) as one,
        LiveTab.open(b.ws_url, source_address=STUDENT) as two_,
        LiveTab.open(a.ws_url, source_address=STUDENT) as three,
    ):
        for tab in (one, two_)[:cap]:
            present(tab)
        three.send({"type": "open_room"})
        refused = three.recv_json("error")
        assert refused["re"] == "open_room" and "limit" in refused["message"]
        one.send({"type": "close_room"})
        one.recv_json("room")
        assert present(three)  # a room closed on A frees a place counted on both


def test_the_class_answers_across_machines_and_nothing_is_counted_twice(two):
    """Issue 27 on two workers: 30 followers, half on each, answer the presenter's question;
    the presenter's counts are the Redis-wide ones; a follower who moves to the other
    machine keeps its one answer; the reveal is the real update's sign and closes the
    answers on both."""
    import contextlib
    import secrets

    _, (a, b) = two
    link = {"kind": "link", "layer": 0, "i": 0, "j": 1}
    with contextlib.ExitStack() as stack:
        presenter = stack.enter_context(LiveTab.open(a.ws_url))
        code = present(presenter)
        voters = [secrets.token_urlsafe(16) for _ in range(30)]
        students = [
            stack.enter_context(
                LiveTab.open(f"{(a if k % 2 else b).ws_url}?room={code}&voter={v}", leave=False)
            )
            for k, v in enumerate(voters)
        ]
        before = fresh_state(presenter)
        presenter.send({"type": "ask", "question": {"kind": "update_sign", "target": link}})
        q = presenter.recv_json("question")
        for k, s in enumerate(students):
            assert s.recv_json("question")["id"] == q["id"]
            s.send({"type": "answer", "question": q["id"], "value": "up" if k < 15 else "down"})
            assert s.recv_json("question")["answer"] == ("up" if k < 15 else "down")
        for s in students[:5]:  # changed answers replace, on either machine
            s.send({"type": "answer", "question": q["id"], "value": "down"})
            s.recv_json("question")

        def tally(want: dict) -> dict:
            return presenter.recv_until(
                lambda m: m.get("type") == "answers" and all(m[k] == v for k, v in want.items()),
                timeout=10,
            )

        assert tally({"answered": 30, "counts": [10, 20, 0]})["followers"] == 30
        # student 0 (on B) moves to A: its answer comes along and still counts once
        students[0].ws.close()
        moved = stack.enter_context(
            LiveTab.open(f"{a.ws_url}?room={code}&voter={voters[0]}", leave=False)
        )
        assert moved.recv_json("question")["answer"] == "down"
        moved.send({"type": "answer", "question": q["id"], "value": "up"})
        assert moved.recv_json("question")["answer"] == "up"
        tally({"answered": 30, "counts": [11, 19, 0]})
        # the oracle: the session's own update of that weight, made after the question
        presenter.send({"type": "step"})
        presenter.recv_json("step")
        after = fresh_state(presenter)
        w0, w1 = (s["params"]["weights"][0][0][1] for s in (before, after))
        sign = "up" if w1 > w0 else "down"
        presenter.send({"type": "reveal"})
        shown = presenter.recv_json("reveal")
        assert shown["truth"] == sign and shown["counts"] == [11, 19, 0]
        assert shown["right"] == (11 if sign == "up" else 19)
        for s in [moved, *students[1:]]:
            assert s.recv_json("reveal")["id"] == q["id"]
        on_b = students[2]
        on_b.send({"type": "answer", "question": q["id"], "value": "up"})
        late = on_b.recv_until(lambda m: m.get("type") == "error")
        assert late["code"] == "rejected" and "revealed" in late["message"]
        on_b.send({"type": "ask", "question": {"kind": "loss_direction"}})
        assert on_b.recv_until(lambda m: m.get("type") == "error")["code"] == "forbidden"
        # a late joiner on B sees the question and the reveal
        with LiveTab.open(f"{b.ws_url}?room={code}", leave=False) as late_joiner:
            assert late_joiner.recv_json("question")["id"] == q["id"]
            assert late_joiner.recv_json("reveal")["truth"] == sign


def test_an_open_question_moves_with_the_room_to_another_machine(two):
    """The presenter's tab comes back on the other worker (its token): the open question,
    the answers given so far (in Redis) and the engine's answer go on there."""
    _, (a, b) = two
    with LiveTab.open(a.ws_url, leave=False) as presenter:
        presenter.send({"type": "open_room"})
        room = presenter.recv_json("room")
        presenter.send({"type": "ask", "question": {"kind": "loss_direction"}})
        q = presenter.recv_json("question")
        with LiveTab.open(f"{a.ws_url}?room={room['code']}", leave=False) as s:
            s.recv_json("question")
            s.send({"type": "answer", "question": q["id"], "value": "down"})
            s.recv_json("question")
        before = fresh_state(presenter)["metrics"]["loss"]["train"]
    url = f"{b.ws_url}?room={room['code']}&token={room['token']}"
    with LiveTab.open(url) as back:
        again = back.recv_json("question")
        assert again["id"] == q["id"]
        assert back.recv_json("answers")["answered"] == 1  # counted before the move
        back.send({"type": "step"})
        after = back.recv_json("step")["loss"]["train"]
        back.send({"type": "reveal"})
        shown = back.recv_json("reveal")
        assert shown["truth"] == ("up" if after > before else "down")
        assert shown["counts"] == [0, 1, 0] and shown["answered"] == 1

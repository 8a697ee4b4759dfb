"""A restart loses nothing: one server process with its default store (a SQLite file in a
state directory of the test's own), stopped (SIGTERM) or killed (kill -9, after a checkpoint
period) and started again with the same command. The oracle for "exactly" is an engine
Trainer run here, in this process, for the same updates."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time

import pytest
from websockets.exceptions import ConnectionClosed

from server.store import digest
from tests.helpers.cluster import ROOT, ServerProcess, free_port
from tests.helpers.tabs import LiveTab
from tests.test_cluster import _reference, assert_same_weights, fresh_state

STUDENT = "127.0.0.2"


def start(state, port: int) -> ServerProcess:
    return ServerProcess(None, "--state", str(state), "--port", str(port))


def stop(server: ServerProcess, how: str) -> None:
    if how == "sigterm":
        # uvicorn re-raises the signal once it has shut down cleanly
        assert server.sigterm() in (0, -15), server.logs()
        assert "Application shutdown complete" in server.logs()
    else:
        server.kill9()


@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_a_restart_brings_back_the_session_the_room_its_token_and_its_followers(tmp_path, how):
    port, state = free_port(), tmp_path / "state"
    server = start(state, port)
    try:
        with LiveTab.open(server.ws_url, leave=False) as presenter:
            sid = presenter.hello["session"]
            presenter.send({"type": "set", "config": {"learning_rate": 0.1}})
            presenter.recv_json("state")
            presenter.send({"type": "step", "count": 25})
            assert presenter.recv_json("step")["step"] == 25
            presenter.send({"type": "open_room"})
            room = presenter.recv_json("room")
            url = f"{server.ws_url}?room={room['code']}"
            with LiveTab.open(url, leave=False, source_address=STUDENT) as follower:
                assert follower.hello["role"] == "follower"
                if how == "kill9":
                    time.sleep(2.6)  # a checkpoint period (2 s) has passed since the last change
                stop(server, how)
                with pytest.raises(ConnectionClosed) as closed:
                    follower.recv_json("nothing", timeout=10)
                # a restart is not the room's end: the page reconnects on anything but 4004
                assert closed.value.rcvd is None or closed.value.rcvd.code != 4004
        server = start(state, port)
        # the follower's page comes back first: the room is there, its presenter offline
        url = f"{server.ws_url}?room={room['code']}"
        with LiveTab.open(url, leave=False, source_address=STUDENT) as follower:
            assert follower.hello["role"] == "follower"
            assert follower.hello["room"]["presenter_online"] is False
            assert follower.state["metrics"]["step"] == 25
            with LiveTab.open(f"{server.ws_url}?session={sid}", leave=False) as back:
                assert back.hello["resumed"] is True
                assert back.hello["session"] == sid
                assert back.hello["role"] == "presenter"
                assert back.hello["room"]["code"] == room["code"]
                assert back.state["config"]["learning_rate"] == 0.1
                assert back.state["metrics"]["step"] == 25
                charted = [e["step"] for e in back.state["history"]]
                assert charted[0] == 0 and charted[-1] == 25, charted
                reference = _reference(back.state["config"], 25)
                assert_same_weights(back.state, reference)
                online = follower.recv_until(
                    lambda m: m.get("type") == "room" and m["presenter_online"], timeout=10
                )
                assert online["code"] == room["code"]
                back.send({"type": "step", "count": 3})
                assert back.recv_json("step")["step"] == 28
                assert follower.recv_json("step")["step"] == 28
                reference.run(3)
                assert_same_weights(fresh_state(back), reference)
            # the presenter's other browser, with the token alone
            token_url = f"{server.ws_url}?room={room['code']}&token={room['token']}"
            with LiveTab.open(token_url, leave=False) as again:
                assert again.hello["role"] == "presenter"
                assert again.state["metrics"]["step"] == 28
    finally:
        server.stop()


@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_a_playing_session_plays_on_after_a_restart(tmp_path, how):
    port, state = free_port(), tmp_path / "state"
    server = start(state, port)
    try:
        with LiveTab.open(server.ws_url, leave=False) as tab:
            sid = tab.hello["session"]
            tab.send({"type": "play", "speed": 2})
            tab.recv_until(lambda m: m.get("type") == "metrics" and m["step"] >= 20)
            if how == "kill9":
                time.sleep(2.6)
            stop(server, how)
        server = start(state, port)
        with LiveTab.open(f"{server.ws_url}?session={sid}") as tab:
            assert tab.hello["resumed"] is True
            assert tab.state["playing"] is True
            step = tab.state["metrics"]["step"]
            assert step >= 20
            assert_same_weights(tab.state, _reference(tab.state["config"], step))
            tab.recv_until(lambda m: m.get("type") == "metrics" and m["step"] > step + 10)
    finally:
        server.stop()


def test_a_room_closed_just_before_a_crash_stays_closed(tmp_path):
    port, state = free_port(), tmp_path / "state"
    server = start(state, port)
    try:
        with LiveTab.open(server.ws_url, leave=False) as presenter:
            sid = presenter.hello["session"]
            presenter.send({"type": "open_room"})
            room = presenter.recv_json("room")
            time.sleep(2.6)  # checkpointed as a room
            presenter.send({"type": "close_room"})
            presenter.recv_until(lambda m: m.get("type") == "room" and m["code"] is None)
            server.kill9()  # well within a checkpoint period of the close
        server = start(state, port)
        with pytest.raises(ConnectionClosed) as refused:
            with LiveTab.open(f"{server.ws_url}?room={room['code']}", source_address=STUDENT):
                pass
        assert refused.value.rcvd.code == 4004
        with LiveTab.open(f"{server.ws_url}?session={sid}") as back:
            assert back.hello["resumed"] is True
            assert back.hello["role"] == "solo"
    finally:
        server.stop()


def test_the_state_file_keeps_digests_not_secrets_in_a_private_directory(tmp_path):
    port, state = free_port(), tmp_path / "state"
    server = start(state, port)
    try:
        with LiveTab.open(server.ws_url, leave=False) as presenter:
            sid = presenter.hello["session"]
            presenter.send({"type": "open_room"})
            token = presenter.recv_json("room")["token"]
        stop(server, "sigterm")
        assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
        files = [p for p in state.iterdir() if p.name.startswith("sessions.sqlite3")]
        assert files
        for p in files:
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
            data = p.read_bytes()
            assert sid.encode() not in data and token.encode() not in data, p
        with sqlite3.connect(state / "sessions.sqlite3") as db:
            (key,) = db.execute("SELECT id FROM checkpoints").fetchone()
        assert key == digest(sid)
    finally:
        server.stop()


def launch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server", "--no-browser", "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_second_process_on_the_same_state_is_refused_in_one_line(tmp_path):
    state = tmp_path / "state"
    server = ServerProcess(None, "--state", str(state))
    try:
        run = launch("--state", str(state))
        assert run.returncode != 0
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        assert lines[0].startswith("backprop-lab: another backprop-lab (pid ")
        assert str(state) in lines[0] and "--state" in lines[0]
    finally:
        server.stop()


def test_a_corrupt_state_file_is_moved_aside_with_one_line_and_the_server_starts(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "sessions.sqlite3").write_bytes(b"this is not a database" * 100)
    server = ServerProcess(None, "--state", str(state))
    try:
        with LiveTab.open(server.ws_url) as tab:
            assert tab.hello["resumed"] is False
        said = [line for line in server.logs().splitlines() if "moved aside" in line]
        assert len(said) == 1, server.logs()
        aside = [p for p in state.iterdir() if ".unreadable-" in p.name]
        assert len(aside) == 1
        assert aside[0].read_bytes().startswith(b"this is not a database")
    finally:
        server.stop()


def test_a_newer_format_is_moved_aside_never_misread(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    with sqlite3.connect(state / "sessions.sqlite3") as db:
        db.execute("CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('format', '99')")
    server = ServerProcess(None, "--state", str(state))
    try:
        assert "format '99'" in server.logs()
        assert [p for p in state.iterdir() if ".unreadable-" in p.name]
    finally:
        server.stop()


def test_a_cluster_restarted_whole_brings_back_the_session_the_room_and_its_followers():
    """Cluster mode: every worker stopped (SIGTERM) and started again on the same Redis."""
    from tests.helpers.cluster import RedisServer

    redis_server = RedisServer()
    redis_server.start()
    server = ServerProcess(redis_server.url)
    try:
        with LiveTab.open(server.ws_url, leave=False) as presenter:
            sid = presenter.hello["session"]
            presenter.send({"type": "step", "count": 21})
            presenter.recv_json("step")
            presenter.send({"type": "open_room"})
            room = presenter.recv_json("room")
            stop(server, "sigterm")
        server = ServerProcess(redis_server.url)
        url = f"{server.ws_url}?room={room['code']}"
        with LiveTab.open(url, leave=False, source_address=STUDENT) as follower:
            assert follower.hello["role"] == "follower"
            with LiveTab.open(f"{server.ws_url}?session={sid}", leave=False) as back:
                assert back.hello["resumed"] is True
                assert back.hello["room"]["code"] == room["code"]
                assert back.state["metrics"]["step"] == 21
                assert_same_weights(back.state, _reference(back.state["config"], 21))
                follower.recv_until(
                    lambda m: m.get("type") == "room" and m["presenter_online"], timeout=10
                )
                back.send({"type": "step", "count": 1})
                assert follower.recv_json("step")["step"] == 22
            token_url = f"{server.ws_url}?room={room['code']}&token={room['token']}"
            with LiveTab.open(token_url, leave=False) as again:
                assert again.hello["role"] == "presenter"
    finally:
        server.stop()
        redis_server.stop()

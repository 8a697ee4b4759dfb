"""Cluster mode under faults: a room closed while its worker is cut off from Redis, or just
before its worker is killed, never comes back; a full Redis (maxmemory, noeviction) is told
apart from an unreachable one and one oversized checkpoint does not stop the others; no new
session while Redis is away; the Redis password stays out of the logs and the command line;
`--workers N` logs the app's INFO lines. Real redis-server and server processes
(tests/helpers/cluster.py); a small TCP relay in this file plays the network partition."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests.helpers.cluster import RedisServer, ServerProcess, cluster
from tests.helpers.tabs import LiveTab
from tests.test_cluster import _reference, assert_same_weights

STUDENT = "127.0.0.2"


class Relay:
    """A TCP relay to Redis that a test can cut (every connection dropped, new ones refused
    at once) and mend: a worker's network partition, the other worker unaffected."""

    def __init__(self, target_port: int):
        self.target = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = False
        self.pairs: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.pairs += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                if self.cut:
                    break
                b.sendall(data)
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.close()

    def sever(self) -> None:
        self.cut = True
        for s in self.pairs:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self.pairs = []

    def mend(self) -> None:
        self.cut = False

    def close(self) -> None:
        self.sever()
        self.listener.close()


def _refused_code(url: str) -> int:
    with pytest.raises(ConnectionClosed) as refused:
        with LiveTab.open(url, source_address=STUDENT):
            pass
    return refused.value.rcvd.code


def test_a_room_closed_just_before_its_worker_is_killed_stays_closed():
    with cluster(2) as (_, (a, b)):
        with LiveTab.open(a.ws_url, leave=False) as presenter:
            sid = presenter.hello["session"]
            presenter.send({"type": "open_room"})
            code = presenter.recv_json("room")["code"]
            presenter.send({"type": "step", "count": 7})
            presenter.recv_json("step")
            time.sleep(2.5)  # checkpointed as a room
            presenter.send({"type": "close_room"})
            presenter.recv_until(lambda m: m.get("type") == "room" and m["code"] is None)
            a.kill9()
        with LiveTab.open(f"{b.ws_url}?session={sid}") as back:
            assert back.hello["resumed"] is True
            assert back.hello["role"] == "solo"
            assert back.hello["room"] is None
            assert back.state["metrics"]["step"] == 7
            assert_same_weights(back.state, _reference(back.state["config"], 7))
        assert _refused_code(f"{b.ws_url}?room={code}") == 4004


def test_a_room_closed_while_its_worker_is_cut_off_does_not_come_back():
    redis_server = RedisServer()
    redis_server.start()
    relay = Relay(redis_server.port)
    a = ServerProcess(relay.url())
    b = ServerProcess(redis_server.url)
    try:
        with LiveTab.open(a.ws_url, leave=False) as presenter:
            presenter.send({"type": "open_room"})
            code = presenter.recv_json("room")["code"]
            time.sleep(2.5)
            relay.sever()
            time.sleep(1.5)  # the worker knows it is cut off
            presenter.send({"type": "close_room"})
            presenter.recv_until(lambda m: m.get("type") == "room" and m["code"] is None)
            relay.mend()
            deadline = time.monotonic() + 10
            while redis_server.cli("EXISTS", f"bpl:room:{code}") and time.monotonic() < deadline:
                time.sleep(0.2)
        assert redis_server.cli("EXISTS", f"bpl:room:{code}") == 0, a.logs()
        assert _refused_code(f"{b.ws_url}?room={code}") == 4004
    finally:
        for s in (a, b):
            s.stop()
        relay.close()
        redis_server.stop()


def test_a_full_redis_is_said_as_full_and_one_huge_checkpoint_stops_no_other():
    redis_server = RedisServer()
    redis_server.start()
    worker = ServerProcess(redis_server.url, env={"BACKPROP_LAB_MAX_CHECKPOINT_KB": "64"})
    try:
        with (
            LiveTab.open(worker.ws_url, leave=False) as big,
            LiveTab.open(worker.ws_url, leave=False) as small,
        ):
            big_sid, small_sid = big.hello["session"], small.hello["session"]
            big.send({"type": "configure", "config": {"hidden": [32] * 8}})
            big.recv_json("state")
            small.send({"type": "step", "count": 9})
            small.recv_json("step")
            time.sleep(2.6)  # a checkpoint period: the big one is refused, the small written
            assert "over max_checkpoint_kb" in worker.logs()
            # now Redis is full: nothing more fits
            used = int(redis_server.cli("INFO", "memory")["used_memory"])
            redis_server.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
            redis_server.cli("CONFIG", "SET", "maxmemory", str(used))
            small.send({"type": "step", "count": 3})
            last = small.recv_json("step")["step"]
            assert last == 12  # plays on
            # Redis refuses a write once its memory passes the limit, which a checkpoint of a
            # session that changed does soon; it keeps playing while the worker waits for that
            for _ in range(8):
                time.sleep(2.6)  # a checkpoint period
                if "Redis is full" in worker.logs():
                    break
                small.send({"type": "step", "count": 3})
                last = small.recv_json("step")["step"]
            logs = worker.logs()
            assert "Redis is full" in logs, logs
            assert "unreachable" not in logs, logs
            # its heartbeat still keeps it alive: no other worker may take its sessions
            assert redis_server.cli("KEYS", "bpl:worker:*")
            redis_server.cli("CONFIG", "SET", "maxmemory", "0")
            time.sleep(3)
            assert "Redis has room again" in worker.logs()
        worker.kill9()
        other = ServerProcess(redis_server.url)
        try:
            with LiveTab.open(f"{other.ws_url}?session={small_sid}") as back:
                assert back.hello["resumed"] is True
                assert back.state["metrics"]["step"] == last
            with LiveTab.open(f"{other.ws_url}?session={big_sid}") as lost:
                assert lost.hello["resumed"] is False
                assert lost.hello["lost"]
        finally:
            other.stop()
    finally:
        worker.stop()
        redis_server.stop()


def test_no_new_session_while_redis_is_away_and_the_password_is_never_logged(tmp_path):
    redis_server = RedisServer()
    redis_server.start()
    redis_server.cli("CONFIG", "SET", "requirepass", "s3cret-pw")
    url = f"redis://127.0.0.1:{redis_server.port}/0?password=s3cret-pw"
    in_url = ServerProcess(url)
    secret = tmp_path / "redis-password"
    secret.write_text("s3cret-pw\n")
    from_file = ServerProcess(
        redis_server.url, env={"BACKPROP_LAB_REDIS_PASSWORD_FILE": str(secret)}
    )
    try:
        for server in (in_url, from_file):
            with LiveTab.open(server.ws_url) as tab:
                assert tab.hello["session"]
        redis_server.stop()
        time.sleep(2.5)  # the workers' heartbeats have found it gone
        assert _refused_code(in_url.ws_url) == 4003
        for server in (in_url, from_file):
            assert "s3cret-pw" not in server.logs(), server.logs()
            assert "joined the cluster" in server.logs()
    finally:
        for s in (in_url, from_file):
            s.stop()
        redis_server.stop()


def test_workers_log_the_apps_info_lines():
    redis_server = RedisServer()
    redis_server.start()
    server = ServerProcess(redis_server.url, "--workers", "2")
    try:
        deadline = time.monotonic() + 10
        while server.logs().count("joined the cluster") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert server.logs().count("INFO backprop_lab.cluster: worker") == 2, server.logs()
    finally:
        server.stop()
        redis_server.stop()

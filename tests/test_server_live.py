"""A real uvicorn server on 127.0.0.1, port 0, driven by the synchronous `websockets` client:
resume, origins, Host rebinding, oversized messages, a stalled client, and a fuzz."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import InvalidStatus

from engine.config import DATASETS, FEATURES, OPTIMIZERS
from server.messages_in import parse_client_message
from server.protocol import ErrorCode, ProtocolError
from server.settings import Settings
from tests.helpers.stalled import masked_frame, stalled_client
from tests.helpers.tabs import LiveTab


def test_a_session_resumes_after_a_reconnect(live):
    with LiveTab.open(live.ws_url, leave=False) as ws:
        sid = ws.hello["session"]
        ws.send('{"type": "step", "count": 7}')
        assert ws.recv_json("step")["step"] == 7
        ws.send('{"type": "export"}')
        snap = ws.recv_json("snapshot")["snapshot"]
        ws.send('{"type": "play", "speed": 3}')
        ws.recv_json("metrics")
    session = live.app.state.sessions.sessions[sid]
    time.sleep(0.3)
    frozen = session.trainer.step_count
    time.sleep(0.3)
    assert session.trainer.step_count == frozen and session.playing  # paused while away

    with LiveTab.open(f"{live.ws_url}?session={sid}") as ws:
        assert ws.hello["session"] == sid and ws.hello["resumed"] is True
        assert ws.state["metrics"]["step"] == frozen and ws.state["playing"] is True
        assert ws.state["speed"] == 3 and len(ws.state["history"]) >= len(snap["history"])
        assert ws.recv_json("metrics")["step"] > frozen  # and it plays on
        ws.send('{"type": "pause"}')
        paused = ws.recv_json("state")["metrics"]["step"]
        ws.send('{"type": "step_back"}')  # the undo stack survived the reconnect too
        assert ws.recv_json("state")["metrics"]["step"] == paused - 1


def test_a_foreign_origin_is_refused_with_403(live):
    for origin in (
        "http://evil.example",
        f"http://localhost:{live.port + 1}",
        "null",
        f"https://127.0.0.1.evil.example:{live.port}",
    ):
        with pytest.raises(InvalidStatus) as e, LiveTab.open(live.ws_url, origin=origin):
            pass
        assert e.value.response.status_code == 403, origin
    for origin in (f"http://127.0.0.1:{live.port}", f"http://localhost:{live.port}"):
        url = origin.replace("http", "ws") + "/ws"  # the same host:port as the page
        with LiveTab.open(url, origin=origin) as tab:
            assert tab.hello["type"] == "hello"


def test_allow_origin_entries_are_accepted(live_server_factory):
    with live_server_factory(Settings(allow_origins=["http://localhost:5173"])) as server:
        with LiveTab.open(server.ws_url, origin="http://localhost:5173") as tab:
            assert tab.hello["type"] == "hello"
        with (
            pytest.raises(InvalidStatus),
            LiveTab.open(server.ws_url, origin="http://localhost:5174"),
        ):
            pass


def _raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        return s.recv(4096)


def test_a_rebinding_host_is_refused(live):
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=5)
    conn.request("GET", "/", headers={"Host": "attacker.example"})
    r = conn.getresponse()
    assert r.status == 400 and b"Invalid host" in r.read()
    conn.request("GET", "/healthz", headers={"Host": f"localhost:{live.port}"})
    r = conn.getresponse()
    assert r.status == 200 and r.read()
    handshake = (
        f"GET /ws HTTP/1.1\r\nHost: attacker.example:{live.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    assert _raw_request(live.port, handshake).startswith(b"HTTP/1.1 400")


def test_the_page_and_its_assets_are_served(live):
    with urllib.request.urlopen(live.url + "/") as r:
        page = r.read().decode()
    assert "/static/js/main.js" in page
    with urllib.request.urlopen(live.url + "/static/js/main.js") as r:
        assert r.status == 200
    with urllib.request.urlopen(live.url + "/healthz") as r:
        assert json.loads(r.read())["status"] == "ok"


def test_an_oversized_message_is_answered_and_the_connection_stays(live):
    with LiveTab.open(live.ws_url) as ws:
        session = live.app.state.sessions.sessions[ws.hello["session"]]
        ws.send('{"type": "configure", "config": {"seed": 5}, "pad": "' + "x" * 100_000 + '"}')
        err = ws.recv_json("error")
        assert err["code"] == "too_large" and "65536" in err["message"]
        assert session.trainer.config.seed == 0
        ws.send('{"type": "step"}')
        assert ws.recv_json("step")["step"] == 1


# the largest network, so that its frames (~64 KB of float32 weights) fill buffers soon
PLAY_THE_LARGEST = (
    json.dumps(
        {
            "type": "configure",
            "config": {"features": list(FEATURES), "hidden": [32] * 8, "batch_norm": True},
        }
    ),
    '{"type": "play", "speed": 1}',
)


def test_a_stalled_client_does_not_slow_a_healthy_one(live):
    sessions = live.app.state.sessions.sessions
    known = set(sessions)
    stalled = stalled_client(live.port, messages=PLAY_THE_LARGEST)
    try:
        deadline = time.monotonic() + 5
        while not (set(sessions) - known):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        stalled_session = sessions[(set(sessions) - known).pop()]
        time.sleep(1.5)  # long enough for its socket buffers to fill
        with LiveTab.open(live.ws_url) as ws:
            ws.send('{"type": "play", "speed": 1}')
            ws.recv_json("metrics")
            stalled_from = stalled_session.trainer.step_count
            steps = [ws.recv_json("metrics")["step"] for _ in range(60)]
        # one update a frame: the healthy tab got most of its frames, and both played on
        assert len(set(steps)) >= 0.5 * (steps[-1] - steps[0]), steps
        assert stalled_session.trainer.step_count > stalled_from
        # the stalled tab's session kept training, and its queue stayed one frame deep
        outbox = stalled_session.client.outbox
        assert stalled_session.playing and stalled_session.trainer.step_count > 60
        assert outbox.replaced_frames > 10 and len(outbox) <= 3
    finally:
        stalled.sendall(masked_frame('{"type": "leave"}'))
        stalled.close()


def test_leave_frees_the_slot_even_when_the_client_hangs_up_at_once(live_server_factory):
    with live_server_factory(Settings(max_sessions=1)) as server:
        sessions = server.app.state.sessions.sessions
        with LiveTab.open(server.ws_url) as ws:
            sid = ws.hello["session"]
        assert sessions == {}
        with LiveTab.open(f"{server.ws_url}?session={sid}", leave=False) as ws:
            assert ws.hello["resumed"] is False
            ws.send('{"type": "leave"}')  # and close without waiting for the reply
        deadline = time.monotonic() + 5
        while sessions:
            assert time.monotonic() < deadline, "the session outlived its leave"
            time.sleep(0.01)
        with LiveTab.open(server.ws_url) as ws:  # the one slot is free
            assert ws.hello["type"] == "hello"


# the fuzz

TEMPLATES = [
    {"type": "configure", "config": {"learning_rate": 0.1}},
    {"type": "set", "config": {"learning_rate": 0.1}},
    {"type": "step"},
    {"type": "step", "count": 3, "unit": "update"},
    {"type": "play", "speed": 2},
    {"type": "pause"},
    {"type": "reset"},
    {"type": "inspect", "layer": 0, "neuron": 1, "source": 0, "example": 3},
    {"type": "set_weight", "layer": 0, "neuron": 1, "source": 0, "value": 0.5},
    {"type": "add_point", "x1": 1.0, "x2": 2.0, "label": 1, "split": "train"},
    {"type": "remove_point", "split": "train", "index": 3},
    {"type": "import", "snapshot": {"version": 1}},
    {"type": "view"},
]
WRONG_VALUES = st.one_of(
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.booleans(),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated(draw) -> str:
    """A valid message broken in one way that no handler may accept."""
    msg = dict(draw(st.sampled_from(TEMPLATES)))
    how = draw(
        st.sampled_from(
            [
                "extra",
                "drop",
                "retype",
                "range",
                "nan",
                "truncate",
                "type",
                "bad_config",
                "config_range",
                "wrap",
            ]
        )
    )
    fields = [k for k in msg if k != "type"]
    if how == "extra":
        msg[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in msg))] = draw(
            json_values
        )
    elif how == "drop" and fields and msg["type"] not in ("step", "play", "view"):
        del msg[draw(st.sampled_from(fields))]
    elif how == "retype" and fields:
        msg[draw(st.sampled_from(fields))] = draw(WRONG_VALUES)
    elif how == "range":
        msg = draw(
            st.sampled_from(
                [
                    {"type": "step", "count": draw(st.integers(max_value=0) | st.integers(1001))},
                    {"type": "play", "speed": draw(st.integers(max_value=0) | st.integers(201))},
                    {
                        "type": "set_weight",
                        "layer": 0,
                        "neuron": 0,
                        "value": draw(st.floats(100.001, 1e300) | st.floats(-1e300, -100.001)),
                    },
                ]
            )
        )
    elif how == "config_range":  # valid for the parser, refused by the engine
        return json.dumps(
            draw(
                st.sampled_from(
                    [
                        {
                            "type": "set",
                            "config": {
                                "learning_rate": draw(
                                    st.floats(-1e300, 0.0) | st.floats(10.0001, 1e300)
                                )
                            },
                        },
                        {"type": "configure", "config": {"hidden": [draw(st.integers(33, 2**40))]}},
                        {
                            "type": "configure",
                            "config": {"n_points": draw(st.integers(2001, 2**40))},
                        },
                    ]
                )
            )
        )
    elif how == "nan":
        text = json.dumps(msg)
        token = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"]))
        return text[:-1] + f', "x": {token}}}'
    elif how == "truncate":
        text = json.dumps(msg)
        return text[: draw(st.integers(0, len(text) - 1))]
    elif how == "type":
        msg["type"] = draw(
            st.text(max_size=12).filter(
                lambda t: (
                    t not in {m["type"] for m in TEMPLATES} | {"export", "gradcheck", "step_back"}
                )
            )
        )
    elif how == "bad_config":  # valid for the parser, refused by the engine
        return json.dumps(
            {
                "type": draw(st.sampled_from(["configure", "set"])),
                "config": {
                    draw(
                        st.sampled_from(["dataset", "noise", "batch_size", "features", "optimizer"])
                    ): draw(WRONG_VALUES.filter(lambda v: v not in DATASETS + OPTIMIZERS))
                },
            }
        )
    else:
        return json.dumps([msg])
    if msg == draw(st.sampled_from(TEMPLATES)) or not _invalid(json.dumps(msg)):
        msg["zz_unknown"] = 1  # the mutation was a no-op: make sure it is not
    return json.dumps(msg)


def _invalid(text: str) -> bool:
    try:
        parse_client_message(text)
    except ProtocolError:
        return True
    return False


random_messages = st.one_of(
    json_values.map(json.dumps),
    st.text(max_size=60),
    st.dictionaries(
        st.sampled_from(["type", "config", "count", "unit", "speed", "x"]), json_values, max_size=4
    ).map(json.dumps),
).filter(_invalid)


def test_a_fuzz_of_random_and_mutated_messages_changes_nothing(hash_state, live_server_factory):
    relaxed = Settings(rate_burst=100_000, rate_per_s=100_000.0)
    with live_server_factory(relaxed) as server:
        with LiveTab.open(server.ws_url) as ws:
            fuzz(ws, server.app.state.sessions.sessions[ws.hello["session"]], hash_state)


def fuzz(ws, session, hash_state) -> None:
    """≥ 1,000 invalid messages, each answered with an error; the state hash never moves."""
    ws.send('{"type": "step", "count": 5}')
    ws.recv_json("step")
    time.sleep(0.1)
    before = hash_state(session)
    codes: dict[str, int] = {}

    @settings(
        max_examples=1200, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(text=st.one_of(mutated(), random_messages))
    def one(text):
        ws.send(text)
        err = ws.recv_json()
        assert err["type"] == "error", (text, err)
        assert err["code"] in {c.value for c in ErrorCode}
        codes[err["code"]] = codes.get(err["code"], 0) + 1

    one()
    print("fuzz refusals by code:", codes)
    assert sum(codes.values()) >= 1000, codes
    assert len(codes) >= 8 and codes.get("bad_config", 0) >= 20, codes  # many kinds reached
    ws.send('{"type": "export"}')
    ws.recv_json("snapshot")
    assert hash_state(session) == before


def test_the_launcher_binds_port_0_and_prints_the_real_url():
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Backprop Lab is running at http://127.0.0.1:")
        url = line.split()[-1]
        assert not url.endswith(":0/")
        for _ in range(100):
            try:
                with urllib.request.urlopen(url + "healthz", timeout=1) as r:
                    assert json.loads(r.read())["status"] == "ok"
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the launched server never answered /healthz")
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_browser_opens_only_once_healthz_answers(live, monkeypatch):
    from server import __main__ as launcher

    opened = []
    monkeypatch.setattr(launcher.webbrowser, "open", opened.append)
    launcher.open_when_ready(live.url + "/")
    assert opened == [live.url + "/"]
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    launcher.open_when_ready(dead, timeout_s=0.5)
    assert opened == [live.url + "/"]


def test_frame_gaps_are_even_in_play(live):
    with LiveTab.open(live.ws_url) as ws:
        ws.send('{"type": "play"}')
        stamps = [time.monotonic() for _ in range(40) if ws.recv_json("metrics")]
    gaps = [b - a for a, b in zip(stamps[5:], stamps[6:], strict=False)]
    # paced at 30 frames a second, not a burst (a loaded machine can only make gaps longer)
    assert statistics.median(gaps) > 0.75 / Settings().frame_rate


def test_accepted_connections_get_tcp_nodelay():
    """asyncio sets TCP_NODELAY only on sockets that say they are TCP; without it a reply
    waited ~40 ms behind the client's delayed ACK (Nagle)."""
    from server.__main__ import bind_socket

    async def scenario() -> int:
        got: asyncio.Future = asyncio.get_running_loop().create_future()

        class Grab(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                got.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        listener = bind_socket("127.0.0.1", 0)
        server = await asyncio.get_running_loop().create_server(Grab, sock=listener)
        with socket.create_connection(listener.getsockname()):
            flag = await asyncio.wait_for(got, 5)
        server.close()
        return flag

    assert asyncio.run(scenario()) != 0


def test_a_heavy_session_does_not_stall_another_one(live):
    """Ten epochs of 1,800 single-example updates of the largest network in one tab (a few
    seconds of training) while another tab plays: its frames keep coming."""
    with LiveTab.open(live.ws_url) as heavy, LiveTab.open(live.ws_url) as light:
        heavy.send(
            json.dumps(
                {
                    "type": "configure",
                    "config": {
                        "n_points": 2000,
                        "train_fraction": 0.9,
                        "batch_size": 1,
                        "features": list(FEATURES),
                        "hidden": [32] * 8,
                    },
                }
            )
        )
        heavy.recv_json("state")
        light.send('{"type": "play"}')
        light.recv_json("metrics")
        heavy.send('{"type": "step", "unit": "epoch", "count": 10}')
        t0 = time.monotonic()
        stamps = []
        while True:
            light.recv_json("metrics")
            stamps.append(time.monotonic())
            try:
                m = heavy.recv(timeout=0)
            except TimeoutError:
                continue
            if isinstance(m, str) and json.loads(m)["type"] == "step":
                break
        busy = time.monotonic() - t0
        assert json.loads(m)["epoch"] == 10
        # frames kept coming all through the job, in every quarter of it
        quarters = {min(3, int(4 * (t - t0) / busy)) for t in stamps}
        assert len(stamps) >= 8 and quarters == {0, 1, 2, 3}, (len(stamps), busy)

"""Shared fixtures: a TestClient app and its `tab`, a real uvicorn server on 127.0.0.1, port 0,
in a thread, and chromium for the browser tests.

`live_server` (session scope) yields the base URL, e.g. "http://127.0.0.1:41234"; the page's
browser tests use it too (as `base_url`). `live` is a server of a test module's own with
default settings. `live_server_factory` gives `start_live_server(settings)`, the context
manager behind both, for tests that need their own settings; it yields a `LiveServer` with
`.url`, `.ws_url`, `.port` and `.app`. `browser` is chromium (the browser tests fail, never
skip, without it) and `run(query, size)` opens the page in it as a `PageRun`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import sync_playwright

# No test keeps sessions in the user's state directory, nor shares them with another test:
# a test that restarts a server gives it a state directory of its own (tmp_path).
os.environ["BACKPROP_LAB_STATE"] = "none"

from server.__main__ import bind_socket, uvicorn_config  # noqa: E402
from server.app import create_app  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.helpers.page import CHROMIUM, CHROMIUM_ARGS, PageRun  # noqa: E402
from tests.helpers.tabs import Tab  # noqa: E402


@dataclass
class LiveServer:
    url: str
    ws_url: str
    app: object
    port: int


@contextlib.contextmanager
def start_live_server(settings: Settings | None = None):
    """Run the app under uvicorn in a daemon thread until the block exits."""
    settings = settings or Settings()
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": port})
    app = create_app(settings)
    server = uvicorn.Server(uvicorn_config(app, settings, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws", app, port)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="session")
def live_server_factory():
    """start_live_server itself, for tests that need a server with their own settings."""
    return start_live_server


@pytest.fixture(scope="session")
def live_server():
    """Base URL of a real server with default settings, shared by the whole test session."""
    with start_live_server() as live:
        yield live.url


@pytest.fixture(scope="module")
def live(live_server_factory):
    """A real server with default settings of the test module's own."""
    with live_server_factory(Settings()) as server:
        yield server


@pytest.fixture
def app():
    return create_app(Settings(trusted_hosts=["testserver"]))


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def tab(client):
    """A `Tab` of the TestClient app that has read its `hello` and `state`."""
    with client.websocket_connect("/ws") as ws:
        t = Tab(ws)
        t.hello = t.until("hello")
        t.state = t.until("state")
        yield t


@pytest.fixture(scope="module")
def browser():
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def base_url(live_server) -> str:
    """The shared real server (`live_server`), as a base URL without a trailing slash."""
    return str(live_server).rstrip("/")


@pytest.fixture
def run(browser, base_url):
    """run(query="", size=(1280, 720)) → a `PageRun`, each left and closed at the end."""
    runs = []

    def make(query: str = "", size=(1280, 720)) -> PageRun:
        r = PageRun(browser, base_url, query, size)
        runs.append(r)
        return r

    yield make
    for r in runs:
        r.close()


@pytest.fixture
def hash_state():
    """hash_state(session) → hex digest of its observable state."""
    return _state_hash


def _state_hash(session) -> str:
    """Hash of what a message could change: weights, config, data, counters, history, play."""
    with session.lock:
        t = session.trainer
        blob = json.dumps(
            {
                "params": t.parameters(),
                "config": t.config.to_dict(),
                "points": t.points(),
                "step": t.step_count,
                "epoch": t.epoch,
                "history": len(t.history),
                "phase": t.phase,
                "playing": session.playing,
                "speed": session.speed,
            },
            sort_keys=True,
        )
    return hashlib.sha256(blob.encode()).hexdigest()

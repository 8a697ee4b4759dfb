"""docs/deploy.md's nginx example, as it stands, in front of two app processes sharing a
Redis: the page, /healthz, a WebSocket (the Origin check through the proxy), a room whose
join link and QR code use the public URL, the student's real address for the caps, and a
kill -9 of the backend holding a session with the tab back through nginx.

Debian's nginx is installed by the README's test command, as redis-server is; this test
fails, never skips, without it."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from server.rooms import qr_rows
from tests.helpers.cluster import ROOT, RedisServer, ServerProcess, free_port
from tests.helpers.tabs import LiveTab
from tests.test_cluster import _reference, assert_same_weights

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STUDENT = "127.0.0.2"


def guide_example() -> str:
    """The first ```nginx block of docs/deploy.md."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    return re.search(r"```nginx\n(.*?)```", text, re.S).group(1)


def nginx_conf(tmp: Path, port: int, backends: list[int]) -> Path:
    """The guide's example with its `server` lines and port made this test's, inside the
    http block Debian's nginx.conf would give it (paths under `tmp`)."""
    example = guide_example()
    servers = re.findall(r"^\s*server \d+\.\d+\.\d+\.\d+:\d+;\n", example, re.M)
    assert len(servers) == 2, example
    example = example.replace(servers[0], f"    server 127.0.0.1:{backends[0]};\n")
    example = example.replace(servers[1], f"    server 127.0.0.1:{backends[1]};\n")
    assert "listen 8080;" in example
    example = example.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n access_log {tmp}/access.log;\n client_body_temp_path {tmp}/body;\n"
        f" proxy_temp_path {tmp}/proxy;\n fastcgi_temp_path {tmp}/fastcgi;\n"
        f" uwsgi_temp_path {tmp}/uwsgi;\n scgi_temp_path {tmp}/scgi;\n{example}\n}}\n"
    )
    return conf


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()


def test_the_guides_nginx_example_serves_two_app_processes(tmp_path):
    assert Path(NGINX).exists(), f"{NGINX} is missing: apt-get install nginx"
    redis_server = RedisServer()
    redis_server.start()
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    env = {"BACKPROP_LAB_PUBLIC_URL": public, "BACKPROP_LAB_EXEMPT_ADDRESSES": ""}
    apps = [ServerProcess(redis_server.url, env=env) for _ in range(2)]
    conf = nginx_conf(tmp_path, port, [a.port for a in apps])
    nginx = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                status, health = get(public + "/healthz")
                break
            except OSError:
                assert nginx.poll() is None, nginx.stderr.read()
                assert time.monotonic() < deadline, "nginx did not answer"
                time.sleep(0.1)
        assert status == 200 and '"status":"ok"' in health.replace(" ", "")
        status, page = get(public + "/")
        assert status == 200 and "Backprop Lab" in page
        ws = f"ws://127.0.0.1:{port}/ws"
        # a browser's Origin is the public address, port included: it must be let through
        with LiveTab.open(ws, leave=False, origin=public) as presenter:
            sid = presenter.hello["session"]
            presenter.send({"type": "step", "count": 12})
            assert presenter.recv_json("step")["step"] == 12
            presenter.send({"type": "open_room"})
            room = presenter.recv_json("room")
            join = f"{public}/?join={room['code']}"
            assert room["join_urls"] == [join]  # the public URL, not a backend's address
            assert room["qr"] == qr_rows(join)
            with LiveTab.open(
                f"{ws}?room={room['code']}", leave=False, origin=public, source_address=STUDENT
            ) as follower:
                assert follower.hello["role"] == "follower"
                presenter.send({"type": "step", "count": 1})
                assert follower.recv_json("step")["step"] == 13
                # the student is counted under its own address, through the proxy
                key = f"bpl:addr:followers:{STUDENT}"
                assert redis_server.cli("ZCARD", key) == 1, redis_server.cli("KEYS", "*addr*")
            time.sleep(2.5)  # a checkpoint period
        # kill -9 the backend that holds the session; the tab comes back through nginx
        worker = redis_server.cli("GET", f"bpl:lease:{sid}").decode()
        holder = next(a for a in apps if f'"worker":"{worker}"' in get(a.url + "/healthz")[1])
        holder.kill9()
        with LiveTab.open(f"{ws}?session={sid}", origin=public) as back:
            assert back.hello["resumed"] is True
            assert back.state["metrics"]["step"] == 13
            assert_same_weights(back.state, _reference(back.state["config"], 13))
    finally:
        nginx.send_signal(signal.SIGTERM)
        nginx.wait(10)
        for a in apps:
            a.stop()
        redis_server.stop()

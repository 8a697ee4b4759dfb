"""Cluster mode's test bench: a real `redis-server` on a free port and real server processes
(`python -m server --redis ...`) sharing it, as two machines of one service would.

Debian's redis-server is installed by the README's test command, as chromium is; a test that
needs it fails, never skips, without it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """redis-server on 127.0.0.1 with no persistence (a class's state is checkpoints that
    the workers rewrite every second, docs/deploy.md); `stop` and `start` again on the same
    port play an outage."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="bpl-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert os.path.exists(REDIS_SERVER), "redis-server is missing: apt-get install redis-server"
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def cli(self, *args: str) -> str:
        """A command through redis-cli's protocol, without redis-cli: a one-shot RESP call."""
        import redis

        r = redis.Redis(port=self.port)
        try:
            return r.execute_command(*args)
        finally:
            r.close()


class ServerProcess:
    """`python -m server --port 0 --no-browser --redis URL`, its port read off its banner
    (without `redis_url`: one process, its store as `extra` says, e.g. `--state DIR`; a later
    `--port N` in `extra` wins)."""

    def __init__(self, redis_url: str | None, *extra: str, env: dict | None = None):
        self.log = tempfile.NamedTemporaryFile(prefix="bpl-server-", suffix=".log", delete=False)
        shared = ["--redis", redis_url] if redis_url else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", "0", "--no-browser", *shared] + list(extra),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, **(env or {})},
        )
        line = self.proc.stdout.readline()
        m = re.search(r":(\d+)/", line)
        if not m:
            raise RuntimeError(f"the server did not start: {line!r} {self.logs()}")
        self.port = int(m.group(1))
        self._wait_healthy()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def _wait_healthy(self) -> None:
        import urllib.request

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            time.sleep(0.05)
        raise RuntimeError(f"the server did not answer: {self.logs()}")

    def logs(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def kill9(self) -> None:
        """As a crash: no checkpoint, no goodbye."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def sigterm(self) -> int:
        """A clean stop, as systemd or Ctrl-C asks for one; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


@contextlib.contextmanager
def cluster(n: int = 2, *extra: str) -> Iterator[tuple[RedisServer, list[ServerProcess]]]:
    """A Redis and `n` server processes sharing it."""
    redis_server = RedisServer()
    redis_server.start()
    servers: list[ServerProcess] = []
    try:
        for _ in range(n):
            servers.append(ServerProcess(redis_server.url, *extra))
        yield redis_server, servers
    finally:
        for s in servers:
            s.stop()
        redis_server.stop()
        shutil.rmtree(redis_server.dir, ignore_errors=True)

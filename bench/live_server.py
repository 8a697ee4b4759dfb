"""A real `python -m server` in its own process for the benchmarks, and their shared bits."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from websockets.sync.client import connect

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# bench/ off the path, the repository on it: `server` is a namespace package, which any
# server.py on the path (bench/server.py) would shadow
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != BENCH)]

from engine.config import FEATURES  # noqa: E402

DEEP = {"features": list(FEATURES), "hidden": [8] * 6, "activation": "tanh"}  # 7→[8×6]→1
DEFAULT: dict = {}  # 2→[4,2]→1


def start_server(**env: str) -> tuple[subprocess.Popen, str]:
    """(process, ws://…/ws URL) of a server on a free loopback port, answering already.

    The rate limit is lifted (a benchmark sends faster than a person); `env` adds or
    overrides BACKPROP_LAB_* settings, e.g. `BACKPROP_LAB_MAX_FOLLOWERS="800"`.
    """
    env = {
        **os.environ,
        "BACKPROP_LAB_RATE_BURST": "1000000",
        "BACKPROP_LAB_RATE_PER_S": "1000000",
        "BACKPROP_LAB_MAX_SESSIONS": "64",
        "BACKPROP_LAB_STATE": "none",  # a benchmark keeps nothing (bench/lab.py --stores does)
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--port", "0", "--no-browser"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = proc.stdout.readline().split()[-1]
    for _ in range(200):
        try:
            with connect(url.replace("http", "ws") + "ws"):
                break
        except OSError:
            time.sleep(0.05)
    return proc, url.replace("http", "ws") + "ws"


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]


@contextlib.contextmanager
def page_server():
    """(page URL, headless Debian chromium) of a real server on a free loopback port, BLAS on
    one thread, for the benchmarks that measure the page."""
    from playwright.sync_api import sync_playwright

    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "--port", "0", "--no-browser"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"OPENBLAS_NUM_THREADS": "1", **os.environ},
    )
    url = re.search(r"(http://\S+)", proc.stdout.readline()).group(1)
    # drain the server's log, or a full pipe stalls it after a few dozen page loads
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            yield url, browser
            browser.close()
    finally:
        proc.terminate()


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile of `xs` (nearest rank)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]

"""`backprop-lab` / `python -m server`: start the server and open the page once it answers."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import threading
import time
import urllib.request
import webbrowser

import uvicorn

from . import single_threaded_blas  # noqa: F401  (before anything imports NumPy)
from .app import create_app
from .security import WILDCARD_HOSTS, lan_addresses
from .settings import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="backprop-lab", description="Backprop Lab: watch a "
                                "neural network learn, one mini-batch at a time.")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1; "
                   "0.0.0.0 serves a classroom on the LAN)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="another page origin allowed to open the WebSocket (repeatable)")
    return p.parse_args(argv)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; with port 0 the OS picks a free port, read back by the caller.

    proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are
    TCP, and without it a reply waits ~40 ms behind the client's delayed ACK (Nagle).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def page_urls(host: str, port: int) -> tuple[str, list[str]]:
    """(the URL for this machine's browser, URLs for other machines on the LAN)."""
    if host in WILDCARD_HOSTS:
        return f"http://127.0.0.1:{port}/", [f"http://{ip}:{port}/" for ip in lan_addresses()]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/", []


def open_when_ready(url: str, timeout_s: float = 30.0) -> None:
    """Open `url` in a browser as soon as its /healthz answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "healthz", timeout=1.0) as r:
                if r.status == 200:
                    webbrowser.open(url)
                    return
        except OSError:
            time.sleep(0.1)


def uvicorn_config(app, settings: Settings, **extra) -> uvicorn.Config:
    """uvicorn as this server needs it: no per-message deflate, a frame cap above ours."""
    return uvicorn.Config(app, ws_per_message_deflate=False, ws_max_size=settings.ws_max_size,
                          lifespan="on", **extra)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    env = Settings()
    settings = env.model_copy(update={
        "host": args.host if args.host is not None else env.host,
        "port": args.port if args.port is not None else env.port,
        "allow_origins": [*env.allow_origins, *args.allow_origin],
    })
    # Training threads and the event loop share the GIL: hand it over every 0.5 ms rather
    # than every 5 ms so that a reply waits less behind another session's numpy work.
    sys.setswitchinterval(settings.gil_switch_interval_s)
    sock = bind_socket(settings.host, settings.port)
    settings = settings.model_copy(update={"port": sock.getsockname()[1]})
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings, log_level="info"))
    url, lan = page_urls(settings.host, settings.port)
    print(f"Backprop Lab is running at {url}", flush=True)
    for other in lan:
        print(f"On your network (classroom): {other}", flush=True)
    if not args.no_browser:
        threading.Thread(target=open_when_ready, args=(url,), daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()

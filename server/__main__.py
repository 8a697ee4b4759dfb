"""`backprop-lab` / `python -m server`: start the server and open the page once it answers."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import os
import socket
import sys
import textwrap
import threading
import time
import urllib.request
import webbrowser

import uvicorn
from pydantic import ValidationError

from . import single_threaded_blas  # noqa: F401  (before anything imports NumPy)
from .app import create_app
from .connections import http_protocol, install_repeat_filter, raise_open_file_limit
from .security import WILDCARD_HOSTS, lan_addresses
from .settings import Settings
from .sqlite_store import open_store
from .store import ClusterDown, StoreBusy


class StartupError(Exception):
    """Bad start-up input: one line for the person at the terminal, not a traceback."""


def environment_help() -> str:
    """Every setting as the BACKPROP_LAB_* variable that sets it, for `--help`."""
    lines = ["environment variables (a list takes JSON or comma-separated values):"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        about = f"{field.description}; " if field.description else ""
        lines.append(f"  {Settings.model_config['env_prefix']}{name.upper()}")
        lines += textwrap.wrap(
            f"{about}default {default!r}", 76, initial_indent=" " * 6, subsequent_indent=" " * 6
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="backprop-lab",
        description="Backprop Lab: watch a neural network learn, one mini-batch at a time.",
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--host",
        default=None,
        help="address to listen on (default 127.0.0.1; 0.0.0.0 serves a classroom on the LAN)",
    )
    p.add_argument("--port", type=int, default=None, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="another page origin allowed to open the WebSocket (repeatable)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="server processes on this port, one per core (more than one needs --redis)",
    )
    p.add_argument(
        "--state",
        default=None,
        metavar="DIR",
        help="where sessions and rooms outlive a restart (default ~/.local/state/backprop-lab; "
        "'none' keeps nothing)",
    )
    p.add_argument(
        "--redis",
        default=None,
        metavar="URL",
        help="Redis shared by every worker and machine of the service (redis://HOST:PORT/DB); "
        "see docs/deploy.md",
    )
    return p.parse_args(argv)


def _field_names(name: str) -> str:
    option = {
        "host": "--host",
        "port": "--port",
        "allow_origins": "--allow-origin",
        "workers": "--workers",
        "redis_url": "--redis",
        "state": "--state",
    }.get(name)
    variable = f"{Settings.model_config['env_prefix']}{name.upper()}"
    return f"{option} / {variable}" if option else variable


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings with the command line's on top, checked by the same rules."""
    try:
        env = Settings()
        given: dict = {
            "host": args.host,
            "port": args.port,
            "workers": args.workers,
            "redis_url": args.redis,
            "state": getattr(args, "state", None),
        }
        settings = Settings(
            **{
                **env.model_dump(),
                **{k: v for k, v in given.items() if v is not None},
                "allow_origins": [*env.allow_origins, *args.allow_origin],
            }
        )
    except ValidationError as e:
        first = e.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        value = f" {first['input']!r}" if not isinstance(first["input"], dict) else ""
        raise StartupError(f"{_field_names(field)}{value}: {first['msg']}") from None
    if settings.workers > 1 and not settings.redis_url:
        raise StartupError(
            f"--workers {settings.workers} needs --redis URL: the workers share sessions and "
            "rooms through Redis (see docs/deploy.md)"
        )
    return settings


def listen(host: str, port: int) -> socket.socket:
    """bind_socket, with the reasons it fails said for people."""
    try:
        return bind_socket(host, port)
    except socket.gaierror:
        raise StartupError(
            f"cannot resolve the host {host!r}; give an address such as 127.0.0.1 or 0.0.0.0"
        ) from None
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use; choose another "
                "with --port, or --port 0 to pick a free one"
            ) from None
        if e.errno == errno.EACCES:
            raise StartupError(
                f"not allowed to listen on port {port} (ports below 1024 need "
                "root); try --port 8000 or --port 0"
            ) from None
        if e.errno == errno.EADDRNOTAVAIL:
            raise StartupError(
                f"{host} is not an address of this machine; try 127.0.0.1 or 0.0.0.0"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


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
                    break
        except OSError:
            time.sleep(0.1)
    else:
        return
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        print(f"Could not open a browser; open {url} yourself.", flush=True)


def uvicorn_config(app, settings: Settings, **extra) -> uvicorn.Config:
    """uvicorn as this server needs it: no per-message deflate, a frame cap above ours, a
    deadline for request headers, a cap on connections (503 past it), a short keep-alive,
    and repeated log lines rate-limited (connections.py)."""
    raise_open_file_limit(settings.max_connections + 256)
    install_repeat_filter("asyncio", "uvicorn.error", "backprop_lab")
    return uvicorn.Config(
        app,
        ws_per_message_deflate=False,
        ws_max_size=settings.ws_max_size,
        lifespan="on",
        http=http_protocol(settings),
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=5,
        **extra,
    )


def main(argv: list[str] | None = None) -> None:
    try:
        serve(parse_args(argv))
    except StartupError as e:
        raise SystemExit(f"backprop-lab: {e}") from None


def serve(args: argparse.Namespace) -> None:
    settings = settings_from(args)
    # Training threads and the event loop share the GIL: hand it over every 0.5 ms rather
    # than every 5 ms so that a reply waits less behind another session's numpy work.
    sys.setswitchinterval(settings.gil_switch_interval_s)
    if settings.redis_url:
        from .cluster import check_reachable  # only with --redis: it imports redis

        try:
            asyncio.run(check_reachable(settings.redis_url, settings.redis_password_file))
        except ClusterDown as e:
            raise StartupError(str(e)) from None
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    store = None
    if not settings.redis_url:
        try:
            store = open_store(settings)
        except StoreBusy as e:
            raise StartupError(str(e)) from None
        if store is None:  # --state none, or no state directory (said once, as a warning)
            settings = settings.model_copy(update={"state": "none"})
    sock = listen(settings.host, settings.port)
    settings = settings.model_copy(update={"port": sock.getsockname()[1]})
    url, lan = page_urls(settings.host, settings.port)
    print(f"Backprop Lab is running at {url}", flush=True)
    for other in lan:
        print(f"On your network (classroom): {other}", flush=True)
    if not args.no_browser:
        threading.Thread(target=open_when_ready, args=(url,), daemon=True).start()
    if settings.workers > 1:
        return run_workers(settings, sock)
    app = create_app(settings, store=store)
    server = uvicorn.Server(uvicorn_config(app, settings, log_level="info"))
    server.run(sockets=[sock])


def run_workers(settings: Settings, sock: socket.socket) -> None:
    """`settings.workers` processes accepting on `sock`, each the whole app with its own
    GIL, sharing sessions and rooms through Redis; uvicorn's supervisor restarts one that
    dies (its sessions resume from their checkpoints on whichever worker a tab reaches)."""
    from uvicorn.supervisors import Multiprocess  # only with --workers

    prefix = Settings.model_config["env_prefix"]
    for name, value in settings.model_dump().items():
        if value is not None:  # the workers read their settings as the server did
            text = json.dumps(value) if isinstance(value, list) else str(value)
            os.environ[f"{prefix}{name.upper()}"] = text
    config = uvicorn_config(
        "server.app:app_from_environment",
        settings,
        factory=True,
        workers=settings.workers,
        log_level="info",
    )
    Multiprocess(config, sockets=[sock]).run()


if __name__ == "__main__":
    main()

"""Limits below the app, where uvicorn handles sockets: a student's script that opens sockets
and never finishes a request (or drips one byte at a time) must not use up the server's
file descriptors, nor fill its log.

- `DeadlineH11`: uvicorn's HTTP protocol with a deadline for each request's headers. uvicorn
  times out only an idle keep-alive connection, and every byte received restarts that timer;
  this deadline is not restarted by data, so an idle or dripping socket is closed after
  `header_timeout_s` whatever it sends. A WebSocket upgrade completes its headers in time
  and is not affected.
- `http_protocol(settings)`: `DeadlineH11` that also counts each address's connections
  while they are HTTP (idle, half-sent, or being answered): past
  `max_connections_per_address` a new one is reset at once, before uvicorn sets anything
  up for it, so one address cannot hold every slot of uvicorn's server-wide
  `limit_concurrency`; the teacher's machine
  (`exempt_addresses`) is neither counted nor held to that cap, so its page always loads.
  (A WebSocket leaves the count when it is upgraded: sessions and followers have their own
  caps per address.)
- `raise_open_file_limit`: the soft RLIMIT_NOFILE up to the hard one, so that the connection
  cap (uvicorn's `limit_concurrency`, answered with 503) is reached before the OS refuses.
- `RepeatFilter`: the same log message at most once per period, with a count of the rest
  (asyncio logged "socket.accept() out of system resource" two million times in 50 s).
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import Settings

HEADER_TIMEOUT_S = 10.0


class DeadlineH11(H11Protocol):
    header_timeout_s = HEADER_TIMEOUT_S

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline = None
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        scope = self.scope
        super().handle_events()
        if self.scope is not scope:  # a request's headers arrived in time
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection has its own deadline

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


class AddressCountedH11(DeadlineH11):
    """DeadlineH11 with a cap on each address's HTTP connections (see `http_protocol`)."""

    per_address = 64
    exempt: frozenset[str] = frozenset()
    held: Counter[str]  # connections per address, of this server's own subclass

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._address, self._refused = None, False
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) and peer else None
        if address in self.exempt:
            super().connection_made(transport)
            self.limit_concurrency = None  # the teacher's machine: never answered 503
            return
        if self.held[address] >= self.per_address:
            # refused before anything is set up for it (a script reconnecting in a loop
            # costs an accept and a reset), and reset rather than closed: no TIME_WAIT here
            self._refused = True
            transport.abort()
            return
        self._address = address
        self.held[address] += 1
        super().connection_made(transport)

    def _release(self) -> None:
        if self._address is not None:
            self.held[self._address] -= 1
            if self.held[self._address] <= 0:
                del self.held[self._address]
            self._address = None

    def handle_websocket_upgrade(self, event) -> None:
        self._release()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc) -> None:
        if self._refused:
            return
        self._release()
        super().connection_lost(exc)


class EnvironmentH11(AddressCountedH11):
    """AddressCountedH11 for `--workers N`, whose config is pickled to each worker (a class
    made at run time cannot be): its cap and exempt addresses are read from the
    BACKPROP_LAB_* variables the supervisor set, at the worker's first connection."""

    held = Counter()
    _loaded = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        cls = type(self)
        if not cls._loaded:
            settings = Settings()
            cls.per_address = settings.max_connections_per_address
            cls.exempt = frozenset(settings.exempt_addresses)
            cls._loaded = True
        super().connection_made(transport)


def http_protocol(settings) -> type[AddressCountedH11]:
    """uvicorn's `http` protocol class for one server: its own count per address, with the
    server's cap and exempt addresses."""
    if settings.workers > 1:
        return EnvironmentH11
    return type(
        "ServerH11",
        (AddressCountedH11,),
        {
            "per_address": settings.max_connections_per_address,
            "exempt": frozenset(settings.exempt_addresses),
            "held": Counter(),
        },
    )


def raise_open_file_limit(wanted: int) -> int:
    """Raise the soft open-file limit towards `wanted` (up to the hard limit); returns it."""
    try:
        import resource  # Unix only: elsewhere the limit stays as it is
    except ImportError:
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


class RepeatFilter(logging.Filter):
    """Let a message through at most once per `period_s`; the next one says how many were
    dropped in between."""

    def __init__(self, period_s: float = 10.0):
        super().__init__()
        self.period_s = period_s
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg)[:200])
        now = time.monotonic()
        last, dropped = self._last.get(key, (-1e18, 0))
        if now - last < self.period_s:
            self._last[key] = (last, dropped + 1)
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} (and {dropped} more like it in {self.period_s:g} s)"
        return True


def install_repeat_filter(*names: str) -> None:
    """A RepeatFilter on each named logger, once."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatFilter) for f in logger.filters):
            logger.addFilter(RepeatFilter())

"""What one network address may hold, so that one student's script cannot lock out the class.

A classroom's devices each have their own address on the access point, and a script runs
from one of them. Per address the server caps sessions (forks included), rooms and follower
sockets, and backs off wrong room codes; when the server is full, an address's own detached
sessions go first, then those of the address that holds the most. The teacher's own machine
(loopback, `exempt_addresses`) is never capped, so the teacher always gets in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from .settings import Settings

JOIN_FREE_FAILURES = 5  # wrong room codes an address may send before it must wait
JOIN_BACKOFF_S = 1.0  # the first wait; it doubles with every further wrong code
JOIN_BACKOFF_MAX_S = 300.0
JOIN_FORGET_S = 600.0  # an address's wrong codes are forgotten after this long without one


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    blocked_until: float = 0.0


@dataclass
class _Cpu:
    """CPU-seconds an address may still spend: refilled at its share, spent by its jobs."""

    credit: float
    stamp: float
    spent: float = 0.0


class Budgets:
    """Per-address caps, CPU shares and the wrong-code back-off; counts come from the live
    objects."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._failures: dict[str, _Failures] = {}
        self._cpu: dict[str, _Cpu] = {}

    # CPU: every job's CPU time is charged to the address it was done for (the session's
    # owner, or a follower asking for an export); an address in debt waits before its next
    # frame or command, so no address takes more than `cpu_share` while others want frames

    def _credit(self, address: str | None, now: float) -> _Cpu:
        key = address or ""
        c = self._cpu.get(key)
        burst, rate = self.settings.cpu_burst_s, self.settings.cpu_share
        if c is None:
            if len(self._cpu) > 10_000:
                self._cpu.clear()
            c = self._cpu[key] = _Cpu(burst, now)
        c.credit = min(burst, c.credit + (now - c.stamp) * rate)
        c.stamp = now
        return c

    def charge_cpu(self, address: str | None, seconds: float) -> None:
        if not self.exempt(address):
            self._credit(address, time.monotonic()).credit -= seconds
            self._cpu[address or ""].spent += seconds

    def cpu_spent(self, address: str | None) -> float:
        """CPU-seconds charged to `address` so far (0 for an exempt one)."""
        c = self._cpu.get(address or "")
        return 0.0 if c is None else c.spent

    def cpu_wait(self, address: str | None) -> float:
        """Seconds until `address` is out of CPU debt (0 if it is not)."""
        if self.exempt(address):
            return 0.0
        c = self._credit(address, time.monotonic())
        return max(0.0, -c.credit / self.settings.cpu_share)

    def exempt(self, address: str | None) -> bool:
        return address in self.settings.exempt_addresses

    def over(self, address: str | None, held: int, cap: int) -> bool:
        """Whether `address`, holding `held` already, may not take one more (cap `cap`)."""
        return not self.exempt(address) and held >= cap

    # wrong room codes

    def join_wait(self, address: str | None, now: float | None = None) -> float:
        """Seconds `address` must wait before its next room code is looked at (0: go on)."""
        f = self._failures.get(address or "")
        now = time.monotonic() if now is None else now
        return 0.0 if f is None or self.exempt(address) else max(0.0, f.blocked_until - now)

    def join_failed(self, address: str | None, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        key = address or ""
        f = self._failures.get(key)
        if f is None or now - f.last > JOIN_FORGET_S:
            f = self._failures[key] = _Failures()
            if len(self._failures) > 10_000:  # a flood of addresses: forget the stale ones
                self._forget(now)
        f.count += 1
        f.last = now
        if f.count > JOIN_FREE_FAILURES:
            wait = JOIN_BACKOFF_S * 2 ** (f.count - JOIN_FREE_FAILURES - 1)
            f.blocked_until = now + min(wait, JOIN_BACKOFF_MAX_S)

    def join_succeeded(self, address: str | None) -> None:
        self._failures.pop(address or "", None)

    def _forget(self, now: float) -> None:
        for key in [k for k, f in self._failures.items() if now - f.last > JOIN_FORGET_S]:
            del self._failures[key]


def oldest_first(
    sessions: Iterable, address: str | None = None, grace_s: float = 2.0, now: float | None = None
) -> list:
    """Detached sessions that are not rooms (a room has its own rules), of `address` if
    given, oldest first: the ones to evict when the server or an address is full. A session
    opened a moment ago (its tab still connecting, a fork on its way) is left alone."""
    now = time.monotonic() if now is None else now
    idle = [
        s
        for s in sessions
        if s.detached_at is not None
        and s.room is None
        and now - s.detached_at >= grace_s
        and (address is None or s.address == address)
    ]
    return sorted(idle, key=lambda s: s.detached_at)


def process_rss() -> int | None:
    """This process's resident memory in bytes (Linux), or None where it cannot be read."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def over_memory(settings: Settings) -> int | None:
    """The RSS in MiB when it is past the server's memory budget, else None."""
    rss = process_rss()
    return None if rss is None or rss <= settings.max_memory_mb << 20 else rss >> 20

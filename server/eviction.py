"""Eviction: the caps on sessions, and which idle session goes to make room for a new one.

The server holds at most `max_sessions` sessions, an address `max_sessions_per_address`
(counted on every worker in cluster mode), and the process stays under `max_memory_mb`.
A new session that would pass a cap first evicts a detached one (the address's own first,
oldest first; then the biggest holder's: budgets.oldest_first), or is refused with
SessionsFull, whose message is the close reason. The teacher's machine (an exempt address)
is never refused while a session that is not a room can go: the biggest holder's oldest is
closed, and its tab told why. A session detached for longer than its TTL expires
(`session_ttl_s`, or `room_ttl_s` while a class follows it).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .budgets import Budgets, oldest_first, over_memory
from .protocol import CloseCode
from .store import ClusterDown, address_key

if TYPE_CHECKING:
    from .rooms import Rooms
    from .sessions import Session
    from .settings import Settings

log = logging.getLogger("backprop_lab.sessions")


class SessionsFull(Exception):
    """No session can be opened: the server's cap or the address's is reached (the message
    says which, for the close reason)."""


class Eviction:
    """Mixed into sessions.SessionManager: the caps, eviction and expiry of sessions."""

    # of the SessionManager this is mixed into (checkpoints.Restoring gives `_forget`)
    settings: Settings
    sessions: dict[str, Session]
    cluster: Any
    rooms: Rooms
    budgets: Budgets
    _forget: Callable[[Session], None]

    async def _take_slot(self, session: Session) -> None:
        """Cluster mode: count `session` against its address on every worker, evicting one
        of the address's idle sessions here if the cap is reached, else SessionsFull."""
        address, cap = session.address, self.settings.max_sessions_per_address
        if self.budgets.exempt(address):
            cap = -1
        for _ in range(2):
            try:  # Redis away: the slot can be neither counted nor the session kept
                held = await self.cluster.take_member(
                    address_key("sessions", address), session.id, cap, strict=True
                )
            except ClusterDown:
                raise SessionsFull(
                    "the server cannot reach its shared store (Redis) for a moment: "
                    "a new session waits for it"
                ) from None
            if held is None:
                return
            mine = [s for s in self.sessions.values() if s.address == address]
            idle = oldest_first(mine, grace_s=self.settings.evict_grace_s)
            if not idle:
                break
            self._evict(idle[0])
        raise SessionsFull(
            f"your address already holds {held} sessions (the limit), on this server's "
            "workers together; close a tab or leave a fork first"
        )

    def _make_room_for(self, address: str | None) -> None:
        """Free a slot for one more session of `address`, evicting detached sessions (an
        address's own first, oldest first; then the biggest holder's), or raise SessionsFull."""
        settings = self.settings
        if over_memory(settings):
            idle = oldest_first(self.sessions.values(), grace_s=settings.evict_grace_s)
            if idle:
                self._evict(idle[0])
                gc.collect()
            if used := over_memory(settings):
                raise SessionsFull(
                    f"the server is at its memory budget ({used} MiB of "
                    f"{settings.max_memory_mb}); try again later"
                )
        mine = [s for s in self.sessions.values() if s.address == address]
        if self.budgets.over(address, len(mine), settings.max_sessions_per_address):
            idle = oldest_first(mine, grace_s=settings.evict_grace_s)
            if not idle:
                raise SessionsFull(
                    f"your address already holds {len(mine)} sessions (the "
                    "limit); close a tab or leave a fork first"
                )
            self._evict(idle[0])
        if len(self.sessions) < settings.max_sessions:
            return
        idle = oldest_first(self.sessions.values(), address, settings.evict_grace_s)
        if not idle:
            held: dict[str | None, int] = {}
            for s in self.sessions.values():
                if not self.budgets.exempt(s.address):
                    held[s.address] = held.get(s.address, 0) + 1
            for hog in sorted(held, key=held.get, reverse=True):
                idle = oldest_first(self.sessions.values(), hog, settings.evict_grace_s)
                if idle:
                    break
        if not idle and self.budgets.exempt(address):
            return self._make_room_for_teacher()
        if not idle:
            raise SessionsFull(
                f"the server is full: {settings.max_sessions} sessions are open; try again later"
            )
        self._evict(idle[0])

    def _make_room_for_teacher(self) -> None:
        """The server is full of sessions in use and the teacher's machine asks for one: the
        biggest holder's oldest session that is not a room goes, and its tab is told why."""
        held: dict[str | None, list[Session]] = {}
        for s in self.sessions.values():
            if not self.budgets.exempt(s.address) and s.room is None:
                held.setdefault(s.address, []).append(s)
        if not held:
            raise SessionsFull(
                f"the server is full: {self.settings.max_sessions} sessions are open, all "
                "of them rooms or the teacher's own"
            )
        hog = max(held.values(), key=len)
        session = hog[0]
        log.warning(
            "closed session %s of %s (holding %d) to make room for the teacher's machine",
            session.id[:6],
            session.address,
            len(hog),
        )
        del self.sessions[session.id]
        session.pause()
        self._forget(session)
        client = session.client
        if client is not None:
            session.detach(client)
            asyncio.get_running_loop().create_task(
                client.close(
                    CloseCode.SERVER_FULL,
                    f"server full: the teacher needed a session, and your address held "
                    f"{len(hog)}, the most; this one was closed",
                )
            )

    def _evict(self, session: Session) -> None:
        """Forget a detached session to make room (it has no connection to tell)."""
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
            session.pause()
            self._forget(session)
            log.info(
                "evicted detached session %s of %s to make room", session.id[:6], session.address
            )

    def expire(self) -> int:
        """Drop sessions detached for longer than the TTL; returns how many."""
        now = time.monotonic()
        gone = [sid for sid, s in self.sessions.items() if s.expired(now)]
        for sid in gone:
            session = self.sessions.pop(sid)
            session.pause()
            self._forget(session)
            if session.room is not None:
                asyncio.get_running_loop().create_task(
                    self.rooms.close(
                        session.room, "the presenter has been away too long; the room closed"
                    )
                )
        return len(gone)

    async def _reap(self) -> None:
        period = min(30.0, self.settings.session_ttl_s / 4)
        while True:
            await asyncio.sleep(period)
            if n := self.expire():
                log.info("expired %d idle session(s)", n)

"""Sessions: one trainer per browser tab, kept across reconnects, behind a lock.

A `Session` owns a trainer, the lock that guards it and the connection attached to it.
Everything that touches the trainer runs through `Session.call` with the lock held. Long
jobs (an epoch or many updates in one `step`, a gradient check, an import) go to a pool of
their own, so one heavy session never stalls the others; commands go to the everyday pool
(one thread per core), where a room's jobs go first (pool.py).

Frames and single steps, the hot path, run on the event loop's own thread when they are
cheap (the last one took under INLINE_QUICK_S of CPU; a frame at speed 1 takes about 1 ms).
Threads do not pay here: every NumPy call that releases the GIL (a step makes a dozen) hands
it to a busy thread and waits for a switch interval to get it back. Measured with
bench/classroom.py (200 followers and 30 forks playing): frames made in pool threads cost
2.7 ms of CPU each and forks got 13.5 frames/s; made inline, 1.4 ms and 23 frames/s.

A session's other concerns are one module each, mixed into `Session` and `SessionManager`:
playing.py (the play loop and the frames it and each change send), fanout.py (the page and
a room's followers as one audience), checkpoints.py (what a store keeps, and sessions
brought back from it) and eviction.py (the caps, and which idle session makes room).
A session presented as a room (`session.room`, rooms.py) has followers, who join through
its `feed` (feed.py). A detached session keeps everything, play state included (its loop is
paused), for `session_ttl_s` (`room_ttl_s` once it is a room); a reconnect with its id
resumes it exactly. In compare mode a second trainer, `run_b`, moves in lockstep with the
first under the same lock: the same number of updates in every step and play frame
(compare.py builds it and keeps it following the first's edits; its network may differ).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from engine.trainer import Trainer

from .budgets import Budgets
from .checkpoints import UNCLAIMED, Checkpointed, Restoring
from .eviction import Eviction, SessionsFull
from .fanout import Attached, FanOut
from .feed import Feed, LocalFeed
from .playing import Playing
from .pool import NORMAL, URGENT, PriorityPool
from .protocol import CloseCode
from .rooms import Rooms
from .settings import Settings
from .store import Store, checkpoint_loop, digest

# what other modules import from here (SessionsFull and Attached live in eviction, fanout)
__all__ = ["PAYER", "Attached", "Session", "SessionManager", "SessionsFull"]

log = logging.getLogger("backprop_lab.sessions")
INLINE_QUICK_S = 0.005  # quick jobs cheaper than this run on the event loop's thread
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# whose address a job's CPU time is charged to, when not the session's owner's (a follower's
# export); set by the connection that asks
PAYER: contextvars.ContextVar[str | None] = contextvars.ContextVar("payer", default=None)


class Session(Playing, FanOut, Checkpointed):
    """One tab's trainer and play state. Touch the trainer only through `call`."""

    def __init__(
        self,
        sid: str,
        trainer,
        settings: Settings,
        executor: PriorityPool,
        heavy_executor: PriorityPool | None = None,
        room_ticks: dict[Session, float] | None = None,
        address: str | None = None,
        budgets: Budgets | None = None,
    ):
        self.id = sid
        self.store_key = digest(sid)  # what a store keeps it under (store.py)
        self.address = address  # of the client that opened it, for the per-address caps
        self.budgets = budgets  # charged with every job's CPU time
        self.trainer = trainer
        self.settings = settings
        self.lock = threading.Lock()
        self.client: Attached | None = None
        self.detached_at: float | None = time.monotonic()
        self._executor = executor
        self._heavy_executor = heavy_executor or executor
        self._quick_cpu = 0.0  # CPU seconds the last quick job took
        self.export_cache: tuple | None = None  # (state key, encoded snapshot), handlers.py
        self.room = None  # rooms.Room while a class follows this session
        self.feed: Feed = LocalFeed(self)  # where its followers join (feed.py)
        self.run_b = None  # compare mode: trainer B, stepped with `trainer` (lock held)
        self.b_changes: dict[str, Any] = {}
        self.changed = True  # since the last checkpoint (store.py)
        self._init_playing(room_ticks)
        self._init_fanout()
        self._init_checkpoints()

    async def call(
        self, fn: Callable[..., Any], *args, heavy: bool = False, quick: bool = False
    ) -> Any:
        """fn(trainer, *args) with the trainer lock held: in a pool thread (`heavy` jobs, that
        may take a second, in the pool kept for them; a room's jobs first), or, for a `quick`
        job (the hot path: frames and single steps) when the last one took under
        INLINE_QUICK_S of CPU, right here on the event loop's thread if the lock is free."""
        payer = PAYER.get() or self.address
        if quick and self._quick_cpu < INLINE_QUICK_S and self.lock.acquire(blocking=False):
            try:
                return self._timed(fn, args, True, payer)
            finally:
                self.lock.release()
        pool = self._heavy_executor if heavy else self._executor
        priority = URGENT if self.room is not None else NORMAL
        return await asyncio.wrap_future(
            pool.submit(self._locked, fn, args, quick, payer, priority=priority)
        )

    def _locked(self, fn, args, quick: bool, payer: str | None):
        with self.lock:
            return self._timed(fn, args, quick, payer)

    def _timed(self, fn, args, quick: bool, payer: str | None):
        """fn(trainer, *args), charging its CPU time (not its wall time, which waits on the
        GIL) to `payer`'s address; a quick job's time also decides where the next one runs."""
        start = time.thread_time()
        self.changed = True
        try:
            return fn(self.trainer, *args)
        finally:
            cpu = time.thread_time() - start
            if quick:
                self._quick_cpu = cpu
            if self.budgets is not None:
                self.budgets.charge_cpu(payer, cpu)

    def cost_unknown(self) -> None:
        """The next quick job's cost is not known (a faster play speed): it runs in a pool,
        which measures it."""
        self._quick_cpu = INLINE_QUICK_S

    async def fresh(self) -> None:
        """Up to date for a follower's read (a replica, in cluster mode, rebuilds itself)."""
        await self.feed.refresh()

    # connections

    def attach(self, client: Attached) -> Attached | None:
        """Make `client` the session's connection; returns the one it replaces, if any.
        Play mode waits for `resume`, so that the client's state comes before any frame."""
        previous, self.client, self.detached_at = self.client, client, None
        self._stop_loops(render=False)
        return previous

    def detach(self, client: Attached) -> None:
        """Forget `client` if it is still the session's; play state is kept but paused."""
        if self.client is not client:
            return
        self.client, self.detached_at = None, time.monotonic()
        self._stop_loops()

    def expired(self, now: float) -> bool:
        """Detached for longer than its TTL: a room's (an hour) while a class follows it,
        else a session's, so that an empty room cannot hold a slot for an hour."""
        room = self.room is not None and self.room.followers > 0
        ttl = self.settings.room_ttl_s if room else self.settings.session_ttl_s
        return self.detached_at is not None and now - self.detached_at > ttl

    async def close(self, code: int, reason: str) -> None:
        client = self.client
        if client is not None:
            self.detach(client)
            await client.close(code, reason)


class SessionManager(Restoring, Eviction):
    """All sessions of this server: open or resume by id, create within the caps, end,
    shutdown (eviction.py and checkpoints.py hold the rest)."""

    def __init__(self, settings: Settings, trainer_factory: Callable[[], Any] | None = None):
        self.settings = settings
        self.sessions: dict[str, Session] = {}
        self.cluster = None  # cluster.Cluster when the service shares Redis (app.py)
        self.store: Store | None = None  # where checkpoints go (store.py); None: nowhere
        self._claims: dict[str, asyncio.Task] = {}  # sessions being fetched from the store
        self.trainer_factory = Trainer if trainer_factory is None else trainer_factory
        self.rooms = Rooms(settings)
        self.budgets = Budgets(settings)
        self.executor = PriorityPool(settings.threads, "trainer")
        self.heavy_executor = PriorityPool(settings.heavy_threads, "trainer-long")
        self.open_executor = PriorityPool(1, "trainer-new")  # new sessions and forks
        self.room_ticks: dict[Session, float] = {}  # see playing.Playing._give_way
        self.rooms.saved = self._save_quietly
        self._reaper: asyncio.Task | None = None
        self._checkpoints: asyncio.Task | None = None
        self._init_restoring()

    async def open(
        self, sid: str | None, address: str | None = None, create: bool = True
    ) -> tuple[Session | None, bool]:
        """(session, resumed): the live session with id `sid` (else from the store: its
        checkpoint, or in cluster mode the worker that holds it), or a new one for `address`
        (None if not `create`). Raises store.ClusterDown when Redis cannot say, SessionsFull
        past a cap (or while Redis is unreachable: a new session could be neither counted
        nor kept)."""
        self.expire()
        if sid and SESSION_ID.fullmatch(sid):
            if sid in self.sessions:
                return self.sessions[sid], True
            waiting = self.sessions.get(UNCLAIMED + digest(sid))
            if waiting is not None:
                return self.claimed(waiting, sid), True
            if self.store is not None:
                task = self._claims.get(sid)
                if task is None and (wait := self.budgets.cpu_wait(address)):
                    # a hand-over costs both workers a checkpoint and a rebuild, charged to
                    # the address that asks: one bouncing its sessions between workers waits
                    await asyncio.sleep(wait)
                    task = self._claims.get(sid)
                if task is None:
                    task = self._claims[sid] = asyncio.get_running_loop().create_task(
                        self._claim(sid, address)
                    )
                    task.add_done_callback(lambda _: self._claims.pop(sid, None))
                session = await asyncio.shield(task)
                if session is not None:
                    return session, True
        if not create:
            return None, False
        session = await self.create(self.trainer_factory, address)
        if sid:
            session.lost = self._why_lost(sid)
        return session, False

    def _why_lost(self, sid: str) -> str:
        """Why session `sid` could not be resumed, for its tab."""
        away = f"{self.settings.session_ttl_s / 60:g} min"
        if not SESSION_ID.fullmatch(sid):
            return "the page's session id is not one this server gives"
        if (failed := self.unloadable(sid)) is not None:
            return f"its checkpoint could not be loaded ({failed})"
        if self.store is None:
            return (
                f"the server no longer had it: it was away for longer than {away}, or the "
                "server restarted and keeps no state (--state none)"
            )
        return (
            f"the server no longer had it: it was away for longer than {away}, or the "
            "server's state was lost"
        )

    def _new(self, sid: str, trainer, address: str | None) -> Session:
        return Session(
            sid,
            trainer,
            self.settings,
            self.executor,
            self.heavy_executor,
            self.room_ticks,
            address=address,
            budgets=self.budgets,
        )

    async def create(self, make: Callable[[], Any], address: str | None = None) -> Session:
        """A new session whose trainer is `make()` (made in the pool kept for it, so that
        opening a session never waits behind someone's training), within the caps."""
        self._make_room_for(address)
        trainer = await asyncio.wrap_future(self.open_executor.submit(make))
        self._make_room_for(address)  # others may have got in meanwhile
        session = self._new(secrets.token_urlsafe(24), trainer, address)
        if self.cluster is not None:
            await self._take_slot(session)
            await self.cluster.hold(session)
        self.sessions[session.id] = session
        return session

    async def end(self, session: Session, code: int, reason: str) -> None:
        """Forget `session` now (its slot is free at once) and close its connection."""
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
        session.pause()
        if session.room is not None:
            await self.rooms.close(session.room, "the presenter ended the session")
        self._forget(session)
        await session.close(code, reason)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._reaper = loop.create_task(self._reap())
        if self.store is not None:
            self._checkpoints = loop.create_task(checkpoint_loop(self, self.store))

    async def shutdown(self) -> None:
        """Close every connection, write every changed session to the store, let it go."""
        for task in (self._reaper, self._checkpoints):
            if task is not None:
                task.cancel()
        for s in list(self.sessions.values()):
            try:
                await asyncio.wait_for(
                    s.close(CloseCode.SHUTTING_DOWN, "the server is shutting down"), 1.0
                )
            except (asyncio.TimeoutError, RuntimeError):
                pass
        if self.store is not None:
            await self._flush()
            await self.store.stop()
        for pool in (self.executor, self.heavy_executor, self.open_executor):
            pool.shutdown(wait=False, cancel_futures=True)

"""Checkpoints: what a session writes to its store, and how sessions come back from one.

A session's checkpoint (`Checkpointed.checkpoint`) is everything needed to carry it on
elsewhere, bit for bit: the trainer's snapshot, run B's, the play state and its room, as
JSON; the chart histories go apart (long, and rewritten less often). The store
(store.py: a SQLite file, or Redis in cluster mode) writes it; `Restoring` is the manager's
side: a tab's session claimed back from the store (after a restart, or from another
worker), every room brought back at start before its presenter, a session checkpointed at
once when its tab goes, handed over to another worker, or forgotten when it is over.

A session brought back by a restart before its tab is known by its id's digest alone (a
room, restored at once for its followers): it is kept under UNCLAIMED + digest, which no
id matches, until its tab (or its presenter, by token) claims it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.trainer import Trainer

from . import replies
from .protocol import CloseCode, rounded
from .store import address_key, digest

if TYPE_CHECKING:
    from .budgets import Budgets
    from .pool import PriorityPool
    from .rooms import Rooms
    from .sessions import Session
    from .settings import Settings
    from .store import Store

log = logging.getLogger("backprop_lab.sessions")
UNCLAIMED = "~"


class Checkpointed:
    """Mixed into sessions.Session: its checkpoint, and what its next `hello` says of it."""

    # of the Session this is mixed into
    settings: Settings
    address: str | None
    room: Any
    run_b: Any
    b_changes: dict[str, Any]
    playing: bool
    speed: int
    period: float
    changed: bool

    def _init_checkpoints(self) -> None:
        self._history_of: tuple = ()  # the trainers (A, B) whose history the last save wrote
        self._history_step = -1  # and the step of its last entry
        # for the next `hello`: whether it came back from a store; why another was lost
        self.restored = False
        self.lost: str | None = None

    def checkpoint(self, trainer, history: bool = True) -> tuple[str, str | None]:
        """Lock held: everything needed to carry the session on elsewhere, bit for bit, as
        JSON (store.py): the trainer's snapshot, run B's, the play state and the room;
        and, with `history` or when the history is not just longer than at its last save,
        the chart histories apart (long, and rewritten less often: cluster.py)."""
        self.changed = False
        room = self.room
        snap, snap_b = trainer.snapshot(), None if self.run_b is None else self.run_b.snapshot()
        if not history:  # unless never saved, or a new trainer, stepped back or reset
            last = trainer.history[-1]["step"] if trainer.history else -1
            saved = self._history_of
            new = not saved or saved[0] is not trainer or saved[1] is not self.run_b
            history = new or last < self._history_step
        histories = None
        if history:
            self._history_of = (trainer, self.run_b)
            self._history_step = trainer.history[-1]["step"] if trainer.history else -1
            histories = json.dumps(
                {"a": self._history(snap), "b": None if snap_b is None else self._history(snap_b)}
            )
        for sn in (snap, snap_b):
            if sn is not None:
                sn["history"] = []
        record = {
            "snapshot": snap,
            "run_b": snap_b,
            "b_changes": self.b_changes,
            "playing": self.playing,
            "speed": self.speed,
            "period": self.period,
            "address": self.address,
            "room": None
            if room is None
            else {
                "code": room.code,
                "token_digest": room.token_digest,
                "ui": room.ui,
                # what the room had published by now: a joiner's state is this fresh
                "published": None if room.publisher is None else room.publisher.mark(),
                "poll": room.poll.record(),
            },
        }
        return json.dumps(record), histories

    def _history(self, snap: dict) -> list:
        """A snapshot's chart history as a page gets it: thinned to `history_points` entries,
        6 significant digits (a long run's 3,500 entries took 780 KB; now 170 KB at most)."""
        return rounded(replies.thin(snap["history"], self.settings.history_points), 6)

    def greeting_notes(self) -> tuple[bool, str | None]:
        """(restored, lost) for the next `hello` (see protocol.Hello), said once."""
        notes = self.restored, self.lost
        self.restored, self.lost = False, None
        return notes


class Restoring:
    """Mixed into sessions.SessionManager: sessions written to, and brought back from, its
    store (and, in cluster mode, handed between workers)."""

    # of the SessionManager this is mixed into
    settings: Settings
    sessions: dict[str, Session]
    store: Store | None
    cluster: Any
    rooms: Rooms
    budgets: Budgets
    open_executor: PriorityPool
    trainer_factory: Callable[[], Any]
    _new: Callable[[str, Any, str | None], Session]

    def _init_restoring(self) -> None:
        self._unloadable: dict[str, str] = {}  # digest(sid) -> why its checkpoint failed
        self._saving: set[asyncio.Task] = set()  # checkpoints of tabs that just went

    def unloadable(self, sid: str) -> str | None:
        """Why session `sid`'s checkpoint could not be loaded, if it could not (said once)."""
        return self._unloadable.pop(digest(sid), None)

    async def _claim(self, sid: str, asker: str | None = None) -> Session | None:
        start = time.thread_time()
        r = await self.store.claim(sid)  # its JSON parsed here, on the loop's thread
        self.budgets.charge_cpu(asker, time.thread_time() - start)
        if r is None:
            return None
        try:
            session = await self._revive(sid, r, asker)
        except Exception as e:  # noqa: BLE001  (a checkpoint this engine cannot load)
            log.warning("session %s could not be restored: %s", sid[:6], e)
            if len(self._unloadable) > 1000:
                self._unloadable.clear()
            self._unloadable[digest(sid)] = str(e)[:200]
            return None
        if self.cluster is None:
            log.info("session %s restored at step %d", sid[:6], session.trainer.step_count)
            return session
        await self.cluster.hold(session)
        await self.cluster.take_member(address_key("sessions", session.address), sid, -1)
        if session.room is not None:
            await self.cluster.take_member(address_key("rooms", session.address), sid, -1)
        log.info("session %s resumed here from step %d", sid[:6], session.trainer.step_count)
        return session

    async def _revive(self, sid: str, r: dict, payer: str | None = None) -> Session:
        """A session as checkpoint `r` left it, under `sid`, with its room open again (its
        rebuild charged to `payer`'s address: the tab that asked for it)."""
        trainer, run_b = await self.build(r, payer)
        session = self._new(sid, trainer, r.get("address"))
        session.run_b, session.b_changes = run_b, r.get("b_changes") or {}
        session.playing, session.speed, session.period = r["playing"], r["speed"], r["period"]
        session.changed = False  # the store holds it as it is
        session.restored = True
        self.sessions[sid] = session
        if r.get("room"):
            room = r["room"]
            token_digest = room.get("token_digest") or digest(room.get("token") or "")
            await self.rooms.adopt(
                session, room["code"], token_digest, room["ui"], room.get("poll")
            )
        return session

    async def restore(self) -> None:
        """At start: every room the store kept comes back at once, before its presenter, so
        its followers find it ("presenter offline" until the presenter's tab is back)."""
        if self.store is None:
            return
        for store_key, r, age in await self.store.presented():
            try:
                session = await self._revive(UNCLAIMED + store_key, r)
            except Exception as e:  # noqa: BLE001
                log.warning("a room could not be restored: %s", e)
                continue
            session.store_key = store_key
            session.detached_at = time.monotonic() - age  # its TTL runs on from its last write
            log.info("room %s restored at step %d", session.room.code, session.trainer.step_count)

    def claimed(self, session: Session, sid: str | None = None) -> Session:
        """`session` as its tab's own: a room restored before its presenter takes the id the
        tab had (`sid`), or, for a presenter back by token alone, a new one."""
        if not session.id.startswith(UNCLAIMED):
            return session
        old_key = session.store_key
        del self.sessions[session.id]
        session.id = sid or secrets.token_urlsafe(24)
        session.store_key = digest(session.id)
        self.sessions[session.id] = session
        if session.store_key != old_key and self.store is not None:
            asyncio.get_running_loop().create_task(self.store.drop(old_key))
            session.changed = True
        return session

    async def build(self, record: dict, payer: str | None = None) -> tuple[Any, Any]:
        """A checkpoint's trainer and run B (or None), built in the pool kept for new sessions,
        its CPU time charged to `payer`'s address."""
        factory = getattr(self.trainer_factory, "from_snapshot", None)
        if factory is None:
            factory = Trainer.from_snapshot

        def build():
            start = time.thread_time()
            try:
                b = record.get("run_b")
                return factory(record["snapshot"]), None if b is None else factory(b)
            finally:
                self.budgets.charge_cpu(payer, time.thread_time() - start)

        return await asyncio.wrap_future(self.open_executor.submit(build))

    def _forget(self, session: Session) -> None:
        """The session is over everywhere: its checkpoint goes (and its lease, with Redis)."""
        if self.store is not None:
            asyncio.get_running_loop().create_task(self.store.forget(session))

    def detached(self, session: Session) -> None:
        """Its tab went: checkpoint it now, so that a restart or another worker resumes it
        from this moment."""
        if self.store is not None and self.sessions.get(session.id) is session:
            task = asyncio.get_running_loop().create_task(self._save_quietly(session))
            self._saving.add(task)  # a clean stop waits for it (see _flush)
            task.add_done_callback(self._saving.discard)

    async def _save_quietly(self, session: Session) -> None:
        """Checkpoint `session` now; a failure leaves it to the checkpoint loop."""
        if self.store is None:
            return
        try:
            await self.store.save(session)
        except Exception as e:  # noqa: BLE001  (unreachable, full: said by the store)
            session.changed = True
            log.debug("checkpoint of %s deferred: %s", session.id[:6], e)

    async def _flush(self) -> None:
        """Every changed session into the store, after the writes already under way."""
        await asyncio.gather(*self._saving, return_exceptions=True)
        store, written = self.store, 0
        for s in list(self.sessions.values()):
            if not s.changed:
                continue
            try:
                await asyncio.wait_for(store.save(s), 5.0)
                written += 1
            except (*store.down_errors, asyncio.TimeoutError):
                break
            except Exception as e:  # noqa: BLE001  (a full disk: said by the store)
                log.warning("session %s not written at stop: %s", s.id[:6], e)
        log.info("stopping: %d changed session(s) written to the %s store", written, store.name)

    # cluster mode: a session moves to another worker

    async def hand_over(self, sid: str) -> None:
        """Another worker resumes session `sid`: checkpoint it as it is (play state kept),
        close its connection, and let it go here."""
        session = self.sessions.get(sid)
        if session is None:
            return
        self._let_go(session, "this session was resumed by a tab on another worker")
        try:
            await self.cluster.save(session)
        finally:
            await self.cluster.let_go(session)

    async def lost(self, session: Session) -> None:
        """Another worker took this session's lease (this one was cut off): let it go."""
        if self.sessions.get(session.id) is session:
            log.warning("session %s was taken over by another worker", session.id[:6])
            self._let_go(session, "this session was resumed on another worker")
            await self.cluster.let_go(session)

    def _let_go(self, session: Session, reason: str) -> None:
        """Forget `session` here, closing its tab; `detach` stops its loops and keeps
        `playing` set, as the checkpoint says."""
        self.sessions.pop(session.id, None)
        client = session.client
        if client is not None:
            session.detach(client)
            asyncio.get_running_loop().create_task(client.close(CloseCode.REPLACED, reason))
        if session.room is not None:
            self.rooms.let_go(session.room)

"""Sessions: one trainer per browser tab, kept across reconnects, behind a lock.

A `Session` owns a trainer, the lock that guards it and the play state.
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
When the loop is saturated, a room's due frame goes before private sessions' (`_give_way`).

Play mode is one task per session: at most `frame_rate` times a second it runs
`trainer.run(speed)`, reads the metrics and the weights, encodes ONE frame (a `metrics` text
and a binary weights frame; the page makes the heatmaps) and hands it to the attached
connection's newest-wins outbox (and, within their byte budget, the followers'). After
a discrete change (a `step`, a `set`...) one frame is rendered soon, at most `frame_rate`
a second; after a `step` it carries the step's record frame before the heatmap.

A detached session keeps everything, play state included (its loop is paused), for
`session_ttl_s` (`room_ttl_s` once it is a room); a reconnect with its id resumes it exactly.

A session presented as a room (`session.room`, see rooms.py) also has followers: read-only
connections that get every frame and every shared reply. A frame is encoded once and
handed to each follower's own newest-wins outbox, so a slow follower only skips frames.
In compare mode a second trainer, `run_b`, moves in lockstep with the first under the same
lock: the same number of updates in every step and play frame (compare.py builds it and
keeps it following the first's edits; its network may differ).
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from . import frames, replies
from .budgets import Budgets, oldest_first, over_memory
from .pool import NORMAL, URGENT, PriorityPool
from .protocol import CloseCode, Stopped, encode, rounded
from .rooms import Rooms
from .settings import Settings
from .store import ClusterDown, Store, address_key, checkpoint_loop, digest

log = logging.getLogger("backprop_lab.sessions")
GIVE_WAY_TURNS = 4  # loop turns a room's due frame needs to start (its timer, then its task)
INLINE_QUICK_S = 0.005  # quick jobs cheaper than this run on the event loop's thread
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# a session brought back by a restart before its tab: known by its id's digest alone (a room,
# restored at once for its followers), kept under this prefix, which no id matches
UNCLAIMED = "~"
# whose address a job's CPU time is charged to, when not the session's owner's (a follower's
# export); set by the connection that asks
PAYER: contextvars.ContextVar[str | None] = contextvars.ContextVar("payer", default=None)


class Attached(Protocol):
    """What a session needs from the connection attached to it (see client.Connection)."""

    def reply(self, payload: str | bytes) -> None: ...
    def frame(self, payloads: tuple[str | bytes, ...]) -> None: ...
    async def close(self, code: int, reason: str) -> None: ...


class SessionsFull(Exception):
    """No session can be opened: the server's cap or the address's is reached (the message
    says which, for the close reason)."""


class Session:
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
        self.playing = False
        self.speed = 1
        self.period = 1.0 / settings.frame_rate  # seconds between play frames
        self.client: Attached | None = None
        self.detached_at: float | None = time.monotonic()
        self._executor = executor
        self._heavy_executor = heavy_executor or executor
        self._play_task: asyncio.Task | None = None
        self._render_task: asyncio.Task | None = None
        self._render_wanted = False
        self.pending_record = None  # the last `step` command's StepRecord, not yet sent
        self.export_cache: tuple | None = None  # (state key, encoded snapshot), handlers.py
        self.frames_sent = 0
        # the followers' byte budget (settings.follower_bytes_per_s): a token bucket
        self._room_bytes = 0.0
        self._room_bytes_at = time.monotonic()
        self.followers: set[Attached] = set()
        self.room = None  # rooms.Room while a class follows this session
        self.run_b = None  # compare mode: trainer B, stepped with `trainer` (lock held)
        self.b_changes: dict[str, Any] = {}
        self._quick_cpu = 0.0  # CPU seconds the last quick job took
        self.changed = True  # since the last checkpoint (store.py)
        self._history_of: tuple = ()  # the trainers (A, B) whose history the last save wrote
        self._history_step = -1  # and the step of its last entry
        # for the next `hello`: whether it came back from a store; why another was lost
        self.restored = False
        self.lost: str | None = None
        # when each playing room's next frame is due (loop time), shared by all sessions
        self._room_ticks = room_ticks if room_ticks is not None else {}

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

    async def fresh(self) -> None:
        """Up to date for a follower's read (a feed's Replica rebuilds itself; this is live)."""

    # connections

    def attach(self, client: Attached) -> Attached | None:
        """Make `client` the session's connection; returns the one it replaces, if any.
        Play mode waits for `resume`, so that the client's state comes before any frame."""
        previous, self.client, self.detached_at = self.client, client, None
        self._cancel(self._play_task)
        self._play_task = None
        return previous

    def resume(self) -> None:
        """Play on, if the session was playing, now that its connection has the state."""
        if self.playing and self.client is not None:
            self._start_play_loop()

    def detach(self, client: Attached) -> None:
        """Forget `client` if it is still the session's; play state is kept but paused."""
        if self.client is not client:
            return
        self.client, self.detached_at = None, time.monotonic()
        self._cancel(self._play_task)
        self._cancel(self._render_task)
        self._play_task = self._render_task = None

    def expired(self, now: float) -> bool:
        """Detached for longer than its TTL: a room's (an hour) while a class follows it,
        else a session's, so that an empty room cannot hold a slot for an hour."""
        room = self.room is not None and self.room.followers > 0
        ttl = self.settings.room_ttl_s if room else self.settings.session_ttl_s
        return self.detached_at is not None and now - self.detached_at > ttl

    def share(self, payload: str | bytes) -> None:
        """A reply for the session's connection and every follower (state, steps...)."""
        if self.client is not None:
            self.client.reply(payload)
        for f in self.followers:
            f.reply(payload)

    def _fan(
        self,
        payloads: tuple[str | bytes, ...],
        room_payloads: tuple[str | bytes, ...] | None = None,
        metered: bool = False,
    ) -> None:
        """One frame into every connection's newest-wins outbox: `payloads` for the session's
        page, `room_payloads` (encoded once) for each follower. A `metered` one (play) keeps
        to the followers' byte budget: past it they skip this frame and get a newer one; a
        step's frames, which come at a person's pace, always go."""
        if self.client is not None:
            self.client.frame(payloads)
        if (
            self.followers
            and room_payloads is not None
            and (not metered or self._room_budget(room_payloads))
        ):
            for f in self.followers:
                f.frame(room_payloads)
        self.frames_sent += 1

    def _room_budget(self, payloads: tuple[str | bytes, ...]) -> bool:
        """Whether the followers' bucket holds this frame's bytes (and takes them)."""
        rate = self.settings.follower_bytes_per_s
        now = time.monotonic()
        self._room_bytes = min(rate / 4, self._room_bytes + (now - self._room_bytes_at) * rate)
        self._room_bytes_at = now
        size = sum(len(p) for p in payloads)  # str payloads are ASCII JSON
        if self._room_bytes < size:
            return False
        self._room_bytes -= size
        return True

    async def close(self, code: int, reason: str) -> None:
        client = self.client
        if client is not None:
            self.detach(client)
            await client.close(code, reason)

    @staticmethod
    def _cancel(task: asyncio.Task | None) -> None:
        if task is not None and not task.done():
            task.cancel()

    # play mode

    @property
    def rate(self) -> float:
        """Updates a second while playing."""
        return self.speed / self.period

    def play(self, speed: int, period: float | None = None) -> None:
        """Play `speed` updates a frame, a frame every `period` seconds (1/frame_rate)."""
        if speed > self.speed:  # a frame's cost is not known at this speed: measure it in the pool
            self._quick_cpu = INLINE_QUICK_S
        self.playing, self.speed = True, speed
        self.period = period or 1.0 / self.settings.frame_rate
        if self.client is not None:
            self._start_play_loop()

    def pause(self) -> None:
        self.playing = False
        self._cancel(self._play_task)
        self._play_task = None

    def _start_play_loop(self) -> None:
        if self._play_task is None or self._play_task.done():
            self._play_task = asyncio.get_running_loop().create_task(self._play_loop())

    async def _play_loop(self) -> None:
        loop = asyncio.get_running_loop()
        tick = loop.time()
        try:
            while self.playing and self.client is not None:
                if self.budgets is not None and (wait := self.budgets.cpu_wait(self.address)):
                    await asyncio.sleep(wait)  # over its address's CPU share: fewer frames
                    tick = loop.time()
                if self.room is None:
                    await self._give_way(loop)
                else:
                    self._room_ticks[self] = math.inf  # making it now
                payloads, stopped = await self.call(self._play_frame, self.speed, quick=True)
                if self.client is None:
                    return
                self._fan(*payloads, metered=True)
                if stopped is not None:
                    self.playing = False
                    self.share(stopped)
                    return
                tick += self.period
                delay = tick - loop.time()
                if delay < 0:  # late: start a fresh schedule rather than burst to catch up
                    tick, delay = loop.time(), 0.0
                if self.room is not None:
                    self._room_ticks[self] = tick
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("play loop of session %s failed; playing stops", self.id)
            self.playing = False
        finally:
            self._room_ticks.pop(self, None)

    async def _give_way(self, loop) -> None:
        """A private session's frame waits a few turns of the loop while a room's is due: when
        the server is saturated, a class watching one session outweighs any one fork (with
        equal shares, 200 followers and 40 forks playing got 19 frames/s each)."""
        for _ in range(GIVE_WAY_TURNS):
            now = loop.time()
            if not any(t <= now for t in self._room_ticks.values()):
                return
            await asyncio.sleep(0)

    def _play_frame(self, trainer, speed: int) -> tuple[tuple, str | None]:
        """Runs in the pool with the lock held: `speed` updates, then one frame (the page's,
        and the followers' when a room follows)."""
        updates = trainer.run(speed)
        run_b = self.run_b
        if run_b is not None and updates:
            run_b.run(updates)
        message = replies.metrics_message(trainer, updates, playing=True, run_b=run_b)
        metrics = encode(message)
        own, room = self._weights(trainer)
        stopped = None
        if trainer.stopped is not None:
            stopped = encode(Stopped(reason=trainer.stopped, message=trainer.stop_message))
        if room is None:
            return ((metrics, own), None), stopped
        # the same numbers, shorter: built once, encoded twice (an evaluation is not cheap)
        return ((metrics, own), (encode(message, digits=6), room)), stopped

    def _weights(self, trainer, for_room: bool | None = None) -> tuple[bytes, bytes | None]:
        """Lock held: the weights frame for the session's own page (float32) and, when a room
        follows (or `for_room`), its followers' (float16: a classroom's Wi-Fi is shared; the
        gradients only while the presenter shows the backward view, which draws them)."""
        room = self.followers if for_room is None else for_room
        shown = self.room is not None and self.room.ui.get("view") == "backward"
        return frames.session_weights(trainer, self.run_b, bool(room), room_grads=shown)

    # frames after discrete changes

    def _render_frame(self, trainer, rec) -> tuple[tuple[bytes, ...], tuple[bytes, ...] | None]:
        """Lock held (Session.call: inline or in the pool): the record frame of `rec` (if any),
        then a weights frame; for the session's page and for its room's followers."""
        own, room = self._weights(trainer)
        if rec is None:
            return (own,), (room,) if room is not None else None
        meta = {"step": rec.step, "applied": rec.applied, "phase": trainer.phase}
        record = frames.record_frame(rec, meta)
        return (record, own), (record, room) if room is not None else None

    async def current_frame(self) -> tuple[bytes, ...]:
        """A followers' weights frame of the session as it is now (for one who just joined)."""
        return await self.call(lambda t: (self._weights(t, for_room=True)[1],), quick=True)

    def request_render(self) -> None:
        """Send a fresh heatmap frame soon; requests are coalesced to ≤ frame_rate a second."""
        if self.client is None or (self.playing and self._play_task is not None):
            return
        self._render_wanted = True
        if self._render_task is None or self._render_task.done():
            self._render_task = asyncio.get_running_loop().create_task(self._render_loop())

    async def _render_loop(self) -> None:
        try:
            while self._render_wanted and self.client is not None:
                self._render_wanted = False
                rec, self.pending_record = self.pending_record, None
                payloads = await self.call(self._render_frame, rec, quick=True)
                if self.client is not None:
                    self._fan(*payloads)
                await asyncio.sleep(1.0 / self.settings.frame_rate)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("rendering a frame for session %s failed", self.id)


class SessionManager:
    """All sessions of this server: open or resume by id, the cap, idle expiry, shutdown."""

    def __init__(self, settings: Settings, trainer_factory: Callable[[], Any] | None = None):
        self.settings = settings
        self.sessions: dict[str, Session] = {}
        self.cluster = None  # cluster.Cluster when the service shares Redis (start_cluster)
        self.store: Store | None = None  # where checkpoints go (store.py); None: nowhere
        self._claims: dict[str, asyncio.Task] = {}  # sessions being fetched from the store
        self._unloadable: dict[str, str] = {}  # digest(sid) -> why its checkpoint failed
        self._saving: set[asyncio.Task] = set()  # checkpoints of tabs that just went
        if trainer_factory is None:
            from engine.trainer import Trainer

            trainer_factory = Trainer
        self.trainer_factory = trainer_factory
        self.rooms = Rooms(settings)
        self.budgets = Budgets(settings)
        self.executor = PriorityPool(settings.threads, "trainer")
        self.heavy_executor = PriorityPool(settings.heavy_threads, "trainer-long")
        self.open_executor = PriorityPool(1, "trainer-new")  # new sessions and forks
        self.room_ticks: dict[Session, float] = {}  # see Session._give_way
        self.rooms.saved = self._save_quietly
        self._reaper: asyncio.Task | None = None
        self._checkpoints: asyncio.Task | None = None

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
        if (failed := self._unloadable.pop(digest(sid), None)) is not None:
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
            from engine.trainer import Trainer

            factory = Trainer.from_snapshot

        def build():
            start = time.thread_time()
            try:
                b = record.get("run_b")
                return factory(record["snapshot"]), None if b is None else factory(b)
            finally:
                self.budgets.charge_cpu(payer, time.thread_time() - start)

        return await asyncio.wrap_future(self.open_executor.submit(build))

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

    async def end(self, session: Session, code: int, reason: str) -> None:
        """Forget `session` now (its slot is free at once) and close its connection."""
        if self.sessions.get(session.id) is session:
            del self.sessions[session.id]
        session.pause()
        if session.room is not None:
            await self.rooms.close(session.room, "the presenter ended the session")
        self._forget(session)
        await session.close(code, reason)

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

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._reaper = loop.create_task(self._reap())
        if self.store is not None:
            self._checkpoints = loop.create_task(checkpoint_loop(self, self.store))

    async def _reap(self) -> None:
        period = min(30.0, self.settings.session_ttl_s / 4)
        while True:
            await asyncio.sleep(period)
            if n := self.expire():
                log.info("expired %d idle session(s)", n)

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

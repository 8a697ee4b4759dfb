"""A room's traffic across workers (cluster mode): published once, relayed by each worker.

The holder of a presented session gives it one extra follower, a `RoomPublisher`, while
anyone follows anywhere: what the session shares or fans out to its followers (state, steps,
presence, the presenter's view, play frames within the followers' byte budget) goes once onto
the Redis channel `room:<code>`, in order, at most one frame waiting (newest wins).

On every worker, followers of a room attach to its `RoomFeed`: one subscription to the
channel, relayed into each follower's own newest-wins outbox, so a slow follower or worker
only skips frames. A late joiner's state and current frame come from the feed's `Replica`,
a read-only copy of the session rebuilt from a checkpoint the holder writes when asked.
Every message is numbered by its publisher, and a checkpoint says how far the publisher had
got; a joiner gets the replica's state, then the messages published after it (the feed
keeps the last few), then the live traffic, so it misses no step. When Redis drops,
followers are told the room is reconnecting; when it returns, they get a fresh state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
from collections import deque
from typing import Any, Protocol

from . import replies
from .client import Outbox
from .messages_out import RoomInfo, RoomUi
from .polls import RelayedPoll
from .protocol import CloseCode, encode
from .sessions import Session, SessionManager
from .settings import Settings
from .store import ClusterDown, key

log = logging.getLogger("backprop_lab.feeds")

REPLY, FRAME, CLOSE = b"r", b"f", b"c"
LIVENESS_S = 2.0  # how often a feed checks that the room's holder is alive
IDLE_S = 5.0  # a feed with no followers for this long unsubscribes
KEPT = 256  # messages a feed keeps for joiners whose replica is a moment old
JOIN_STALE_S = 0.25  # how old a replica a joiner accepts (KEPT covers far more than that)
HEADER = 13  # kind (1 byte), publisher (4), number (8)


class Relay(Protocol):
    """What feeds use of the cluster (cluster.Cluster, which makes them): the core,
    this module included, never imports the cluster."""

    redis: Any  # redis.asyncio.Redis
    settings: Settings
    manager: SessionManager
    down_errors: tuple[type[BaseException], ...]  # Redis unreachable, or too slow

    async def load(self, sid: str) -> dict | None: ...
    async def ask(self, worker: str, op: str, timeout: float, **fields: Any) -> dict | None: ...
    def tell(self, worker: str, op: str, **fields: Any) -> None: ...
    async def publish(self, channel: str, data: bytes) -> int: ...
    async def room_info(self, code: str) -> dict[str, str] | None: ...
    async def resubscribe(self, pubsub, channel: str) -> Any: ...


def pack(kind: bytes, publisher: bytes, seq: int, payloads: tuple[str | bytes, ...]) -> bytes:
    """kind, publisher, number, then each payload as t|b, a 4-byte length and its bytes."""
    parts = [kind, publisher, seq.to_bytes(8, "big")]
    for p in payloads:
        data = p.encode() if isinstance(p, str) else p
        parts += [b"t" if isinstance(p, str) else b"b", len(data).to_bytes(4, "big"), data]
    return b"".join(parts)


def unpack(data: bytes) -> tuple[bytes, str, int, tuple[str | bytes, ...]]:
    """(kind, publisher as hex, number, payloads) of a `pack`."""
    kind, publisher, seq = data[:1], data[1:5].hex(), int.from_bytes(data[5:13], "big")
    payloads, i = [], HEADER
    while i < len(data):
        n = int.from_bytes(data[i + 1 : i + 5], "big")
        chunk = data[i + 5 : i + 5 + n]
        payloads.append(chunk.decode() if data[i : i + 1] == b"t" else chunk)
        i += 5 + n
    return kind, publisher, seq, tuple(payloads)


class RoomPublisher:
    """Every worker's followers of one room, as a single follower of the holder's session."""

    address = None  # counts against no address: each real follower does, where it connects

    def __init__(self, cluster: Relay, code: str):
        settings = cluster.settings
        self.cluster = cluster
        self.channel = key("room", code)
        self.id = secrets.token_bytes(4)
        self.seq = 0  # messages numbered so far
        self.outbox = Outbox(settings.send_queue, settings.send_queue_bytes)
        self.task = asyncio.get_running_loop().create_task(self._send_loop())

    def mark(self) -> list:
        """[publisher, number]: how far the room's messages have got (for a checkpoint)."""
        return [self.id.hex(), self.seq]

    def reply(self, payload: str | bytes) -> None:
        self.seq += 1
        self.outbox.reply(pack(REPLY, self.id, self.seq, (payload,)))

    def frame(self, payloads: tuple[str | bytes, ...]) -> None:
        self.seq += 1
        self.outbox.frame((pack(FRAME, self.id, self.seq, payloads),))

    async def close(self, code: int, reason: str) -> None:
        """The room ended: every worker closes its followers with `code`."""
        self.stop()
        text = json.dumps({"code": int(code), "reason": reason})
        try:
            await self.cluster.publish(self.channel, pack(CLOSE, self.id, self.seq + 1, (text,)))
        except self.cluster.down_errors:
            pass

    def stop(self) -> None:
        self.task.cancel()

    async def _send_loop(self) -> None:
        """Whatever waits goes in one round trip: a busy worker's publishing keeps up with
        its frames instead of waiting on each PUBLISH (bench/lab.py, one worker saturated:
        21.6 of 27.7 frames/s got out one at a time)."""
        while True:
            batch = list(await self.outbox.get())
            while len(self.outbox):
                batch += await self.outbox.get()
            try:
                async with self.cluster.redis.pipeline(transaction=False) as pipe:
                    for data in batch:
                        pipe.publish(self.channel, data)
                    await pipe.execute()
            except self.cluster.down_errors:
                pass  # dropped: followers are told the room reconnects, then get a state


class RoomLink:
    """What a follower's connection sees of a room held elsewhere (it stands in for
    rooms.Room): its code, the presenter's shared view and presence, as last relayed."""

    def __init__(self, feed: RoomFeed, info: dict[str, str]):
        self.feed = feed
        self.code = feed.code
        self.ui: dict = {}
        self.join_path = info.get("join_path")
        self.join_urls = json.loads(info.get("join_urls") or "[]")
        self.followers = 0
        self.presenter_online = True
        self.relay = "ok"
        self.poll = RelayedPoll(feed.cluster, feed.code)  # the presenter's open question

    def message(self, role: str = "follower") -> RoomInfo:
        return RoomInfo(
            code=self.code,
            role="follower",
            followers=self.followers,
            presenter_online=self.presenter_online,
            join_path=self.join_path,
            join_urls=self.join_urls,
            relay=self.relay,
        )

    def ui_message(self) -> str:
        return encode(RoomUi(ui=self.ui))

    def presence_changed(self) -> None:
        """A follower came or went here: the holder recounts and tells everyone."""
        self.feed.nudge()


class Replica(Session):
    """A read-only copy of a room's session, for its followers on this worker: their first
    state and frame, exports and forks. Never played, never attached; rebuilt by `fresh`."""

    def __init__(self, feed: RoomFeed, trainer, manager):
        super().__init__(
            f"feed-{feed.code}",
            trainer,
            manager.settings,
            manager.executor,
            manager.heavy_executor,
            budgets=manager.budgets,
        )
        self.feed: RoomFeed = feed  # its followers join through the room's channel
        self.room = feed.link
        self.published: list | None = None  # the checkpoint's [publisher, number]


class RoomFeed:
    """One room's channel on this worker, relayed to this worker's followers of it: the
    feed (feed.Feed) of the room's replica here."""

    def __init__(self, feeds: Feeds, code: str, info: dict[str, str]):
        self.feeds = feeds
        self.cluster = feeds.cluster
        self.code = code
        self.sid = info["sid"]
        self.channel = key("room", code)
        self.link = RoomLink(self, info)
        self.session: Replica | None = None
        self.closed = False
        self._refresh: asyncio.Task | None = None
        self._fresh_at = -math.inf  # when the rebuild that made the replica started
        self._task: asyncio.Task | None = None
        self._idle_since: float | None = None
        self.kept: deque[tuple[str, int, bytes, tuple]] = deque(maxlen=KEPT)
        self.holder_gone = False  # presenter shown offline because no worker holds it
        self.room_missing = False  # the room's name was not in Redis at the last check

    @property
    def followers(self) -> set:
        return self.session.followers if self.session is not None else set()

    async def start(self) -> None:
        self.pubsub = self.cluster.redis.pubsub()
        try:
            await self.pubsub.subscribe(self.channel)
        except self.cluster.down_errors as e:
            raise ClusterDown(str(e)) from None
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._listen_loop())

    # the replica: rebuilt from a checkpoint the holder writes now

    async def refresh(self, within: float = 0.0) -> None:
        """Bring the replica up to the session as it was when asked, or at most `within`
        seconds before (a joiner: the kept messages bridge that, so a class joining at once,
        or a script joining in a loop, costs the holder a checkpoint every JOIN_STALE_S at
        most). Callers share a rebuild that started late enough for them."""
        loop = asyncio.get_running_loop()
        asked = loop.time()
        while self._fresh_at < asked - within:
            if self._refresh is None or self._refresh.done():
                self._refresh = loop.create_task(self._rebuild(loop.time()))
            if not await asyncio.shield(self._refresh):
                return  # Redis is away or has no checkpoint: the copy there is stays

    async def _rebuild(self, started: float) -> bool:
        """A new replica from a checkpoint the holder writes now (whether it got one)."""
        cluster, manager = self.cluster, self.cluster.manager
        try:
            holder = await cluster.redis.get(key("lease", self.sid))
            alive = holder and await cluster.redis.exists(key("worker", holder.decode()))
            if alive:
                await cluster.ask(holder.decode(), "checkpoint", 2.0, sid=self.sid)
            record = await cluster.load(self.sid)
        except self.cluster.down_errors as e:
            if self.session is not None:
                return False  # keep the copy there is
            raise ClusterDown(str(e)) from None
        if not alive:
            self._holder_gone()
        if record is None:
            if self.session is None:
                raise ClusterDown("the room's session has no checkpoint yet; try again")
            return False
        trainer, run_b = await manager.build(record)
        room = record.get("room") or {}
        self.link.ui = room.get("ui") or {}
        if room.get("poll"):  # the open question, for joiners (the channel says what is newer)
            self.link.poll.restore(room["poll"])
        if self.session is None:
            self.session = Replica(self, trainer, manager)
        s = self.session

        def swap(_):  # under the lock: a joiner's state and its mark agree
            s.trainer, s.run_b, s.b_changes = trainer, run_b, record.get("b_changes") or {}
            s.playing, s.speed, s.period = record["playing"], record["speed"], record["period"]
            s.published, s.export_cache = room.get("published"), None

        await s.call(swap)
        self._fresh_at = started
        return True

    async def welcome(self, conn) -> None:
        """A follower joins here: the replica's state and frame, the presenter's view, the
        messages published since the replica's checkpoint, then the live traffic."""
        s = self.session
        n_history = conn.settings.history_points

        def read(t):
            state = replies.session_state(s, t, points=True, history=n_history)
            return encode(state), s.followers_frame(t), s.published

        state, frame, published = await s.call(read)
        question = await self.link.poll.texts(conn)
        conn.sent_points = True
        conn.reply(state)
        conn.frame((frame,))
        if self.link.ui:
            conn.reply(self.link.ui_message())
        for text in question:
            conn.reply(text)
        # no await from here on: nothing is relayed between the catch-up and joining
        if published is not None:
            publisher, seq = published
            since = [m for m in self.kept if m[0] == publisher and m[1] > seq]
            frames = [m for m in since if m[2] == FRAME]
            for _, _, kind, payloads in since:
                if kind == REPLY:
                    conn.reply(payloads[0])
            if frames:
                conn.frame(frames[-1][3])
        s.followers.add(conn)
        self.link.presence_changed()

    # the channel

    def deliver(self, data: bytes) -> None:
        kind, publisher, seq, payloads = unpack(data)
        if self.kept and self.kept[-1][0] != publisher:
            self.kept.clear()  # another worker holds the session now: number from its start
        if kind != CLOSE:
            self.kept.append((publisher, seq, kind, payloads))
        followers = self.followers
        if kind == FRAME:
            for f in followers:
                f.frame(payloads)
            return
        if kind == CLOSE:
            why = json.loads(payloads[0])
            asyncio.get_running_loop().create_task(self.close(why["code"], why["reason"]))
            return
        text = payloads[0]
        if isinstance(text, str) and text.startswith('{"type":"room'):
            self._note(text)
        elif isinstance(text, str) and text.startswith(('{"type":"question', '{"type":"reveal')):
            self.link.poll.note(text)
        for f in followers:
            f.reply(text)

    def _note(self, text: str) -> None:
        """Keep what a room or room_ui message says, for followers who join later."""
        msg = json.loads(text)
        if msg["type"] == "room_ui":
            self.link.ui = msg.get("ui") or {}
        elif msg["type"] == "room" and msg.get("role") == "follower":
            self.link.followers = msg.get("followers", 0)
            self.link.presenter_online = msg.get("presenter_online", True)

    def _tell_link(self) -> None:
        text = encode(self.link.message())
        for f in self.followers:
            f.reply(text)

    async def _listen_loop(self) -> None:
        loop = asyncio.get_running_loop()
        checked = loop.time()
        while not self.closed:
            try:
                msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if self.link.relay != "ok":
                    await self._relinked()
                if loop.time() - checked > LIVENESS_S:
                    checked = loop.time()
                    await self._check_holder()
            except asyncio.CancelledError:
                raise
            except (*self.cluster.down_errors, RuntimeError, ConnectionError, ClusterDown):
                if self.link.relay == "ok":
                    self.link.relay = "reconnecting"
                    self._tell_link()
                await asyncio.sleep(0.5)
                self.pubsub = await self.cluster.resubscribe(self.pubsub, self.channel)
                continue
            if msg is not None and msg.get("type") == "message":
                try:
                    self.deliver(msg["data"])
                except (ValueError, KeyError, IndexError):
                    log.warning("a malformed message on %s was ignored", self.channel)
            if self._idle():
                return

    async def _relinked(self) -> None:
        """Redis is back: a fresh state and frame for everyone (some were missed)."""
        self.link.relay = "ok"
        await self.refresh()
        s = self.session
        if s is None:
            return
        self._tell_link()
        await self._nudge()  # the holder says again who is online and how many follow
        n_history = self.cluster.settings.history_points  # the charts missed some steps
        state = await s.call(
            lambda t: encode(replies.session_state(s, t, points=True, history=n_history))
        )
        frame = await s.current_frame()
        for f in self.followers:
            f.reply(state)
            f.frame(frame)

    def _holder_gone(self) -> None:
        self.holder_gone = True
        if self.link.presenter_online:
            self.link.presenter_online = False
            self._tell_link()

    async def _check_holder(self) -> None:
        """Presenter offline while no live worker holds the session (its worker was killed),
        until a worker resumes it; then that worker says who is online."""
        redis = self.cluster.redis
        holder = await redis.get(key("lease", self.sid))
        alive = bool(holder) and bool(await redis.exists(key("worker", holder.decode())))
        if not alive:
            self._holder_gone()
        elif self.holder_gone:
            self.holder_gone = False
            await self._nudge()
        # a close this worker missed (Redis was away): the room's name is gone, twice running
        # (once could be a Redis restarted empty, before its holder names the room again)
        missing = not await redis.exists(key("room", self.code))
        if missing and self.room_missing:
            await self.close(CloseCode.ROOM_GONE, "the room has closed")
        self.room_missing = missing

    async def expect_joiner(self) -> None:
        """A joiner is on its way: the feed stays, its replica at most JOIN_STALE_S old."""
        self._idle_since = None
        await self.refresh(within=JOIN_STALE_S)

    def nudge(self) -> None:
        """Ask the holder to recount followers (someone came or went here)."""
        loop = asyncio.get_running_loop()
        self._idle_since = None if self.followers else loop.time()
        loop.create_task(self._nudge())

    async def _nudge(self) -> None:
        try:
            holder = await self.cluster.redis.get(key("lease", self.sid))
        except self.cluster.down_errors:
            return
        if holder:
            self.cluster.tell(holder.decode(), "presence", code=self.code)

    def _idle(self) -> bool:
        loop = asyncio.get_running_loop()
        if self._idle_since is None or self.followers or loop.time() - self._idle_since < IDLE_S:
            return False
        self.feeds.by_code.pop(self.code, None)
        self.closed = True
        asyncio.get_running_loop().create_task(self._unsubscribe())
        return True

    async def _unsubscribe(self) -> None:
        try:
            await self.pubsub.aclose()
        except (*self.cluster.down_errors, RuntimeError, ConnectionError):
            pass

    async def close(self, code: int, reason: str) -> None:
        """The room ended: close this worker's followers of it and unsubscribe."""
        self.closed = True
        self.feeds.by_code.pop(self.code, None)
        followers = list(self.followers)
        self.followers.clear()
        await asyncio.gather(*(f.close(code, reason) for f in followers), return_exceptions=True)
        await self._unsubscribe()


class Feeds:
    """This worker's feeds, one per room its followers follow."""

    def __init__(self, cluster: Relay):
        self.cluster = cluster
        self.by_code: dict[str, RoomFeed] = {}
        self._starting: dict[str, asyncio.Task] = {}

    async def join(self, code: str) -> RoomFeed | None:
        """The feed of room `code`, fresh for a joiner; None if there is no such room."""
        code = code.upper()
        feed = self.by_code.get(code)
        if feed is not None and not feed.closed:
            await feed.expect_joiner()
            return feed
        task = self._starting.get(code)
        if task is None:
            task = self._starting[code] = asyncio.get_running_loop().create_task(self._open(code))
            task.add_done_callback(lambda _: self._starting.pop(code, None))
        return await asyncio.shield(task)

    async def _open(self, code: str) -> RoomFeed | None:
        info = await self.cluster.room_info(code)
        if info is None:
            return None
        feed = RoomFeed(self, code, info)
        await feed.start()
        self.by_code[code] = feed
        return feed

"""Cluster mode: several worker processes, on one machine or many, as one service, via Redis.

Without `redis_url` the server is one process and nothing here runs. With it, each worker
(`--workers N` on one port, or the same command on other machines behind a load balancer)
keeps in Redis whatever must not depend on which worker a connection lands on:

- **Sessions.** A session lives on one worker at a time, under a lease (`lease:<sid>` holds
  the worker's id; renewed every second). The holder writes the session's checkpoint
  (`ckpt:<sid>`: the trainer's snapshot and the play state) whenever it changed, at most
  `checkpoint_period_s` apart, and at once when its tab goes. A connection that resumes a
  session held elsewhere asks the holder to hand it over (it checkpoints, lets the lease go
  and closes its old connection); a holder that is gone (`worker:<id>` expired: killed,
  crashed or cut off) is taken over from its last checkpoint.
- **Rooms.** `room:<code>` names the presented session. Its holder publishes the room's frames
  and shared replies once on the channel `room:<code>`; each worker with followers of the room
  relays them to its own (feeds.py).
- **Budgets.** What an address holds (sessions, rooms, follower sockets) is a sorted set of
  leased members per address, so a cap holds across workers; wrong room codes count there too.

Redis lost in the middle of a class: every worker keeps its sessions playing. What a worker
holds it re-asserts every second, so when Redis returns (even empty) the leases, rooms and
budgets are back within a second and every session is checkpointed again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.exceptions import OutOfMemoryError, RedisError, ResponseError

from .budgets import JOIN_BACKOFF_MAX_S, JOIN_BACKOFF_S, JOIN_FORGET_S, JOIN_FREE_FAILURES
from .feeds import Feeds, RoomPublisher
from .store import (
    ClusterDown,
    Store,
    StoreFull,
    address_key,
    digest,
    key,
    ttl_of,
    with_histories,
)

if TYPE_CHECKING:
    from .sessions import Session, SessionManager

log = logging.getLogger("backprop_lab.cluster")

HEARTBEAT_S = 1.0  # leases, rooms and members are re-asserted this often
HEARTBEAT_TIMEOUT_S = 5.0  # a heartbeat that has not finished by then has failed
ALIVE_MS = 3000  # a worker not heard from for this long is gone: its sessions may be taken
LEASE_MS = 30_000  # a lease outlives a slow heartbeat; a dead holder is known by ALIVE_MS
MEMBER_MS = 5000  # a budget member (a session, a socket) not renewed this long is dropped
HANDOVER_S = 3.0  # how long a resume waits for the holder to hand a session over
DOWN = (RedisError, OSError, asyncio.TimeoutError)  # Redis unreachable, or too slow

# a member into a capped sorted set (score: when it lapses), unless the set is full;
# returns -1 when taken, else how many it holds
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local cap = tonumber(ARGV[4])
if cap >= 0 and not redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  local n = redis.call('ZCARD', KEYS[1])
  if n >= cap then return n end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return -1
"""
# the lease for this worker if it is free or already its own, or (ARGV[3]) from that holder
_LEASE = """
local h = redis.call('GET', KEYS[1])
if not h or h == ARGV[1] or h == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_UNLEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Cluster(Store):
    """This worker's view of the service: its id, its Redis connection and what it holds;
    the store of its sessions' checkpoints (store.py)."""

    name = "redis"
    down_errors = DOWN

    def __init__(self, url: str, settings, manager: SessionManager):
        self.url = url
        self.settings = settings
        self.manager = manager
        self.id = secrets.token_hex(6)
        self.redis = aioredis.from_url(
            url,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            health_check_interval=0,
            **password_of(settings.redis_password_file),
        )
        self._take = self.redis.register_script(_TAKE)
        self._lease = self.redis.register_script(_LEASE)
        self._unlease = self.redis.register_script(_UNLEASE)
        self.members: dict[str, set[str]] = {}  # sorted-set key -> members this worker holds
        self.up = True  # Redis answered the last heartbeat
        self.full = False  # Redis refused a write for want of memory (and is not down)
        self.closed_rooms: set[str] = set()  # closed while Redis could not hear it
        self._asks: dict[str, asyncio.Future] = {}
        self._tasks: list[asyncio.Task] = []
        self.feeds: Feeds | None = None  # set by start()
        self.pubsub = None

    # start and stop

    async def start(self, manager: SessionManager | None = None) -> None:
        self.feeds = Feeds(self)
        await self.redis.set(key("worker", self.id), "1", px=ALIVE_MS)
        self.pubsub = self.redis.pubsub()
        await self.pubsub.subscribe(key("w", self.id))
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._heartbeat_loop()),
            loop.create_task(self._listen_loop()),
        ]
        log.info("worker %s joined the cluster at %s", self.id, _safe(self.url))

    async def stop(self) -> None:
        """Let every lease go (the manager has checkpointed its sessions), so another worker
        resumes them at once."""
        for t in self._tasks:
            t.cancel()
        for s in list(self.manager.sessions.values()):
            try:
                await asyncio.wait_for(
                    self._unlease(keys=[key("lease", s.id)], args=[self.id]), 2.0
                )
            except (*DOWN, RuntimeError):
                break
        try:
            await self.redis.delete(key("worker", self.id))
            await self.redis.aclose()
        except DOWN:
            pass

    # sessions: leases and checkpoints

    async def write(self, session: Session, record: str, histories: str | None) -> None:
        """`session`'s checkpoint (store.Store.save), kept for its TTL: a session's, or a room's.
        One bigger than `max_checkpoint_kb`, or refused by a full Redis, is StoreFull: the
        others are still written."""
        size = len(record) + len(histories or "")
        if size > self.settings.max_checkpoint_kb * 1024:
            raise StoreFull(
                f"its checkpoint takes {size // 1024} KB, over max_checkpoint_kb "
                f"({self.settings.max_checkpoint_kb})"
            )
        ttl = max(1, int(ttl_of(session, self.settings)))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key("ckpt", session.id), record, ex=ttl)
            if histories is not None:
                pipe.set(key("hist", session.id), histories, ex=ttl)
            else:
                pipe.expire(key("hist", session.id), ttl)
            try:
                await pipe.execute()
            except ResponseError as e:
                if not _out_of_memory(e):
                    raise
                self._say_full(True)
                raise StoreFull("Redis is full (maxmemory)") from None

    async def load(self, sid: str) -> dict | None:
        """Session `sid`'s last checkpoint, its chart histories put back (only the entries
        up to its step: a history saved before a step back is cut), or None."""
        record, histories = await self.redis.mget(key("ckpt", sid), key("hist", sid))
        return None if record is None else with_histories(record, histories)

    async def hold(self, session: Session) -> None:
        """Take `session`'s lease and count it against its address (a new or restored one)."""
        try:
            await self._lease(keys=[key("lease", session.id)], args=[self.id, LEASE_MS, ""])
        except DOWN:
            self.up = False  # the heartbeat asserts it when Redis is back

    async def claim(self, sid: str) -> dict | None:
        """Session `sid`'s checkpoint, with its lease now this worker's; None if no worker and
        no checkpoint knows it. The holder, if alive, is asked to hand it over first."""
        lease = key("lease", sid)
        try:
            holder = await self.redis.get(lease)
            holder = holder.decode() if holder else None
            if holder and holder != self.id:
                alive = await self.redis.exists(key("worker", holder))
                if alive:
                    await self.ask(holder, "release", HANDOVER_S, sid=sid)
                # handed over (the lease is free), or the holder is gone or too slow: take it
            if not await self._lease(keys=[lease], args=[self.id, LEASE_MS, holder or ""]):
                return None  # another worker got it first; this tab starts afresh
            record = await self.load(sid)
        except DOWN as e:
            raise ClusterDown(str(e)) from None
        if record is None:
            await self._unlease(keys=[lease], args=[self.id])
        return record

    async def forget(self, session: Session) -> None:
        """`session` is over (left, expired, evicted): its lease and checkpoint go."""
        self.drop_member(address_key("sessions", session.address), session.id)
        try:
            await self._unlease(keys=[key("lease", session.id)], args=[self.id])
            await self.redis.delete(key("ckpt", session.id), key("hist", session.id))
        except DOWN:
            pass

    async def let_go(self, session: Session) -> None:
        """`session` moved to another worker: stop renewing its lease and its member."""
        for kind in ("sessions", "rooms"):  # the new holder counts them
            self.members.get(address_key(kind, session.address), set()).discard(session.id)
        try:
            await self._unlease(keys=[key("lease", session.id)], args=[self.id])
        except DOWN:
            pass

    # budgets: leased members of per-address sorted sets

    async def take_member(
        self, set_key: str, member: str, cap: int, strict: bool = False
    ) -> int | None:
        """Add `member` to `set_key` unless it holds `cap` already (cap < 0: no cap);
        None when taken, else the count that refused it. Down: taken, counted later (or,
        if `strict`, ClusterDown: a new session must be counted and kept, or wait)."""
        now = _ms()
        try:
            n = await self._take(
                keys=[set_key], args=[now, now + MEMBER_MS, member, cap, MEMBER_MS * 4]
            )
        except DOWN as e:
            self.up = False
            if strict:
                raise ClusterDown(str(e)) from None
            n = -1
        if n >= 0:
            return int(n)
        self.members.setdefault(set_key, set()).add(member)
        return None

    def drop_member(self, set_key: str, member: str) -> None:
        held = self.members.get(set_key)
        if held is not None:
            held.discard(member)
            if not held:
                del self.members[set_key]
        self._spawn(self._zrem(set_key, member))

    async def _zrem(self, set_key: str, member: str) -> None:
        try:
            await self.redis.zrem(set_key, member)
        except DOWN:
            pass

    async def count(self, set_key: str) -> int:
        try:
            await self.redis.zremrangebyscore(set_key, "-inf", _ms())
            return int(await self.redis.zcard(set_key))
        except DOWN:
            return len(self.members.get(set_key, ()))  # this worker's, the best it knows

    async def join_wait(self, address: str | None) -> float:
        try:
            ms = await self.redis.pttl(key("joinblock", address or ""))
        except DOWN:
            return 0.0
        return max(0, ms) / 1000

    async def join_failed(self, address: str | None) -> None:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.incr(key("joinfail", address or ""))
                pipe.expire(key("joinfail", address or ""), int(JOIN_FORGET_S))
                count = (await pipe.execute())[0]
            if count > JOIN_FREE_FAILURES:
                wait = JOIN_BACKOFF_S * 2 ** (count - JOIN_FREE_FAILURES - 1)
                wait = min(wait, JOIN_BACKOFF_MAX_S)
                await self.redis.set(key("joinblock", address or ""), "1", px=int(wait * 1000))
        except DOWN:
            pass

    async def join_succeeded(self, address: str | None) -> None:
        try:
            await self.redis.delete(key("joinfail", address or ""), key("joinblock", address or ""))
        except DOWN:
            pass

    # rooms

    @staticmethod
    def _room_fields(room) -> dict[str, str]:
        return {
            "sid": room.session.id,
            "token": room.token_digest,
            "join_path": room.join_path,
            "join_urls": json.dumps(room.join_urls),
        }

    async def register_room(self, room) -> bool:
        """Name `room` in Redis (False: its code is another worker's room; pick another)."""
        k = key("room", room.code)
        try:
            owner = await self.redis.hget(k, "sid")
            if owner is not None and owner.decode() != room.session.id:
                return False
            await self.redis.hset(k, mapping=self._room_fields(room))
            await self.redis.expire(k, int(self.settings.room_ttl_s))
        except DOWN:
            self.up = False
        return True

    async def room_info(self, code: str) -> dict[str, str] | None:
        try:
            info = await self.redis.hgetall(key("room", code))
        except DOWN as e:
            raise ClusterDown(str(e)) from None
        return {k.decode(): v.decode() for k, v in info.items()} or None

    async def presenter_session(self, code: str, token: str) -> str | None:
        """The session id of room `code` if `token` is its presenter's."""
        info = await self.room_info(code)
        if info is None or not secrets.compare_digest(info.get("token", ""), digest(token)):
            return None
        return info["sid"]

    async def close_room(self, code: str) -> None:
        """The room is over: its keys go now, or as soon as Redis hears this worker again
        (never left to their TTL: a student with the code would find the session)."""
        self.closed_rooms.add(code)
        try:
            await self.redis.delete(key("room", code), key("roomf", code))
            self.closed_rooms.discard(code)
        except DOWN:
            pass

    def publisher(self, code: str) -> RoomPublisher:
        """What relays room `code`'s traffic to every worker: the holder's session's one
        follower here (feeds.py)."""
        return RoomPublisher(self, code)

    async def publish(self, channel: str, data: bytes) -> int:
        return await self.redis.publish(channel, data)

    # worker to worker: a request on the worker's channel, answered on the asker's

    async def ask(self, worker: str, op: str, timeout: float, **fields: Any) -> dict | None:
        """Ask `worker` to do `op`; its answer, or None if it did not answer in `timeout`."""
        ask_id = secrets.token_hex(6)
        future = asyncio.get_running_loop().create_future()
        self._asks[ask_id] = future
        try:
            msg = json.dumps({"op": op, "id": ask_id, "from": self.id, **fields})
            if not await self.redis.publish(key("w", worker), msg):
                return None  # nobody listens there: the worker is gone
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            return None
        finally:
            self._asks.pop(ask_id, None)

    def tell(self, worker: str, op: str, **fields: Any) -> None:
        self._spawn(self._tell(worker, op, fields))

    async def _tell(self, worker: str, op: str, fields: dict) -> None:
        try:
            await self.redis.publish(key("w", worker), json.dumps({"op": op, **fields}))
        except DOWN:
            pass

    async def _answer(self, msg: dict) -> None:
        op, manager = msg.get("op"), self.manager
        if op == "answer":
            future = self._asks.get(msg.get("id"))
            if future is not None and not future.done():
                future.set_result(msg)
            return
        try:
            if op == "release":
                await manager.hand_over(str(msg.get("sid")))
            elif op == "checkpoint":
                session = manager.sessions.get(str(msg.get("sid")))
                if session is not None:
                    await self.save(session)
        except DOWN:
            return  # the asker hears nothing and takes the last checkpoint
        if op == "presence":
            room = manager.rooms.get(str(msg.get("code")))
            if room is not None:
                room.presence_changed()
            return
        if msg.get("from"):
            await self._tell(msg["from"], "answer", {"id": msg.get("id")})

    # the loops

    async def _listen_loop(self) -> None:
        """Read this worker's channel; resubscribe after an outage."""
        channel = key("w", self.id)
        while True:
            try:
                msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except (*DOWN, RuntimeError, ConnectionError):
                await asyncio.sleep(0.5)
                self.pubsub = await self.resubscribe(self.pubsub, channel)
                continue
            if msg is not None and msg.get("type") == "message":
                try:
                    request = json.loads(msg["data"])
                except ValueError:
                    continue
                self._spawn(self._answer(request))

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                # bounded: a pipeline whose connection broke mid-call can wait for ever
                await asyncio.wait_for(self.heartbeat(), HEARTBEAT_TIMEOUT_S)
                if not self.up:
                    log.info("Redis is back; this worker's sessions are checkpointed again")
                    for s in self.manager.sessions.values():
                        s.changed = True
                self.up = True
            except asyncio.CancelledError:
                raise
            except DOWN as e:
                if self.up:
                    log.warning("Redis unreachable (%s); sessions play on, rooms wait", e)
                self.up = False

    async def heartbeat(self) -> None:
        """Say this worker is alive, and re-assert all it holds (after an outage, too); rooms
        closed while Redis could not hear it are deleted now. A full Redis (maxmemory,
        noeviction) refuses what would grow it, not what keeps this worker alive
        (PEXPIRE): it is said as full, not as unreachable."""
        now = _ms()
        sessions = list(self.manager.sessions.values())
        closed = list(self.closed_rooms)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.pexpire(key("worker", self.id), ALIVE_MS)
            pipe.set(key("worker", self.id), "1", px=ALIVE_MS, nx=True)
            for code in closed:
                pipe.delete(key("room", code), key("roomf", code))
            for s in sessions:
                await self._lease(
                    keys=[key("lease", s.id)], args=[self.id, LEASE_MS, ""], client=pipe
                )
            for set_key, members in self.members.items():
                if not members:
                    continue
                pipe.zadd(set_key, {m: now + MEMBER_MS for m in members})
                pipe.pexpire(set_key, MEMBER_MS * 4)
            for room in list(self.manager.rooms.by_code.values()):
                pipe.hset(key("room", room.code), mapping=self._room_fields(room))
                pipe.expire(key("room", room.code), int(self.settings.room_ttl_s))
            results = await pipe.execute(raise_on_error=False)
        for r in results:
            if isinstance(r, Exception) and not _out_of_memory(r):
                raise r
        self._say_full(any(isinstance(r, Exception) for r in results))
        for code, done in zip(closed, results[2 : 2 + len(closed)]):
            if not isinstance(done, Exception):
                self.closed_rooms.discard(code)
        leases = results[2 + len(closed) : 2 + len(closed) + len(sessions)]
        for s, held in zip(sessions, leases):
            if held == 0:  # another worker holds it (a refused write is not that)
                await self.manager.lost(s)
        for room in list(self.manager.rooms.by_code.values()):
            room.presence_changed(recount_only=True)  # followers on every worker

    def _say_full(self, full: bool) -> None:
        if full and not self.full:
            log.warning(
                "Redis is full (maxmemory, noeviction): checkpoints and new rooms wait for "
                "room there; sessions play on"
            )
        elif self.full and not full:
            log.info("Redis has room again: checkpoints are written again")
        self.full = full

    async def resubscribe(self, pubsub, channel: str):
        """A fresh subscription to `channel` in place of `pubsub`, whose connection broke (it
        may fail again: Redis may still be down, and the next read says so)."""
        try:
            await pubsub.aclose()
        except (*DOWN, RuntimeError, ConnectionError):
            pass
        fresh = self.redis.pubsub()
        try:
            await fresh.subscribe(channel)
        except (*DOWN, ConnectionError):
            pass
        return fresh

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)


def _out_of_memory(e: BaseException) -> bool:
    """Redis refused a write for want of memory (maxmemory with noeviction)."""
    return isinstance(e, OutOfMemoryError) or (
        isinstance(e, ResponseError) and str(e).startswith("OOM")
    )


def _ms() -> int:
    return int(time.time() * 1000)


def _safe(url: str) -> str:
    """`url` without a password (in its user part or as `?password=`), for the log."""
    scheme, _, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = "…@" + rest.split("@", 1)[1]
    if "password=" in rest:
        rest = re.sub(r"(password=)[^&]*", r"\1…", rest)
    return f"{scheme}://{rest}"


def password_of(path: str | None) -> dict:
    """`{"password": ...}` from the file at `path` (its first line), or nothing."""
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            return {"password": f.readline().rstrip("\r\n")}
    except OSError as e:
        raise ClusterDown(f"cannot read the Redis password file {path}: {e.strerror}") from None


async def check_reachable(url: str, password_file: str | None = None) -> None:
    """Raise ClusterDown with a reason a person can read if Redis at `url` does not answer."""
    client = aioredis.from_url(
        url, socket_timeout=2.0, socket_connect_timeout=2.0, **password_of(password_file)
    )
    try:
        await client.ping()
    except (*DOWN, ValueError) as e:
        raise ClusterDown(f"cannot reach Redis at {_safe(url)}: {e}") from None
    finally:
        await client.aclose()

"""One WebSocket connection: a receive loop that never stops, a worker, and a sender task.

The receive loop reads every frame (`websocket.receive()`), refuses binary frames, oversized
text and floods on the spot, and queues the rest for the worker, which parses and dispatches
them one at a time in arrival order. Everything bound for the client goes through its
`Outbox`: replies keep their order, and at most one frame waits, a newer frame replacing
it, so a client that reads slowly or not at all never holds up training, other clients, or
server memory. Only the sender task awaits `send`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections import deque

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from engine.config import Config, schema

from . import handlers, polls
from .messages_in import parse_client_message
from .messages_out import Hello
from .protocol import (
    PROTOCOL_VERSION,
    CloseCode,
    Error,
    ErrorCode,
    ProtocolError,
    encode,
    error_message,
)
from .security import origin_allowed
from .sessions import PAYER, Session, SessionManager, SessionsFull
from .settings import Settings
from .store import ClusterDown, address_key, key

log = logging.getLogger("backprop_lab.client")
SMALL_MESSAGE = 1024  # characters: `pause`, `leave` and `ui` fit, and are parsed without waiting


class TokenBucket:
    """`burst` tokens, refilled at `rate` a second; `take()` spends one if it can."""

    def __init__(self, burst: int, rate: float):
        self.capacity, self.rate = float(burst), rate
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self, cost: float = 1.0) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class _Frame:
    __slots__ = ("payloads",)

    def __init__(self, payloads: tuple[str | bytes, ...]):
        self.payloads = payloads


class Outbox:
    """Replies in order plus at most one pending frame, which a newer frame replaces.

    Past `max_replies` waiting replies, or `max_bytes` of them (a client that stopped
    reading: a stalled phone in a room of 200 must not hold megabytes of `state`s), the
    oldest are dropped.
    """

    def __init__(self, max_replies: int, max_bytes: int = 8 << 20):
        self._items: deque[str | bytes | _Frame] = deque()
        self._frame: _Frame | None = None
        self._max, self._max_bytes = max_replies, max_bytes
        self._bytes = 0  # of the replies waiting (frames are bounded by being one)
        self._ready = asyncio.Event()
        self.dropped_replies = 0
        self.replaced_frames = 0

    def __len__(self) -> int:
        return len(self._items)

    def reply(self, payload: str | bytes) -> None:
        self._items.append(payload)
        self._bytes += len(payload)
        while len(self._items) > self._max + (self._frame is not None) or (
            self._bytes > self._max_bytes and len(self._items) > 1
        ):
            dropped = self._items.popleft()
            if dropped is self._frame:
                self._frame = None
                continue
            self._bytes -= len(dropped)
            self.dropped_replies += 1
        self._ready.set()

    def frame(self, payloads: tuple[str | bytes, ...]) -> None:
        if self._frame is not None:
            self._items.remove(self._frame)
            self.replaced_frames += 1
        self._frame = _Frame(payloads)
        self._items.append(self._frame)
        self._ready.set()

    async def get(self) -> tuple[str | bytes, ...]:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if isinstance(item, _Frame):
            self._frame = None if item is self._frame else self._frame
            return item.payloads
        self._bytes -= len(item)
        return (item,)


class Connection:
    """A connected tab: owns its outbox, token bucket, inbox and tasks; talks to a Session.

    `role` "owner" drives the session; "follower" watches a room's session read-only.
    """

    def __init__(
        self,
        websocket: WebSocket,
        session: Session,
        manager: SessionManager,
        settings: Settings,
        hello: Hello,
        role: str = "owner",
    ):
        self.ws = websocket
        self.address = client_address(websocket)
        self.role = role
        self.session = session
        self.manager = manager
        self.settings = settings
        self.outbox = Outbox(settings.send_queue, settings.send_queue_bytes)
        self.bucket = TokenBucket(settings.rate_burst, settings.rate_per_s)
        self.answers = TokenBucket(polls.BURST, polls.RATE)  # a follower's answers
        voter = websocket.query_params.get("voter") or ""
        # who answers the presenter's questions: the page's own id for its tab, kept across
        # reconnects (polls.py), else one for this connection
        self.voter = voter if polls.VOTER.fullmatch(voter) else secrets.token_urlsafe(16)
        self.inbox: asyncio.Queue[str | ProtocolError] = asyncio.Queue(settings.rate_burst + 14)
        self.loop = asyncio.get_running_loop()
        self.hello = hello
        self.sent_points = False
        self._limited = False
        self._large_waiting = False  # a message over max_message_bytes is queued or parsing
        self.leave_seen = False
        self._tasks: set[asyncio.Task] = set()  # fire-and-forget tasks, kept referenced

    # the Attached interface used by Session

    def reply(self, payload: str | bytes) -> None:
        self.outbox.reply(payload)

    def frame(self, payloads: tuple[str | bytes, ...]) -> None:
        self.outbox.frame(payloads)

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            try:
                await asyncio.wait_for(self.ws.close(code, reason), 2.0)
            except (asyncio.TimeoutError, RuntimeError, WebSocketDisconnect, OSError):
                pass

    def error(self, e: ProtocolError) -> None:
        self.outbox.reply(encode(error_message(e)))

    # the three loops

    async def run(self) -> None:
        """Serve until the client goes: hello and state first, then messages."""
        if self.role == "follower":
            return await self._follow()
        self.reply(encode(self.hello))
        sender = self.loop.create_task(self._send_loop())
        worker = self.loop.create_task(self._work_loop())
        previous = self.session.attach(self)
        if previous is not None:
            task = self.loop.create_task(
                previous.close(CloseCode.REPLACED, "this session was resumed by another tab")
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        room = self.session.room
        try:
            if room is not None:
                room.presence_changed()
            await handlers.send_state(self, points=True, history=True, share=False)
            if room is not None:  # the open question, and the class's counts again
                room.poll.presenter_back()
                await room.poll.greet(self)
            self.session.resume()
            self.session.request_render()
            await self._receive_loop()
        finally:
            worker.cancel()  # the bookkeeping first: an await below may be cancelled itself
            sender.cancel()
            self.session.detach(self)
            if self.session.room is not None:
                self.session.room.presence_changed()
            if not self.leave_seen:
                self.manager.detached(self.session)
            try:
                if self.leave_seen:  # the worker may have been cancelled before it got there
                    await self.manager.end(self.session, CloseCode.LEFT, "left")
            finally:
                await _stopped(worker, sender)

    async def _follow(self) -> None:
        """A follower: the room's state, current frame and presenter view at
        once (a late joiner is current straight away), then the room's traffic."""
        s = self.session
        # what welcoming it costs (the room's state and history, a frame) is charged to the
        # follower's address, and an address in debt waits first: joining and leaving in a
        # loop cannot take the room's lock from its presenter
        PAYER.set(self.address)
        if wait := self.manager.budgets.cpu_wait(self.address):
            await asyncio.sleep(wait)
        self.reply(encode(self.hello))
        sender = self.loop.create_task(self._send_loop())
        worker = self.loop.create_task(self._work_loop())
        try:
            await s.feed.welcome(self)  # the session's own, or its room's channel (feed.py)
            await self._receive_loop()
        finally:
            worker.cancel()
            sender.cancel()
            s.followers.discard(self)
            if s.room is not None:
                s.room.presence_changed()
            await _stopped(worker, sender)

    def _is_leave(self, text: str) -> bool:
        """Whether `text` is a valid `leave`, noted on arrival so that a hang-up right after
        it (which cancels the worker) cannot lose it."""
        if len(text) > 64 or '"leave"' not in text:
            return False
        try:
            return parse_client_message(text).type == "leave"
        except ProtocolError:
            return False

    async def _receive_loop(self) -> None:
        limit = self.settings.max_message_bytes
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if not self.bucket.take():
                if not self._limited:
                    self._limited = True
                    self.error(
                        ProtocolError(
                            ErrorCode.RATE_LIMITED,
                            f"more than {self.settings.rate_per_s:g} "
                            "messages a second: this and further messages are dropped until the "
                            "rate falls",
                        )
                    )
                continue
            self._limited = False
            text = message.get("text")
            if text is None:
                self._queue(
                    ProtocolError(
                        ErrorCode.BINARY_FRAME, "binary frames are not accepted; send JSON text"
                    )
                )
                continue
            size = utf8_size(text, limit)
            if size > self.settings.max_import_bytes:
                self._queue(
                    ProtocolError(
                        ErrorCode.TOO_LARGE,
                        f"message of {size} bytes is over the "
                        f"{self.settings.max_import_bytes}-byte limit of an import",
                    )
                )
                continue
            if size > limit:  # parsed off the loop; only a parsed `import` may be that big
                # paid by size (one message's token is taken already), never more than a
                # full bucket: an import up to the documented max_import_bytes can go
                cost = max(0.0, min(size / limit, self.bucket.capacity) - 1)
                if self._large_waiting or not self.bucket.take(cost):
                    self._queue(
                        ProtocolError(
                            ErrorCode.RATE_LIMITED,
                            "one large message at a time, and at most "
                            f"{self.settings.rate_per_s * limit / 1024:.0f} KiB a second of them",
                        )
                    )
                    continue
                self._large_waiting = True
            if self.role == "owner" and self._is_leave(text):
                self.leave_seen = True
            self._queue(text)

    def _queue(self, item: str | ProtocolError) -> None:
        try:
            self.inbox.put_nowait(item)
        except asyncio.QueueFull:
            self.error(
                ProtocolError(
                    ErrorCode.RATE_LIMITED, "too many messages waiting; this one was dropped"
                )
            )

    async def _work_loop(self) -> None:
        PAYER.set(self.address)  # what this connection asks for is charged to its address
        budgets = self.manager.budgets
        while True:
            item = await self.inbox.get()
            if isinstance(item, ProtocolError):
                self.error(item)
                continue
            try:
                limit = self.settings.max_message_bytes
                if len(item) > SMALL_MESSAGE and (wait := budgets.cpu_wait(self.address)):
                    await asyncio.sleep(wait)  # parsing costs too: an address in debt waits
                if utf8_size(item, limit) > limit:  # an import, or refused once parsed
                    try:
                        msg = await self.loop.run_in_executor(None, self._parse, item, limit)
                    finally:
                        self._large_waiting = False
                else:
                    msg = self._parse(item, None)
                if msg.type not in handlers.UNCHARGED and (wait := budgets.cpu_wait(self.address)):
                    await asyncio.sleep(wait)  # over its address's CPU share: it waits its turn
                await handlers.dispatch(self, msg)
            except ProtocolError as e:
                self.error(e)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("internal error handling a message for session %s", self.session.id)
                self.reply(
                    encode(
                        Error(
                            code=ErrorCode.INTERNAL,
                            message="internal server error; it has been logged "
                            "and the session goes on",
                        )
                    )
                )

    def _parse(self, text: str, limit: int | None):
        """parse_client_message, its CPU time charged to this connection's address (a
        message refused anyway still cost its parse)."""
        start = time.thread_time()
        try:
            return parse_client_message(text, limit)
        finally:
            self.manager.budgets.charge_cpu(self.address, time.thread_time() - start)

    async def _send_loop(self) -> None:
        ws = self.ws
        try:
            while True:
                for payload in await self.outbox.get():
                    if isinstance(payload, str):
                        await ws.send_text(payload)
                    else:
                        await ws.send_bytes(payload)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return


async def _stopped(*tasks: asyncio.Task) -> None:
    """Cancel `tasks` and wait (a moment at most) until they have stopped: a task dropped
    while still cancelling is logged as "Task was destroyed but it is pending". A task can
    lose a cancellation (3.11's `wait_for` swallows one that meets its inner task's end, as
    when a follower's `leave` closes its own socket) and wait on: it is cancelled again."""
    pending = set(tasks)
    for timeout in (0.1, 0.5, 2.0):
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=timeout)
        if not pending:
            return


def utf8_size(text: str, limit: int) -> int:
    """`text`'s size in UTF-8 bytes, exact wherever it could be over `limit` (a text of n
    characters takes at most 4n bytes, so a short one is not encoded to count them)."""
    return len(text) if len(text) * 4 <= limit else len(text.encode("utf-8"))


def client_address(websocket: WebSocket) -> str | None:
    """The peer's network address, which the per-address caps count by."""
    return websocket.client.host if websocket.client else None


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code, reason)


async def serve(websocket: WebSocket, manager: SessionManager, settings: Settings) -> None:
    """The `/ws` endpoint: check the Origin before accepting, then one of
    `?session=<id>` (open or resume a session), `?room=<code>` (follow a room) or
    `?room=<code>&token=<token>` (resume a room as its presenter); run until it closes.
    A client may say which protocol it speaks (`&protocol=3`): another version is closed
    with 4006 and a reason that says so, before any message it could misread."""
    headers, query = websocket.headers, websocket.query_params
    if not origin_allowed(headers.get("origin"), headers.get("host"), settings.allow_origins):
        await websocket.close(code=1008)  # before accept(): the client sees HTTP 403
        return
    spoken = query.get("protocol")
    if spoken is not None and spoken != str(PROTOCOL_VERSION):
        return await _refuse(
            websocket,
            CloseCode.WRONG_PROTOCOL,
            f"this server speaks protocol {PROTOCOL_VERSION}, not "
            f"{spoken[:12]!r}: reload the page (or update the client)",
        )
    address = client_address(websocket)
    if manager.cluster is not None:
        return await _serve_shared(websocket, manager, settings, address)
    rooms, budgets, code = manager.rooms, manager.budgets, query.get("room")
    role = "owner"
    if code and (wait := budgets.join_wait(address)):
        return await _refuse(
            websocket,
            CloseCode.SLOW_DOWN,
            f"too many wrong room codes from your address: try again in {math.ceil(wait)} s",
        )
    if code and query.get("token"):
        room = rooms.presenter(code, query.get("token"))
        if room is None:
            budgets.join_failed(address)
            return await _refuse(
                websocket,
                CloseCode.ROOM_GONE,
                "no room with that code and presenter token: it may have closed",
            )
        budgets.join_succeeded(address)
        session, resumed = manager.claimed(room.session), True
    elif code:
        room = rooms.get(code)
        if room is None:
            budgets.join_failed(address)
            return await _refuse(
                websocket,
                CloseCode.ROOM_GONE,
                f"no room {code[:12]!r}: check the code; the room may have closed",
            )
        budgets.join_succeeded(address)
        if rooms.followers >= settings.max_followers:
            return await _refuse(
                websocket,
                CloseCode.SERVER_FULL,
                f"the server is full: {settings.max_followers} followers are connected",
            )
        mine = sum(
            f.address == address for r in rooms.by_code.values() for f in r.session.followers
        )
        if budgets.over(address, mine, settings.max_followers_per_address):
            return await _refuse(
                websocket,
                CloseCode.SERVER_FULL,
                f"your address already follows with {mine} connections, the limit",
            )
        session, resumed, role = room.session, False, "follower"
    else:
        try:
            session, resumed = await manager.open(query.get("session"), address)
        except SessionsFull as e:
            return await _refuse(websocket, CloseCode.SERVER_FULL, str(e))
    await _accept(websocket, manager, settings, session, resumed, role)


async def _accept(
    websocket: WebSocket,
    manager: SessionManager,
    settings: Settings,
    session: Session,
    resumed: bool,
    role: str,
) -> None:
    await websocket.accept()
    room = session.room
    restored, lost = session.greeting_notes() if role != "follower" else (False, None)
    hello = Hello(
        session=None if role == "follower" else session.id,
        resumed=resumed,
        restored=restored,
        lost=lost,
        role="follower" if role == "follower" else "presenter" if room else "solo",
        room=room.message("follower" if role == "follower" else "presenter").model_dump()
        if room
        else None,
        limits=settings.limits(),
        defaults=Config().to_dict(),
        schema=schema(),
    )
    await Connection(websocket, session, manager, settings, hello, role).run()


async def _serve_shared(
    websocket: WebSocket, manager: SessionManager, settings: Settings, address: str | None
) -> None:
    """`serve` in cluster mode: the same three ways in, with sessions taken from whichever
    worker holds them, followers fed through their room's channel (feeds.py) and the
    per-address budgets counted on every worker (cluster.py)."""
    cluster, budgets, query = manager.cluster, manager.budgets, websocket.query_params
    code, token = (query.get("room") or "").upper()[:16], query.get("token")
    try:
        if code and (wait := await cluster.join_wait(address)) and not budgets.exempt(address):
            return await _refuse(
                websocket,
                CloseCode.SLOW_DOWN,
                f"too many wrong room codes from your address: try again in {math.ceil(wait)} s",
            )
        if code and token:
            sid = await cluster.presenter_session(code, token)
            session = (await manager.open(sid, address, create=False))[0] if sid else None
            if session is None or session.room is None or session.room.code != code:
                await cluster.join_failed(address)
                return await _refuse(
                    websocket,
                    CloseCode.ROOM_GONE,
                    "no room with that code and presenter token: it may have closed",
                )
            await cluster.join_succeeded(address)
            return await _accept(websocket, manager, settings, session, True, "owner")
        if code:
            return await _follow_shared(websocket, manager, settings, address, code)
        try:
            session, resumed = await manager.open(query.get("session"), address)
        except SessionsFull as e:
            return await _refuse(websocket, CloseCode.SERVER_FULL, str(e))
    except ClusterDown as e:
        log.warning("a connection waits for Redis: %s", e)
        return await _refuse(
            websocket,
            CloseCode.SHUTTING_DOWN,
            "the server cannot reach its shared store for a moment; reconnecting",
        )
    await _accept(websocket, manager, settings, session, resumed, "owner")


async def _follow_shared(websocket, manager, settings, address, code: str) -> None:
    """A follower of room `code` in cluster mode, within the caps on every worker (the
    server's, the address's: checked before the room's feed does any work for it), counted
    in its room for the presenter's follower count."""
    cluster, member = manager.cluster, f"{manager.cluster.id}:{secrets.token_hex(6)}"
    cap = -1 if manager.budgets.exempt(address) else settings.max_followers_per_address
    taken = []
    caps = (
        (key("followers"), settings.max_followers, "the server is full: {n} followers connected"),
        (
            address_key("followers", address),
            cap,
            "your address follows with {n}, the limit",
        ),
        (key("roomf", code), -1, ""),
    )
    for set_key, limit, refusal in caps:
        n = await cluster.take_member(set_key, member, limit)
        if n is not None:
            for k in taken:
                cluster.drop_member(k, member)
            return await _refuse(websocket, CloseCode.SERVER_FULL, refusal.format(n=n))
        taken.append(set_key)
    feed = None
    try:
        feed = await cluster.feeds.join(code)
        if feed is None:
            await cluster.join_failed(address)
            return await _refuse(
                websocket,
                CloseCode.ROOM_GONE,
                f"no room {code[:12]!r}: check the code; the room may have closed",
            )
        await cluster.join_succeeded(address)
        await _accept(websocket, manager, settings, feed.session, False, "follower")
    finally:
        for k in taken:
            cluster.drop_member(k, member)
        if feed is not None:
            feed.link.presence_changed()

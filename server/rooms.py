"""Rooms: a presenter's session that a class follows live and read-only.

A room is a session plus a short join code, a secret presenter token and the presenter's
shared page view (`ui`). Followers attach to the session (`Session.followers`) and get its
frames and shared replies; only the session's own connection drives it, and the token lets
the presenter's browser take that connection back after losing its session id. Presence
(followers, presenter online) is broadcast at most twice a second, however many join.

In cluster mode (cluster.py) a room is also named in Redis, its followers connect to any
worker, and the session's one local follower is the room's `RoomPublisher` (feeds.py); the
follower count is the count in Redis.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

from .messages_out import RoomInfo, RoomUi
from .polls import Poll
from .protocol import CloseCode, encode
from .security import WILDCARD_HOSTS, lan_addresses
from .settings import Settings
from .store import address_key, digest, key

if TYPE_CHECKING:
    from .sessions import Session

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread off a projector
CODE_LENGTH = 6
PRESENCE_PERIOD_S = 0.5


def qr_rows(text: str) -> list[str]:
    """`text` as a QR code (error correction M), one string of 0/1 per module row."""
    # a QR encoder is a standard, fiddly algorithm: the library beats hand code
    import segno  # here: its 50 ms of import are paid only once a room opens

    return [
        "".join("1" if m else "0" for m in row)
        for row in segno.make(text, error="m", micro=False).matrix
    ]


class Room:
    """One presented session: its code, the presenter's secret and shared view."""

    def __init__(
        self, code: str, session: Session, settings: Settings, token_digest: str | None = None
    ):
        self.code = code
        # the presenter's secret: known only to the process that made the room (a room
        # restored from a store knows its digest, and the presenter's browser keeps it)
        self.token = None if token_digest else secrets.token_urlsafe(24)
        self.token_digest = token_digest or digest(self.token)
        self.session = session
        self.ui: dict = {}
        self.cluster = None  # cluster.Cluster, in cluster mode
        self.publisher = None  # feeds.RoomPublisher, in cluster mode
        self.counted: int | None = None  # followers on every worker (cluster mode)
        self.join_path = f"/?join={code}"
        self.join_urls = self._join_urls(settings)
        self.qr = qr_rows(self.join_urls[0]) if self.join_urls else None
        self._presence: asyncio.Task | None = None
        self._tell = False  # presence must be told even if the count did not change
        self.poll = Poll(self)  # the presenter's question to the class (polls.py)

    def _join_urls(self, settings: Settings) -> list[str]:
        if settings.public_url:  # behind a proxy: the address people use, never a backend's
            return [settings.public_url.rstrip("/") + self.join_path]
        if settings.host not in WILDCARD_HOSTS:
            return []  # the page's own origin is the address followers use
        return [f"http://{ip}:{settings.port}{self.join_path}" for ip in lan_addresses()]

    def message(self, role: str) -> RoomInfo:
        presenter = role == "presenter"
        return RoomInfo(
            code=self.code,
            role=role,
            followers=self.followers,
            presenter_online=self.session.client is not None,
            join_path=self.join_path,
            join_urls=self.join_urls,
            qr=self.qr if presenter else None,
            token=self.token if presenter else None,
        )

    @property
    def followers(self) -> int:
        return len(self.session.followers) if self.counted is None else self.counted

    def ui_message(self) -> str:
        return encode(RoomUi(ui=self.ui))

    def presence_changed(self, recount_only: bool = False) -> None:
        """Tell everyone the follower count and presenter presence, coalesced (with
        `recount_only`, only if the count on every worker changed: cluster mode)."""
        self._tell = self._tell or not recount_only
        if self._presence is None or self._presence.done():
            self._presence = asyncio.get_running_loop().create_task(self._announce())

    async def _announce(self) -> None:
        await asyncio.sleep(PRESENCE_PERIOD_S)
        s = self.session
        if s.room is not self:
            return
        changed = await self._recount() if self.cluster is not None else False
        if not (changed or self._tell):
            return
        self._tell = False
        if s.client is not None:
            s.client.reply(encode(self.message("presenter")))
        text = encode(self.message("follower"))
        for f in s.followers:
            f.reply(text)

    async def _recount(self) -> bool:
        """Cluster mode: the followers on every worker; whether the count changed."""
        n = await self.cluster.count(key("roomf", self.code))
        changed, self.counted = n != self.counted, n
        return changed


class Rooms:
    """Every open room, by join code."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.by_code: dict[str, Room] = {}
        self.cluster = None  # cluster.Cluster, in cluster mode
        self.saved = None  # async fn(session): write it to the store now (SessionManager)

    async def open(self, session: Session) -> Room:
        """The session's room, made now if it has none (in cluster mode, named in Redis
        under a code no worker uses)."""
        while session.room is None:
            room = Room(_new_code(self.by_code), session, self.settings)
            if await self._share(room):
                session.room = self.by_code[room.code] = room
                session.changed = True
                if self.saved is not None:  # a crash now must not lose the room
                    await self.saved(session)
        return session.room

    async def adopt(
        self, session: Session, code: str, token_digest: str, ui: dict, poll: dict | None = None
    ) -> Room:
        """Session resumed from a checkpoint (a restart, another worker): its room goes on,
        its question and the answers to it (in Redis, in cluster mode) too."""
        room = Room(code, session, self.settings, token_digest)
        room.ui = dict(ui)
        await self._share(room)
        room.poll.restore(poll)
        session.room = self.by_code[code] = room
        return room

    async def _share(self, room: Room) -> bool:
        if self.cluster is None:
            return True
        if not await self.cluster.register_room(room):
            return False
        room.cluster, room.publisher = self.cluster, self.cluster.publisher(room.code)
        room.counted = 0
        room.session.followers.add(room.publisher)
        room.presence_changed()
        return True

    def let_go(self, room: Room) -> None:
        """The session moved to another worker: the room goes on there, its followers too."""
        self.by_code.pop(room.code, None)
        room.poll.stop()
        if room.publisher is not None:
            room.session.followers.discard(room.publisher)
            room.publisher.stop()

    def get(self, code: str | None) -> Room | None:
        return self.by_code.get(code.upper()) if code else None

    def presenter(self, code: str | None, token: str | None) -> Room | None:
        """The room whose presenter token is `token`, if `code` names it."""
        room = self.get(code)
        if room is None or not token:
            return None
        if not secrets.compare_digest(digest(token), room.token_digest):
            return None
        return room

    @property
    def followers(self) -> int:
        return sum(len(r.session.followers) for r in self.by_code.values())

    async def close(self, room: Room, reason: str) -> None:
        """End `room`: its followers are closed with 4004; the session goes on alone, and
        is written to the store at once, so that a crash now cannot bring the room back."""
        self.by_code.pop(room.code, None)
        room.poll.stop()
        if room.session.room is room:
            room.session.room = None
            room.session.changed = True
            if self.saved is not None:
                await self.saved(room.session)
        followers, room.session.followers = list(room.session.followers), set()
        if room.publisher is not None:
            if room.publisher not in followers:
                followers.append(room.publisher)
            await self.cluster.close_room(room.code)
            self.cluster.drop_member(address_key("rooms", room.session.address), room.session.id)
        await asyncio.gather(
            *(f.close(CloseCode.ROOM_GONE, reason) for f in followers), return_exceptions=True
        )


def _new_code(taken) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            return code

"""A feed: where a room's followers get its session from.

In one process a follower reads the presenter's session itself (`LocalFeed`). In cluster
mode a follower may connect to a worker that does not hold the session; there the room's
`feeds.RoomFeed` relays the room's channel and keeps a read-only replica to read. A
connection only ever calls the `Feed` interface (`session.feed`), so the core does not
know which it has: the cluster is a layer on top of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from . import replies
from .protocol import encode

if TYPE_CHECKING:
    from .client import Connection
    from .sessions import Session


class Feed(Protocol):
    async def welcome(self, conn: Connection) -> None:
        """A follower joins: the room's state, its current frame, the presenter's view and
        open question, then every frame and shared reply as they come."""
        ...

    async def refresh(self) -> None:
        """Bring the session a follower reads up to date (for an export or a fork)."""
        ...


class LocalFeed:
    """A session's own feed, in this process: its followers read the session itself."""

    def __init__(self, session: Session):
        self.session = session

    async def welcome(self, conn: Connection) -> None:
        s = self.session
        s.followers.add(conn)
        if s.room is not None:
            s.room.presence_changed()
        n_history = conn.settings.history_points
        state = await s.call(
            lambda t: encode(replies.session_state(s, t, points=True, history=n_history))
        )
        conn.sent_points = True
        conn.reply(state)
        conn.frame(await s.current_frame())
        if s.room is not None and s.room.ui:
            conn.reply(s.room.ui_message())
        if s.room is not None:
            await s.room.poll.greet(conn)

    async def refresh(self) -> None:
        """Nothing to do: the session is live."""

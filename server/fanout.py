"""Fan-out: a session's replies and frames to its own page and to a room's followers.

A session presented as a room (rooms.py) has followers: read-only connections that get
every frame and every shared reply. A frame is encoded once and handed to each follower's
own newest-wins outbox (client.Outbox), so a slow follower only skips frames. Play frames
keep to the followers' byte budget (`follower_bytes_per_s`, a token bucket): past it they
skip a frame and get a newer one; a step's frames, which come at a person's pace, always go.
In cluster mode one of the followers is the room's publisher (feeds.RoomPublisher), which
relays the same payloads to every worker's followers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .settings import Settings


class Attached(Protocol):
    """What a session needs from a connection attached to it, or following it (see
    client.Connection)."""

    def reply(self, payload: str | bytes) -> None: ...
    def frame(self, payloads: tuple[str | bytes, ...]) -> None: ...
    async def close(self, code: int, reason: str) -> None: ...


class FanOut:
    """Mixed into sessions.Session: its page (`client`) and its followers as one audience."""

    # of the Session this is mixed into
    settings: Settings
    client: Attached | None

    def _init_fanout(self) -> None:
        self.followers: set[Attached] = set()
        self.frames_sent = 0
        self._room_bytes = 0.0  # the followers' byte budget: a token bucket
        self._room_bytes_at = time.monotonic()

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

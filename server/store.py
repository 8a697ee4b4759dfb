"""Where sessions and rooms outlive the process: one interface, two backends.

A `Store` keeps each session's checkpoint (the trainer's snapshot, run B's, the play state
and its room) so that a restarted server, or another worker, carries the session on
exactly. The server writes every changed session at most `checkpoint_period_s` apart (the
loop below), at once when its tab goes or its room closes, and all of them on a clean stop.

- `sqlite_store.SqliteStore`, the default for one process: a SQLite file in the user's state
  directory (`--state DIR`; `--state none` keeps nothing, as before; `open_store` there).
- `cluster.Cluster`, with `--redis`: the same checkpoints in Redis, where every worker finds
  them, plus leases and rooms shared by the workers. Only that module imports redis.

A store keys a session by `digest(sid)` and a room's presenter by `digest(token)`: a copy of
the file or of Redis gives no one a way into a session.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sessions import Session, SessionManager
    from .settings import Settings

log = logging.getLogger("backprop_lab.store")

PREFIX = "bpl:"
HISTORY_EVERY = 15  # periodic checkpoints per one that rewrites the chart history


class ClusterDown(Exception):
    """The shared store cannot be reached now: the client should try again shortly."""


class StoreFull(Exception):
    """The store refused a write for want of room (a full Redis, a full disk): the next
    session's checkpoint may still fit, and the store is not unreachable."""


class StoreBusy(Exception):
    """Another server process keeps its state in the same place."""


def key(*parts: str) -> str:
    """A shared-store key: bpl:<part>:<part>..."""
    return PREFIX + ":".join(parts)


def address_key(kind: str, address: str | None) -> str:
    """The sorted set of what `address` holds of `kind` (sessions, rooms, followers)."""
    return key("addr", kind, address or "")


def digest(secret: str) -> str:
    """What a store keeps of a session id or a presenter token: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def ttl_of(session: Session, settings: Settings) -> float:
    """How long a detached session's checkpoint is kept: a room's TTL, or a session's."""
    return settings.room_ttl_s if session.room is not None else settings.session_ttl_s


def with_histories(record: str | bytes, histories: str | bytes | None) -> dict:
    """A checkpoint with its chart histories put back: only the entries up to its step (a
    history saved before a step back is cut there)."""
    r = json.loads(record)
    h = json.loads(histories) if histories else {}
    for name, part in (("snapshot", "a"), ("run_b", "b")):
        snap = r.get(name)
        if snap is not None:
            step = snap["counters"]["step"]
            snap["history"] = [e for e in (h.get(part) or []) if e["step"] <= step]
    return r


def state_dir(setting: str) -> Path | None:
    """The directory `--state` names: "" is the user's state directory
    ($XDG_STATE_HOME/backprop-lab, else ~/.local/state/backprop-lab), "none" is None."""
    if setting.strip().lower() == "none":
        return None
    if setting:
        return Path(setting).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "backprop-lab"


class Store:
    """Checkpoints of sessions, by the digest of their id. A backend overrides `write`,
    `read`, `forget` and, where rooms must come back on their own, `presented`."""

    name = "memory"
    up = True  # the last write went through
    down_errors: tuple[type[BaseException], ...] = ()  # raised when the store is unreachable

    async def start(self, manager: SessionManager) -> None:
        """Begin serving `manager` (a shared store joins its cluster here)."""

    async def stop(self) -> None:
        """Release the store (the manager has written every changed session first)."""

    async def save(self, session: Session, history: bool = True) -> None:
        """Write `session`'s checkpoint now; its chart history too unless not `history`.
        Encoded in the trainer pool, written off the event loop."""
        record, histories = await session.call(session.checkpoint, history)
        await self.write(session, record, histories)

    async def write(self, session: Session, record: str, histories: str | None) -> None:
        """Keep `record` (and `histories`, when not None) under `session.store_key`."""

    async def claim(self, sid: str) -> dict | None:
        """Session `sid`'s last checkpoint, for this process to carry on; None if unknown."""
        return await self.read(digest(sid))

    async def read(self, store_key: str) -> dict | None:
        return None

    async def forget(self, session: Session) -> None:
        """`session` is over (left, expired, evicted): its checkpoint goes."""
        await self.drop(session.store_key)

    async def drop(self, store_key: str) -> None:
        """The checkpoint kept under `store_key` goes."""

    async def presented(self) -> list[tuple[str, dict, float]]:
        """(store key, checkpoint, seconds since it was written) of every session that was
        a room when last written: a restarted server opens those rooms again at once, so
        that their followers find them before their presenter is back."""
        return []


async def checkpoint_loop(manager: SessionManager, store: Store) -> None:
    """Every changed session, each `checkpoint_period_s`; its chart history only every
    HISTORY_EVERY periods (a long one is most of a checkpoint's bytes and encoding), so a
    crash may cost a resumed chart its last half minute, never its weights. One session's
    failure (too big for a full store) does not stop the others; an unreachable store
    stops this round."""
    period = manager.settings.checkpoint_period_s
    turn = 0
    while True:
        await asyncio.sleep(period)
        if not store.up and store.down_errors:
            continue  # a shared store's heartbeat says when it is back
        turn += 1
        for s in list(manager.sessions.values()):
            if not s.changed:
                continue
            try:
                await store.save(s, history=turn % HISTORY_EVERY == 0)
            except asyncio.CancelledError:
                raise
            except StoreFull as e:
                s.changed = True
                log.warning("session %s not checkpointed: %s", s.id[:6], e)
            except store.down_errors:
                s.changed = True
                break
            except Exception:
                s.changed = True
                log.exception("checkpointing session %s failed", s.id[:6])

"""The default store for one process: a SQLite file (Python's own sqlite3, WAL mode).

`<state dir>/sessions.sqlite3` holds one row per session, keyed by the SHA-256 of its id:

    checkpoints(id TEXT PRIMARY KEY,  -- digest(session id), never the id itself
                record BLOB,          -- Session.checkpoint's JSON (the room's token digested)
                history BLOB,         -- the chart histories, rewritten less often
                room TEXT,            -- the room's code while the session is presented
                bytes INTEGER,        -- len(record) + len(history), for the size budget
                saved REAL,           -- when last written (Unix time)
                expires REAL)         -- when it is gone (Unix time): TTLs survive restarts
    meta(k TEXT PRIMARY KEY, v TEXT)  -- k = 'format': FORMAT

Every statement runs on one thread of its own, never on the event loop. The directory is
0700, the file 0600 (its -wal and -shm files take the file's mode), and an exclusive lock on
`<state dir>/lock` keeps a second process off the same state. A file that is not such a
database (corrupt, another program's, a newer format) is moved aside with one log line.
A write that fails (a full disk, a directory made read-only) is logged once; sessions play
on in memory and the next period tries again.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from .store import Store, StoreBusy, StoreFull, state_dir, ttl_of, with_histories

if TYPE_CHECKING:
    from .sessions import Session
    from .settings import Settings

log = logging.getLogger("backprop_lab.store")

FORMAT = 1  # the file's layout; a newer one is moved aside, never misread
FILE_NAME = "sessions.sqlite3"
PRUNE_EVERY_S = 10.0  # expired rows and the size budget are enforced this often at most
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints(
    id TEXT PRIMARY KEY, record BLOB NOT NULL, history BLOB, room TEXT,
    bytes INTEGER NOT NULL, saved REAL NOT NULL, expires REAL NOT NULL);
"""
UPSERT = """
INSERT INTO checkpoints(id, record, history, room, bytes, saved, expires)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(id) DO UPDATE SET
    record = excluded.record, history = COALESCE(excluded.history, history),
    room = excluded.room, saved = excluded.saved, expires = excluded.expires,
    bytes = length(excluded.record) + COALESCE(length(COALESCE(excluded.history, history)), 0)
"""


class Unreadable(Exception):
    """The file is not this program's database, or is of a newer format."""


class SqliteStore(Store):
    """Checkpoints in `directory/sessions.sqlite3`, for this process alone."""

    name = "sqlite"

    def __init__(self, directory: Path, settings: Settings):
        self.settings = settings
        self.directory = directory
        self.path = directory / FILE_NAME
        self.budget = settings.store_max_mb << 20
        self._lock_fd = _lock(directory)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="store")
        self._pruned = 0.0
        self.up = True
        try:
            self.db = self._thread.submit(self._open).result()
        except BaseException:
            self._release()
            raise

    # on the store's thread

    def _open(self) -> sqlite3.Connection:
        if not self.path.exists():
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
        os.chmod(self.path, 0o600)
        try:
            return self._connect()
        except (Unreadable, sqlite3.DatabaseError) as e:
            if isinstance(e, sqlite3.OperationalError) and not _corrupt(e):
                raise  # read-only, locked...: not the file's fault
            aside = self.path.with_name(f"{FILE_NAME}.unreadable-{int(time.time())}")
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{self.path}{suffix}")
                if part.exists():
                    part.rename(Path(f"{aside}{suffix}"))
            log.warning("%s could not be read (%s): moved aside to %s", self.path, e, aside.name)
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            if tables and "meta" not in tables:
                raise Unreadable("not a Backprop Lab state file")
            if "meta" in tables:
                row = db.execute("SELECT v FROM meta WHERE k = 'format'").fetchone()
                if row is None or not str(row[0]).isdigit() or int(row[0]) > FORMAT:
                    raise Unreadable(f"format {row and row[0]!r}, this server reads {FORMAT}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash loses no committed write
            db.executescript(SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (str(FORMAT),))
            db.execute("DELETE FROM checkpoints WHERE expires < ?", (time.time(),))
            db.execute("PRAGMA quick_check").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _write(self, sid_key: str, record: str, histories: str | None, room, ttl: float):
        now = time.time()
        size = len(record) + len(histories or "")
        self.db.execute(
            UPSERT, (sid_key, record.encode(), _blob(histories), room, size, now, now + ttl)
        )
        if now - self._pruned > PRUNE_EVERY_S:
            self._pruned = now
            self._prune(now)

    def _prune(self, now: float) -> None:
        """Expired rows go; past the size budget, the least recently written go too."""
        self.db.execute("DELETE FROM checkpoints WHERE expires < ?", (now,))
        total = self.db.execute("SELECT COALESCE(SUM(bytes), 0) FROM checkpoints").fetchone()[0]
        if total <= self.budget:
            return
        dropped = 0
        for sid_key, size in self.db.execute(
            "SELECT id, bytes FROM checkpoints ORDER BY saved"
        ).fetchall():
            if total <= self.budget:
                break
            self.db.execute("DELETE FROM checkpoints WHERE id = ?", (sid_key,))
            total -= size
            dropped += 1
        log.warning(
            "the state file is past its budget (%d MiB): dropped the %d oldest checkpoints",
            self.settings.store_max_mb,
            dropped,
        )

    def _read(self, sid_key: str) -> dict | None:
        row = self.db.execute(
            "SELECT record, history FROM checkpoints WHERE id = ? AND expires >= ?",
            (sid_key, time.time()),
        ).fetchone()
        return None if row is None else with_histories(row[0], row[1])

    def _presented(self) -> list[tuple[str, dict, float]]:
        now = time.time()
        rows = self.db.execute(
            "SELECT id, record, history, saved FROM checkpoints "
            "WHERE room IS NOT NULL AND expires >= ?",
            (now,),
        ).fetchall()
        return [(k, with_histories(r, h), max(0.0, now - saved)) for k, r, h, saved in rows]

    # the interface, on the event loop

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def write(self, session: Session, record: str, histories: str | None) -> None:
        room = session.room.code if session.room is not None else None
        try:
            await self._run(
                self._write,
                session.store_key,
                record,
                histories,
                room,
                ttl_of(session, self.settings),
            )
        except (sqlite3.Error, OSError) as e:
            if self.up:
                log.warning(
                    "cannot write to %s (%s): sessions play on in memory; a restart now "
                    "would lose what changed",
                    self.path,
                    e,
                )
            self.up = False
            raise StoreFull(str(e)) from None
        if not self.up:
            log.info("%s is writable again: sessions are checkpointed again", self.path)
        self.up = True

    async def read(self, store_key: str) -> dict | None:
        try:
            return await self._run(self._read, store_key)
        except (sqlite3.Error, OSError, ValueError) as e:
            log.warning("cannot read a checkpoint from %s: %s", self.path, e)
            return None

    async def drop(self, store_key: str) -> None:
        try:
            await self._run(
                lambda: self.db.execute("DELETE FROM checkpoints WHERE id = ?", (store_key,))
            )
        except (sqlite3.Error, OSError):
            pass

    async def presented(self) -> list[tuple[str, dict, float]]:
        try:
            return await self._run(self._presented)
        except (sqlite3.Error, OSError, ValueError) as e:
            log.warning("cannot read the rooms from %s: %s", self.path, e)
            return []

    async def stop(self) -> None:
        try:
            await self._run(self.db.close)
        finally:
            self._thread.shutdown(wait=True)
            self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # the lock goes with the descriptor
            self._lock_fd = None


def _blob(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def _corrupt(e: sqlite3.OperationalError) -> bool:
    text = str(e).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


def _lock(directory: Path) -> int:
    """The state directory, made 0700, locked for this process (StoreBusy if another holds it)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    path = directory / "lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StoreBusy(
            f"another backprop-lab (pid {other}) keeps its sessions in {directory}: stop it, "
            "or give this one --state DIR (or --state none to keep nothing)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def open_store(settings: Settings) -> Store | None:
    """The store `settings` choose when there is no Redis: a SQLite file in the state
    directory, or None (`--state none`, or a directory that cannot be written: then with one
    warning, and sessions live in memory as before). Raises StoreBusy when another process
    holds that directory."""
    directory = state_dir(settings.state)
    if directory is None:
        return None
    try:
        return SqliteStore(directory, settings)
    except StoreBusy:
        raise
    except Exception as e:  # noqa: BLE001  (read-only, full, not a directory...: run on)
        log.warning(
            "cannot keep sessions in %s (%s): they live in memory only and a restart loses them",
            directory,
            e,
        )
        return None

"""The SQLite store's bounds and faults: its size budget and TTLs (which outlive a restart of
the store), a directory that cannot be written (at start, or made read-only while a class
runs), and the core's independence from Redis."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from server import sqlite_store
from server.settings import Settings
from server.sqlite_store import SqliteStore, open_store
from server.store import StoreFull, digest
from tests.helpers.cluster import ROOT, ServerProcess
from tests.helpers.tabs import LiveTab


def test_the_core_does_not_import_redis():
    code = (
        "import sys, server.app, server.__main__; "
        "server.app.create_app(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'redis'))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def _session(sid: str, room: str | None = None):
    """What a store reads of a session: its key and its room."""
    return SimpleNamespace(
        id=sid, store_key=digest(sid), room=None if room is None else SimpleNamespace(code=room)
    )


def _record(step: int, pad: int = 0) -> str:
    snap = {"counters": {"step": step}, "history": [], "pad": "x" * pad}
    return json.dumps({"snapshot": snap, "run_b": None, "room": None})


def _history(steps) -> str:
    return json.dumps({"a": [{"step": s} for s in steps], "b": None})


def test_checkpoints_round_trip_and_a_history_past_the_step_is_cut(tmp_path):
    async def main():
        store = SqliteStore(tmp_path, Settings(state=str(tmp_path)))
        a = _session("a" * 20)
        await store.write(a, _record(3), _history(range(6)))
        await store.write(a, _record(4), None)  # a periodic save: the history is kept
        got = await store.claim("a" * 20)
        await store.stop()
        return got

    got = asyncio.run(main())
    assert got["snapshot"]["counters"]["step"] == 4
    assert [e["step"] for e in got["snapshot"]["history"]] == [0, 1, 2, 3, 4]


def test_ttls_outlive_a_restart_of_the_store(tmp_path):
    settings = Settings(state=str(tmp_path), session_ttl_s=1.0, room_ttl_s=60.0)

    async def write():
        store = SqliteStore(tmp_path, settings)
        await store.write(_session("short" * 4), _record(1), None)
        await store.write(_session("room" * 5, room="ABCDEF"), _record(2), None)
        await store.stop()

    async def read():
        store = SqliteStore(tmp_path, settings)
        got = await store.claim("short" * 4), await store.claim("room" * 5)
        presented = await store.presented()
        await store.stop()
        return got, presented

    asyncio.run(write())
    time.sleep(1.3)
    (short, room), presented = asyncio.run(read())
    assert short is None  # its TTL ran out while the server was down
    assert room["snapshot"]["counters"]["step"] == 2
    assert [k for k, _, _ in presented] == [digest("room" * 5)]


def test_the_size_budget_drops_the_least_recently_written(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_store, "PRUNE_EVERY_S", 0.0)
    settings = Settings(state=str(tmp_path), store_max_mb=1)

    async def main():
        store = SqliteStore(tmp_path, settings)
        for i in range(5):  # 5 × 300 KB against a 1 MiB budget
            await store.write(_session(f"session{i:013d}"), _record(i, 300_000), None)
        kept = [await store.claim(f"session{i:013d}") is not None for i in range(5)]
        await store.stop()
        return kept

    assert asyncio.run(main()) == [False, False, True, True, True]


def _immutable(*paths: Path, on: bool = True) -> None:
    """chattr ±i: what a read-only directory is even to root, who runs the tests."""
    run = subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], capture_output=True)
    assert run.returncode == 0, run.stderr


def test_a_state_directory_that_cannot_be_written_runs_in_memory_with_one_warning(tmp_path, caplog):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    _immutable(state)
    try:
        with caplog.at_level("WARNING", logger="backprop_lab.store"):
            assert open_store(Settings(state=str(state))) is None
        assert len(caplog.records) == 1
        assert "live in memory only" in caplog.records[0].getMessage()
        server = ServerProcess(None, "--state", str(state))
        try:
            with LiveTab.open(server.ws_url) as tab:
                tab.send({"type": "step", "count": 5})
                assert tab.recv_json("step")["step"] == 5
            warned = [line for line in server.logs().splitlines() if "memory only" in line]
            assert len(warned) == 1, server.logs()
        finally:
            server.stop()
    finally:
        _immutable(state, on=False)


def test_a_state_file_made_read_only_mid_class_keeps_sessions_playing(tmp_path):
    state = tmp_path / "state"
    server = ServerProcess(None, "--state", str(state), "--port", "0")
    files = [state / "sessions.sqlite3", state / "sessions.sqlite3-wal"]
    try:
        with LiveTab.open(server.ws_url) as tab:
            tab.send({"type": "step", "count": 5})
            tab.recv_json("step")
            time.sleep(2.5)
            _immutable(*files)
            try:
                for n in (10, 15):
                    tab.send({"type": "step", "count": 5})
                    assert tab.recv_json("step")["step"] == n  # plays on
                    time.sleep(2.5)  # a checkpoint period: the write fails
                warned = [line for line in server.logs().splitlines() if "cannot write" in line]
                assert len(warned) == 1, server.logs()
            finally:
                _immutable(*files, on=False)
            tab.send({"type": "step", "count": 5})
            tab.recv_json("step")
            time.sleep(2.5)
            assert "writable again" in server.logs()
    finally:
        server.stop()


def test_a_failed_write_is_store_full_and_said_once(tmp_path, caplog):
    async def main():
        store = SqliteStore(tmp_path, Settings(state=str(tmp_path)))
        store.db.execute("PRAGMA query_only = 1")  # every write now fails, as on a full disk
        with pytest.raises(StoreFull):
            await store.write(_session("a" * 20), _record(1), None)
        with pytest.raises(StoreFull):
            await store.write(_session("b" * 20), _record(1), None)
        assert not store.up
        store.db.execute("PRAGMA query_only = 0")
        await store.write(_session("a" * 20), _record(1), None)
        assert store.up
        await store.stop()

    with caplog.at_level("INFO", logger="backprop_lab.store"):
        asyncio.run(main())
    said = [r.getMessage() for r in caplog.records]
    assert sum("cannot write" in m for m in said) == 1, said
    assert sum("writable again" in m for m in said) == 1, said


def test_the_default_state_directory_is_the_users(monkeypatch, tmp_path):
    from server.store import state_dir

    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert state_dir("") == tmp_path / ".local" / "state" / "backprop-lab"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir("") == tmp_path / "xdg" / "backprop-lab"
    assert state_dir("none") is None and state_dir("NONE") is None
    assert state_dir("~/lab") == Path.home() / "lab"

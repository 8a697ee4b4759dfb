"""The server's one settings object; every field can be set as BACKPROP_LAB_<NAME>."""

from __future__ import annotations

import json
import os
from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _names(value):
    """A list setting from the environment: JSON (`["a", "b"]`) or plain `a, b`."""
    if not isinstance(value, str):
        return value
    if value.lstrip().startswith("["):
        return json.loads(value)
    return [part.strip() for part in value.split(",") if part.strip()]


# a list of names that BACKPROP_LAB_* may give as JSON or comma-separated
NameList = Annotated[list[str], NoDecode, BeforeValidator(_names)]


class Settings(BaseSettings):
    """Where to listen, whom to trust, and the limits that keep one client from hurting others."""

    model_config = SettingsConfigDict(env_prefix="BACKPROP_LAB_", extra="forbid")

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8000, ge=0, le=65535, description="port to listen on (0 picks a free one)")
    allow_origins: NameList = Field(
        default_factory=list, description="extra Origins allowed to open the WebSocket"
    )
    trusted_hosts: NameList = Field(
        default_factory=list,
        description="extra Host names accepted besides loopback names, "
        "the bound host and (bound to 0.0.0.0) this machine's LAN address",
    )

    max_sessions: int = Field(64, ge=1)
    session_ttl_s: float = Field(600.0, gt=0, description="a detached session is kept this long")
    room_ttl_s: float = Field(
        3600.0, gt=0, description="a room whose presenter is away is kept this long"
    )
    max_followers: int = Field(400, ge=0, description="follower connections, all rooms together")
    max_sessions_per_address: int = Field(
        8, ge=1, description="sessions (forks included) one network address may hold"
    )
    max_followers_per_address: int = Field(
        8, ge=1, description="follower connections from one network address"
    )
    max_rooms_per_address: int = Field(2, ge=1, description="rooms one network address may open")
    max_memory_mb: int = Field(
        1536,
        ge=64,
        description="resident memory past which no new "
        "session or compare run starts (idle sessions are evicted first)",
    )
    cpu_share: float = Field(
        0.5,
        gt=0,
        description="CPU-seconds a second one network "
        "address may use while in debt; past it, its frames and commands "
        "wait (the teacher's machine is exempt)",
    )
    cpu_burst_s: float = Field(
        3.0, gt=0, description="CPU-seconds an address may spend at once before its share applies"
    )
    evict_grace_s: float = Field(
        2.0,
        ge=0,
        description="a session detached this recently is "
        "not evicted to make room (its tab may still be connecting)",
    )
    exempt_addresses: NameList = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="addresses the per-address "
        "caps leave alone: the teacher's own machine (behind a proxy on the same machine, "
        "set it empty)",
    )
    max_connections: int = Field(
        1000,
        ge=16,
        description="open HTTP and WebSocket connections; past it the server answers 503",
    )
    max_message_bytes: int = Field(65536, ge=1024)
    max_import_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="cap for an `import` message carrying a snapshot"
    )
    frame_rate: float = Field(30.0, gt=0, le=120, description="frames per second per session")
    follower_bytes_per_s: int = Field(
        46_500,
        ge=4_000,
        description="play frames a room sends each follower at most, in "
        "bytes a second (a classroom's Wi-Fi access point is shared by everyone): a larger "
        "network's followers get fewer frames a second, never a backlog",
    )

    rate_burst: int = Field(50, ge=1, description="token bucket: messages allowed at once")
    rate_per_s: float = Field(20.0, gt=0, description="token bucket: sustained messages per second")

    max_step_count: int = Field(1000, ge=1, description="updates one `step` message may ask for")
    max_step_epochs: int = Field(10, ge=1, description="epochs one `step` message may ask for")
    max_speed: int = Field(200, ge=1, description="updates per frame in play mode")
    history_points: int = Field(1000, ge=2, description="history entries sent in a `state`")
    send_queue: int = Field(
        256,
        ge=8,
        description="replies queued for a client before the "
        "oldest are dropped (a client that stopped reading)",
    )
    send_queue_bytes: int = Field(
        8 << 20,
        ge=1 << 16,
        description="bytes of replies queued for a client before the oldest are dropped",
    )
    threads: int = Field(
        default_factory=lambda: max(2, os.cpu_count() or 2),
        ge=1,
        description="threads per worker for play frames, single steps and edits",
    )
    heavy_threads: int = Field(
        2,
        ge=1,
        description="threads for long jobs: epochs, many "
        "updates at once, gradient checks, imports, new sessions",
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="server processes on one port (more than one needs `redis_url`): "
        "each has its own GIL, so N workers use N cores",
    )
    redis_url: str | None = Field(
        None,
        description="Redis shared by every worker and machine of one service "
        "(redis://host:port/db): sessions, rooms and per-address budgets live there "
        "(cluster.py); unset, the server is one process and needs no Redis",
    )
    redis_password_file: str | None = Field(
        None,
        description="a file holding the Redis password (kept out of the command line and the "
        "URL, where `ps` and logs would show it); read at start",
    )
    max_checkpoint_kb: int = Field(
        4096,
        ge=64,
        description="a session's checkpoint larger than this is not written (with a log "
        "line): one huge session cannot fill the store for all",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#\s]+/?$",
        description="the address people use, behind a proxy (https://lab.example.org): join "
        "links and QR codes point there rather than at this machine",
    )
    state: str = Field(
        "",
        description="directory where sessions and rooms outlive a restart (a SQLite file; "
        "empty: $XDG_STATE_HOME/backprop-lab, else ~/.local/state/backprop-lab; 'none': "
        "keep nothing, a restart loses every session); unused with `redis_url`",
    )
    store_max_mb: int = Field(
        256, ge=1, description="size budget of the state file: past it the oldest go first"
    )
    checkpoint_period_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="a session that changed is checkpointed at least this often, so a "
        "crash (kill -9, power cut) loses at most this much of its sessions' training",
    )
    gil_switch_interval_s: float = Field(
        0.0005, gt=0, le=0.1, description="sys.setswitchinterval for the launched process"
    )

    def limits(self) -> dict:
        """The limits a page should know, sent in `hello` and rendered into the page."""
        return {
            "max_message_bytes": self.max_message_bytes,
            "max_import_bytes": self.max_import_bytes,
            "rate_burst": self.rate_burst,
            "rate_per_s": self.rate_per_s,
            "frame_rate": self.frame_rate,
            "max_step_count": self.max_step_count,
            "max_step_epochs": self.max_step_epochs,
            "max_speed": self.max_speed,
            "history_points": self.history_points,
            "session_ttl_s": self.session_ttl_s,
            "room_ttl_s": self.room_ttl_s,
        }

    @property
    def ws_max_size(self) -> int:
        """uvicorn's frame cap: above every message we accept, so we can answer `too_large`."""
        return max(self.max_message_bytes, self.max_import_bytes) + 64 * 1024

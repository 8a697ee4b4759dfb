"""Test-side tabs: `LiveTab` talks to a real server through the synchronous `websockets`
client; `Tab` to the app through Starlette's TestClient. Both send JSON (a dict or the raw
text) and read JSON messages or binary frames, skipping what they pass."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from server import frames
from tests.helpers import maps


class LiveTab:
    """A connection to a real server (`LiveServer.ws_url`, with any query), opened with
    `LiveTab.open`; `hello` and `state` are the greeting it read."""

    def __init__(self, ws):
        self.ws = ws
        self.hello: dict | None = None
        self.state: dict | None = None

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        url: str,
        *,
        greeting: tuple[str, ...] = ("hello", "state"),
        leave: bool = True,
        source_address: str | None = None,
        **kw,
    ) -> Iterator[LiveTab]:
        """A tab that has read the `greeting` messages (into `.hello`, `.state`). When the block
        ends it sends `leave` (so the shared server's sessions do not pile up against the cap)
        unless `leave` is False, which keeps the session for a resume (or, for a follower, just
        closes). `source_address` opens the socket from that local address (127.0.0.2 plays
        a student's machine); other keywords go to `websockets.sync.client.connect`."""
        if source_address is not None:
            parts = urlsplit(url)
            kw["sock"] = socket.create_connection(
                (parts.hostname, parts.port), source_address=(source_address, 0)
            )
            kw.setdefault("open_timeout", 10)
        with connect(url, max_size=None, **kw) as ws:
            tab = cls(ws)
            for type_ in greeting:
                setattr(tab, type_, tab.recv_json(type_))
            yield tab
            if leave:
                tab.leave()

    def send(self, msg: str | dict) -> None:
        self.ws.send(msg if isinstance(msg, str) else json.dumps(msg))

    def recv(self, timeout: float | None = None) -> str | bytes:
        """The next message as it came: text, or a binary frame's bytes."""
        return self.ws.recv(timeout=timeout)

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    def recv_json(self, type_: str | None = None, timeout: float = 5.0) -> dict:
        """The next JSON message (of `type_`, if given), skipping binary frames; an `error`
        while another type is awaited fails the test."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(m, str):
                d = json.loads(m)
                if type_ is None or d["type"] == type_:
                    return d
                assert d["type"] != "error", d

    def recv_until(self, pred: Callable[[dict], bool], timeout: float = 5.0) -> dict:
        """The first message (JSON dict, or {"binary": (header, arrays)} for a frame) for
        which `pred` is true."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(timeout=max(0.01, deadline - time.monotonic()))
            d = json.loads(m) if isinstance(m, str) else {"binary": frames.unpack(m)}
            if pred(d):
                return d

    def leave(self) -> None:
        """Send `leave` and wait for the server's 4002 close."""
        with contextlib.suppress(ConnectionClosed):
            self.send('{"type": "leave"}')
            while True:
                self.recv(timeout=5)
        assert self.close_code in (4002, None), self.close_code


class Tab:
    """A tab of a TestClient WebSocket: JSON out, JSON or frames in; `until(type)` skips what
    it passes."""

    def __init__(self, ws):
        self.ws = ws
        self.frames: list[bytes] = []

    def send(self, msg) -> None:
        self.ws.send_text(msg if isinstance(msg, str) else json.dumps(msg))

    def recv(self):
        m = self.ws.receive()
        if m["type"] == "websocket.close":
            raise WebSocketDisconnect(m.get("code", 1000), m.get("reason"))
        if m.get("bytes") is not None:
            return m["bytes"]
        return json.loads(m["text"])

    def until(self, type_: str) -> dict:
        """The next message of `type_`, skipping frames and other types; an `error` when
        something else was awaited fails the test."""
        while True:
            m = self.recv()
            if isinstance(m, bytes):
                self.frames.append(m)
            elif m["type"] == type_:
                return m
            elif m["type"] == "error":
                raise AssertionError(f"unexpected error: {m}")

    def json(self) -> dict:
        """The next JSON message, whatever its type."""
        while isinstance(m := self.recv(), bytes):
            self.frames.append(m)
        return m

    def frame(self, kind: str) -> tuple[dict, dict]:
        """The next binary frame of `kind` as (header, {(name, layer): array})."""
        while True:
            m = self.recv()
            if isinstance(m, bytes):
                header, arrays = frames.unpack(m)
                if header["kind"] == kind:
                    return header, {
                        (e["name"], e.get("layer")): a
                        for e, a in zip(header["arrays"], arrays, strict=True)
                    }

    def weights(self, model: dict) -> tuple[dict, dict]:
        """The next weights frame for `model` (a state's), skipping older models' frames, as
        (header, {"params": [per layer {name: array}], "grads": [...] or None})."""
        while True:
            header, arrays = self.frame("frame")
            if header["model"] == model["key"]:
                got = {name: a for (name, _), a in arrays.items()}
                return header, {
                    "params": maps.params_of(got["params"], model),
                    "grads": maps.grads_of(got["grads"], model) if "grads" in got else None,
                }

    def frames_of(self, *kinds: str) -> dict[str, tuple[dict, dict]]:
        """The next binary frame of each kind, in whatever order they come."""
        got: dict[str, tuple[dict, dict]] = {}
        while set(kinds) - set(got):
            m = self.recv()
            if isinstance(m, bytes):
                header, arrays = frames.unpack(m)
                got.setdefault(
                    header["kind"],
                    (
                        header,
                        {
                            (e["name"], e.get("layer")): a
                            for e, a in zip(header["arrays"], arrays, strict=True)
                        },
                    ),
                )
        return got

    def ask(self, msg, type_: str) -> dict:
        self.send(msg)
        return self.until(type_)

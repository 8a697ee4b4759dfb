"""A client that stops reading: a raw socket with a tiny receive buffer that has done the
WebSocket handshake and then never reads, for tests that a slow reader slows nobody else."""

from __future__ import annotations

import base64
import os
import socket
import struct


def masked_frame(text: str) -> bytes:
    """One client-to-server text frame (masked, as RFC 6455 requires of clients)."""
    data, mask = text.encode(), os.urandom(4)
    head = (
        bytes([0x81, 0x80 | len(data)])
        if len(data) < 126
        else bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(data))
    )
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def stalled_client(port: int, query: str = "", messages: tuple[str, ...] = ()) -> socket.socket:
    """A socket to ws://127.0.0.1:`port`/ws`query` that sends `messages` (JSON texts) after
    the handshake and never reads; close it when done."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET /ws{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert s.recv(12) == b"HTTP/1.1 101"
    for text in messages:
        s.sendall(masked_frame(text))
    return s

"""The WebSocket protocol: its version, the error and close codes, and how a message
becomes text.

Text frames carry one JSON object with a `type`: `messages_in.py` defines every message a
client may send (and `parse_client_message`, the one way a client's text becomes a model,
raising `ProtocolError` with the error code and the offending field), `messages_out.py`
every message the server sends, `payloads.py` the typed payloads both carry. Binary frames
(server → client only) carry bulk arrays; their layout lives in `frames.py`.
`encode(message)` is the one way a model becomes text: `json.dumps(..., allow_nan=False)`.
Each module imports a message from the module of its direction.
`docs/protocol.md` documents all of it with examples, and `static/js/contract.js` (written
by contract.py) gives the page its types. Bump `PROTOCOL_VERSION` on any change a page must
know about.
"""

from __future__ import annotations

import enum
import json
import math
from typing import Literal

from pydantic import BaseModel

from .payloads import Outbound

# 6: `set` and `configure` are one message (`set` a deprecated alias), `state.effect` says
# what a configure did; every payload is typed (static/js/contract.js)
PROTOCOL_VERSION = 6


class ErrorCode(str, enum.Enum):
    """The closed set of `error.code` values."""

    MALFORMED = "malformed"  # not JSON, or not a JSON object
    BINARY_FRAME = "binary_frame"  # a binary frame where JSON is expected
    TOO_LARGE = "too_large"  # the message is over the size limit
    UNKNOWN_TYPE = "unknown_type"  # `type` names no message
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TYPE = "wrong_type"  # e.g. a string where a number belongs
    OUT_OF_RANGE = "out_of_range"  # a number past its bounds, or a name outside its set
    NOT_FINITE = "not_finite"  # NaN or ±Infinity, or a number JSON cannot carry exactly
    BAD_CONFIG = "bad_config"  # the engine refused a config value; `field` names it
    REJECTED = "rejected"  # valid, but not possible now (no points, index past the data...)
    RATE_LIMITED = "rate_limited"  # over the per-client token bucket; the message was dropped
    FORBIDDEN = "forbidden"  # a room's follower tried to drive it; only the presenter can
    INTERNAL = "internal"  # a fault in the server; it was logged, the session goes on


class CloseCode(enum.IntEnum):
    """WebSocket close codes this server sends, all in the application range 4000–4999."""

    SHUTTING_DOWN = 4000  # the server is stopping; reconnect later to resume
    REPLACED = 4001  # the same session was resumed by another connection
    LEFT = 4002  # the client sent `leave`: the session is gone, its slot freed
    SERVER_FULL = 4003  # a cap on sessions or followers (the server's or the address's)
    ROOM_GONE = 4004  # no room has this code (it closed or expired), or the token is wrong
    SLOW_DOWN = 4005  # too many wrong room codes from this address: wait, then try again
    WRONG_PROTOCOL = 4006  # the client's `?protocol=` is not PROTOCOL_VERSION: reload the page


class ProtocolError(Exception):
    """A client message that cannot be carried out; answered with an `error` message."""

    def __init__(
        self, code: ErrorCode, message: str, field: str | None = None, re: str | None = None
    ):
        super().__init__(message)
        self.code, self.message, self.field, self.re = code, message, field, re


class Error(Outbound):
    """`{"type": "error", "code": "out_of_range", "message": "...", "field": "count",
    "re": "step"}`: the message was refused and nothing changed. `re` is the refused
    message's type when it could be read."""

    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    field: str | None = None
    re: str | None = None


def error_message(e: ProtocolError) -> Error:
    return Error(code=e.code, message=e.message, field=e.field, re=e.re)


def encode(message: BaseModel, digits: int | None = None) -> str:
    """Compact JSON text; raises ValueError rather than put NaN or Infinity on the wire. With
    `digits`, floats keep that many significant digits and null fields are left out (a
    room's followers: the page shows four digits, and a classroom's Wi-Fi is shared)."""
    data = message.model_dump(by_alias=True)
    if digits is not None:
        data = {k: v for k, v in rounded(data, digits).items() if v is not None}
    return json.dumps(data, allow_nan=False, separators=(",", ":"))


def rounded(value, digits: int):
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value

"""What a config change does to a session, decided in one place: whether the weights live
through it ("live"), a new network is drawn ("network") or new points and a new network
("data").

Each field's effect is the engine's (engine/reconfigure.py: DATA_FIELDS rebuild the data,
NETWORK_FIELDS the network, LIVE_FIELDS keep the weights); `configure` replies with the
effect of what it changed (read off the trainer: what the engine did), the deprecated `set`
refuses a field that is not live, and the page's contract (static/js/contract.js) lists each
field's effect from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from engine.config import FIELDS, LIVE_FIELDS
from engine.reconfigure import DATA_FIELDS, NETWORK_FIELDS

Effect = Literal["live", "network", "data"]


def _field_effect(name: str) -> Effect:
    if name in DATA_FIELDS:
        return "data"
    if name in NETWORK_FIELDS:
        return "network"
    assert name in LIVE_FIELDS, name
    return "live"


FIELD_EFFECTS: dict[str, Effect] = {f.name: _field_effect(f.name) for f in FIELDS}


def configure(t, change: Callable[[], set[str]]) -> Effect | None:
    """Run `change` (a configure of trainer `t`, lock held) and say what it did, as the
    engine did it: new points, a new network, or weights kept ("live"); None if nothing
    changed. (A field's own effect is what it usually does: a residual switch where no skip
    fits the widths keeps the network, and says so here.)"""
    net, data = t.net, t.data
    changed = change()
    if t.data is not data:
        return "data"
    if t.net is not net:
        return "network"
    return "live" if changed else None


def not_live(names) -> list[str]:
    """The fields among `names` whose change would not keep the weights (unknown names are
    the engine's to refuse)."""
    return [n for n in names if FIELD_EFFECTS.get(n, "live") != "live"]

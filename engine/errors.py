"""The engine's refusals: a request it cannot carry out, and a snapshot it will not load.
(A config it refuses is config.ConfigError, which names its field.)"""

from __future__ import annotations


class TrainerError(ValueError):
    """A request the trainer cannot carry out (no training points, bad index...)."""


class SnapshotError(TrainerError):
    """A snapshot refused: `field` names the part, e.g. "counters.pos"."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field

"""When training stops by itself: five criteria, each with the sentence the page shows for it.

Play mode runs until one of them holds, so each is checked where the trainer knows enough:
the target loss after every recorded step and at the end of a run, the tolerance after every
update, patience and the epoch limit when an epoch ends, divergence when a number stops being
finite. Early stopping's count (the best test loss, the epochs since) is state like the
weights: a checkpoint saves it, undo replays it and a snapshot carries it, so it lives here
in one object rather than in loose trainer fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .config import Config

EARLY_STOP_MIN_DELTA = 1e-4  # an epoch counts as progress when test loss falls by 0.01 %
STOP_MESSAGES = {
    "max_epochs": "Stopped: reached the maximum number of epochs ({max_epochs}).",
    "target_loss": "Stopped: the training loss reached the target ({target_loss:g}).",
    "early_stopping": "Stopped early: the test loss has not improved for {patience} epochs.",
    "converged": "Stopped: converged, the largest update fell below {tolerance:g}.",
    "diverged": "The loss became infinite at step {step}: the learning rate is probably too "
    "large. Training stopped and the weights from before that step are kept.",
}


class Stopping:
    """Why training stopped (`reason`, a key of STOP_MESSAGES, or None, and `message`), and
    early stopping's count: `best_test`, the lowest test loss so far, and `bad_epochs`, the
    epochs since it last fell."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.message = ""
        self.best_test = math.inf
        self.bad_epochs = 0

    def clear(self) -> None:
        """Training goes on: no reason to stop (the count is kept)."""
        self.reason, self.message = None, ""

    def stop(self, reason: str, config: Config, **fields) -> bool:
        """Stop for `reason`, its message filled from the config and `fields`; True."""
        self.reason = reason
        self.message = STOP_MESSAGES[reason].format(**{**config.to_dict(), **fields})
        return True

    def reached_target(self, config: Config, m: dict) -> bool:
        """Stop if metrics `m` put the training loss at or below `target_loss`."""
        target, loss = config.target_loss, m["loss"]["train"]
        if target is not None and loss is not None and loss <= target:
            return self.stop("target_loss", config)
        return False

    def after_update(
        self,
        config: Config,
        epoch: int,
        epoch_done: bool,
        m: dict | None,
        biggest_update: float,
        metrics: Callable[[], dict],
    ) -> bool:
        """Whether to stop after an update that left `epoch` epochs done (`epoch_done` if it
        finished one), with its metrics `m` if measured (else `metrics()` is called when an
        epoch's end needs them) and its largest weight change."""
        c = config
        if m is not None and self.reached_target(c, m):
            return True
        if c.tolerance is not None and biggest_update < c.tolerance:
            return self.stop("converged", c)
        if not epoch_done:
            return False
        if c.patience is not None or (m is None and c.target_loss is not None):
            m = m or metrics()
            if m is not None and self.reached_target(c, m):
                return True
            test = m["loss"]["test"]
            if test is not None and test < self.best_test - EARLY_STOP_MIN_DELTA * abs(test):
                self.best_test, self.bad_epochs = test, 0
            else:
                self.bad_epochs += 1
            if c.patience is not None and self.bad_epochs >= c.patience:
                return self.stop("early_stopping", c)
        if c.max_epochs is not None and epoch >= c.max_epochs:
            return self.stop("max_epochs", c)
        return False


__all__ = ["EARLY_STOP_MIN_DELTA", "STOP_MESSAGES", "Stopping"]

"""Undo: training states kept along the way, so that `step_back` reaches 1,024 updates back.

Copying the whole state before every update would cost, for the largest network with Adam,
over a hundred megabytes per session. So a full `TrainingState` is kept only every k updates,
k chosen so that UNDO_DEPTH updates fit in UNDO_BUDGET_BYTES, and the updates in between are
replayed; the replay is exact because batches are drawn from (seed, epoch) and dropout masks
from (seed, step). Each checkpoint also holds the config of the updates after it, and a live
change (learning rate, dropout, ...) marks one, so every update is replayed with the settings
it was made with.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .config import Config

UNDO_DEPTH = 1024  # updates that step_back can undo, at least
UNDO_BUDGET_BYTES = 4 << 20  # the checkpoints' memory: a full one every k updates to fit it


@dataclass(frozen=True)
class TrainingState:
    """Everything an update changes, copied: the flat parameters and batch-norm buffers
    (float64, as Network keeps them), the optimizer's state arrays and step count t, the
    counters, early stopping's count, and the `grad_norms` readout of the last update (its
    gradient is not kept: the readout is all that is shown of it)."""

    params: np.ndarray
    buffers: np.ndarray
    optimizer_state: tuple[np.ndarray, ...]
    optimizer_t: int
    step: int
    epoch: int
    pos: int
    best_test: float
    bad_epochs: int
    grad_norms: tuple[float | None, ...]


@dataclass(frozen=True)
class Checkpoint:
    """The state after `step` updates, and the config the updates after it were made with."""

    step: int
    state: TrainingState
    config: Config


def spacing(n_params: int, n_optimizer_arrays: int, n_buffers: int) -> int:
    """k: a checkpoint every k updates keeps UNDO_DEPTH updates within UNDO_BUDGET_BYTES
    (1 for small networks; 48 for the largest with Adam)."""
    size = 8 * (n_params * (1 + n_optimizer_arrays) + n_buffers)
    return max(1, math.ceil(UNDO_DEPTH * size / UNDO_BUDGET_BYTES))


class Checkpoints:
    """The checkpoints of one run, oldest first."""

    def __init__(self) -> None:
        self._items: deque[Checkpoint] = deque()

    def __iter__(self) -> Iterator[Checkpoint]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget them all: the state no longer continues from them (new weights by hand, new
        points, another optimizer or head)."""
        self._items.clear()

    def keep(
        self, step: int, config: Config, every: int, state: Callable[[], TrainingState]
    ) -> None:
        """Before update step + 1: keep `state()` if the last checkpoint is `every` updates
        old, and drop those no longer needed to reach UNDO_DEPTH updates back."""
        cps = self._items
        if cps and step - cps[-1].step < every:
            return
        cps.append(Checkpoint(step, state(), config))
        while len(cps) > 1 and cps[1].step <= step - UNDO_DEPTH:
            cps.popleft()

    def settings_changed(
        self, step: int, config: Config, state: Callable[[], TrainingState]
    ) -> None:
        """After a live change at `step`: the updates from here on replay with `config`."""
        cps = self._items
        if cps and cps[-1].step == step:
            cps[-1] = dataclasses.replace(cps[-1], config=config)
        elif cps:
            cps.append(Checkpoint(step, state(), config))

    def reaches(self, step: int) -> bool:
        """Whether the state after `step` updates can be rebuilt."""
        return bool(self._items) and self._items[0].step <= step

    def back_to(
        self,
        target: int,
        restore: Callable[[TrainingState], None],
        replay: Callable[[int, Config], None],
    ) -> bool:
        """The state after `target` updates: `restore` the last checkpoint at or before it
        (dropping the later ones), then `replay(n, config)` the n updates in between with
        their settings. False, changing nothing, when no checkpoint reaches that far."""
        cps = self._items
        while cps and cps[-1].step > target:
            cps.pop()
        if not cps or target < 0:
            return False
        cp = cps[-1]
        restore(cp.state)
        replay(target - cp.step, cp.config)
        return True


__all__ = [
    "UNDO_BUDGET_BYTES",
    "UNDO_DEPTH",
    "Checkpoint",
    "Checkpoints",
    "TrainingState",
    "spacing",
]

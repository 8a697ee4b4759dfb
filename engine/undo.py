"""Step back: a trainer's state saved and restored, and rebuilt from a checkpoint by replay.

checkpoints.py decides which states to keep; this is the trainer's side. `save` and
`restore` copy everything an update changes (a `TrainingState`); `back_to` reaches the
state after any of the last UNDO_DEPTH updates by restoring the checkpoint before it and
replaying the updates in between, each with the settings it was made with. The replay is
bit for bit because batches and dropout masks are drawn from generators seeded by
(seed, epoch) and (seed, step).
"""

from __future__ import annotations

import math

import numpy as np

from . import checkpoints
from .checkpoints import TrainingState
from .config import Config
from .history import trim_after


def save(t) -> TrainingState:
    """A copy of the trainer `t`'s weights, buffers, optimizer state and counters."""
    opt = t.optimizer
    return TrainingState(
        params=t.net.params.copy(),
        buffers=t.net.buffers.copy(),
        optimizer_state=tuple(s.copy() for s in opt.state_arrays()),
        optimizer_t=opt.t,
        step=t.step_count,
        epoch=t.epoch,
        pos=t.pos,
        best_test=t.stopping.best_test,
        bad_epochs=t.stopping.bad_epochs,
        grad_norms=tuple(t.grad_norms),
    )


def restore(t, saved: TrainingState) -> None:
    """Put back a `save()` (the history is the caller's to trim)."""
    np.copyto(t.net.params, saved.params)
    np.copyto(t.net.buffers, saved.buffers)
    live = t.optimizer.state_arrays()
    if len(live) == len(saved.optimizer_state):
        for dst, src in zip(live, saved.optimizer_state):
            np.copyto(dst, src)
    t.optimizer.t = saved.optimizer_t
    t.step_count, t.epoch, t.pos = saved.step, saved.epoch, saved.pos
    t.stopping.best_test, t.stopping.bad_epochs = saved.best_test, saved.bad_epochs
    t.grad_norms = saved.grad_norms


def trim_history(t) -> None:
    """Drop the history's points from after the current step."""
    trim_after(t.history, t.step_count)


def spacing(t) -> int:
    """k: a checkpoint every k updates (checkpoints.spacing)."""
    net = t.net
    return checkpoints.spacing(net.n_params, len(t.optimizer.state_names), len(net.buffers))


def before_update(t, saved: TrainingState | None = None) -> None:
    """Keep the state as a checkpoint if one is due. `saved`, the state already copied,
    saves copying it again."""
    state = (lambda: save(t)) if saved is None else (lambda: saved)
    t.checkpoints.keep(t.step_count, t.config, spacing(t), state)


def settings_changed(t) -> None:
    """After a live change: updates from here on are replayed with the new settings."""
    t.checkpoints.settings_changed(t.step_count, t.config, lambda: save(t))


def back_to(t, target: int) -> bool:
    """The exact state after `target` updates, its history trimmed to match."""
    if not t.checkpoints.back_to(target, lambda s: restore(t, s), lambda n, c: _replay(t, n, c)):
        return False
    trim_history(t)
    return True


def can_step_back(t) -> bool:
    return t.pending is not None or t.checkpoints.reaches(t.step_count - 1)


def step_back(t) -> bool:
    """Undo the last update (or discard a half-shown one). False when there is none."""
    if t.pending is not None:
        t.discard_pending()
        return True
    if not can_step_back(t) or not back_to(t, t.step_count - 1):
        return False
    t.stopping.clear()
    t.last_record, t.last_traces = None, None
    return True


def diverged(t, bad_step: int, saved: TrainingState | None = None) -> None:
    """Go back to the weights from before update `bad_step` (`saved`, if given, is that
    state), further while the loss there is not finite either, and stop with the reason
    'diverged'."""
    if saved is not None:
        restore(t, saved)
        trim_history(t)
    else:
        back_to(t, bad_step - 1)
    while t.evaluate()["loss"]["train"] is None and back_to(t, t.step_count - 1):
        pass
    t.stopping.stop("diverged", t.config, step=bad_step)


def _replay(t, n: int, config: Config) -> None:
    """n updates with `config`'s settings, as they were first made, without records."""
    live = t.config
    _use_settings(t, config)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(n):
                if t.advance(t.fast_update()):  # patience counts as it did
                    t.check_stops(True, None, math.inf)
    finally:
        _use_settings(t, live)
        t.stopping.clear()
        t.last_traces = None


def _use_settings(t, config: Config) -> None:
    """The settings an update reads that a live change keeps the undo across."""
    t.config = config
    t.optimizer.set_hyperparameters(**config.optimizer_hyperparameters())
    t.net.dropout = config.dropout

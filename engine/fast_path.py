"""Play mode's fast path: many updates with no records, as `step()` would make them.

`run(t, n)` makes up to n updates of the trainer `t` through `Trainer.fast_update` (one
workspace reused, no copies kept), keeping undo's checkpoints, the stopping criteria and the
history as `step()` does; the weights, counters and optimizer state it leaves are those n
`step()`s would leave, bit for bit. A half-shown phase step is finished first.
"""

from __future__ import annotations

import math

import numpy as np

from . import undo
from .history import add_point


def run(t, n: int) -> int:
    """Up to n updates of the trainer `t`; returns the number made. Stops early when an
    update diverges (its weights are undone) or a stopping criterion is met."""
    if t.pending is not None:
        t.step()
        n -= 1
    t.stopping.clear()
    net, tol = t.net, t.config.tolerance
    done = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max(n, 0)):
            undo.before_update(t)
            before = net.params.copy() if tol is not None else None
            n_used = t.fast_update()
            if not t.params_finite():
                undo.diverged(t, t.step_count + 1)
                break
            epoch_done = t.advance(n_used)
            done += 1
            biggest = float(np.abs(net.params - before).max()) if tol is not None else math.inf
            if t.check_stops(epoch_done, None, biggest):
                break
    t.last_record = None
    if done and t.stopped != "diverged":
        m = t.metrics()
        if m["loss"]["train"] is None:
            undo.diverged(t, t.step_count)  # the last update overflowed the loss
            m = t.metrics()
        elif t.stopped is None:
            t.stopping.reached_target(t.config, m)
        add_point(t.history, m)
    return done


def run_epoch(t) -> int:
    """Updates until the current epoch ends (or training stops), in one run."""
    done = 0
    if t.pending is not None:
        t.step()
        done = 1
        if t.pos == 0:  # that update finished the epoch
            return done
    return done + run(t, t.updates_left_in_epoch())

"""Mini-batches: the order of each epoch, the batches cut from it, and the dropout masks'
generator, all seeded so that undo's replay and `run(n)` repeat `step()` bit for bit.

An epoch is a permutation of the training points drawn from (seed, epoch), cut into batches
of `batch_size` in order. With batch norm there is never a last batch of one (one example's
batch variance is 0): it joins the batch before, so an epoch of 11 points at batch size 10
is one batch of 11. Dropout masks are drawn from (seed, step).
"""

from __future__ import annotations

import numpy as np


def order(seed: int, epoch: int, n: int) -> np.ndarray:
    """(n,) the training indices in epoch `epoch`'s order."""
    return np.random.default_rng([seed, 2, epoch]).permutation(n)


def batch_end(pos: int, n: int, size: int, batch_norm: bool) -> int:
    """Where the batch starting at `pos` of an epoch of n points ends."""
    end = pos + size
    if batch_norm and n - end == 1:
        end = n  # never a last batch of one: it joins this one
    return end


def updates_left(pos: int, n: int, size: int, batch_norm: bool) -> int:
    """The batches from `pos` to the end of the epoch."""
    k = 0
    while pos < n:
        pos, k = batch_end(pos, n, size, batch_norm), k + 1
    return k


def dropout_rng(seed: int, step: int, rate: float) -> np.random.Generator | None:
    """The generator of update `step + 1`'s dropout masks; None without dropout."""
    return np.random.default_rng([seed, 3, step]) if rate > 0.0 else None

"""Points changed by hand in a running trainer: one added or removed, or a CSV file's imported.

An added or removed point (data.py checks it first, raising TrainerError for a bad one)
keeps the weights and the counters; the current epoch starts over on the new points, undo's
checkpoints go (the updates before it were made on other points) and the loss on the new
points is logged. An imported file replaces the data set: the points are drawn anew and the
weights from the seed.
"""

from __future__ import annotations

from typing import Any

from .csv_points import ImportedData
from .data import Edit


def edit(t, e: Edit) -> None:
    """Apply the point edit `e` to the trainer `t`."""
    e = t.data.checked(e, t.config)
    t.discard_pending()
    t.data.apply(e)
    t.refresh_features()
    t.pos = 0  # the epoch starts over on the new points
    t.checkpoints.clear()
    t.last_record = None
    t.log_metrics()


def import_points(t, imported: ImportedData) -> None:
    """Train `t` on a CSV file's points: its data set becomes the file's your_data set (with
    its number of classes and the task's default output head). Raises ConfigError, changing
    nothing, if the config cannot take the file."""
    changes: dict[str, Any] = {"dataset": imported.dataset}
    if imported.task == "multiclass":
        changes["n_classes"] = imported.n_classes
    config = t.config.replace(**changes)
    t.discard_pending()
    t.config, t.imported = config, imported
    t.rebuild_data()
    t.rebuild_model()


__all__ = ["edit", "import_points"]

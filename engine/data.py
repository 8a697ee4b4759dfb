"""The points a trainer learns from: the seed's draw (or an imported file's points, for the
your_data sets), then the points added or removed by hand.

The hand edits are kept, not only applied, because the same points must be rebuilt elsewhere:
a snapshot carries them (as `["add", split, x1, x2, label]` and `["remove", split, index]`),
a variant and a compare run replay them on their own seed's draw, and a reset can drop them.
Each edit is a frozen dataclass with named fields, checked once against the points and the
config it is made on, so what is replayed later is exactly what was accepted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from . import datasets
from .config import Config
from .csv_points import ImportedData
from .errors import TrainerError

Split = Literal["train", "test"]
MAX_EXTRA_POINTS = 500  # beyond twice n_points, adding refuses


@dataclass(frozen=True)
class AddPoint:
    """A point (x1, x2) with its label appended to one split."""

    split: Split
    x1: float
    x2: float
    label: float | int
    kind: ClassVar[str] = "add"

    def to_json(self) -> list:
        return [self.kind, self.split, self.x1, self.x2, self.label]


@dataclass(frozen=True)
class RemovePoint:
    """The point at `index` of one split taken out (later points move down one)."""

    split: Split
    index: int
    kind: ClassVar[str] = "remove"

    def to_json(self) -> list:
        return [self.kind, self.split, self.index]


Edit = AddPoint | RemovePoint


def edit_from_json(e: list) -> Edit:
    """The edit a snapshot's list stands for; its shape is snapshots.check_top's to check."""
    return AddPoint(e[1], e[2], e[3], e[4]) if e[0] == "add" else RemovePoint(e[1], e[2])


def imported_fits(config: Config, imported: ImportedData | None) -> bool:
    """Whether `config` reads `imported`'s points: its data set is the file's (with the
    file's number of classes). A your_data set without a fitting file has no points."""
    return (
        imported is not None
        and config.dataset == imported.dataset
        and (config.task != "multiclass" or config.n_classes == imported.n_classes)
    )


class Points:
    """The training and test points (X (n, 2) float64, y (n,) of the task's label dtype):
    the config's data set drawn from `default_rng([seed, 0])`, or `imported`'s points (in
    plot units; split by the file, else by that same generator), then `edits` in order."""

    def __init__(
        self,
        config: Config,
        edits: list[Edit] | tuple[Edit, ...] = (),
        imported: ImportedData | None = None,
    ):
        c = config
        rng = np.random.default_rng([c.seed, 0])
        if imported_fits(c, imported):
            X, y = imported.scaled()
            y = y.astype(np.float64 if c.task == "regression" else np.int64)
        else:  # a your_data set without its file draws no points, like custom
            X, y = datasets.generate(c.dataset, c.n_points, c.noise, rng, n_classes=c.n_classes)
        self.n_drawn = len(X) if imported_fits(c, imported) else c.n_points
        if imported_fits(c, imported) and imported.is_train is not None:
            train = imported.is_train
            self.X_train, self.y_train = X[train], y[train]
            self.X_test, self.y_test = X[~train], y[~train]
        else:
            self.X_train, self.y_train, self.X_test, self.y_test = datasets.split(
                X, y, c.train_fraction, rng
            )
        self.edits: list[Edit] = []
        for edit in edits:
            self.apply(edit)

    def count(self, split: Split) -> int:
        return len(self.X_train) if split == "train" else len(self.X_test)

    def checked(self, edit: Edit, config: Config) -> Edit:
        """`edit` with its label in the task's type; raises TrainerError, changing nothing,
        for a split, an index, a position or a label these points and `config` refuse."""
        if edit.split not in ("train", "test"):
            raise TrainerError("split must be 'train' or 'test'")
        n = self.count(edit.split)
        if isinstance(edit, RemovePoint):
            if not 0 <= edit.index < n:
                raise TrainerError(f"index must be in [0, {n - 1}]")
            return edit
        lo, hi = datasets.DOMAIN
        if not (lo <= edit.x1 <= hi and lo <= edit.x2 <= hi):
            raise TrainerError(f"x1 and x2 must be in [{lo:g}, {hi:g}]")
        if len(self.X_train) + len(self.X_test) >= 2 * self.n_drawn + MAX_EXTRA_POINTS:
            raise TrainerError("too many points")
        label, task = edit.label, config.task
        if task == "regression":
            if (
                isinstance(label, bool)
                or not isinstance(label, (int, float))
                or not -1.0 <= label <= 1.0
            ):
                raise TrainerError("label must be a number in [-1, 1]")
            return dataclasses.replace(edit, label=float(label))
        k = config.n_classes if task == "multiclass" else 2
        if isinstance(label, bool) or label not in range(k):
            raise TrainerError(f"label must be an integer in [0, {k - 1}]")
        return dataclasses.replace(edit, label=int(label))

    def apply(self, edit: Edit) -> None:
        """Make a checked edit and keep it in `edits`."""
        train = edit.split == "train"
        X, y = (self.X_train, self.y_train) if train else (self.X_test, self.y_test)
        if isinstance(edit, AddPoint):
            X = np.vstack([X, [[edit.x1, edit.x2]]])
            y = np.append(y, np.asarray(edit.label, dtype=y.dtype))
        else:
            X, y = np.delete(X, edit.index, axis=0), np.delete(y, edit.index)
        if train:
            self.X_train, self.y_train = X, y
        else:
            self.X_test, self.y_test = X, y
        self.edits.append(edit)


__all__ = ["AddPoint", "Edit", "Points", "RemovePoint", "Split", "edit_from_json", "imported_fits"]

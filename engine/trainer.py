"""The trainer: the facade a session drives, joining the data, the network, the optimizer,
the counters and the history.

`step()` makes one mini-batch update and returns its `StepRecord` (records.py), which the
server turns into a frame; `phase_step()` walks the same update one phase at a time; `run(n)`
is the record-free fast path for play mode (fast_path.py). Each other concern has a
module, which the thin methods here call: the points (data.py) and their edits
(point_edits.py), config changes (reconfigure.py), weights set by hand (weight_edits.py),
the stopping criteria (stopping.py), step back (undo.py, over checkpoints.py), the
inspector's numbers and its preview (explain.py), the gradient check (gradcheck.py),
snapshots (snapshots.py), the history (history.py) and the readouts (readouts.py).

Those modules use the trainer's public face, never its private fields: the state an update
changes (`net`, `optimizer`, the counters `step_count`, `epoch` and `pos`, `stopping`,
`history`, `grad_norms`), undo's `checkpoints`, the half-shown update (`pending`, `phase`,
`pending_state`), what the last update left (`last_record`, `last_traces`), and the methods
below that rebuild (`rebuild_data`, `rebuild_model`, `refresh_features`, `refresh_targets`,
`model_changed`, `discard_pending`) and update (`next_batch`, `fast_update`, `advance`,
`params_finite`, `check_stops`, `log_metrics`, `record_for`, `step_settings`).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np

from . import (
    batches,
    csv_points,
    explain,
    fast_path,
    features,
    gradcheck,
    heatmaps,
    point_edits,
    readouts,
    reconfigure,
    regularization,
    snapshots,
    undo,
    weight_edits,
)
from .checkpoints import Checkpoints, TrainingState
from .config import Config
from .csv_points import ImportedData
from .data import AddPoint, Edit, Points, RemovePoint, imported_fits
from .errors import SnapshotError, TrainerError
from .history import HISTORY_MAX, add_point
from .losses import make_head, predicted_classes, targets_for
from .network import Network
from .optimizers import make_optimizer
from .records import StepRecord, StepSettings, layer_gradients, update_ratios
from .stopping import Stopping


class Trainer:
    """Trainer(Config(...)) or Trainer({"dataset": "xor", ...}) or Trainer() for defaults."""

    def __init__(self, config: Config | dict | None = None, imported: ImportedData | None = None):
        if config is None:
            config = Config()
        elif isinstance(config, dict):
            config = Config.from_dict(config)
        self.config = config
        self.imported = imported  # a CSV file's points, read while the data set is your_data*
        self.rebuild_data()
        self.rebuild_model()

    # building

    def rebuild_data(self, edits: list[Edit] | tuple[Edit, ...] = ()) -> None:
        """The config's points (then `edits` applied) and their features; rebuild_model next."""
        self.data = Points(self.config, edits, self.imported)
        self.refresh_features()

    @property
    def edits(self) -> list[Edit]:
        """The points added or removed by hand since the seed's draw, in order (data.py)."""
        return self.data.edits

    @property
    def X_train(self) -> np.ndarray:
        return self.data.X_train

    @property
    def y_train(self) -> np.ndarray:
        return self.data.y_train

    @property
    def X_test(self) -> np.ndarray:
        return self.data.X_test

    @property
    def y_test(self) -> np.ndarray:
        return self.data.y_test

    def refresh_features(self) -> None:
        """The inputs and targets again from the points, for the config's features and head."""
        c = self.config
        k = len(c.features)
        # training inputs with a column of ones, the layout the network's workspace uses
        self.F_train_aug = np.ones((len(self.X_train), k + 1))
        features.compute_features(self.X_train, c.features, out=self.F_train_aug[:, :k])
        self.F_train = self.F_train_aug[:, :k]
        self.F_test = features.compute_features(self.X_test, c.features)
        self.F_all = np.vstack([self.F_train, self.F_test])
        self._fast_work: dict = {}
        self.refresh_targets()

    def refresh_targets(self) -> None:
        """The head and the targets again, for the config's output activation and loss."""
        self.head = make_head(self.config.output_activation, self.config.loss)
        task = self.config.task
        self.T_train = targets_for(self.head, self.y_train, task)
        self.labels_all = np.concatenate([self.y_train, self.y_test])
        self.T_all = targets_for(self.head, self.labels_all, task)

    def rebuild_model(self) -> None:
        """A network drawn from the seed, a fresh optimizer, the counters and history reset."""
        c = self.config
        self.net = Network(
            c.layer_sizes,
            activation=c.hidden_activations,
            output_activation=c.output_activation,
            init=c.init,
            rng=np.random.default_rng([c.seed, 1]),
            batch_norm=c.batch_norm,
            dropout=c.dropout,
            residual=c.residual,
        )
        self.optimizer = make_optimizer(c.optimizer, **c.optimizer_hyperparameters())
        self._fast_work = {}
        self._model_key: str | None = None
        self._reset_counters()

    def model_changed(self) -> None:
        """A live change of the function the network computes: a new `model_key`."""
        self._model_key = None

    def _reset_counters(self) -> None:
        self.step_count = 0
        self.epoch = 0
        self.pos = 0  # where the next batch starts in this epoch's order
        self._order: tuple[tuple, np.ndarray] | None = None  # ((seed, epoch, n), that order)
        self.history: list[dict] = []
        self.stopping = Stopping()
        self.pending: StepRecord | None = None  # a half-shown phase step's record
        self.pending_state: TrainingState | None = None  # the state before `pending`
        self.last_traces = None  # the fast path's last traces (its reused buffers)
        self.phase: str | None = None
        self.last_record: StepRecord | None = None
        self.checkpoints = Checkpoints()  # undo's
        self._grad_norms: list[float | None] | None = None
        self.log_metrics()

    def variant(self, changes: dict[str, Any]) -> Trainer:
        """A new trainer on these very points with `changes` applied (reconfigure.variant)."""
        return reconfigure.variant(self, changes)

    def reset(self, data: bool = False) -> None:
        """Fresh weights drawn from the seed; counters, history and optimizer state cleared.
        With `data`, the points added or removed by hand go too: the data is the seed's."""
        if data and self.edits:
            self.rebuild_data()
        self.rebuild_model()

    # configuration

    def configure(self, changes: dict[str, Any]) -> set[str]:
        """Apply a partial config (reconfigure.py): data changes regenerate the data and reset
        training, topology changes rebuild the network, the rest keeps the weights. Raises
        ConfigError and changes nothing if it is invalid."""
        return reconfigure.configure(self, changes)

    # data editing

    def import_points(self, imported: ImportedData) -> None:
        """Train on a CSV file's points (point_edits.py): the data set becomes the file's, the
        points are drawn anew and the weights from the seed. Raises ConfigError, changing
        nothing, if the config cannot take the file."""
        point_edits.import_points(self, imported)

    @property
    def data_source(self) -> dict | None:
        """The imported file's name, scales and class names while its points are the data
        (csv_points.ImportedData.axes), else None."""
        return self.imported.axes() if imported_fits(self.config, self.imported) else None

    def points_csv(self) -> str:
        """The points, train and test with the split, as CSV in the file's units (or the
        plot's, for a generated set); importing it gives the same points back."""
        return csv_points.export(self.data, self.config, self.data_source and self.imported)

    def add_point(self, x1: float, x2: float, label, split: str = "train") -> int:
        """Add a point; returns its index in its split. Weights and counters are kept; the
        current epoch starts over on the new data."""
        point_edits.edit(self, AddPoint(split, float(x1), float(x2), label))
        return self.data.count(split) - 1

    def remove_point(self, split: str, index: int) -> None:
        point_edits.edit(self, RemovePoint(split, int(index)))

    # batches (batches.py)

    def next_batch(self) -> np.ndarray:
        """The training rows of the next update (a view of this epoch's order)."""
        n = len(self.F_train)
        if n == 0:
            raise TrainerError("there are no training points: add some first")
        if self._batch_norm and n == 1:
            raise TrainerError(
                "batch norm needs at least two training points: add one, or turn batch norm off"
            )
        key = (self.config.seed, self.epoch, n)
        if self._order is None or self._order[0] != key:
            self._order = (key, batches.order(*key))
        end = batches.batch_end(self.pos, n, self.config.batch_size, self._batch_norm)
        return self._order[1][self.pos : end]

    @property
    def _batch_norm(self) -> bool:
        """Whether any layer normalizes over the batch."""
        return any(g is not None for g in self.net.gammas)

    def step_settings(self) -> StepSettings:
        """The settings the next update is made with, as its record keeps them."""
        c, net = self.config, self.net
        return StepSettings(
            activations=tuple(net.activation_names),
            output_activation=c.output_activation,
            loss=c.loss,
            dropout=net.dropout,
            batch_norm=self._batch_norm,
            skip=tuple(net.skip),
            regularization=c.regularization,
            regularization_rate=c.regularization_rate,
        )

    def advance(self, n_used: int) -> bool:
        """Count an update of `n_used` examples; returns True when it finished an epoch."""
        self.pos += n_used
        self.step_count += 1
        if self.pos >= len(self.F_train):
            self.pos = 0
            self.epoch += 1
            return True
        return False

    # step back (undo.py)

    def step_back(self) -> bool:
        """Undo the last update (or discard a half-shown one). False when there is none."""
        return undo.step_back(self)

    @property
    def can_step_back(self) -> bool:
        return undo.can_step_back(self)

    # the update

    def _forward_backward(self, idx, work=None):
        """Gradients of the batch `idx` into net.grads; a fresh workspace unless `work` is given."""
        net, head = self.net, self.head
        if work is None:
            work = net.workspace(len(idx))
        self.F_train_aug.take(idx, axis=0, out=work.xs[0])
        t = self.T_train.take(idx, axis=0)
        traces, yhat = net.forward_ws(
            work,
            head,
            train=True,
            rng=batches.dropout_rng(self.config.seed, self.step_count, net.dropout),
        )
        net.backward(traces, head.dz(traces[-1].z, yhat, t), work)
        c = self.config
        regularization.add_gradient(
            net.grads, net.params, net.weight_mask, c.regularization, c.regularization_rate
        )
        return traces, yhat, t

    def _workspace_for(self, n: int):
        work = self._fast_work.get(n)
        if work is None:
            if len(self._fast_work) > 2:
                self._fast_work.clear()
            work = self._fast_work[n] = self.net.workspace(n)
        return work

    def _prepare(self) -> StepRecord:
        """Forward, loss and backward on the next batch, without the update."""
        saved = undo.save(self)
        rec = self.record_for(self.next_batch().copy())
        self.pending_state = saved
        return rec

    def record_for(self, idx: np.ndarray) -> StepRecord:
        """Forward, loss and backward on the training rows `idx`, as the next update's record."""
        self._grad_norms = self.grad_norms  # net.grads is about to hold the next batch's
        traces, yhat, t = self._forward_backward(idx)
        c, net = self.config, self.net
        per = self.head.per_example(traces[-1].z, yhat, t)
        return StepRecord(
            step=self.step_count + 1,
            epoch=self.epoch,
            batch=idx,
            traces=traces,
            yhat=yhat,
            target=t,
            per_example_loss=per,
            loss=float(per.mean()),
            penalty=regularization.penalty(
                net.params, net.weight_mask, c.regularization, c.regularization_rate
            ),
            grads=net.grads.copy(),
            params_before=net.params.copy(),
            layout=net.layout,
            grad_norms=self._layer_norms(net.grads),
            settings=self.step_settings(),
        )

    def _apply(self, rec: StepRecord) -> StepRecord:
        """The optimizer's update for a prepared record; fills in what it changed."""
        saved = self.pending_state
        self.pending_state = None
        self.pending, self.phase = None, None
        net = self.net
        np.copyto(net.grads, rec.grads)
        undo.before_update(self, saved)
        self.optimizer.step([net.params], [net.grads])
        if not (math.isfinite(rec.loss) and self.params_finite()):
            undo.diverged(self, self.step_count + 1, saved)
            rec.metrics = self.metrics()
            return rec
        epoch_done = self.advance(len(rec.batch))
        self._grad_norms = list(rec.grad_norms)
        rec.metrics = self.metrics()
        if rec.metrics["loss"]["train"] is None:
            undo.diverged(self, self.step_count, saved)
            rec.metrics = self.metrics()
            return rec
        rec.params_after = net.params.copy()
        delta = rec.params_after - rec.params_before
        rec.update_ratios = update_ratios(delta, rec.params_before, net.layer_offsets)
        rec.optimizer = self.optimizer.last_step()
        add_point(self.history, rec.metrics)
        self.check_stops(epoch_done, rec.metrics, float(np.abs(delta).max(initial=0.0)))
        self.last_record = rec
        return rec

    def params_finite(self) -> bool:
        """Whether the weights' sum of squares is finite (no NaN, inf, or |w| past 1e154):
        the state every update must leave, and an import must hold (snapshots.py)."""
        p = self.net.params
        with np.errstate(over="ignore", invalid="ignore"):
            return math.isfinite(np.dot(p, p))

    def step(self) -> StepRecord:
        """Exactly one mini-batch update (finishing a half-shown one first) with its record."""
        self.stopping.clear()
        rec = self.pending if self.pending is not None else self._prepare()
        return self._apply(rec)

    def phase_step(self) -> StepRecord:
        """Advance one phase: forward → loss → backward → update. Returns the record so far."""
        if self.pending is None:
            self.stopping.clear()
            self.pending = self._prepare()
            self.phase = "forward"
            self.last_record = self.pending
            return self.pending
        if self.phase == "forward":
            self.phase = "loss"
        elif self.phase == "loss":
            self.phase = "backward"
        else:
            rec = self._apply(self.pending)
            self.phase = "update"
            return rec
        return self.pending

    def discard_pending(self) -> None:
        """Forget a half-shown update: the state before it is put back."""
        if self.pending is not None:
            undo.restore(self, self.pending_state)
            undo.trim_history(self)
            self.pending, self.phase, self.pending_state = None, None, None
            self.last_record = None

    def fast_update(self) -> int:
        """One update on the next batch with no record (the fast path's, and undo's replay);
        returns the batch's size, for `advance` once the update is known to be finite."""
        net = self.net
        idx = self.next_batch()
        self.last_traces = self._forward_backward(idx, self._workspace_for(len(idx)))[0]
        self.optimizer.step([net.params], [net.grads])
        self._grad_norms = None  # net.grads holds this update's gradient
        return len(idx)

    def run(self, n: int) -> int:
        """Fast path: up to n updates with no records. Returns the number made."""
        return fast_path.run(self, n)

    def run_epoch(self) -> int:
        """Updates until the current epoch ends (or training stops), in one fast-path run."""
        return fast_path.run_epoch(self)

    def updates_left_in_epoch(self, pos: int | None = None) -> int:
        """The updates from `pos` (default: now) to the end of the epoch (with batch norm, a
        last batch of one joins the one before)."""
        pos = self.pos if pos is None else pos
        return batches.updates_left(
            pos, len(self.F_train), self.config.batch_size, self._batch_norm
        )

    def updates_for(self, count: int, unit: str) -> int:
        """How many updates a `step` of `count` updates or epochs makes, if nothing stops it."""
        if unit == "epoch":
            return self.updates_left_in_epoch() + (count - 1) * self.updates_left_in_epoch(0)
        return count

    def check_stops(self, epoch_done: bool, m: dict | None, biggest_update: float) -> bool:
        """After an update (its metrics `m`, if measured): whether a stopping criterion met."""
        return self.stopping.after_update(
            self.config, self.epoch, epoch_done, m, biggest_update, self.metrics
        )

    @property
    def stopped(self) -> str | None:
        """Why training stopped (a key of stopping.STOP_MESSAGES), or None."""
        return self.stopping.reason

    @property
    def stop_message(self) -> str:
        """The sentence the page shows for `stopped`."""
        return self.stopping.message

    # read-outs

    def log_metrics(self) -> None:
        """Add the metrics now to the history (history.py)."""
        add_point(self.history, self.metrics())

    def last_gradients(self) -> list[dict[str, np.ndarray]] | None:
        """Per weight layer, the last update's dW, db, the batch mean of the layer's output
        (a_mean) and of the per-example δ = ∂L_i/∂z (delta_mean); None before any update.

        Play mode's fast path keeps no record; this reads what its last update left behind.
        """
        rec = self.last_record
        traces = rec.traces if rec is not None else self.last_traces
        if traces is None or self.step_count == 0:
            return None
        grads = rec.grads if rec is not None else self.net.grads
        return layer_gradients(traces, grads, self.net.layout)

    @property
    def grad_norms(self) -> list[float | None]:
        """‖∂L/∂W_l‖ per weight layer of the gradient the last update used (zeros before any):
        the `grad_norms` readout. Kept apart from net.grads, which a half-shown phase step
        fills with the next batch's gradient; step back and snapshots restore it
        (TrainingState.grad_norms, the history's entry of the step)."""
        if self._grad_norms is None:  # the fast path left the last update's gradient there
            self._grad_norms = self._layer_norms(self.net.grads)
        return self._grad_norms

    @grad_norms.setter
    def grad_norms(self, norms: list[float | None]) -> None:
        """Restore the readout of the update the state was left by (undo, snapshots)."""
        self._grad_norms = list(norms)

    def _layer_norms(self, flat: np.ndarray) -> list[float]:
        """‖∂L/∂W_l‖ per weight layer: the weights' gradient only (not b, γ or β), as the
        optimizer used it (with the penalty's part when there is one)."""
        return readouts.layer_norms(self.net, flat)

    def evaluate(self) -> dict:
        """Loss and accuracy on the training and test sets with the current weights."""
        return readouts.evaluate(self)

    def metrics(self) -> dict:
        """The counters and every readout of engine/readouts.py, by name: what the history
        keeps and the page charts."""
        return readouts.measure(self)

    def classify(self, points) -> list[int]:
        """The class the network assigns to each point [[x1, x2], ...] now (evaluation mode,
        as the decision boundary draws it); TrainerError for a regression."""
        if self.config.task == "regression":
            raise TrainerError("a regression network assigns no classes")
        X = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        with np.errstate(all="ignore"):
            _, yhat = self.net.predict(
                features.compute_features(X, self.config.features), self.head
            )
        return predicted_classes(self.head, yhat).tolist()

    def parameters(self) -> dict:
        net = self.net
        return {
            "weights": [w.tolist() for w in net.weights],
            "biases": [b.tolist() for b in net.biases],
            "gammas": [None if g is None else g.tolist() for g in net.gammas],
            "betas": [None if b is None else b.tolist() for b in net.betas],
        }

    def model(self) -> dict:
        """The network as a page evaluates it (Network.describe) with its input features, and
        `key`, a short digest of all that (`model_key`)."""
        return {**self._described(), "key": self.model_key}

    @property
    def model_key(self) -> str:
        """A short digest of `model()`: frames name the model their weights are for. Kept
        until the topology changes (sizes, activations, batch norm, skips, features or the
        output head: a new network, or a live change of activation or head)."""
        if self._model_key is None:
            text = json.dumps(self._described(), sort_keys=True, separators=(",", ":"))
            self._model_key = hashlib.blake2s(text.encode(), digest_size=4).hexdigest()
        return self._model_key

    def _described(self) -> dict:
        return {**self.net.describe(), "features": list(self.config.features)}

    def eval_arrays(self) -> list[tuple[np.ndarray, ...]]:
        """Network.eval_arrays(): per weight layer W, b and batch norm's evaluation scale and
        shift, the network's own float64 (read under the lock, copy to keep)."""
        return self.net.eval_arrays()

    def weight_arrays(self) -> dict:
        """`parameters()`'s weights and biases as the network's own float64 views, for a frame
        encoded at once (no lists in between); read them under the lock, copy to keep."""
        return {"weights": self.net.weights, "biases": self.net.biases}

    def points(self) -> dict:
        return {
            "train": {"x": self.X_train.tolist(), "y": self.y_train.tolist()},
            "test": {"x": self.X_test.tolist(), "y": self.y_test.tolist()},
            "source": self.data_source,
        }

    # weights set by hand (weight_edits.py)

    def set_weight(self, layer: int, i: int, j: int, value: float) -> None:
        """Set w_ij of weight layer `layer` (0-based), keeping everything else."""
        weight_edits.set_weight(self, layer, i, j, value)

    def set_bias(self, layer: int, j: int, value: float) -> None:
        weight_edits.set_bias(self, layer, j, value)

    def set_parameters(self, weights: list, biases: list) -> None:
        """Set every weight and bias at once, in the shapes of `parameters()`, or none."""
        weight_edits.set_parameters(self, weights, biases)

    # inspection

    def inspection_record(self, example: int | None = None) -> tuple[StepRecord, int, bool]:
        """The record the inspector explains, the batch row of `example`, and whether that
        example is in the update's batch (explain.inspection_record)."""
        return explain.inspection_record(self, example)

    def explain(self, layer: int, j: int, i: int | None = None, example: int | None = None) -> dict:
        """Chain-rule numbers for neuron j of weight layer `layer` or, with i, for the weight
        w_ij, on training example `example` (explain.py)."""
        return explain.explain(self, layer, j, i, example)

    def gradcheck(self) -> dict:
        """Finite-difference check of the last update's gradients (or the next one's)."""
        rec, _, _ = self.inspection_record()
        return gradcheck.check(self, rec, seed=self.config.seed)

    def gradcheck_job(self) -> gradcheck.GradCheck:
        """`gradcheck` as a job to run a slice at a time (`job.run(trainer)` until `done`)."""
        rec, _, _ = self.inspection_record()
        return gradcheck.GradCheck(self, rec, seed=self.config.seed)

    def grid(self, n: int) -> heatmaps.Grid:
        return heatmaps.evaluate_grid(self.net, self.head, self.config.features, n)

    # snapshots

    def snapshot(self) -> dict:
        """Everything needed to continue exactly, as a JSON-able dict (snapshots.write)."""
        return snapshots.write(self)

    @classmethod
    def from_snapshot(cls, snap: dict) -> Trainer:
        """Rebuild a trainer from `snapshot()`, all or nothing: a malformed or out-of-range
        part raises SnapshotError naming it (snapshots.load), a bad config ConfigError."""
        return snapshots.load(cls, snap)


__all__ = ["HISTORY_MAX", "SnapshotError", "Trainer", "TrainerError"]

"""The trainer: the facade a session drives, joining the data, the network, the optimizer,
the counters and the history.

`step()` makes one mini-batch update and returns its `StepRecord`; `phase_step()` walks the
same update one phase at a time; `run(n)` is the record-free fast path for play mode. The
points and their hand edits live in data.py, the stopping criteria in stopping.py, and undo's
checkpoints in checkpoints.py: the last UNDO_DEPTH updates can be stepped back and replayed
bit for bit, because batches and dropout masks are drawn from generators seeded by
(seed, epoch) and (seed, step).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np

from . import activations, checkpoints, explain, features, heatmaps, readouts, snapshots
from .checkpoints import Checkpoints, TrainingState
from .config import Config, ConfigError
from .data import AddPoint, Edit, Points, RemovePoint, edit_from_json
from .errors import SnapshotError, TrainerError
from .losses import correct, make_head, targets_for
from .network import Network
from .optimizers import make_optimizer
from .records import StepRecord, StepSettings
from .stopping import STOP_MESSAGES, Stopping

HISTORY_MAX = 4000  # points kept for the charts; older ones are thinned, recent ones kept
HISTORY_RECENT = 1000
SNAPSHOT_VERSION = snapshots.SNAPSHOT_VERSION
DATA_FIELDS = {"dataset", "n_points", "noise", "train_fraction", "seed", "n_classes"}
NETWORK_FIELDS = {"features", "hidden", "init", "batch_norm", "residual"}


def _opt_kwargs(c: Config) -> dict[str, float]:
    return dict(
        lr=c.learning_rate,
        momentum=c.momentum,
        alpha=c.alpha,
        beta1=c.beta1,
        beta2=c.beta2,
        eps=c.eps,
    )


def _float(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


class Trainer:
    """Trainer(Config(...)) or Trainer({"dataset": "xor", ...}) or Trainer() for defaults."""

    def __init__(self, config: Config | dict | None = None):
        if config is None:
            config = Config()
        elif isinstance(config, dict):
            config = Config.from_dict(config)
        self.config = config
        self._build_data()
        self._build_model()

    # building

    def _build_data(self, edits: list[Edit] | tuple[Edit, ...] = ()) -> None:
        self.data = Points(self.config, edits)
        self._refresh_features()

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

    def _refresh_features(self) -> None:
        c = self.config
        k = len(c.features)
        # training inputs with a column of ones, the layout the network's workspace uses
        self.F_train_aug = np.ones((len(self.X_train), k + 1))
        features.compute_features(self.X_train, c.features, out=self.F_train_aug[:, :k])
        self.F_train = self.F_train_aug[:, :k]
        self.F_test = features.compute_features(self.X_test, c.features)
        self.F_all = np.vstack([self.F_train, self.F_test])
        self._fast_work: dict = {}
        self._refresh_targets()

    def _refresh_targets(self) -> None:
        self.head = make_head(self.config.output_activation, self.config.loss)
        task = self.config.task
        self.T_train = targets_for(self.head, self.y_train, task)
        self.labels_all = np.concatenate([self.y_train, self.y_test])
        self.T_all = targets_for(self.head, self.labels_all, task)

    def _build_model(self) -> None:
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
        self.optimizer = make_optimizer(c.optimizer, **_opt_kwargs(c))
        self._fast_work = {}
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.step_count = 0
        self.epoch = 0
        self.pos = 0
        self._perm = None
        self.history: list[dict] = []
        self.stopping = Stopping()
        self.pending: StepRecord | None = None
        self._traces = None  # the fast path's last traces (its reused buffers)
        self.phase: str | None = None
        self.last_record: StepRecord | None = None
        self._checkpoints = Checkpoints()
        self._pending_undo: TrainingState | None = None
        self._log(self.metrics())

    def variant(self, changes: dict[str, Any]) -> Trainer:
        """A new trainer on this one's very points (hand edits included) with `changes` applied
        to its config, at step 0 with the weights its seed draws. Raises ConfigError, naming
        the field, for an invalid change or for a data field (DATA_FIELDS: other points)."""
        if same := sorted(changes.keys() & DATA_FIELDS):
            raise ConfigError(same[0], "a variant keeps the data and the seed")
        t = self.__class__(self.config.replace(**changes))
        if self.edits:  # the seed's points, then the same edits
            t._build_data(self.edits)
            t._build_model()
        return t

    def reset(self, data: bool = False) -> None:
        """Fresh weights drawn from the seed; counters, history and optimizer state cleared.
        With `data`, the points added or removed by hand go too: the data is the seed's."""
        if data and self.edits:
            self._build_data()
        self._build_model()

    # configuration

    def configure(self, changes: dict[str, Any]) -> set[str]:
        """Apply a partial config. Raises ConfigError and changes nothing if it is invalid.

        Data changes regenerate the data and reset training; topology changes rebuild the
        network; everything else (learning rate, optimizer, activations, loss, dropout,
        regularisation, batch size, stopping criteria) keeps the weights.
        """
        new = self.config.replace(**changes)
        changed = new.changed_fields(self.config)
        if not changed:
            return changed
        self._discard_pending()
        old = self.config
        self.config = new
        if changed & DATA_FIELDS:
            self._build_data()
            self._build_model()
        elif changed & NETWORK_FIELDS or new.n_outputs != old.n_outputs:
            self._refresh_features()
            self._build_model()
        else:
            self._configure_live(old, changed)
            self._config_point()
        return changed

    def _configure_live(self, old: Config, changed: set[str]) -> None:
        c = self.config
        net = self.net
        if "activation" in changed:
            net.activation_names = list(c.hidden_activations)
            net.acts = [activations.get(n) for n in net.activation_names]
        if changed & {"output_activation", "loss"}:
            net.output_activation = c.output_activation
            self._refresh_targets()
        net.dropout = c.dropout
        if "optimizer" in changed:
            self.optimizer = make_optimizer(c.optimizer, **_opt_kwargs(c))
            self._checkpoints.clear()  # the old optimizer's state has another shape
        else:
            self.optimizer.set_hyperparameters(**_opt_kwargs(c))
        if changed & {"activation", "output_activation", "loss"}:
            self._checkpoints.clear()
        self.stopping.clear()

    # data editing

    def add_point(self, x1: float, x2: float, label, split: str = "train") -> int:
        """Add a point; returns its index in its split. Weights and counters are kept; the
        current epoch starts over on the new data."""
        self._edit(AddPoint(split, float(x1), float(x2), label))
        return self.data.count(split) - 1

    def remove_point(self, split: str, index: int) -> None:
        self._edit(RemovePoint(split, int(index)))

    def _edit(self, edit: Edit) -> None:
        edit = self.data.checked(edit, self.config)
        self._discard_pending()
        self.data.apply(edit)
        self._refresh_features()
        self._reset_counters_keep_weights()

    def _reset_counters_keep_weights(self) -> None:
        self._perm, self.pos = None, 0
        self._checkpoints.clear()
        self.last_record = None
        self._log(self.metrics())

    # batches and undo

    def _next_batch(self) -> np.ndarray:
        n = len(self.F_train)
        if n == 0:
            raise TrainerError("there are no training points: add some first")
        if self._perm is None or len(self._perm) != n:
            self._perm = np.random.default_rng([self.config.seed, 2, self.epoch]).permutation(n)
        end = self.pos + self.config.batch_size
        if self._batch_norm:
            if n == 1:
                raise TrainerError(
                    "batch norm needs at least two training points: add one, or turn batch norm off"
                )
            if n - end == 1:
                end = n  # never a last batch of one: it joins this one
        return self._perm[self.pos : end]

    @property
    def _batch_norm(self) -> bool:
        """Whether any layer normalizes over the batch."""
        return any(g is not None for g in self.net.gammas)

    def _step_settings(self) -> StepSettings:
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

    def _advance(self, n_used: int) -> bool:
        """Move the epoch cursor; returns True when this update finished an epoch."""
        self.pos += n_used
        self.step_count += 1
        if self.pos >= len(self.F_train):
            self.pos, self._perm = 0, None
            self.epoch += 1
            return True
        return False

    def _dropout_rng(self):
        if self.net.dropout > 0.0:
            return np.random.default_rng([self.config.seed, 3, self.step_count])
        return None

    def _save(self) -> TrainingState:
        opt = self.optimizer
        return TrainingState(
            params=self.net.params.copy(),
            buffers=self.net.buffers.copy(),
            optimizer_state=tuple(s.copy() for s in opt.state_arrays()),
            optimizer_t=opt.t,
            step=self.step_count,
            epoch=self.epoch,
            pos=self.pos,
            best_test=self.stopping.best_test,
            bad_epochs=self.stopping.bad_epochs,
        )

    def _restore(self, saved: TrainingState) -> None:
        """Put back a `_save()` (the history is the caller's to trim)."""
        np.copyto(self.net.params, saved.params)
        np.copyto(self.net.buffers, saved.buffers)
        live = self.optimizer.state_arrays()
        if len(live) == len(saved.optimizer_state):
            for dst, src in zip(live, saved.optimizer_state):
                np.copyto(dst, src)
        self.optimizer.t = saved.optimizer_t
        self.step_count, self.epoch, self.pos, self._perm = saved.step, saved.epoch, saved.pos, None
        self.stopping.best_test, self.stopping.bad_epochs = saved.best_test, saved.bad_epochs

    def _trim_history(self) -> None:
        while self.history and self.history[-1]["step"] > self.step_count:
            self.history.pop()

    # undo (checkpoints.py): the last checkpoint, then the updates since replayed

    @property
    def _undo_every(self) -> int:
        """k: a checkpoint every k updates (checkpoints.spacing)."""
        net = self.net
        return checkpoints.spacing(net.n_params, len(self.optimizer.state_names), len(net.buffers))

    def _undo_point(self, saved: TrainingState | None = None) -> None:
        """Before an update: keep the state as a checkpoint if one is due. `saved`, the state
        already copied, saves copying it again."""
        self._checkpoints.keep(
            self.step_count,
            self.config,
            self._undo_every,
            self._save if saved is None else lambda: saved,
        )

    def _config_point(self) -> None:
        """After a live change: updates from here on are replayed with the new settings."""
        self._checkpoints.settings_changed(self.step_count, self.config, self._save)

    def _back_to(self, target: int) -> bool:
        """The exact state after `target` updates, its history trimmed to match."""
        if not self._checkpoints.back_to(target, self._restore, self._replay):
            return False
        self._trim_history()
        return True

    def _replay(self, n: int, config: Config) -> None:
        """n updates with `config`'s settings, as they were first made, without records."""
        live = self.config
        self._use_settings(config)
        try:
            net, opt = self.net, self.optimizer
            with np.errstate(over="ignore", invalid="ignore"):
                for _ in range(n):
                    idx = self._next_batch()
                    self._forward_backward(idx, self._workspace_for(len(idx)))
                    opt.step([net.params], [net.grads])
                    if self._advance(len(idx)):  # patience counts as it did
                        self._check_stops(True, None, math.inf)
        finally:
            self._use_settings(live)
            self.stopping.clear()
            self._traces = None

    def _use_settings(self, config: Config) -> None:
        """The settings an update reads that a live change keeps the undo across."""
        self.config = config
        self.optimizer.set_hyperparameters(**_opt_kwargs(config))
        self.net.dropout = config.dropout

    def step_back(self) -> bool:
        """Undo the last update (or discard a half-shown one). False when there is none."""
        if self.pending is not None:
            self._discard_pending()
            return True
        if not self.can_step_back or not self._back_to(self.step_count - 1):
            return False
        self.stopping.clear()
        self.last_record, self._traces = None, None
        return True

    @property
    def can_step_back(self) -> bool:
        return self.pending is not None or self._checkpoints.reaches(self.step_count - 1)

    # the update

    def _penalty(self, params: np.ndarray, settings: StepSettings | None = None) -> float:
        """The L1/L2 penalty on the weights (not biases, γ or β), with the current settings
        or, given, with a recorded step's."""
        kind, rate = (
            (settings.regularization, settings.regularization_rate)
            if settings
            else (self.config.regularization, self.config.regularization_rate)
        )
        if kind == "none" or rate == 0.0:
            return 0.0
        w = params * self.net.weight_mask
        if kind == "l1":
            return rate * float(np.abs(w).sum())
        return rate * 0.5 * float(w @ w)

    def _add_penalty_grad(self) -> None:
        c = self.config
        if c.regularization == "none" or c.regularization_rate == 0.0:
            return
        net = self.net
        if c.regularization == "l1":
            net.grads += c.regularization_rate * np.sign(net.params) * net.weight_mask
        else:
            net.grads += c.regularization_rate * net.params * net.weight_mask

    def _forward_backward(self, idx, work=None):
        """Gradients of the batch `idx` into net.grads; a fresh workspace unless `work` is given."""
        net, head = self.net, self.head
        if work is None:
            work = net.workspace(len(idx))
        self.F_train_aug.take(idx, axis=0, out=work.xs[0])
        t = self.T_train.take(idx, axis=0)
        traces, yhat = net.forward_ws(work, head, train=True, rng=self._dropout_rng())
        net.backward(traces, head.dz(traces[-1].z, yhat, t), work)
        self._add_penalty_grad()
        return traces, yhat, t

    def _workspace_for(self, n: int):
        work = self._fast_work.get(n)
        if work is None:
            if len(self._fast_work) > 2:
                self._fast_work.clear()
            work = self._fast_work[n] = self.net.workspace(n)
        return work

    def _diverged(self, bad_step: int, saved: TrainingState | None = None) -> None:
        """Go back to the weights from before update `bad_step` (`saved`, if given, is that
        state), further while the loss there is not finite either, and stop with the
        reason 'diverged'."""
        if saved is not None:
            self._restore(saved)
            self._trim_history()
        else:
            self._back_to(bad_step - 1)
        while self.evaluate()["loss"]["train"] is None and self._back_to(self.step_count - 1):
            pass
        self.stopping.stop("diverged", self.config, step=bad_step)

    def _prepare(self) -> StepRecord:
        """Forward, loss and backward on the next batch, without the update."""
        saved = self._save()
        rec = self._record(self._next_batch().copy())
        self._pending_undo = saved
        return rec

    def _record(self, idx: np.ndarray) -> StepRecord:
        """Forward, loss and backward on the training rows `idx`, as the next update's record."""
        traces, yhat, t = self._forward_backward(idx)
        net = self.net
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
            penalty=self._penalty(net.params),
            grads=net.grads.copy(),
            params_before=net.params.copy(),
            layout=net.layout,
            grad_norms=self._layer_norms(net.grads),
            settings=self._step_settings(),
        )

    def _apply(self, rec: StepRecord) -> StepRecord:
        """The optimizer's update for a prepared record; fills in what it changed."""
        saved = self._pending_undo
        self._pending_undo = None
        self.pending, self.phase = None, None
        net = self.net
        np.copyto(net.grads, rec.grads)
        self._undo_point(saved)
        self.optimizer.step([net.params], [net.grads])
        if not (math.isfinite(rec.loss) and np.isfinite(net.params).all()):
            self._diverged(self.step_count + 1, saved)
            rec.metrics = self.metrics()
            return rec
        epoch_done = self._advance(len(rec.batch))
        rec.metrics = self.metrics(rec.grad_norms)
        if rec.metrics["loss"]["train"] is None:
            self._diverged(self.step_count, saved)
            rec.metrics = self.metrics()
            return rec
        rec.params_after = net.params.copy()
        delta = rec.params_after - rec.params_before
        rec.update_ratios = self._ratios(delta, rec.params_before)
        rec.optimizer = self.optimizer.snapshot()
        self._log(rec.metrics)
        self._check_stops(epoch_done, rec.metrics, float(np.abs(delta).max(initial=0.0)))
        self.last_record = rec
        return rec

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

    def _discard_pending(self) -> None:
        if self.pending is not None:
            self._restore(self._pending_undo)
            self._trim_history()
            self.pending, self.phase, self._pending_undo = None, None, None
            self.last_record = None

    def run(self, n: int) -> int:
        """Fast path: up to n updates with no records. Returns the number made."""
        if self.pending is not None:
            self.step()
            n -= 1
        self.stopping.clear()
        net, opt, tol = self.net, self.optimizer, self.config.tolerance
        params, grads = [net.params], [net.grads]
        done = 0
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(max(n, 0)):
                self._undo_point()
                before = net.params.copy() if tol is not None else None
                idx = self._next_batch()
                self._traces = self._forward_backward(idx, self._workspace_for(len(idx)))[0]
                opt.step(params, grads)
                if not math.isfinite(np.dot(net.params, net.params)):  # NaN, inf or overflow
                    self._diverged(self.step_count + 1)
                    break
                epoch_done = self._advance(len(idx))
                done += 1
                biggest = float(np.abs(net.params - before).max()) if tol is not None else math.inf
                if self._check_stops(epoch_done, None, biggest):
                    break
        self.last_record = None
        if done and self.stopped != "diverged":
            m = self.metrics()
            if m["loss"]["train"] is None:
                self._diverged(self.step_count)  # the last update overflowed the loss
                m = self.metrics()
            elif self.stopped is None:
                self.stopping.reached_target(self.config, m)
            self._log(m)
        return done

    def run_epoch(self) -> int:
        """Updates until the current epoch ends (or training stops), in one fast-path run."""
        done = 0
        if self.pending is not None:
            self.step()
            done = 1
            if self.pos == 0:  # that update finished the epoch
                return done
        return done + self.run(self.updates_left_in_epoch())

    def updates_left_in_epoch(self, pos: int | None = None) -> int:
        """The updates from `pos` (default: now) to the end of the epoch (with batch norm, a
        last batch of one joins the one before)."""
        n, size = len(self.F_train), self.config.batch_size
        pos, k = self.pos if pos is None else pos, 0
        while pos < n:
            end = pos + size
            if self._batch_norm and n - end == 1:
                end = n
            pos, k = end, k + 1
        return k

    def updates_for(self, count: int, unit: str) -> int:
        """How many updates a `step` of `count` updates or epochs makes, if nothing stops it."""
        if unit == "epoch":
            return self.updates_left_in_epoch() + (count - 1) * self.updates_left_in_epoch(0)
        return count

    def _check_stops(self, epoch_done: bool, m: dict | None, biggest_update: float) -> bool:
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

    def _log(self, m: dict) -> None:
        """Add a point to the history; past HISTORY_MAX, every other older point goes."""
        self.history.append(m)
        if len(self.history) > HISTORY_MAX:
            old = self.history[:-HISTORY_RECENT]
            self.history[:-HISTORY_RECENT] = old[:1] + old[2::2] if len(old) > 2 else old

    def last_gradients(self) -> list[dict[str, np.ndarray]] | None:
        """Per weight layer, the last update's dW, db, the batch mean of the layer's output
        (a_mean) and of the per-example δ = ∂L_i/∂z (delta_mean); None before any update.

        Play mode's fast path keeps no record; this reads what its last update left behind.
        """
        rec = self.last_record
        traces = rec.traces if rec is not None else self._traces
        if traces is None or self.step_count == 0:
            return None
        grads = rec.grads if rec is not None else self.net.grads
        out = []
        for l, t in enumerate(traces):
            w_at, shape, b_at = self.net.layout[l]
            out.append(
                {
                    "dW": grads[w_at].reshape(shape),
                    "db": grads[b_at],
                    "a_mean": np.add.reduce(t.a, axis=0) * (1.0 / len(t.a)),
                    "delta_mean": np.add.reduce(t.dz, axis=0) if t.dz is not None else None,
                }
            )
        return out

    def _layer_norms(self, flat: np.ndarray) -> list[float]:
        """‖∂L/∂W_l‖ per weight layer: the weights' gradient only (not b, γ or β), as the
        optimizer used it (with the penalty's part when there is one)."""
        return readouts.layer_norms(self.net, flat)

    def _ratios(self, delta: np.ndarray, before: np.ndarray) -> list[float]:
        num = np.add.reduceat(delta * delta, self.net.layer_offsets[:-1])
        den = np.add.reduceat(before * before, self.net.layer_offsets[:-1])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ratios = np.sqrt(num / np.maximum(den, 1e-300)).tolist()
        return ratios if math.isfinite(sum(ratios)) else [_float(v) for v in ratios]

    def evaluate(self) -> dict:
        """Loss and accuracy on the training and test sets with the current weights."""
        head = self.head
        n_train, n_all = len(self.F_train), len(self.F_all)
        out = {"loss": {"train": None, "test": None}, "accuracy": {"train": None, "test": None}}
        if n_all == 0:
            return out
        with np.errstate(all="ignore"):
            z, yhat = self.net.predict(self.F_all, head)
            per = head.per_example(z, yhat, self.T_all)
            bounds = [0, n_train] if 0 < n_train < n_all else [0]
            sums = np.add.reduceat(per, bounds).tolist()
            ok = None
            if self.config.task != "regression":
                ok = np.add.reduceat(
                    correct(head, yhat, self.labels_all).view(np.uint8), bounds, dtype=np.int64
                ).tolist()
        splits = [("train", n_train), ("test", n_all - n_train)]
        splits = [s for s in splits if s[1]]
        for k, (name, count) in enumerate(splits):
            out["loss"][name] = _float(sums[k] / count)
            if ok is not None:
                out["accuracy"][name] = ok[k] / count
        return out

    def metrics(self, grad_norms: list | None = None) -> dict:
        """The counters and every readout of engine/readouts.py, by name: what the history
        keeps and the page charts. A record's `grad_norms` may be passed in, not recomputed."""
        return readouts.measure(self, {"grad_norms": grad_norms} if grad_norms else None)

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
        `key`, a short digest of all that: frames name the model their weights are for."""
        model = {**self.net.describe(), "features": list(self.config.features)}
        text = json.dumps(model, sort_keys=True, separators=(",", ":"))
        return {**model, "key": hashlib.blake2s(text.encode(), digest_size=4).hexdigest()}

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
        }

    def set_weight(self, layer: int, i: int, j: int, value: float) -> None:
        """Set w_ij of weight layer `layer` (0-based), keeping everything else."""
        W = self._layer(layer, self.net.weights)
        if not (0 <= i < W.shape[0] and 0 <= j < W.shape[1]):
            raise TrainerError(f"weight index must be within {W.shape[0]}×{W.shape[1]}")
        self._set(W, (i, j), value)

    def set_bias(self, layer: int, j: int, value: float) -> None:
        b = self._layer(layer, self.net.biases)
        if not 0 <= j < len(b):
            raise TrainerError(f"neuron index must be in [0, {len(b) - 1}]")
        self._set(b, (j,), value)

    def set_parameters(self, weights: list, biases: list) -> None:
        """Set every weight and bias at once, in the shapes of `parameters()`: all of them
        or, if any is misshapen, non-finite or past ±100, none."""
        net, pairs = self.net, []
        for name, have, given in (
            ("weights", net.weights, weights),
            ("biases", net.biases, biases),
        ):
            if len(given) != len(have):
                raise TrainerError(f"{name}: expected {len(have)} layers, got {len(given)}")
            for l, (a, g) in enumerate(zip(have, given)):
                try:
                    g = np.asarray(g, dtype=np.float64)
                except (ValueError, TypeError):
                    raise TrainerError(f"{name}[{l}] is not a rectangular array") from None
                if g.shape != a.shape:
                    raise TrainerError(f"{name}[{l}] has shape {g.shape}, expected {a.shape}")
                if not np.isfinite(g).all() or np.abs(g).max(initial=0.0) > 100:
                    raise TrainerError(f"{name}[{l}]: values must be finite, in [-100, 100]")
                pairs.append((a, g))
        self._discard_pending()
        for a, g in pairs:
            a[...] = g
        self._checkpoints.clear()
        self.last_record = None
        self._log(self.metrics())

    def _layer(self, layer: int, arrays: list):
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(arrays):
            raise TrainerError(f"layer must be in [0, {len(arrays) - 1}]")
        return arrays[layer]

    def _set(self, arr, index, value) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or abs(value) > 100
        ):
            raise TrainerError("value must be a finite number in [-100, 100]")
        self._discard_pending()
        arr[index] = float(value)
        self._checkpoints.clear()
        self.last_record = None
        self._log(self.metrics())

    # inspection

    def inspection_record(self, example: int | None = None) -> tuple[StepRecord, int, bool]:
        """The record the inspector explains, the batch row of `example`, and whether that
        example is in the update's batch.

        That is the last (or half-shown) update; before any, a preview of the next batch at
        the current weights. `example` is a training-set index; one outside the batch gets
        a one-example record at the same weights.
        """
        rec = self.pending or self.last_record
        if rec is None:
            rec = self._preview(self._next_batch().copy())
        if example is None:
            return rec, 0, True
        if (
            isinstance(example, bool)
            or not isinstance(example, int)
            or not 0 <= example < len(self.F_train)
        ):
            raise TrainerError(f"example must be a training index in [0, {len(self.F_train) - 1}]")
        rows = np.flatnonzero(rec.batch == example)
        if len(rows):
            return rec, int(rows[0]), True
        return self._preview(np.array([example]), rec.params_before), 0, False

    def _preview(self, idx: np.ndarray, params: np.ndarray | None = None) -> StepRecord:
        """Forward and backward on `idx` at `params` (default: the current ones) for the
        inspector, leaving no trace: weights, batch-norm statistics and the last update's
        gradients (which the backward view and the gradient-norm chart show) are kept."""
        saved, grads = self._save(), self.net.grads.copy()
        try:
            if params is not None:
                np.copyto(self.net.params, params)
            return self._record(idx)
        finally:
            self._restore(saved)
            np.copyto(self.net.grads, grads)

    def explain(self, layer: int, j: int, i: int | None = None, example: int | None = None) -> dict:
        """Chain-rule numbers for neuron j of weight layer `layer` (0-based) or, with i, for
        the weight w_ij, on training example `example` (default: the batch's first), read
        off the step with the settings it was made with (explain.py, graph.py)."""
        rec, row, in_batch = self.inspection_record(example)
        W = self._layer(layer, self.net.weights)
        if not 0 <= j < W.shape[1] or (i is not None and not 0 <= i < W.shape[0]):
            raise TrainerError(f"layer {layer} has weights of shape {W.shape[0]}×{W.shape[1]}")
        # a phase step's record, held at its phase (the update phase once applied)
        phase = (
            self.phase
            if rec is self.pending or (rec is self.last_record and self.phase == "update")
            else None
        )
        return {
            "step": rec.step,
            "applied": rec.applied,
            "phase": phase,
            "example": int(rec.batch[row]),
            "in_batch": in_batch,
            **explain.explain(self, rec, layer, j, i, row, phase),
        }

    def gradcheck(self) -> dict:
        """Finite-difference check of the last update's gradients (or the next one's)."""
        rec, _, _ = self.inspection_record()
        return explain.gradcheck(self, rec, seed=self.config.seed)

    def grid(self, n: int) -> heatmaps.Grid:
        return heatmaps.evaluate_grid(self.net, self.head, self.config.features, n)

    # snapshots

    def snapshot(self) -> dict:
        """Everything needed to continue exactly, as a JSON-able dict. A half-shown phase
        step is left out (and left alone): the snapshot is the state before it."""
        buffers = self._pending_undo.buffers if self.pending is not None else self.net.buffers
        stopping = self.stopping
        return {
            "version": SNAPSHOT_VERSION,
            "config": self.config.to_dict(),
            "edits": [e.to_json() for e in self.edits],
            "params": self.net.params.tolist(),
            "buffers": buffers.tolist(),
            "optimizer": self.optimizer.state_dict(),
            "counters": {
                "step": self.step_count,
                "epoch": self.epoch,
                "pos": self.pos,
                "best_test": None if math.isinf(stopping.best_test) else stopping.best_test,
                "bad_epochs": stopping.bad_epochs,
            },
            "stopped": self.stopped,
            "stop_message": self.stop_message,
            "history": list(self.history),
        }

    @classmethod
    def from_snapshot(cls, snap: dict) -> Trainer:
        """Rebuild a trainer from `snapshot()`, all or nothing: a malformed or out-of-range
        part raises SnapshotError naming it (snapshots.py), a bad config ConfigError."""
        snapshots.check_top(snap)
        t = cls(Config.from_dict(snap["config"]))
        for k, edit in enumerate(snap.get("edits", [])):
            try:
                t.data.apply(t.data.checked(edit_from_json(edit), t.config))
            except TrainerError as e:
                raise SnapshotError(f"edits.{k}", str(e)) from None
        t._refresh_features()
        s = snapshots.check_state(snap, t, tuple(STOP_MESSAGES))
        np.copyto(t.net.params, s["params"])
        np.copyto(t.net.buffers, s["buffers"])
        opt = t.optimizer
        if s["t"]:
            opt.load_state_dict(
                {
                    "optimizer": opt.name,
                    "t": s["t"],
                    "shapes": s["shapes"],
                    "hyperparameters": opt.hyperparameters,
                    "state": [[a.tolist() for a in s["state"]]],
                }
            )
        opt.set_hyperparameters(**_opt_kwargs(t.config))  # the config's, not the file's
        cnt = s["counters"]
        t.step_count, t.epoch, t.pos = cnt["step"], cnt["epoch"], cnt["pos"]
        stopping = t.stopping
        stopping.best_test = math.inf if cnt["best_test"] is None else cnt["best_test"]
        stopping.bad_epochs = cnt["bad_epochs"]
        stopping.reason, stopping.message = s["stopped"], s["stop_message"]
        t.history = s["history"] or [t.metrics()]
        return t


__all__ = ["SnapshotError", "Trainer", "TrainerError"]

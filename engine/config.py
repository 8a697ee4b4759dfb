"""The one configuration vocabulary shared by the engine, the protocol and the page's URL.

`FIELDS` is a declarative table (TensorFlow Playground's `state.ts` habit): each entry names
a field, its kind, its default, its allowed values and its `Effect`, what changing it does
to a running trainer. `Config` is the frozen, validated object built from it;
`Config.replace(**changes)` is the only way to change one.

Effects, from least to most (a change of several fields does the most of theirs;
`reconfigure.effect_of` decides it for a change, with its two rules about the network):

- `none`: nothing the trainer computes changes (`residual` where no skip fits the widths).
- `live`: the weights, the optimizer's state and undo's checkpoints are kept and the next
  updates are made with the new value (learning rate, regularisation, batch size, the
  stopping criteria, dropout); another optimizer keeps the weights only (a fresh state).
- `model`: live too, but the network computes another function or is trained on another
  loss (its hidden activations, output activation, loss): the page gets the model anew, and
  undo starts afresh (its replay redoes updates with today's function and loss).
- `network`: a new network drawn from the seed (its inputs, widths, init, batch norm, skips).
- `data`: new points drawn, then a new network.

`LIVE_FIELDS` (the fields whose change keeps the weights: `live` and `model`), `MODEL_FIELDS`,
`NETWORK_FIELDS` and `DATA_FIELDS` are derived from the table, and `OPTIMIZER_FIELDS` (each
optimizer's hyperparameters, by field name) from engine/optimizers.py.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass
from typing import Any

from . import activations, losses, optimizers

# the functions and heads the engine defines, in their modules' order: one list each
ACTIVATIONS = tuple(activations.ACTIVATIONS)
OUTPUT_ACTIVATIONS = ("tanh", "linear", "sigmoid", "softmax")
LOSSES = tuple(losses.HEADS)
INITS = ("uniform", "xavier", "he", "zeros")
OPTIMIZERS = tuple(optimizers.REGISTRY)
REGULARIZATIONS = ("none", "l1", "l2")
FEATURES = ("x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2")

# your_data*: a CSV file's points (engine/csv_points.py), one name per task the file's labels set
BINARY_DATASETS = (
    "circle",
    "xor",
    "gaussian",
    "spiral",
    "moons",
    "checkerboard",
    "custom",
    "your_data",
)
REGRESSION_DATASETS = ("plane", "multi_gaussian", "your_data_regression")
MULTICLASS_DATASETS = ("blobs", "multi_spiral", "your_data_classes")
IMPORTED_DATASETS = ("your_data", "your_data_regression", "your_data_classes")
DATASETS = BINARY_DATASETS + REGRESSION_DATASETS + MULTICLASS_DATASETS

# Output activation / loss pairs the engine supports, per task.
HEADS = {
    "binary": (("tanh", "mse"), ("sigmoid", "bce"), ("sigmoid", "mse"), ("linear", "mse")),
    "regression": (("linear", "mse"), ("tanh", "mse")),
    "multiclass": (("softmax", "cross_entropy"),),
}

MAX_INPUTS = len(FEATURES)
MAX_HIDDEN_LAYERS = 8
MAX_WIDTH = 32
MAX_POINTS = 2000
MAX_CLASSES = 5
MAX_DROPOUT = 0.9


class ConfigError(ValueError):
    """A config value is invalid; `field` names it and the message gives the allowed range."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def task_of(dataset: str) -> str:
    """'binary', 'regression' or 'multiclass'."""
    if dataset in REGRESSION_DATASETS:
        return "regression"
    if dataset in MULTICLASS_DATASETS:
        return "multiclass"
    return "binary"


class Effect(str, enum.Enum):
    """What changing a field does to a running trainer (the module docstring says each), in
    increasing order; `none` is a change that alters nothing the trainer computes."""

    NONE = "none"
    LIVE = "live"
    MODEL = "model"
    NETWORK = "network"
    DATA = "data"

    @property
    def rank(self) -> int:
        return _EFFECT_RANK[self]


_EFFECT_RANK = {e: k for k, e in enumerate(Effect)}
LIVE, MODEL, NETWORK, DATA = Effect.LIVE, Effect.MODEL, Effect.NETWORK, Effect.DATA


@dataclass(frozen=True)
class Field:
    """One row of the table: `kind` is bool, int, float, choice, choices, widths or per_layer;
    `effect` is what changing it does to a running trainer."""

    name: str
    kind: str
    default: Any
    group: str
    effect: Effect
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False  # None switches the feature off
    help: str = ""


FIELDS: tuple[Field, ...] = (
    # data
    Field("dataset", "choice", "circle", "data", DATA, choices=DATASETS, help="which data set"),
    Field("n_points", "int", 500, "data", DATA, lo=10, hi=MAX_POINTS, help="number of points"),
    Field("noise", "float", 0.0, "data", DATA, lo=0.0, hi=0.5, help="noise level"),
    Field("train_fraction", "float", 0.5, "data", DATA, lo=0.1, hi=0.9, help="share used to train"),
    Field(
        "seed", "int", 0, "data", DATA, lo=0, hi=2**31 - 1, help="seed for data, weights, batches"
    ),
    Field(
        "n_classes", "int", 3, "data", DATA, lo=3, hi=MAX_CLASSES, help="classes (blobs, spiral)"
    ),
    Field(
        "features",
        "choices",
        ("x1", "x2"),
        "data",
        NETWORK,
        choices=FEATURES,
        help="input features",
    ),
    # network
    Field(
        "hidden",
        "widths",
        (4, 2),
        "network",
        NETWORK,
        lo=1,
        hi=MAX_WIDTH,
        help="hidden layer widths",
    ),
    Field(
        "activation",
        "per_layer",
        "tanh",
        "network",
        MODEL,
        choices=ACTIVATIONS,
        help="hidden activation, one for all layers or one per layer",
    ),
    Field("output_activation", "choice", "tanh", "network", MODEL, choices=OUTPUT_ACTIVATIONS),
    Field("loss", "choice", "mse", "network", MODEL, choices=LOSSES),
    Field(
        "init", "choice", "uniform", "network", NETWORK, choices=INITS, help="weight initialisation"
    ),
    Field(
        "batch_norm", "bool", False, "network", NETWORK, help="batch normalization on hidden layers"
    ),
    Field(
        "dropout",
        "float",
        0.0,
        "network",
        LIVE,
        lo=0.0,
        hi=MAX_DROPOUT,
        help="dropout rate on hidden layers",
    ),
    Field(
        "residual", "bool", False, "network", NETWORK, help="skip connections where widths match"
    ),
    # optimizer
    Field("optimizer", "choice", "sgd", "optimizer", LIVE, choices=OPTIMIZERS),
    Field("learning_rate", "float", 0.03, "optimizer", LIVE, lo=0.0, hi=10.0, help="step size α"),
    Field("momentum", "float", 0.9, "optimizer", LIVE, lo=0.0, hi=0.999),
    Field("beta1", "float", 0.9, "optimizer", LIVE, lo=0.0, hi=0.9999),
    Field("beta2", "float", 0.999, "optimizer", LIVE, lo=0.0, hi=0.99999),
    Field("eps", "float", 1e-8, "optimizer", LIVE, lo=1e-12, hi=1.0),
    Field("alpha", "float", 0.99, "optimizer", LIVE, lo=0.0, hi=0.9999, help="RMSprop smoothing"),
    # regularisation
    Field("regularization", "choice", "none", "regularization", LIVE, choices=REGULARIZATIONS),
    Field("regularization_rate", "float", 0.0, "regularization", LIVE, lo=0.0, hi=10.0),
    # training
    Field(
        "batch_size", "int", 10, "training", LIVE, lo=1, hi=MAX_POINTS, help="examples per update"
    ),
    Field("max_epochs", "int", None, "training", LIVE, lo=1, hi=1_000_000, optional=True),
    Field("target_loss", "float", None, "training", LIVE, lo=0.0, hi=1e6, optional=True),
    Field(
        "patience",
        "int",
        None,
        "training",
        LIVE,
        lo=1,
        hi=100_000,
        optional=True,
        help="epochs without test-loss improvement before early stopping",
    ),
    Field(
        "tolerance",
        "float",
        None,
        "training",
        LIVE,
        lo=0.0,
        hi=1.0,
        optional=True,
        help="stop when the largest update is below this",
    ),
)
FIELD_BY_NAME = {f.name: f for f in FIELDS}


def _fields_with(*effects: Effect) -> frozenset[str]:
    return frozenset(f.name for f in FIELDS if f.effect in effects)


DATA_FIELDS = _fields_with(DATA)  # new points, then a new network
NETWORK_FIELDS = _fields_with(NETWORK)  # a new network on the same points
MODEL_FIELDS = _fields_with(MODEL)  # live changes of the function the network computes
LIVE_FIELDS = _fields_with(LIVE, MODEL)  # the weights live through them
# each optimizer's hyperparameters by config field name, in its declaration's order
OPTIMIZER_FIELDS: dict[str, tuple[str, ...]] = {
    name: cls.fields for name, cls in optimizers.REGISTRY.items()
}
assert {n for fields in OPTIMIZER_FIELDS.values() for n in fields} <= LIVE_FIELDS


def _check(f: Field, value: Any) -> Any:
    """Validate and normalise one value, raising ConfigError naming the field."""
    if value is None:
        if f.optional:
            return None
        raise ConfigError(f.name, "must not be null")
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f.name, "must be true or false")
        return value
    if f.kind == "choice":
        if not isinstance(value, str) or value not in f.choices:
            raise ConfigError(f.name, f"must be one of {', '.join(f.choices)}")
        return value
    if f.kind == "choices":
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f.name, f"must be a list drawn from {', '.join(f.choices)}")
        bad = [v for v in value if v not in f.choices]
        if bad or not value:
            raise ConfigError(f.name, f"must be a non-empty list drawn from {', '.join(f.choices)}")
        return tuple(c for c in f.choices if c in value)  # canonical order, no repeats
    if f.kind == "widths":
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f.name, "must be a list of layer widths")
        if len(value) > MAX_HIDDEN_LAYERS:
            raise ConfigError(f.name, f"at most {MAX_HIDDEN_LAYERS} hidden layers")
        for w in value:
            if isinstance(w, bool) or not isinstance(w, int) or not f.lo <= w <= f.hi:
                raise ConfigError(f.name, f"each width must be an integer in [{f.lo:g}, {f.hi:g}]")
        return tuple(value)
    if f.kind == "per_layer":
        if isinstance(value, str):
            if value not in f.choices:
                raise ConfigError(f.name, f"must be one of {', '.join(f.choices)}")
            return value
        if not isinstance(value, (list, tuple)) or not value:
            raise ConfigError(f.name, "must be a name or a list of names, one per hidden layer")
        for v in value:
            if v not in f.choices:
                raise ConfigError(f.name, f"each entry must be one of {', '.join(f.choices)}")
        return tuple(value)
    if f.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f.name, "must be an integer")
        if not f.lo <= value <= f.hi:
            raise ConfigError(f.name, f"must be in [{f.lo:g}, {f.hi:g}]")
        return value
    if f.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f.name, "must be a number")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f.name, "must be finite")
        if f.name == "learning_rate" and value <= 0.0:
            raise ConfigError(f.name, "must be in (0, 10]")
        if not f.lo <= value <= f.hi:
            raise ConfigError(f.name, f"must be in [{f.lo:g}, {f.hi:g}]")
        return value
    raise AssertionError(f.kind)


@dataclass(frozen=True)
class Config:
    """A validated training configuration. Build with `Config(...)` or `Config.from_dict`."""

    dataset: str = "circle"
    n_points: int = 500
    noise: float = 0.0
    train_fraction: float = 0.5
    seed: int = 0
    n_classes: int = 3
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    activation: str | tuple[str, ...] = "tanh"
    output_activation: str = "tanh"
    loss: str = "mse"
    init: str = "uniform"
    batch_norm: bool = False
    dropout: float = 0.0
    residual: bool = False
    optimizer: str = "sgd"
    learning_rate: float = 0.03
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    alpha: float = 0.99
    regularization: str = "none"
    regularization_rate: float = 0.0
    batch_size: int = 10
    max_epochs: int | None = None
    target_loss: float | None = None
    patience: int | None = None
    tolerance: float | None = None

    def __post_init__(self):
        for f in FIELDS:
            object.__setattr__(self, f.name, _check(f, getattr(self, f.name)))
        acts = self.activation
        if isinstance(acts, tuple) and len(acts) != len(self.hidden):
            raise ConfigError(
                "activation", f"a list needs one entry per hidden layer ({len(self.hidden)})"
            )
        if self.batch_norm and self.hidden and self.batch_size < 2:
            raise ConfigError(
                "batch_size",
                "batch norm needs at least 2 examples per batch: it normalizes "
                "each neuron over the batch, and one example alone becomes β with no gradient "
                "below it (PyTorch refuses it too)",
            )
        task = self.task
        if (self.output_activation, self.loss) not in HEADS[task]:
            pairs = "; ".join(f"{a} with {lo}" for a, lo in HEADS[task])
            raise ConfigError(
                "loss",
                f"{self.output_activation} with {self.loss} does not fit a {task} "
                f"data set; use {pairs}",
            )

    @property
    def task(self) -> str:
        return task_of(self.dataset)

    @property
    def n_outputs(self) -> int:
        return self.n_classes if self.task == "multiclass" else 1

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (len(self.features), *self.hidden, self.n_outputs)

    @property
    def hidden_activations(self) -> tuple[str, ...]:
        if isinstance(self.activation, str):
            return (self.activation,) * len(self.hidden)
        return self.activation

    def optimizer_hyperparameters(self) -> dict[str, float]:
        """The keyword arguments of this config's optimizer (make_optimizer,
        set_hyperparameters), e.g. {"lr": 0.03} for sgd: its `OPTIMIZER_FIELDS`' values."""
        opt = optimizers.REGISTRY[self.optimizer]
        return {k: getattr(self, optimizers.CONFIG_FIELDS[k]) for k in opt.defaults}

    def replace(self, **changes: Any) -> Config:
        """A new Config with `changes` applied; unknown names raise ConfigError.

        Changing only `dataset` to one of another task also switches the output head to that
        task's default, and changing `hidden` drops a per-layer activation list that no
        longer fits, so the page can send one field at a time.
        """
        for name in changes:
            if name not in FIELD_BY_NAME:
                raise ConfigError(name, "unknown config field")
        merged = {f.name: getattr(self, f.name) for f in FIELDS}
        merged.update(changes)
        if "dataset" in changes and not {"output_activation", "loss"} & changes.keys():
            task = task_of(changes["dataset"]) if changes["dataset"] in DATASETS else None
            if task and (merged["output_activation"], merged["loss"]) not in HEADS[task]:
                merged["output_activation"], merged["loss"] = HEADS[task][0]
        if "output_activation" in changes and "loss" not in changes:
            task = task_of(merged["dataset"]) if merged["dataset"] in DATASETS else None
            match = [lo for a, lo in HEADS.get(task, ()) if a == changes["output_activation"]]
            if match and (changes["output_activation"], merged["loss"]) not in HEADS[task]:
                merged["loss"] = match[0]
        if (
            "hidden" in changes
            and "activation" not in changes
            and isinstance(merged["activation"], (list, tuple))
            and isinstance(changes["hidden"], (list, tuple))
            and len(changes["hidden"]) != len(merged["activation"])
        ):
            acts = list(merged["activation"])
            n = len(changes["hidden"])
            merged["activation"] = tuple((acts + [acts[-1]] * n)[:n]) if n else acts[0]
        return Config(**merged)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict with lists for tuples."""
        out = {}
        for f in FIELDS:
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        return cls().replace(**d)

    def changed_fields(self, other: Config) -> set[str]:
        return {f.name for f in FIELDS if getattr(self, f.name) != getattr(other, f.name)}


def schema() -> list[dict[str, Any]]:
    """The field table as JSON-able dicts, for the page's controls and the protocol's hello."""
    rows = []
    for f in FIELDS:
        row = dataclasses.asdict(f)
        row["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
        row["choices"] = list(f.choices)
        row["effect"] = f.effect.value
        rows.append(row)
    return rows

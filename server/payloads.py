"""The typed payloads messages carry, in both directions: configs, the network's model, the
points, a selection, the inspection, a gradient check, a CSV file's preview, a snapshot.

Each is a pydantic model of what the engine writes (its JSON shape in the docstring), so the
page's types (static/js/contract.js) and the parser's refusals follow from one place. What
the engine leaves out rather than nulls is `omitted()` (not sent while None), so a message
is as the engine wrote it; a `Sparse` payload sends exactly the fields it was given.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    model_serializer,
)

from engine import config as engine_config
from engine.config import FIELDS, MAX_CLASSES, MAX_HIDDEN_LAYERS, MAX_POINTS, MAX_WIDTH
from engine.readouts import COUNTERS, READOUTS, Shape
from engine.snapshots import MAX_EDITS, SNAPSHOT_VERSION
from engine.stopping import STOP_MESSAGES

MAX_INDEX = 4 * MAX_POINTS  # no list the engine keeps is longer (points grow by editing)
LayerIndex = Annotated[int, Field(ge=0, le=MAX_HIDDEN_LAYERS)]
NeuronIndex = Annotated[int, Field(ge=0, lt=max(MAX_WIDTH, MAX_CLASSES) + 1)]
Index = Annotated[int, Field(ge=0, le=MAX_INDEX)]


class Inbound(BaseModel):
    """A client's payload: exact JSON types, no unknown fields, no NaN."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sparse(Outbound):
    """Sends only the fields it was given, null ones too (a partial config, the view a
    presenter has shared so far)."""

    @model_serializer(mode="wrap")
    def _given(self, handler):
        out = handler(self)
        return {k: v for k, v in out.items() if k in self.model_fields_set}


def _none(value) -> bool:
    return value is None


def omitted(default=None) -> Any:
    """A field the engine leaves out rather than nulls: not sent while None."""
    return Field(default, exclude_if=_none)


# Configs, from the engine's field table (engine/config.py FIELDS)


def _value_type(f: engine_config.Field, loose: bool) -> Any:
    """A config field's JSON type by its kind. `loose` (a client's changes): whatever the
    engine itself accepts before it checks bounds (an integer as 2.0, say), so the engine,
    not the parser, decides and names the field."""
    choice = str  # the names are in the field table (and the engine checks them)
    t = {
        "bool": bool,
        "choice": choice,
        "choices": list[choice],
        "widths": list[int],
        "per_layer": Union[choice, list[choice]],  # noqa: UP007
        "int": Union[int, float] if loose else int,  # noqa: UP007
        "float": float,
    }[f.kind]
    return t | None if f.optional else t


class _ConfigChangesBase(Inbound, Sparse):  # a null switches a field off: sent
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


ConfigChanges = create_model(
    "ConfigChanges",
    __base__=_ConfigChangesBase,
    __doc__="""Some config fields by the engine's names, `{"learning_rate": 0.1, "hidden": [4, 4]}`:
    what a client asks to change (`configure`, `compare`) and compare mode's run B's changes.
    The engine checks the values (a refusal is `bad_config` naming the field).""",
    **{f.name: (_value_type(f, loose=True), None) for f in FIELDS},
)
ConfigValues = create_model(
    "ConfigValues",
    __base__=Outbound,
    __doc__="""A whole config, every field of engine/config.py FIELDS (Config.to_dict):
    `state.config`, `hello.defaults`, compare mode's run B.""",
    **{f.name: (_value_type(f, loose=False), ...) for f in FIELDS},
)
ConfigValue = Union[bool, int, float, str, list[str], list[int], None]  # noqa: UP007
EffectName = Literal[tuple(e.value for e in engine_config.Effect)]  # type: ignore[valid-type]


class ConfigField(Outbound):
    """One row of the engine's field table (engine.config.schema), for the page's controls:
    `{"name": "noise", "kind": "float", "default": 0.0, "group": "data", "lo": 0.0, "hi":
    0.5, "choices": [], "optional": false, "help": "noise level", "effect": "data"}`."""

    name: str
    kind: Literal["bool", "int", "float", "choice", "choices", "widths", "per_layer"]
    default: ConfigValue
    group: str
    lo: int | float | None
    hi: int | float | None
    choices: list[str]
    optional: bool
    help: str
    effect: EffectName  # what changing it does to a running trainer (engine.config.Effect)


# The network and the data


class Constants(Outbound):
    leaky_slope: float
    elu_alpha: float


class Model(Outbound):
    """The network as a page evaluates it (Trainer.model): `{"sizes": [2, 4, 2, 1],
    "activations": ["tanh", "tanh"], "output_activation": "tanh", "batch_norm": false,
    "skip": [false, false, false], "constants": {"leaky_slope": 0.01, "elu_alpha": 1.0},
    "features": ["x1", "x2"], "key": "c5bf64c3"}`; `skip[l]`: weight layer l adds its input
    to its output; `key` names the model a weights frame is for."""

    sizes: list[int]
    activations: list[str]
    output_activation: str
    batch_norm: bool
    skip: list[bool]
    constants: Constants
    features: list[str]
    key: str


class PointSet(Outbound):
    """One split's points: `x` (n × 2, the plot's units) and `y`, integer labels (binary,
    classes) or numbers (regression)."""

    x: list[tuple[float, float]]
    y: list[int] | list[float]


class Scale(Outbound):
    """How a CSV column maps to the plot: `{"column": "length", "lo": 4.3, "hi": 7.9, "to":
    [-5, 5]}`."""

    column: str
    lo: float
    hi: float
    to: tuple[float, float]


class DataSource(Outbound):
    """An imported file's points (csv_points.ImportedData.axes): its name, the columns'
    scales and the class names."""

    name: str
    task: Literal["binary", "regression", "multiclass"]
    scales: list[Scale]
    class_names: list[str]


class Points(Outbound):
    """`state.points`: `{"train": {"x": [[x1, x2], ...], "y": [...]}, "test": {...},
    "source": {<DataSource>} | null}` (Trainer.points)."""

    train: PointSet
    test: PointSet
    source: DataSource | None


class Split(Outbound):
    train: int
    test: int


class Preview(DataSource):
    """What `import_points` would load (csv_points.ImportedData.preview): the axes, `rows`,
    `columns`, the data set it becomes, whether it had a header, its delimiter, the points
    per class and the file's own split (null: the config's train share decides)."""

    rows: int
    columns: list[str]
    dataset: str
    header: bool
    delimiter: Literal["comma", "semicolon", "tab"]
    class_counts: list[int]
    split: Split | None


# What the presenter points at


class Selection(Inbound):
    """What the presenter's inspector shows or a question names: `{"kind": "link", "layer":
    0, "i": 1, "j": 2}`. `layer` is a node layer for a neuron (0: the inputs) and a weight
    layer for a link or a bias (weight layer l feeds node layer l + 1); `j` the neuron, `i`
    (links only) the neuron of node layer `layer` the link comes from."""

    kind: Literal["neuron", "link", "bias"]
    layer: LayerIndex
    j: NeuronIndex
    i: NeuronIndex | None = omitted()

    @property
    def node_layer(self) -> int:
        """The node layer of neuron `j` (0: the inputs)."""
        return self.layer if self.kind == "neuron" else self.layer + 1

    @property
    def weight_layer(self) -> int:
        """The weight layer the selection's parameter is in, or (a neuron) that feeds it."""
        return self.layer - 1 if self.kind == "neuron" else self.layer


# The inspection (engine/explain.py): the chain rule with the engine's numbers


class Expr(Outbound):
    """An equation's right-hand side as a tree (engine/expressions.py): a leaf `{"op":
    "num", "label": "w₁₂", "value": 0.057}`, or `{"op": "mul" | "add" | "sub" | "div" |
    "sqrt" | "mean", "args": [...], "value": ..., "label"?, "count"? (mean)}`; every value
    the engine's own number."""

    op: Literal["num", "mul", "add", "sub", "div", "sqrt", "mean"]
    value: float
    label: str | None = omitted()
    args: list[Expr] | None = omitted()
    count: int | None = omitted()


class Local(Outbound):
    """A node's local derivative, `{"label": "tanh′(z)", "value": 0.99}`."""

    label: str
    value: float


class GraphNode(Outbound):
    """One node of the chain from the parameter to the loss: its value, what it is, ∂L/∂
    of it (null where not shown) and the local derivative on its edge."""

    id: str
    label: str
    value: float
    what: str
    grad: float | None
    local: Local | None


class Equation(Outbound):
    """One step of the walk: `lhs = expr = value`."""

    id: str
    title: str
    lhs: str
    expr: Expr
    value: float


class Graph(Outbound):
    """The computational graph and its equations (engine/graph.py Chain.build)."""

    nodes: list[GraphNode]
    equations: list[Equation]
    grad_symbol: str
    batch_size: int
    row: int


class NeuronNumbers(Outbound):
    """The neuron's values on the traced example (`row` of the batch) and over the batch
    (null for an evaluation), δ once the backward pass is shown, and at the output the
    prediction, the example's loss and its target."""

    layer: int  # the weight layer feeding the neuron
    neuron: int
    row: int
    z: float
    a: float
    z_mean: float | None
    a_mean: float | None
    delta: float | None
    delta_mean: float | None
    yhat: float | None = omitted()
    loss: float | None = omitted()
    target: float | None = omitted()


class UpdateTerms(Outbound):
    """One weight's last update (Optimizer.update_terms): the rule, the hyperparameters the
    optimizer uses, its state values, the change `step` and `expr`, w − the amount."""

    optimizer: str
    rule: str
    lr: float
    momentum: float | None = omitted()
    alpha: float | None = omitted()
    beta1: float | None = omitted()
    beta2: float | None = omitted()
    eps: float | None = omitted()
    t: int
    grad: float
    weight_before: float
    velocity: float | None = omitted()
    lookahead: float | None = omitted()
    m: float | None = omitted()
    v: float | None = omitted()
    m_hat: float | None = omitted()
    v_hat: float | None = omitted()
    step: float
    weight_after: float
    expr: Expr


class WeightNumbers(Outbound):
    """The weight w[i, j] of weight layer `layer`: its value before the update, ∂L/∂w once
    the backward pass is shown, and once applied its update, the value after and Δw."""

    layer: int
    i: int
    j: int
    row: int
    weight: float
    grad: float | None = omitted()
    update: UpdateTerms | None = omitted()
    weight_after: float | None = omitted()
    delta_w: float | None = omitted()


class InspectionResult(Outbound):
    """Trainer.explain: which update it shows (`step`, `applied`, the `phase` held), the
    traced `example` and whether it was in the batch (else an `evaluation` at the current
    weights, with the `update` the next one), the graph, the passes it `shows`, the settings
    changed since, the neuron's numbers, every neuron's δ on the example (`deltas`, per weight
    layer, once backward is shown) and with a source neuron the weight's."""

    step: int
    applied: bool
    phase: str | None
    example: int
    in_batch: bool
    evaluation: bool
    update: int | None = omitted()
    graph: Graph
    shows: list[Literal["forward", "loss", "backward", "update"]]
    settings_changed: list[str]
    neuron: NeuronNumbers
    deltas: list[list[float]] | None = omitted()
    weight: WeightNumbers | None = omitted()


# A gradient check (engine/gradcheck.py)


class Worst(Outbound):
    index: int | None
    layer: int | None
    numeric: float | None
    backprop: float | None


class GradcheckReport(Outbound):
    """Finite differences against backprop for the last update: the largest relative error
    (null if none was checked), how many parameters were checked of how many, those below
    the noise floor or at a ReLU kink, notes, the step size `h`, the floor and tolerance,
    the update and its loss, the worst parameter and whether it `passed`."""

    max_rel_error: float | None
    n_checked: int
    n_params: int
    n_noise: int
    n_kink: int
    n_at_kink: int
    notes: list[str]
    h: float
    floor: float
    tolerance: float
    step: int
    loss: float | None
    worst: Worst
    passed: bool


# Readouts (engine/readouts.py), and the snapshot that carries their history


class Splits(Outbound):
    """`{"train": 0.21, "test": 0.24}`: a readout over the training and the test set (mean
    data loss, accuracy); null when a split is empty or the number is not defined."""

    train: float | None
    test: float | None


# A readout's type by its shape (engine.readouts.Shape).
READOUT_TYPES: dict[Shape, Any] = {Shape.SPLITS: Splits, Shape.LAYERS: list[float | None]}
# The fields of a metrics object: the counters, then every readout the engine lists
# (engine/readouts.py READOUTS), so a new readout needs no field here.
METRICS_FIELDS: dict[str, tuple] = {
    **{name: (int, ...) for name in COUNTERS},
    **{r.name: (READOUT_TYPES[r.shape], ...) for r in READOUTS},
}

Readings = create_model(
    "Readings",
    __base__=Outbound,
    __doc__="""The numbers of one step, as `Trainer.metrics()` gives them and the page charts
    them: `{"step": 12, "epoch": 0, "loss": {"train": 0.41, "test": 0.43}, "accuracy":
    {"train": 0.7, "test": 0.68}, "grad_norms": [0.06, 0.11, 0.41]}` (a field per readout of
    engine/readouts.py). `state.metrics`, each `state.history` entry.""",
    **METRICS_FIELDS,
)


class _SnapshotPart(Inbound):
    """Parts of a snapshot: typed as the engine writes them; the engine checks the rest."""


class Counters(_SnapshotPart):
    step: Annotated[int, Field(ge=0)]
    epoch: Annotated[int, Field(ge=0)]
    pos: Annotated[int, Field(ge=0)]
    best_test: Annotated[float, Field(ge=0)] | None
    bad_epochs: Annotated[int, Field(ge=0)] = 0


class OptimizerState(_SnapshotPart):
    """Optimizer.state_dict: the step count t, the hyperparameters (the config's are used on
    load), and per parameter array its shape and one array per state name."""

    optimizer: Literal[engine_config.OPTIMIZERS]  # type: ignore[valid-type]
    t: Annotated[int, Field(ge=0)]
    hyperparameters: dict[str, float]
    shapes: list[list[int]]
    state: list[list[list[float]]]


class ImportedFile(_SnapshotPart):
    """A CSV file a session trains on: its name and its canonical text."""

    name: str
    csv: str


class SplitsKept(_SnapshotPart):
    train: float | None
    test: float | None


class _SnapshotReadings(_SnapshotPart):
    pass


_KEPT_TYPES: dict[Shape, Any] = {Shape.SPLITS: SplitsKept, Shape.LAYERS: list[float | None]}
SnapshotReadings = create_model(
    "SnapshotReadings",
    __base__=_SnapshotReadings,
    __doc__="A history entry as a snapshot keeps it (engine/snapshots.py checks the bounds).",
    **{name: (Annotated[int, Field(ge=0)], ...) for name in COUNTERS},
    **{r.name: (_KEPT_TYPES[r.shape], ...) for r in READOUTS},
)


def _tuple(value):
    return tuple(value) if isinstance(value, list) else value


# a point edit: a JSON array read as a tuple (["add", split, x1, x2, label] or ["remove",
# split, index])
Edit = Annotated[
    Union[  # noqa: UP007
        tuple[Literal["add"], Literal["train", "test"], float, float, Union[int, float]],  # noqa: UP007
        tuple[Literal["remove"], Literal["train", "test"], int],
    ],
    BeforeValidator(_tuple),
]


class SnapshotFile(_SnapshotPart):
    """An exported session (engine/snapshots.py, version 1): everything needed to continue
    exactly. `edits` are the points added (`["add", split, x1, x2, label]`) or removed
    (`["remove", split, index]`) by hand; `params` and `buffers` the network's flat vectors;
    `history` the metrics so far."""

    version: Literal[SNAPSHOT_VERSION]  # type: ignore[valid-type]
    config: ConfigChanges  # type: ignore[valid-type]
    edits: Annotated[list[Edit], Field(max_length=MAX_EDITS)] = []
    imported: ImportedFile | None = omitted()
    params: list[float]
    buffers: list[float]
    optimizer: OptimizerState
    counters: Counters
    stopped: Literal[tuple(STOP_MESSAGES)] | None = None  # type: ignore[valid-type]
    stop_message: Annotated[str, Field(max_length=1000)] = ""
    history: list[SnapshotReadings] = []  # type: ignore[valid-type]

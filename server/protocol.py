"""The WebSocket protocol, defined once: every message type, its JSON shape and the error codes.

Text frames carry one JSON object with a `type`. Binary frames (server → client only) carry
bulk arrays; their layout lives in `frames.py`. `docs/protocol.md` documents all of it with
examples. Bump `PROTOCOL_VERSION` on any change a page must know about.

`parse_client_message(text)` is the one way a client's text becomes a model: it raises
`ProtocolError` carrying the error code and the offending field. `encode(message)` is the one
way a model becomes text: `json.dumps(..., allow_nan=False)`.
"""

from __future__ import annotations

import enum
import json
import math
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from engine.config import (
    BINARY_DATASETS,
    HEADS,
    LIVE_FIELDS,
    MAX_CLASSES,
    MAX_HIDDEN_LAYERS,
    MAX_POINTS,
    MAX_WIDTH,
    MULTICLASS_DATASETS,
    REGRESSION_DATASETS,
)
from engine.csv_points import MAX_CSV_CHARS, MAX_NAME_CHARS
from engine.features import FEATURE_LABELS
from engine.readouts import COUNTERS, READOUT_NAMES, READOUTS, Shape

from .lessons import CHARTS, LESSONS

PROTOCOL_VERSION = 5
# What a room's follower may send: it reads along, answers the presenter's question, saves a
# copy, forks or stops following.
FOLLOWER_MESSAGES = frozenset({"answer", "export", "export_points", "fork", "leave"})
# The messages that may be over max_message_bytes (up to max_import_bytes): files
LARGE_MESSAGES = frozenset({"import", "import_points"})
# What a presenter may ask the class (server/questions.py has one kind each: a test checks)
QUESTION_KINDS = ("update_sign", "delta_value", "loss_direction", "class_of_point")
QUESTION_ID = r"^[0-9a-f]{8}$"

MAX_INDEX = 4 * MAX_POINTS  # no list the engine keeps is longer (points grow by editing)
MAX_JSON_INT = 2**53  # larger integers lose precision in a browser's JSON.parse
WEIGHT_LIMIT = 100.0  # |value| a weight or bias may be set to
STEP_UNITS = ("update", "epoch", "phase")


class ErrorCode(str, enum.Enum):
    """The closed set of `error.code` values."""

    MALFORMED = "malformed"  # not JSON, or not a JSON object
    BINARY_FRAME = "binary_frame"  # a binary frame where JSON is expected
    TOO_LARGE = "too_large"  # the message is over the size limit
    UNKNOWN_TYPE = "unknown_type"  # `type` names no message
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TYPE = "wrong_type"  # e.g. a string where a number belongs
    OUT_OF_RANGE = "out_of_range"  # a number past its bounds, or a name outside its set
    NOT_FINITE = "not_finite"  # NaN or ±Infinity, or a number JSON cannot carry exactly
    BAD_CONFIG = "bad_config"  # the engine refused a config value; `field` names it
    REJECTED = "rejected"  # valid, but not possible now (no points, index past the data...)
    RATE_LIMITED = "rate_limited"  # over the per-client token bucket; the message was dropped
    FORBIDDEN = "forbidden"  # a room's follower tried to drive it; only the presenter can
    INTERNAL = "internal"  # a fault in the server; it was logged, the session goes on


class CloseCode(enum.IntEnum):
    """WebSocket close codes this server sends, all in the application range 4000–4999."""

    SHUTTING_DOWN = 4000  # the server is stopping; reconnect later to resume
    REPLACED = 4001  # the same session was resumed by another connection
    LEFT = 4002  # the client sent `leave`: the session is gone, its slot freed
    SERVER_FULL = 4003  # a cap on sessions or followers (the server's or the address's)
    ROOM_GONE = 4004  # no room has this code (it closed or expired), or the token is wrong
    SLOW_DOWN = 4005  # too many wrong room codes from this address: wait, then try again
    WRONG_PROTOCOL = 4006  # the client's `?protocol=` is not PROTOCOL_VERSION: reload the page


class ProtocolError(Exception):
    """A client message that cannot be carried out; answered with an `error` message."""

    def __init__(
        self, code: ErrorCode, message: str, field: str | None = None, re: str | None = None
    ):
        super().__init__(message)
        self.code, self.message, self.field, self.re = code, message, field, re


class _NotFinite(ValueError):
    pass


def _reject_constant(name: str):
    raise _NotFinite(f"{name} is not allowed: numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(f"{text[:20]} overflows: numbers must be finite")
    return value


def _check_json_numbers(value: Any, path: str) -> None:
    """Integers inside free-form objects must fit a browser's exact integer range."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return
    if isinstance(value, int):
        if abs(value) > MAX_JSON_INT:
            raise ProtocolError(ErrorCode.NOT_FINITE, f"{value} is too large", path)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_json_numbers(v, f"{path}.{k}")
    else:
        for i, v in enumerate(value):
            _check_json_numbers(v, f"{path}.{i}")


class _Message(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


FreeConfig = Annotated[dict[str, Any], Field(max_length=64)]
Index = Annotated[int, Field(ge=0, le=MAX_INDEX)]
LayerIndex = Annotated[int, Field(ge=0, le=MAX_HIDDEN_LAYERS)]
NeuronIndex = Annotated[int, Field(ge=0, lt=max(MAX_WIDTH, MAX_CLASSES) + 1)]


# client → server


class Configure(_Message):
    """`{"type": "configure", "config": {"dataset": "xor", "hidden": [4, 4]}}`: a partial
    config in the engine's field names. Data or topology changes rebuild and reset training;
    answered with `state`."""

    type: Literal["configure"]
    config: FreeConfig


class Set(_Message):
    """`{"type": "set", "config": {"learning_rate": 0.1}}`: change live hyperparameters only
    (fields that keep the weights); answered with `state`."""

    type: Literal["set"]
    config: FreeConfig


class Step(_Message):
    """`{"type": "step", "count": 1, "unit": "update"}`: `count` updates (≤ 1000), epochs
    (≤ 10) or phases (forward → loss → backward → update). Both fields are optional; a bare
    `{"type": "step"}` makes exactly one update. Answered with `step` and a record frame."""

    type: Literal["step"]
    count: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    unit: Literal["update", "epoch", "phase"] = "update"


class Play(_Message):
    """`{"type": "play", "rate": 750}` or `{"type": "play", "speed": 1}`: train
    continuously, `rate` updates a second (below the frame rate, one update a frame, each
    shown; above it, rate/frame_rate updates a frame), or `speed` updates a frame; the
    server streams `metrics` and heatmap frames until `pause`. Answered with `state`."""

    type: Literal["play"]
    speed: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    rate: Annotated[float, Field(gt=0, le=1_000_000)] | None = None


class Pause(_Message):
    """`{"type": "pause"}`: stop playing; answered with `state`."""

    type: Literal["pause"]


class Reset(_Message):
    """`{"type": "reset", "data": false}`: fresh weights from the seed, counters and history
    cleared; with `data`, the points added or removed by hand are dropped too."""

    type: Literal["reset"]
    data: bool = False


class StepBack(_Message):
    """`{"type": "step_back"}`: undo the last update (or a half-shown phase step)."""

    type: Literal["step_back"]


class Inspect(_Message):
    """`{"type": "inspect", "layer": 0, "neuron": 2, "source": 1, "example": 17}`: the
    chain-rule numbers for neuron `neuron` of weight layer `layer` (0-based; weight layer l
    feeds node layer l + 1) and, with `source`, for the weight from neuron `source` of node
    layer l; on training example `example` (default: the batch's first). Answered with
    `inspection`."""

    type: Literal["inspect"]
    layer: LayerIndex
    neuron: NeuronIndex
    source: NeuronIndex | None = None
    example: Index | None = None


class SetWeight(_Message):
    """`{"type": "set_weight", "layer": 0, "source": 1, "neuron": 2, "value": -0.5}`: set
    w[source, neuron] of weight layer `layer`; without `source` (or null) set the bias of
    `neuron`. |value| ≤ 100. Answered with `state`."""

    type: Literal["set_weight"]
    layer: LayerIndex
    neuron: NeuronIndex
    source: NeuronIndex | None = None
    value: Annotated[float, Field(ge=-WEIGHT_LIMIT, le=WEIGHT_LIMIT)]


class AddPoint(_Message):
    """`{"type": "add_point", "x1": 1.5, "x2": -2.0, "label": 1, "split": "train"}`: add a
    point (labels: 0/1 for binary, 0..K−1 for classes, a number in [−1, 1] for regression).
    Training restarts from the current weights. Answered with `state`."""

    type: Literal["add_point"]
    x1: Annotated[float, Field(ge=-1e6, le=1e6)]
    x2: Annotated[float, Field(ge=-1e6, le=1e6)]
    label: int | float
    split: Literal["train", "test"] = "train"


class RemovePoint(_Message):
    """`{"type": "remove_point", "split": "train", "index": 12}`; answered with `state`."""

    type: Literal["remove_point"]
    split: Literal["train", "test"]
    index: Index


class Export(_Message):
    """`{"type": "export"}`: answered with `snapshot`."""

    type: Literal["export"]


class Import(_Message):
    """`{"type": "import", "snapshot": {...}}`: replace the session's trainer with a snapshot
    from `export`. May be up to 4 MiB if the text starts exactly `{"type":"import"`."""

    type: Literal["import"]
    snapshot: dict[str, Any]


class ImportPoints(_Message):
    """`{"type": "import_points", "name": "iris.csv", "csv": "x1,x2,label\\n5.1,3.5,setosa…",
    "apply": false}`: your own data from a CSV file (engine/csv_points.py). Without `apply`
    it changes nothing and is answered with `points_preview` (the rows read, the classes and
    the ranges); with `apply` the session trains on the file from fresh weights, answered
    with `state`. A bad file is `rejected`, field "csv", its message naming the line. May be
    over `max_message_bytes`, up to `max_import_bytes`."""

    type: Literal["import_points"]
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)]
    csv: Annotated[str, Field(max_length=MAX_CSV_CHARS)]
    apply: bool = False


class ExportPoints(_Message):
    """`{"type": "export_points"}`: the points, train and test with the split, as CSV in the
    file's units; answered with `points_csv`."""

    type: Literal["export_points"]


class Gradcheck(_Message):
    """`{"type": "gradcheck"}`: finite-difference check of the last update's gradients;
    answered with `gradcheck`."""

    type: Literal["gradcheck"]


class View(_Message):
    """`{"type": "view"}`: send me a `state` now (the session's exact float64 weights, for a
    share link). Since protocol 3 the page computes every heatmap itself, at the resolution
    it likes: there is no grid or focus to ask for."""

    type: Literal["view"]


class Leave(_Message):
    """`{"type": "leave"}`: end this session now, freeing its slot; not answered. The server
    closes the connection with 4002 and forgets the session, so a later `?session=` with its
    id starts a new one. (A page does not send it on unload: a reload must resume.)"""

    type: Literal["leave"]


class SetParams(_Message):
    """`{"type": "set_params", "weights": [[[...]]], "biases": [[...]]}`: every weight and
    bias at once (a share URL's weights), in the shapes of `state.params`; |value| ≤ 100.
    Answered with `state`."""

    type: Literal["set_params"]
    weights: Annotated[list[list[list[float]]], Field(max_length=MAX_HIDDEN_LAYERS + 1)]
    biases: Annotated[list[list[float]], Field(max_length=MAX_HIDDEN_LAYERS + 1)]


class OpenRoom(_Message):
    """`{"type": "open_room"}`: let a class follow this session live. Answered with `room`,
    whose `token` (kept secret) lets this browser resume as presenter; opening again
    answers with the same room."""

    type: Literal["open_room"]


class CloseRoom(_Message):
    """`{"type": "close_room"}`: end the room; followers are closed with 4004. The session
    goes on, private again. Answered with `room` (`code` null)."""

    type: Literal["close_room"]


class Selection(_Message):
    """What the presenter's inspector shows: `{"kind": "link", "layer": 0, "i": 1, "j": 2}`
    (`i` only for links), in the page's layer numbering."""

    kind: Literal["neuron", "link", "bias"]
    layer: LayerIndex
    j: NeuronIndex
    i: NeuronIndex | None = None


class UiShare(_Message):
    """What the presenter's page shows besides the session: the followers' pages mirror it.

    `{"type": "ui", "view": "backward", "selection": {...} | null, "example": 17 | null,
      "show_test": false, "discretize": false, "loss_scale": "log", "charts": "grad_norms" | null,
      "chart_focus": "loss", "lesson": "xor" | null, "reveal": 2 | null}`; fields left out keep
    their value. `charts` is the chart tab picked (null: all where they fit, else
    `chart_focus`). `reveal` is how many steps of
    the inspector's backward walk are shown (null: all). Presenter only; broadcast as
    `room_ui`."""

    type: Literal["ui"]
    view: Literal["forward", "backward"] | None = None
    selection: Selection | None = None
    example: Index | None = None
    show_test: bool | None = None
    discretize: bool | None = None
    loss_scale: Literal["linear", "log"] | None = None
    charts: Literal[CHARTS] | None = None  # type: ignore[valid-type]
    chart_focus: Literal[CHARTS] | None = None  # type: ignore[valid-type]
    lesson: Literal[tuple(lesson.id for lesson in LESSONS)] | None = None  # type: ignore[valid-type]
    reveal: Annotated[int, Field(ge=0, le=64)] | None = None


class QuestionSpec(_Message):
    """What the presenter asks (see `Ask`): `kind`, and the target it names."""

    kind: Literal[QUESTION_KINDS]  # type: ignore[valid-type]
    target: Selection | None = None
    x1: Annotated[float, Field(ge=-1e6, le=1e6)] | None = None
    x2: Annotated[float, Field(ge=-1e6, le=1e6)] | None = None
    tolerance: Annotated[float, Field(gt=0, le=1e6)] | None = None


class Ask(_Message):
    """`{"type": "ask", "question": {"kind": "update_sign", "target": {"kind": "link",
    "layer": 0, "i": 1, "j": 2}}}`: ask the room's class (presenter only). Kinds:
    `update_sign` (a link: will its weight go up or down in the next update?),
    `delta_value` (a neuron's δ or a link's ∂L/∂w in the next update, on the traced example;
    answered with a number, right within `tolerance`, default 10 % of |truth| or 0.01),
    `loss_direction` (will the training loss go up or down with the next update?) and
    `class_of_point` (`x1`, `x2`: which class does the network give that point?). The
    engine's answer is worked out now, on a copy of the session stepped once; a new question
    replaces the open one. Answered with `question` to everyone in the room."""

    type: Literal["ask"]
    question: QuestionSpec


class Answer(_Message):
    """`{"type": "answer", "question": "3f9c01ab", "value": "up"}` (a choice of the question's
    `choices`, or a number for `delta_value`): a follower's answer, which replaces its
    earlier one until the presenter reveals. Answered with `question` (its `answer` set)."""

    type: Literal["answer"]
    question: Annotated[str, Field(pattern=QUESTION_ID)]
    value: Annotated[str, Field(max_length=16)] | Annotated[float, Field(ge=-1e6, le=1e6)] | int


class Reveal(_Message):
    """`{"type": "reveal"}`: close the answers to the open question and show everyone the
    engine's answer (presenter only). Answered with `reveal` to everyone in the room."""

    type: Literal["reveal"]


class Fork(_Message):
    """`{"type": "fork"}`: a follower takes the room's current state (data, weights,
    optimizer state, counters, history) into a private session of its own; answered with
    `forked`, whose session id the page reconnects with (`/ws?session=<id>`)."""

    type: Literal["fork"]


class Compare(_Message):
    """`{"type": "compare", "config": {"optimizer": "adam"}, "restart": true}`: run a second
    trainer B beside this session's A, in lockstep, on A's points and seed: B's config is
    A's with `config` on top. Live fields only: B is a copy of A (after A's reset when
    `restart`) with them. Structural fields (features, hidden, init, batch_norm, residual):
    B is a new network from the seed and A restarts too, both at step 0 (`restart` false is
    rejected). Data fields (dataset, n_points, noise, train_fraction, seed, n_classes) are
    bad_config. Every step, play frame and step back then moves both; A's edits reach B as
    server/compare.py tabulates (live settings except the compared ones; data or structure
    edits rebuild B with its changes; point edits are made on both; weight edits recopy a
    live-only B and leave a structural one alone). `{"type": "compare", "config": null}`
    ends it. Answered with `state`, whose `compare` holds B."""

    type: Literal["compare"]
    config: FreeConfig | None
    restart: bool = True


# every message a client may send, listed once: the parser's union, the type names and the
# handlers (handlers.py: `on_<type>` for each) follow from it
CLIENT_MODELS = (
    Configure,
    Set,
    Step,
    Play,
    Pause,
    Reset,
    StepBack,
    Inspect,
    SetWeight,
    AddPoint,
    RemovePoint,
    Export,
    Import,
    ImportPoints,
    ExportPoints,
    Gradcheck,
    View,
    Leave,
    SetParams,
    OpenRoom,
    CloseRoom,
    UiShare,
    Fork,
    Compare,
    Ask,
    Answer,
    Reveal,
)
ClientMessage = Annotated[Union[CLIENT_MODELS], Field(discriminator="type")]  # noqa: UP007
CLIENT_TYPES = tuple(m.model_fields["type"].annotation.__args__[0] for m in CLIENT_MODELS)
_client_adapter: TypeAdapter = TypeAdapter(ClientMessage)

_RANGE_ERRORS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "too_long",
    "too_short",
    "string_too_long",
    "string_too_short",
    "literal_error",
    "enum",
}


def _from_validation_error(e: ValidationError, type_: str | None) -> ProtocolError:
    err = e.errors(include_url=False)[0]
    kind, loc = err["type"], err["loc"]
    # a union's member names in `loc` ("float", "constrained-str") are not fields
    members = ("int", "float", "str")
    field = ".".join(
        str(p) for p in loc[1:] if p not in members and not str(p).startswith("constrained-")
    )
    field = field or None
    if kind == "union_tag_invalid":
        return ProtocolError(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown message type {type_!r}; expected one of {', '.join(CLIENT_TYPES)}",
            "type",
            None,
        )
    if kind == "union_tag_not_found":
        return ProtocolError(ErrorCode.MISSING_FIELD, "a message needs a `type`", "type")
    if kind == "missing":
        code = ErrorCode.MISSING_FIELD
    elif kind == "extra_forbidden":
        code = ErrorCode.UNKNOWN_FIELD
    elif kind == "finite_number":
        code = ErrorCode.NOT_FINITE
    elif kind in _RANGE_ERRORS:
        code = ErrorCode.OUT_OF_RANGE
    else:
        code = ErrorCode.WRONG_TYPE
    what = f"`{field}`: " if field else ""
    return ProtocolError(code, f"{what}{err['msg']}", field, type_)


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object whose keys are all different: `{"type": "import", "type": "configure"}`
    must not pass as whichever the parser happens to keep."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"the key {key[:40]!r} appears twice in one object")
            seen.add(key)
    return out


def parse_client_message(text: str, max_bytes: int | None = None) -> BaseModel:
    """The model for one text frame; raises ProtocolError (code, message, field). With
    `max_bytes`, a message over it is refused unless its parsed type is `import` (whose cap
    the receive loop has already applied)."""
    try:
        data = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except _NotFinite as e:
        raise ProtocolError(ErrorCode.NOT_FINITE, str(e)) from None
    except _DuplicateKey as e:
        raise ProtocolError(ErrorCode.MALFORMED, str(e)) from None
    except (ValueError, RecursionError) as e:
        raise ProtocolError(ErrorCode.MALFORMED, f"not valid JSON: {str(e)[:120]}") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.MALFORMED, "a message must be a JSON object")
    type_ = data.get("type")
    if "type" in data and not isinstance(type_, str):
        raise ProtocolError(ErrorCode.WRONG_TYPE, "`type` must be a string", "type")
    if max_bytes is not None and type_ not in LARGE_MESSAGES:
        size = len(text.encode("utf-8"))
        if size > max_bytes:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"message of {size} bytes is over the "
                f"{max_bytes}-byte limit (only {' and '.join(sorted(LARGE_MESSAGES))} may "
                "be larger)",
            )
    for key in ("config", "snapshot"):
        if key in data:
            _check_json_numbers(data[key], key)
    try:
        return _client_adapter.validate_python(data)
    except ValidationError as e:
        raise _from_validation_error(e, type_) from None


# server → client


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Splits(_Out):
    """`{"train": 0.21, "test": 0.24}`: a readout over the training and the test set (mean
    data loss, accuracy); null when a split is empty or the number is not defined."""

    train: float | None
    test: float | None


# A readout's type by its shape (engine.readouts.Shape).
READOUT_TYPES: dict[Shape, Any] = {Shape.SPLITS: Splits, Shape.LAYERS: list[float | None]}
# The fields of a metrics object: the counters, then every readout the engine lists
# (engine/readouts.py READOUTS), so a new readout needs no field here.
_METRICS_FIELDS: dict[str, Any] = {
    **{name: (int, ...) for name in COUNTERS},
    **{r.name: (READOUT_TYPES[r.shape], ...) for r in READOUTS},
}

Readings = create_model(
    "Readings",
    __base__=_Out,
    __doc__="""The numbers of one step, as `Trainer.metrics()` gives them and the page charts
    them: `{"step": 12, "epoch": 0, "loss": {"train": 0.41, "test": 0.43}, "accuracy":
    {"train": 0.7, "test": 0.68}, "grad_norms": [0.06, 0.11, 0.41]}` (a field per readout of
    engine/readouts.py). `state.metrics`, each `state.history` entry.""",
    **_METRICS_FIELDS,
)


class RunB(Readings):
    """Compare mode's run B in a `step`, `metrics` or `state.compare`: its `Readings` and
    why it stopped, `{"step": 12, ..., "grad_norms": [...], "stopped": null}`."""

    stopped: str | None


class CompareReadout(_Out):
    """`state.compare`: compare mode's run B, `{"config": {...}, "model": {...}, "changes":
    {...}, "metrics": {<RunB>}, "stop_message": "", "history": [...] | null}`."""

    config: dict[str, Any]
    model: dict[str, Any]
    changes: dict[str, Any]
    metrics: RunB
    stop_message: str
    history: list[Readings] | None  # type: ignore[valid-type]


class Hello(_Out):
    """The first message on every connection.

    `{"type": "hello", "protocol": 5, "session": "3q2…", "resumed": false,
      "limits": {...}, "defaults": {<engine config>}, "schema": [<engine field table>],
      "tasks": {"binary": ["circle", ...], "regression": [...], "multiclass": [...]},
      "heads": {"binary": [["tanh", "mse"], ...], ...}, "live_fields": ["alpha", ...],
      "feature_labels": {"x1": "X₁", ...}, "follower_messages": ["export", "fork", "leave"],
      "readouts": ["loss", "accuracy", "grad_norms"]}`
    Keep `session` and reconnect with `/ws?session=<id>` to resume within `session_ttl_s`.
    `restored` is true when the session came back from the server's store (a restart, or
    another worker): its step-back history starts at its current step. `lost` says why the
    session the tab asked for could not be resumed (a new one was opened), else null.
    `role` is "solo", "presenter" (this session is a room) or "follower" (this connection
    watches a room read-only; `session` is then null); `room` is as in the `room` message.
    `tasks` groups the data sets by task, `heads` lists the valid (output activation, loss)
    pairs per task, `live_fields` the config fields `set` accepts (the rest need
    `configure`), `feature_labels` the display label of each input feature,
    `follower_messages` the messages a room's follower may send (FOLLOWER_MESSAGES; anything
    else is `forbidden`), `readouts` the per-frame numbers every metrics object carries a
    field of (engine.readouts.READOUTS).
    """

    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL_VERSION
    session: str | None
    resumed: bool
    restored: bool = False
    lost: str | None = None
    role: Literal["solo", "presenter", "follower"] = "solo"
    room: dict[str, Any] | None = None
    limits: dict[str, Any]
    defaults: dict[str, Any]
    schema_: list[dict[str, Any]] = Field(alias="schema", serialization_alias="schema")
    tasks: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "binary": list(BINARY_DATASETS),
            "regression": list(REGRESSION_DATASETS),
            "multiclass": list(MULTICLASS_DATASETS),
        }
    )
    heads: dict[str, list[list[str]]] = Field(
        default_factory=lambda: {
            task: [list(pair) for pair in pairs] for task, pairs in HEADS.items()
        }
    )
    live_fields: list[str] = Field(default_factory=lambda: sorted(LIVE_FIELDS))
    feature_labels: dict[str, str] = Field(default_factory=lambda: dict(FEATURE_LABELS))
    follower_messages: list[str] = Field(default_factory=lambda: sorted(FOLLOWER_MESSAGES))
    readouts: list[str] = Field(default_factory=lambda: list(READOUT_NAMES))

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Params(_Out):
    """`state.params`: every weight layer's W (fan_in × fan_out) and b, and under batch norm
    (hidden layers) γ and β, else null: `{"weights": [[[...]]], "biases": [[...]], "gammas":
    [[...] | null], "betas": [[...] | null]}` (Trainer.parameters)."""

    weights: list[list[list[float]]]
    biases: list[list[float]]
    gammas: list[list[float] | None]
    betas: list[list[float] | None]


class State(_Out):
    """The session's full state; sent after `hello` and after every change.

    `{"type": "state", "config": {...}, "params": {"weights": [[[...]]], "biases": [[...]],
      "gammas": [...], "betas": [...]}, "metrics": {<as in metrics>}, "playing": false,
      "speed": 1, "phase": null, "stopped": null, "stop_message": "", "can_step_back": true,
      "model": {...}, "points": {...} | null, "history": [...] | null}`
    `model` is what the page needs to evaluate the network for its heatmaps, whose weights
    come in frames: {"sizes": [2, 4, 2, 1], "activations": ["tanh", "tanh"],
    "output_activation": "tanh", "batch_norm": false, "skip": [false, false, false],
    "constants": {"leaky_slope": 0.01, "elu_alpha": 1.0}, "features": ["x1", "x2"]}
    (engine.network.Network.describe; `skip[l]`: weight layer l adds its input to its output).
    `points` ({"train": {"x": [[x1, x2]...], "y": [...]}, "test": {...}}) is present when
    the data changed since this connection's last `state`; `history` (≤ 1,000 metrics
    entries, evenly thinned, the last always kept) when it was rebuilt rather than extended.
    `metrics` and each history entry are `Readings`. `compare` is null, or compare mode's
    lockstep run B (`CompareReadout`).
    """

    type: Literal["state"] = "state"
    config: dict[str, Any]
    model: dict[str, Any]
    params: Params
    metrics: Readings  # type: ignore[valid-type]
    playing: bool
    speed: int
    rate: float  # updates a second while playing
    phase: str | None
    stopped: str | None
    stop_message: str
    can_step_back: bool
    points: dict[str, Any] | None = None
    history: list[Readings] | None = None  # type: ignore[valid-type]
    compare: CompareReadout | None = None


class _Typed(_Out):
    type: str  # each message narrows it to its Literal; declared here so it is sent first


_Progress = create_model(
    "_Progress",
    __base__=_Typed,
    __doc__="""What `step` and `metrics` both carry, at their top level (the minimum contract
    keeps `step`, `epoch` and `loss` there): the fields of `Readings`, one per readout, and
    compare mode's run B.""",
    **_METRICS_FIELDS,
    compare=(RunB | None, None),
)


class StepMsg(_Progress):  # type: ignore[valid-type,misc]
    """The record of the last update (or phase) of a `step` command.

    `{"type": "step", "step": 12, "epoch": 0, "loss": {"train": 0.41, "test": 0.43},
      "accuracy": {"train": 0.7, "test": 0.68}, "grad_norms": [...], "update_ratios": [...],
      "count": 1, "applied": true, "phase": null, "record_step": 12, "batch": [..],
      "batch_loss": 0.39, "penalty": 0.0, "playing": false, "stopped": null}`
    `step` counts updates so far; `record_step` is the update the record shows (step + 1 while
    a phase step is half-shown). The per-layer arrays follow in a binary `record` frame.
    """

    type: Literal["step"] = "step"
    update_ratios: list[float | None]
    count: int
    applied: bool
    phase: str | None
    record_step: int
    batch: list[int]
    batch_loss: float | None
    penalty: float | None
    playing: bool
    stopped: str | None


class Metrics(_Progress):  # type: ignore[valid-type,misc]
    """One play-mode frame's numbers; a heatmap frame follows it.

    `{"type": "metrics", "step": 1200, "epoch": 48, "loss": {"train": 0.05, "test": 0.07},
      "accuracy": {...}, "grad_norms": [...], "updates": 1, "playing": true}`
    """

    type: Literal["metrics"] = "metrics"
    updates: int
    playing: bool


class Stopped(_Out):
    """`{"type": "stopped", "reason": "diverged", "message": "The loss became infinite…"}`:
    training stopped by itself (max_epochs, target_loss, early_stopping, converged,
    diverged); play mode is off. The weights from before a divergent step are kept."""

    type: Literal["stopped"] = "stopped"
    reason: str
    message: str


class Error(_Out):
    """`{"type": "error", "code": "out_of_range", "message": "...", "field": "count",
    "re": "step"}`: the message was refused and nothing changed. `re` is the refused
    message's type when it could be read."""

    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    field: str | None = None
    re: str | None = None


class Inspection(_Out):
    """`{"type": "inspection", "result": {<Trainer.explain>}}`."""

    type: Literal["inspection"] = "inspection"
    result: dict[str, Any]


class Snapshot(_Out):
    """`{"type": "snapshot", "snapshot": {<Trainer.snapshot>}}`: feed back to `import`."""

    type: Literal["snapshot"] = "snapshot"
    snapshot: dict[str, Any]


class PointsPreview(_Out):
    """`{"type": "points_preview", "preview": {"name": "iris.csv", "rows": 150, "task":
    "multiclass", "dataset": "your_data_classes", "columns": ["length", "width",
    "species"], "header": true, "delimiter": "comma",
    "class_names": ["setosa", ...], "class_counts": [50, 50, 50], "scales": [{"column":
    "length", "lo": 4.3, "hi": 7.9, "to": [-5, 5]}, ...], "split": null | {"train": 120,
    "test": 30}}}`: what `import_points` would load (csv_points.ImportedData.preview);
    nothing changed."""

    type: Literal["points_preview"] = "points_preview"
    preview: dict[str, Any]


class PointsCsv(_Out):
    """`{"type": "points_csv", "name": "iris.csv", "csv": "# classes: …\\nx1,x2,label,split\\n…"}`:
    the points as `export_points` asked (Trainer.points_csv); `import_points` reads it back."""

    type: Literal["points_csv"] = "points_csv"
    name: str
    csv: str


class GradcheckResult(_Out):
    """`{"type": "gradcheck", "result": {"max_rel_error": 3e-9, "n_checked": 33, ...}}`."""

    type: Literal["gradcheck"] = "gradcheck"
    result: dict[str, Any]


class Room(_Out):
    """This connection's room, sent after `open_room`, on joining, and when it changes.

    `{"type": "room", "code": "K7QF2M", "role": "presenter", "followers": 31,
      "presenter_online": true, "join_path": "/?join=K7QF2M",
      "join_urls": ["http://192.168.1.20:8000/?join=K7QF2M"], "qr": ["1110…", …],
      "token": "…"}`
    `token` (presenter only) resumes the room as presenter: `/ws?room=<code>&token=<token>`.
    `join_urls` are the LAN addresses when the server listens on every interface (else
    empty: the page's own origin is the address), `qr` the first one's QR code, one string
    of 0/1 per module row (presenter only). `code` null: no room (after `close_room`).
    `relay` "reconnecting": the server serves several workers through Redis and lost it for a
    moment (follower only); frames resume, with a fresh state, when it is back.
    """

    type: Literal["room"] = "room"
    code: str | None
    role: Literal["solo", "presenter", "follower"]
    followers: int = 0
    presenter_online: bool = True
    join_path: str | None = None
    join_urls: list[str] = Field(default_factory=list)
    qr: list[str] | None = None
    token: str | None = None
    relay: Literal["ok", "reconnecting"] = "ok"


class RoomUi(_Out):
    """The presenter's page view for followers to mirror (see client `ui`), whole:
    `{"type": "room_ui", "ui": {"view": "backward", "selection": null, ...}}`."""

    type: Literal["room_ui"] = "room_ui"
    ui: dict[str, Any]


class Forked(_Out):
    """`{"type": "forked", "session": "…", "step": 120}`: the fork is ready; reconnect with
    `/ws?session=<session>` to drive it."""

    type: Literal["forked"] = "forked"
    session: str
    step: int


class Question(_Out):
    """The presenter's question, to everyone in the room (and to each joiner):

    `{"type": "question", "id": "3f9c01ab", "kind": "update_sign", "prompt": "…", "choices":
      ["up", "down", "unchanged"], "labels": ["goes up", "goes down", "stays"],
      "target": {"kind": "link", "layer": 0, "i": 1, "j": 2} | null, "x1": null, "x2": null,
      "tolerance": null, "step": 12, "answer": null}`
    `choices` are the values an `answer` may send (null for `delta_value`: a number, right
    within `tolerance`), `labels` what the buttons say; `step` the update it is about (the
    next one); `answer` this follower's own answer (null: none yet, or sent to everyone)."""

    type: Literal["question"] = "question"
    id: str
    kind: str
    prompt: str
    choices: list[str] | None
    labels: list[str] | None
    target: dict[str, Any] | None = None
    x1: float | None = None
    x2: float | None = None
    tolerance: float | None = None
    step: int
    answer: str | float | None = None


class Answers(_Out):
    """The class's answers so far, to the presenter, at most twice a second: counts only.

    `{"type": "answers", "id": "3f9c01ab", "counts": [12, 5, 1], "bins": null,
      "answered": 18, "followers": 30}`
    `counts` per choice, or for a number one per histogram bin between the `bins` edges."""

    type: Literal["answers"] = "answers"
    id: str
    counts: list[int]
    bins: list[float] | None = None
    answered: int
    followers: int


class RevealMsg(_Out):
    """The engine's answer, to everyone in the room; later answers are refused.

    `{"type": "reveal", "id": "3f9c01ab", "kind": "update_sign", "truth": "down",
      "truth_label": "goes down", "value": -0.0117, "detail": "Δw = −0.0117 in update 13",
      "right": 14, "counts": [3, 14, 1], "bins": null, "answered": 18, "followers": 30,
      "target": {...} | null}`
    `truth` is the right choice (a number for `delta_value`), `value` the engine's number
    behind it, `right` how many answered it (within the tolerance for a number)."""

    type: Literal["reveal"] = "reveal"
    id: str
    kind: str
    truth: str | float
    truth_label: str
    value: float | None
    detail: str
    right: int
    counts: list[int]
    bins: list[float] | None = None
    answered: int
    followers: int
    target: dict[str, Any] | None = None


ServerMessage = (
    Hello
    | State
    | StepMsg
    | Metrics
    | Stopped
    | Error
    | Inspection
    | Snapshot
    | PointsPreview
    | PointsCsv
    | GradcheckResult
    | Room
    | RoomUi
    | Forked
    | Question
    | Answers
    | RevealMsg
)


def encode(message: ServerMessage, digits: int | None = None) -> str:
    """Compact JSON text; raises ValueError rather than put NaN or Infinity on the wire. With
    `digits`, floats keep that many significant digits and null fields are left out (a
    room's followers: the page shows four digits, and a classroom's Wi-Fi is shared)."""
    data = message.model_dump(by_alias=True)
    if digits is not None:
        data = {k: v for k, v in rounded(data, digits).items() if v is not None}
    return json.dumps(data, allow_nan=False, separators=(",", ":"))


def rounded(value, digits: int):
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def error_message(e: ProtocolError) -> Error:
    return Error(code=e.code, message=e.message, field=e.field, re=e.re)

"""Every message a client may send, one model each (its JSON in the docstring), listed once
in `CLIENT_MODELS`: the parser's union (protocol.parse_client_message), `CLIENT_TYPES`, the
handlers (handlers.py `on_<type>`) and the page's contract follow from it."""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from engine.config import MAX_HIDDEN_LAYERS, Config, ConfigError
from engine.csv_points import MAX_CSV_CHARS, MAX_NAME_CHARS

from .lessons import CHART_NAMES, LESSONS
from .payloads import (
    ConfigChanges,
    Inbound,
    Index,
    LayerIndex,
    NeuronIndex,
    Selection,
    SnapshotFile,
)
from .protocol import ErrorCode, ProtocolError

# What a room's follower may send: it reads along, answers the presenter's question, saves a
# copy, forks or stops following.
FOLLOWER_MESSAGES = frozenset({"answer", "export", "export_points", "fork", "leave"})
# The messages that may be over max_message_bytes (up to max_import_bytes): files
LARGE_MESSAGES = frozenset({"import", "import_points"})
# What a presenter may ask the class (server/questions.py has one kind each: a test checks)
QUESTION_KINDS = ("update_sign", "delta_value", "loss_direction", "class_of_point")
QUESTION_ID = r"^[0-9a-f]{8}$"
WEIGHT_LIMIT = 100.0  # |value| a weight or bias may be set to
STEP_UNITS = ("update", "epoch", "phase")
MAX_JSON_INT = 2**53  # larger integers lose precision in a browser's JSON.parse


_Message = Inbound


class Configure(_Message):
    """`{"type": "configure", "config": {"dataset": "xor", "hidden": [4, 4]}}`: change
    some config fields (the engine's names). The server decides what that does: the
    weights live through a change of live fields; data or topology changes rebuild and reset
    training. Answered with `state`, whose `effect` says which it was."""

    type: Literal["configure"]
    config: ConfigChanges  # type: ignore[valid-type]


class Set(_Message):
    """Deprecated (kept for scripts): `{"type": "set", "config": {"learning_rate": 0.1}}` is
    `configure`, refused whole with `bad_config` naming the first field whose change would
    not keep the weights."""

    type: Literal["set"]
    config: ConfigChanges  # type: ignore[valid-type]


class Step(_Message):
    """`{"type": "step", "count": 1, "unit": "update"}`: `count` updates (≤ 1000), epochs
    (≤ 10) or phases (forward → loss → backward → update). Both fields are optional; a bare
    `{"type": "step"}` makes exactly one update. Answered with `step` and a record frame."""

    type: Literal["step"]
    count: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    unit: Literal[STEP_UNITS] = "update"  # type: ignore[valid-type]


class Play(_Message):
    """`{"type": "play", "rate": 750}` or `{"type": "play", "speed": 1}`: train
    continuously, `rate` updates a second (below the frame rate, one update a frame, each
    shown; above it, rate/frame_rate updates a frame), or `speed` updates a frame; the
    server streams `metrics` and weights frames until `pause`. Answered with `state`."""

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
    from `export` (a `SnapshotFile`; a part of the wrong type, or one the engine refuses, is
    `rejected` naming it). May be up to 4 MiB if the text starts exactly
    `{"type":"import"`."""

    type: Literal["import"]
    snapshot: SnapshotFile


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
    charts: Literal[CHART_NAMES] | None = None  # type: ignore[valid-type]
    chart_focus: Literal[CHART_NAMES] | None = None  # type: ignore[valid-type]
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
    config: ConfigChanges | None  # type: ignore[valid-type]
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


# Parsing: the one way a client's text becomes a model


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


def _from_validation_error(e: ValidationError, type_: str | None, data: dict) -> ProtocolError:
    err = e.errors(include_url=False)[0]
    kind, loc = err["type"], err["loc"]
    # a union's member names in `loc` ("float", "constrained-str") are not fields
    members = ("int", "float", "str")
    path = [p for p in loc[1:] if p not in members and not str(p).startswith("constrained-")]
    if kind == "union_tag_invalid":
        return ProtocolError(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown message type {type_!r}; expected one of {', '.join(CLIENT_TYPES)}",
            "type",
            None,
        )
    if kind == "union_tag_not_found":
        return ProtocolError(ErrorCode.MISSING_FIELD, "a message needs a `type`", "type")
    if len(path) >= 2 and path[0] == "config":
        return _config_refusal(str(path[1]), data["config"], type_, "")
    if len(path) >= 2 and path[0] == "snapshot":
        return _snapshot_refusal(path[1:], err["msg"], data["snapshot"])
    field = ".".join(str(p) for p in path) or None
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


def _config_refusal(name: str, config: dict, type_: str | None, where: str) -> ProtocolError:
    """A config field of the wrong type (or an unknown one) is the engine's to name, as if
    it had been sent on: `bad_config` with its message."""
    try:
        Config().replace(**{name: config.get(name)})
    except ConfigError as e:
        return ProtocolError(ErrorCode.BAD_CONFIG, f"{where}{e}"[:300], f"{e.field}", type_)
    return ProtocolError(ErrorCode.BAD_CONFIG, f"{where}{name}: wrong type", name, type_)


# Where engine/snapshots.py names a refused part: an array as a whole, an edit or the file
# as one entry (a part of the wrong type is refused here, named as the engine would).
_SNAPSHOT_WHOLE = {"params": 1, "buffers": 1, "edits": 2, "imported": 1, "optimizer": 2}


def _snapshot_refusal(path: list, msg: str, snapshot: dict) -> ProtocolError:
    if path[0] == "config" and len(path) >= 2:
        e = _config_refusal(str(path[1]), snapshot.get("config") or {}, "import", "")
        return ProtocolError(
            ErrorCode.BAD_CONFIG,
            f"the snapshot's config: {e.message}"[:300],
            f"snapshot.config.{e.field}",
            "import",
        )
    keep = _SNAPSHOT_WHOLE.get(str(path[0]), len(path))
    if path[0] == "optimizer" and len(path) >= 2 and path[1] in ("state", "shapes"):
        path = ["optimizer", "state"]
    field = ".".join(str(p) for p in path[:keep])
    return ProtocolError(
        ErrorCode.REJECTED,
        f"not a usable snapshot: {field}: {msg}"[:300],
        f"snapshot.{field}",
        "import",
    )


class _DuplicateKey(ValueError):
    pass


# Arrays and objects a message other than `import` may hold: the largest, `set_params` of the
# widest and deepest network, has 9 + 9 × 33 + 10 = 316. Counting brackets is one pass in C,
# so a 64 KiB message of 20,000 empty arrays (9 ms to parse, then refused anyway) is refused
# in microseconds instead. (A bracket inside a string counts too: no legal message has many.)
MAX_CONTAINERS = 1024
_IMPORT = re.compile(r'"type"\s*:\s*"import"')


def _check_shape(text: str) -> None:
    """Refuse, before parsing, a message with more arrays and objects than any legal one."""
    n = text.count("[") + text.count("{")
    if n > MAX_CONTAINERS and not _IMPORT.search(text):
        raise ProtocolError(
            ErrorCode.MALFORMED,
            f"{n} arrays and objects in one message: no message other than `import` holds "
            f"more than {MAX_CONTAINERS}",
        )


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
    _check_shape(text)
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
        raise _from_validation_error(e, type_, data) from None

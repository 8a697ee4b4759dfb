"""Every message the server sends, one model each (its JSON in the docstring): the union
`ServerMessage` (with `protocol.Error`). Built many times a second (`step`, `metrics`), so
builders pass plain values the engine made; the payloads they carry are typed in
payloads.py."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, create_model

from engine.config import (
    BINARY_DATASETS,
    HEADS,
    LIVE_FIELDS,
    MULTICLASS_DATASETS,
    REGRESSION_DATASETS,
)
from engine.features import FEATURE_LABELS
from engine.readouts import READOUT_NAMES

from .messages_in import FOLLOWER_MESSAGES, UiShare
from .payloads import (
    METRICS_FIELDS,
    ConfigChanges,
    ConfigField,
    ConfigValues,
    EffectName,
    GradcheckReport,
    InspectionResult,
    Model,
    Outbound,
    Points,
    Preview,
    Readings,
    Selection,
    SnapshotFile,
    Sparse,
)
from .protocol import PROTOCOL_VERSION, Error
from .settings import Settings

_Out = Outbound


class RunB(Readings):
    """Compare mode's run B in a `step`, `metrics` or `state.compare`: its `Readings` and
    why it stopped, `{"step": 12, ..., "grad_norms": [...], "stopped": null}`."""

    stopped: str | None


class CompareReadout(_Out):
    """`state.compare`: compare mode's run B, `{"config": {...}, "model": {...}, "changes":
    {...}, "metrics": {<RunB>}, "stop_message": "", "history": [...] | null}`."""

    config: ConfigValues  # type: ignore[valid-type]
    model: Model
    changes: ConfigChanges  # type: ignore[valid-type]
    metrics: RunB
    stop_message: str
    history: list[Readings] | None  # type: ignore[valid-type]


# The limits a page is told (Settings.limits), typed as the settings declare them
Limits = create_model(
    "Limits",
    __base__=_Out,
    __doc__="""`hello.limits`: the server's caps a page should respect (server/settings.py).""",
    **{
        name: (Settings.model_fields[name].annotation, ...)
        for name in Settings.model_construct().limits()
    },
)


class RoomInfo(_Out):
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


class Hello(_Out):
    """The first message on every connection.

    `{"type": "hello", "protocol": 6, "session": "3q2…", "resumed": false,
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
    pairs per task, `live_fields` the config fields whose change keeps the weights (the
    deprecated `set` accepts only these), `feature_labels` the display label of each input feature,
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
    room: RoomInfo | None = None
    limits: Limits
    defaults: ConfigValues  # type: ignore[valid-type]
    schema_: list[ConfigField] = Field(alias="schema", serialization_alias="schema")
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
    lockstep run B (`CompareReadout`). `effect`, in the reply to `configure`, is what the
    change did (engine.config.Effect): "none" (nothing the trainer computes changed), "live"
    or "model" (the weights kept; "model": the network computes another function or loss),
    "network" (a new network from the seed) or "data" (new points and a new network); null
    when nothing changed or for any other message.
    """

    type: Literal["state"] = "state"
    config: ConfigValues  # type: ignore[valid-type]
    model: Model
    params: Params
    metrics: Readings  # type: ignore[valid-type]
    playing: bool
    speed: int
    rate: float  # updates a second while playing
    phase: str | None
    stopped: str | None
    stop_message: str
    can_step_back: bool
    points: Points | None = None
    history: list[Readings] | None = None  # type: ignore[valid-type]
    compare: CompareReadout | None = None
    effect: EffectName | None = None


class _Typed(_Out):
    type: str  # each message narrows it to its Literal; declared here so it is sent first


_Progress = create_model(
    "_Progress",
    __base__=_Typed,
    __doc__="""What `step` and `metrics` both carry, at their top level (the minimum contract
    keeps `step`, `epoch` and `loss` there): the fields of `Readings`, one per readout, and
    compare mode's run B.""",
    **METRICS_FIELDS,
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
    """One play-mode frame's numbers; a weights frame follows it.

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


class Inspection(_Out):
    """`{"type": "inspection", "result": {<Trainer.explain>}}`."""

    type: Literal["inspection"] = "inspection"
    result: InspectionResult


class Snapshot(_Out):
    """`{"type": "snapshot", "snapshot": {<Trainer.snapshot>}}`: feed back to `import`."""

    type: Literal["snapshot"] = "snapshot"
    snapshot: SnapshotFile


class PointsPreview(_Out):
    """`{"type": "points_preview", "preview": {"name": "iris.csv", "rows": 150, "task":
    "multiclass", "dataset": "your_data_classes", "columns": ["length", "width",
    "species"], "header": true, "delimiter": "comma",
    "class_names": ["setosa", ...], "class_counts": [50, 50, 50], "scales": [{"column":
    "length", "lo": 4.3, "hi": 7.9, "to": [-5, 5]}, ...], "split": null | {"train": 120,
    "test": 30}}}`: what `import_points` would load (csv_points.ImportedData.preview);
    nothing changed."""

    type: Literal["points_preview"] = "points_preview"
    preview: Preview


class PointsCsv(_Out):
    """`{"type": "points_csv", "name": "iris.csv", "csv": "# classes: …\\nx1,x2,label,split\\n…"}`:
    the points as `export_points` asked (Trainer.points_csv); `import_points` reads it back."""

    type: Literal["points_csv"] = "points_csv"
    name: str
    csv: str


class GradcheckResult(_Out):
    """`{"type": "gradcheck", "result": {"max_rel_error": 3e-9, "n_checked": 33, ...}}`."""

    type: Literal["gradcheck"] = "gradcheck"
    result: GradcheckReport


UiState = create_model(
    "UiState",
    __base__=Sparse,
    __doc__="""The presenter's view as a room keeps it: the fields of the client's `ui` it has
    sent so far (a field never sent is left out).""",
    **{n: (f.annotation, None) for n, f in UiShare.model_fields.items() if n != "type"},
)


class RoomUi(_Out):
    """The presenter's page view for followers to mirror (see client `ui`), whole:
    `{"type": "room_ui", "ui": {"view": "backward", "selection": null, ...}}`."""

    type: Literal["room_ui"] = "room_ui"
    ui: UiState


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
    target: Selection | None = None
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
    target: Selection | None = None


ServerMessage = (
    Error
    | Hello
    | State
    | StepMsg
    | Metrics
    | Stopped
    | Inspection
    | Snapshot
    | PointsPreview
    | PointsCsv
    | GradcheckResult
    | RoomInfo
    | RoomUi
    | Forked
    | Question
    | Answers
    | RevealMsg
)

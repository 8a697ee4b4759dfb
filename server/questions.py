"""Questions a presenter asks the class, and the engine's answers to them (no maths here).

A question names a number the engine is about to compute: the sign of a link's next update,
a neuron's δ or a link's ∂ℓ/∂w on the traced example, whether the loss goes up, the class of
a point. Its answer is worked out when it is asked, on a copy of the session's trainer made
through the public API (`snapshot` → `from_snapshot`) and stepped once: the same batch,
dropout mask and optimizer state as the session's own next update, so the truth is that of
the state the question was about, however long the class takes and whatever the presenter
does meanwhile. The copy's `explain` gives δ, ∂ℓ/∂w and Δw (the inspector's own numbers),
its `metrics` the loss after the update, and `classify` a point's class.

A `Posed` question is kept by the room's poll (polls.py): the class sees its `message`, the
truth only at the reveal, with the answers tallied by `tally`.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.features import FEATURE_LABELS
from engine.trainer import TrainerError

from . import messages_in, messages_out, payloads
from .protocol import ErrorCode, ProtocolError

SIGNS = ("up", "down", "unchanged")
SIGN_LABELS = ("goes up ↑", "goes down ↓", "stays the same")
BINS = 10  # a number's histogram
DEFAULT_TOLERANCE = 0.1  # of |truth|, for delta_value when the presenter gives none
MIN_TOLERANCE = 0.01


@dataclass(frozen=True)
class Posed:
    """A question as asked, and the engine's answer (kept from the class until the reveal).
    `choices` are the values an answer may take (None: a number, right within
    `tolerance`); `step` is the update it is about."""

    kind: str
    prompt: str
    step: int
    truth: str | float
    truth_label: str
    value: float | None
    detail: str
    choices: tuple[str, ...] | None = None
    labels: tuple[str, ...] | None = None
    target: dict | None = None
    x1: float | None = None
    x2: float | None = None
    tolerance: float | None = None
    id: str = field(default_factory=lambda: secrets.token_hex(4))

    def message(self, answer: str | float | None = None) -> messages_out.Question:
        return messages_out.Question(
            id=self.id,
            kind=self.kind,
            prompt=self.prompt,
            choices=None if self.choices is None else list(self.choices),
            labels=None if self.labels is None else list(self.labels),
            target=self.target,
            x1=self.x1,
            x2=self.x2,
            tolerance=self.tolerance,
            step=self.step,
            answer=answer,
        )

    def right(self, value: str | float) -> bool:
        if self.choices is None:
            return abs(float(value) - float(self.truth)) <= float(self.tolerance)
        return value == self.truth

    def tally(self, values: list, with_truth: bool = False) -> tuple[list[int], list[float] | None]:
        """Counts per choice, or a number's histogram: (counts, bin edges); the edges span
        the answers (and the truth, once shown)."""
        if self.choices is not None:
            return [sum(v == c for v in values) for c in self.choices], None
        nums = [float(v) for v in values] + ([float(self.truth)] if with_truth else [])
        if not nums:
            return [], None
        lo, hi = min(nums), max(nums)
        if hi - lo < 1e-12:
            pad = max(abs(lo) * 0.1, 0.05)
            lo, hi = lo - pad, hi + pad
        width = (hi - lo) / BINS
        edges = [lo + k * width for k in range(BINS)] + [hi]
        counts = [0] * BINS
        for v in values:
            counts[min(BINS - 1, int((float(v) - lo) / width))] += 1
        return counts, edges

    def reveal(self, values: list, followers: int) -> messages_out.RevealMsg:
        counts, bins = self.tally(values, with_truth=True)
        return messages_out.RevealMsg(
            id=self.id,
            kind=self.kind,
            truth=self.truth,
            truth_label=self.truth_label,
            value=self.value,
            detail=self.detail,
            right=sum(self.right(v) for v in values),
            counts=counts,
            bins=bins,
            answered=len(values),
            followers=followers,
            target=self.target,
        )

    def record(self) -> dict:
        """JSON for a checkpoint (cluster mode: the room goes on on another worker)."""
        return asdict(self)

    @classmethod
    def from_record(cls, r: dict) -> Posed:
        r = dict(r)
        for name in ("choices", "labels"):
            r[name] = None if r[name] is None else tuple(r[name])
        return cls(**r)


def checked(choices: tuple[str, ...] | list[str] | None, value) -> str | float:
    """An answer's value as it is counted (a question with these `choices`, or None for a
    number); ProtocolError if it is not one."""
    if choices is None:
        if isinstance(value, str) or not math.isfinite(value):
            raise ProtocolError(
                ErrorCode.WRONG_TYPE, "`value`: this question wants a number", "value", "answer"
            )
        return float(value)
    if value not in choices:
        raise ProtocolError(
            ErrorCode.OUT_OF_RANGE, f"`value`: one of {', '.join(choices)}", "value", "answer"
        )
    return value


def pose(trainer, spec: messages_in.QuestionSpec, example: int | None) -> Posed:
    """Trainer lock held: `spec` as a question, with the engine's answer. TrainerError when
    the engine cannot answer it (a target outside the network, a regression's class...)."""
    return KINDS[spec.kind](trainer, spec, example)


def _next_update(trainer):
    """A copy of `trainer` one update on (the session's own is left alone)."""
    copy = type(trainer).from_snapshot(trainer.snapshot())
    copy.step()
    return copy


def _sign(x: float) -> str:
    return "up" if x > 0 else "down" if x < 0 else "unchanged"


def _neuron_name(trainer, layer: int, j: int) -> str:
    """A neuron in the page's numbering (node layer `layer`, 0 = the inputs)."""
    sizes = trainer.model()["sizes"]
    if not 0 <= layer < len(sizes) or not 0 <= j < sizes[layer]:
        raise TrainerError(f"there is no neuron {j + 1} in layer {layer}")
    if layer == 0:
        return f"input {FEATURE_LABELS.get(trainer.config.features[j], j + 1)}"
    if layer == len(sizes) - 1:
        return "the output" if sizes[layer] == 1 else f"output neuron {j + 1}"
    return f"neuron {j + 1} of layer {layer}"


def _link(trainer, spec) -> payloads.Selection:
    t = spec.target
    if t is None or t.kind != "link" or t.i is None:
        raise TrainerError("this question is about a link: give its layer, i and j")
    _neuron_name(trainer, t.weight_layer, t.i)  # a link's source sits in that node layer
    _neuron_name(trainer, t.node_layer, t.j)
    return t


def _link_name(trainer, t) -> str:
    src, dst = _neuron_name(trainer, t.weight_layer, t.i), _neuron_name(trainer, t.node_layer, t.j)
    return f"the weight from {src} to {dst}"


def _target(t) -> dict:
    return t.model_dump(exclude_none=True)


def _fmt(x: float) -> str:
    return f"{x:.4g}".replace("-", "−")


def _update_sign(trainer, spec, example) -> Posed:
    t = _link(trainer, spec)
    copy = _next_update(trainer)
    if copy.stopped == "diverged":
        raise TrainerError(
            "the next update diverges (the weights become infinite); ask "
            "whether the loss goes up instead"
        )
    w = copy.explain(layer=t.weight_layer, j=t.j, i=t.i)["weight"]
    truth = _sign(w["delta_w"])
    step = copy.step_count
    return Posed(
        kind="update_sign",
        prompt=f"In update {step}, will {_link_name(trainer, t)} go up or down?",
        choices=SIGNS,
        labels=SIGN_LABELS,
        target=_target(t),
        step=step,
        truth=truth,
        truth_label=SIGN_LABELS[SIGNS.index(truth)],
        value=w["delta_w"],
        detail=f"Δw = {_fmt(w['delta_w'])}: w went from {_fmt(w['weight'])} to "
        f"{_fmt(w['weight_after'])} in update {step}",
    )


def _delta_value(trainer, spec, example) -> Posed:
    t = spec.target
    if t is None or t.kind == "bias" or (t.kind == "link" and t.i is None):
        raise TrainerError("this question is about a neuron's δ or a link's ∂ℓ/∂w")
    copy = _next_update(trainer)
    if t.kind == "neuron":
        name = _neuron_name(trainer, t.node_layer, t.j)
        if t.node_layer == 0:
            raise TrainerError("an input has no δ: pick a hidden or output neuron")
        r = copy.explain(layer=t.weight_layer, j=t.j, example=example)
        value, what = r["neuron"]["delta"], f"δ = ∂ℓ/∂z of {name}"
    else:
        _link(trainer, spec)
        r = copy.explain(layer=t.weight_layer, j=t.j, i=t.i, example=example)
        value = next(n["grad"] for n in r["graph"]["nodes"] if n["id"] == "w")
        what = f"∂ℓ/∂w of {_link_name(trainer, t)}"
    if value is None or not math.isfinite(value):
        raise TrainerError("the engine's number is not finite here; ask something else")
    tolerance = spec.tolerance or max(abs(value) * DEFAULT_TOLERANCE, MIN_TOLERANCE)
    step, shown = copy.step_count, r["example"]
    return Posed(
        kind="delta_value",
        prompt=f"In update {step}, on example #{shown}: what is {what}? "
        f"(right within ±{tolerance:.3g})",
        target=_target(t),
        tolerance=tolerance,
        step=step,
        truth=value,
        truth_label=_fmt(value),
        value=value,
        detail=f"{what} = {_fmt(value)} on example #{shown} in update {step}",
    )


def _loss_direction(trainer, spec, example) -> Posed:
    before = trainer.metrics()["loss"]["train"]
    if before is None:
        raise TrainerError("there is no training loss to compare: add training points")
    copy = _next_update(trainer)
    after = None if copy.stopped == "diverged" else copy.metrics()["loss"]["train"]
    step = copy.step_count if after is not None else trainer.step_count + 1
    truth = "up" if after is None else _sign(after - before)
    labels = ("goes up ↑", "goes down ↓", "stays the same")
    detail = (
        f"the loss became infinite in update {step}: training diverged"
        if after is None
        else f"training loss {_fmt(before)} → {_fmt(after)} after update {step}"
    )
    return Posed(
        kind="loss_direction",
        prompt=f"After update {step}, will the training loss go up or down?",
        choices=SIGNS,
        labels=labels,
        step=step,
        truth=truth,
        truth_label=labels[SIGNS.index(truth)],
        value=after,
        detail=detail,
    )


def _class_of_point(trainer, spec, example) -> Posed:
    if spec.x1 is None or spec.x2 is None:
        raise TrainerError("this question is about a point: give x1 and x2")
    if trainer.config.task == "regression":
        raise TrainerError("a regression network assigns no classes: ask something else")
    k = trainer.model()["sizes"][-1]
    n_classes = 2 if k == 1 else k
    choices = tuple(str(c) for c in range(n_classes))
    labels = tuple(f"class {c}" for c in range(n_classes))
    truth = str(trainer.classify([[spec.x1, spec.x2]])[0])
    where = f"({spec.x1:.2f}, {spec.x2:.2f})"
    return Posed(
        kind="class_of_point",
        prompt=f"Which class does the network give the point {where} now?",
        choices=choices,
        labels=labels,
        x1=spec.x1,
        x2=spec.x2,
        step=trainer.step_count,
        truth=truth,
        truth_label=f"class {truth}",
        value=None,
        detail=f"the network puts {where} in class {truth} after update {trainer.step_count}",
    )


KINDS: dict[str, Any] = {
    "update_sign": _update_sign,
    "delta_value": _delta_value,
    "loss_direction": _loss_direction,
    "class_of_point": _class_of_point,
}
assert set(KINDS) == set(messages_in.QUESTION_KINDS), "every question kind needs its function"

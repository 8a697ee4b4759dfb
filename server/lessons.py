"""Guided lessons: each one a configuration that shows one idea of backpropagation, in words
for students. The page lists them in its Lessons menu; `/?lesson=<id>` opens one.

A lesson's `config` is a partial engine config (engine.config.FIELDS names); the page merges
it over the engine defaults, so everything the lesson depends on is set here explicitly.
tests/test_lessons.py checks that each lesson's claim holds in the engine with that seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.readouts import READOUT_NAMES


@dataclass(frozen=True)
class Lesson:
    """One lesson. `rate` is its Play pace in updates a second (one of the page's speeds,
    static/js/state.js PLAY_RATES): slow where each update should be watched, fast where the
    idea needs thousands. `charts` is the chart it is about (one of CHART_NAMES: "all", or a
    readout's name such as "loss" or "grad_norms"), shown alone where all do not fit. `compare`
    (optional) is the second run's changes in compare mode. `question` (optional) is what the
    presenter may ask the class at the lesson's moment (`moment` says when): an `ask`
    message's question (protocol.QuestionSpec; tests/test_lessons.py checks it, and the
    engine's answer where the lesson claims one, `answer`)."""

    id: str
    title: str
    config: dict[str, Any]
    explanation: str
    watch: tuple[str, ...]
    try_: tuple[str, ...]
    rate: float
    charts: str = "loss"
    compare: dict[str, Any] | None = field(default=None)
    question: dict[str, Any] | None = field(default=None)
    moment: str = ""
    answer: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "title": self.title,
            "config": dict(self.config),
            "explanation": self.explanation,
            "watch": list(self.watch),
            "try": list(self.try_),
            "rate": self.rate,
            "charts": self.charts,
        }
        if self.compare is not None:
            out["compare"] = dict(self.compare)
        if self.question is not None:
            out["question"] = {"spec": dict(self.question), "moment": self.moment}
        return out


# What a chart tab is named (a lesson's `charts`, the `ui` message's): every chart, or the one of a
# readout the engine lists (a chart is named by its readout).
CHART_NAMES = ("all", *READOUT_NAMES)

# Shared by every lesson unless it says otherwise: the engine defaults it relies on, spelled
# out so that a change of default cannot change a lesson.
_BASE = {
    "n_points": 500,
    "noise": 0.0,
    "train_fraction": 0.5,
    "features": ["x1", "x2"],
    "output_activation": "tanh",
    "loss": "mse",
    "init": "uniform",
    "batch_norm": False,
    "residual": False,
    "dropout": 0.0,
    "optimizer": "sgd",
    "regularization": "none",
    "regularization_rate": 0.0,
    "batch_size": 10,
}


def _config(**fields: Any) -> dict[str, Any]:
    return {**_BASE, **fields}


# the six-layer sigmoid network whose gradients vanish (two lessons: the problem, the cures)
_DEEP_SIGMOID = {
    "dataset": "circle",
    "seed": 1,
    "hidden": [6] * 6,
    "activation": "sigmoid",
    "output_activation": "sigmoid",
    "loss": "bce",
}


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        id="one-neuron",
        rate=30,
        charts="loss",
        title="One neuron draws a line",
        config=_config(
            dataset="gaussian", noise=0.1, seed=1, hidden=[], activation="tanh", learning_rate=0.03
        ),
        explanation=(
            "With no hidden layer the network is a single neuron: it adds up w₁·x₁ + w₂·x₂ + b "
            "and squashes the sum. Where that sum is zero is a straight line, so one neuron can "
            "only split the plane with a line. Two well separated clusters are all it needs."
        ),
        watch=(
            "The Output plot: the boundary is always a straight line that turns and moves.",
            "The two links into the output: their weights set the line's direction.",
        ),
        try_=(
            "Press Step a few times, then Play, and watch the line settle between the clusters.",
            "Switch the data set to circle: no line can separate it, and the loss stays high.",
            "Click a link to see its gradient ∂L/∂w in the inspector.",
        ),
    ),
    Lesson(
        id="xor",
        rate=150,
        charts="loss",
        title="XOR needs a hidden layer",
        config=_config(dataset="xor", seed=1, hidden=[4], activation="tanh", learning_rate=0.1),
        question={"kind": "update_sign", "target": {"kind": "link", "layer": 1, "i": 0, "j": 0}},
        moment=(
            "Before the first update: step by phase to the backward pass, look at the output's "
            "δ and hidden neuron 1's output, and ask whether the link between them goes up or "
            "down."
        ),
        explanation=(
            "XOR puts each class in two opposite corners, so no single straight line separates "
            "them. A hidden layer lets each hidden neuron draw its own line, and the output "
            "neuron combines those lines into a shape that fits the corners."
        ),
        watch=(
            "Each hidden neuron's small map: every one of them is a line.",
            "The Output plot: the boundary bends into a cross once the lines are combined.",
            "The accuracy above the Output plot: it climbs well above 90 %.",
        ),
        try_=(
            "Press Play and watch the hidden neurons' lines turn into place.",
            "Remove the hidden layer with the − beside “1 hidden layer” in the Network card's "
            "title, then Reset and Play: accuracy stalls near 50 %.",
            "Step by phase and watch the error flow back from the output to the hidden layer.",
        ),
    ),
    Lesson(
        id="diverge",
        rate=75,
        charts="loss",
        title="A learning rate too large diverges",
        config=_config(
            dataset="gaussian",
            seed=1,
            hidden=[4, 2],
            activation="tanh",
            output_activation="linear",
            loss="mse",
            learning_rate=3.0,
        ),
        question={"kind": "loss_direction"},
        moment="Before pressing Play: at learning rate 3, will the next update lower the loss?",
        answer="up",
        explanation=(
            "Each update moves every weight by the learning rate times its gradient. If that "
            "step is too big it jumps over the valley of the loss and lands higher up the other "
            "side, where the gradient is even bigger, so the next jump is bigger still. The "
            "loss explodes and training stops."
        ),
        watch=(
            "The loss chart: the loss shoots up by many orders of magnitude (try its log scale).",
            "The red stop line under the top bar: it names the update where the loss became "
            "infinite.",
            "The links in the diagram: they grow thick as the weights blow up.",
        ),
        try_=(
            "Press Play: the loss overflows at step 227, about three seconds at this pace, and "
            "the red stop line appears.",
            "Set the learning rate to 0.03, press Reset and Play: the loss now falls.",
            "Find the largest learning rate that still learns: try 1 and 0.3.",
        ),
    ),
    Lesson(
        id="vanishing",
        rate=750,
        charts="grad_norms",
        title="Vanishing gradients in a deep sigmoid network",
        config=_config(**_DEEP_SIGMOID, learning_rate=0.1),
        explanation=(
            "Backpropagation multiplies the error by each layer's weights and by the "
            "activation's slope on its way back. The sigmoid's slope is at most ¼, so after six "
            "layers the gradient reaching the first layer is thousands of times smaller than at "
            "the output. The first layers barely learn."
        ),
        watch=(
            "The gradient-norm chart (log scale): one line per layer, h1 far below out.",
            "The Backward view: links near the output are coloured, links near the inputs "
            "are almost grey.",
            "The loss chart: it hardly moves.",
        ),
        try_=(
            "Press Play, then switch to the Backward view (b).",
            "Change the activation to relu or tanh and Reset: the layers' gradient norms come "
            "together.",
            "Open the deep-rescue lesson for two more cures.",
        ),
    ),
    Lesson(
        id="symmetry",
        rate=75,
        charts="loss",
        title="Zero initialisation keeps neurons identical",
        config=_config(
            dataset="circle",
            seed=1,
            hidden=[4],
            activation="sigmoid",
            init="zeros",
            learning_rate=0.3,
        ),
        compare={"init": "uniform"},
        explanation=(
            "If every weight starts at zero, every hidden neuron computes the same thing and "
            "receives exactly the same gradient, so every update changes them in the same way. "
            "They stay copies of each other for ever, and four neurons do the work of one. "
            "Random initial weights break this symmetry."
        ),
        watch=(
            "The hidden neurons' maps: all four always look the same.",
            "The links: links from the same input carry the same weight.",
            "The Output plots: A draws a single straight line, like one neuron; B, the same "
            "network started from random (uniform) weights, closes around the circle.",
        ),
        try_=(
            "Press Play for a while and compare the hidden neurons.",
            "Compare A's boundary and loss curve with B's, from the same data and seed.",
            "Click two hidden neurons in turn and compare their gradients in the inspector.",
        ),
    ),
    Lesson(
        id="optimizers",
        rate=150,
        charts="loss",
        title="Momentum and Adam against plain SGD",
        config=_config(
            dataset="circle",
            seed=1,
            hidden=[8, 8],
            activation="tanh",
            learning_rate=0.01,
            optimizer="sgd",
        ),
        compare={"optimizer": "adam"},
        explanation=(
            "Plain gradient descent moves each weight by the learning rate times its current "
            "gradient. Momentum keeps a running sum of past gradients, so it speeds up along a "
            "steady slope; Adam also divides by each weight's typical gradient size, so small "
            "gradients still give useful steps. Same start, same data, different update rule."
        ),
        watch=(
            "The loss chart: the two runs start at the same loss; which falls faster?",
            "The Output plot: Adam's boundary closes around the circle much sooner.",
        ),
        try_=(
            "Press Play and compare the two loss curves.",
            "Change the optimizer to momentum and Reset: it also beats plain SGD.",
            "Raise SGD's learning rate to 0.1: how close does it come?",
        ),
    ),
    Lesson(
        id="overfitting",
        rate=750,
        charts="loss",
        title="Overfitting, and how L2 and dropout help",
        config=_config(
            dataset="circle",
            n_points=150,
            noise=0.3,
            train_fraction=0.2,
            seed=0,
            hidden=[16, 16],
            activation="tanh",
            optimizer="sgd",
            learning_rate=0.1,
            batch_size=5,
        ),
        explanation=(
            "With only a few training points and many weights, the network can bend its "
            "boundary around every single point, noise included. The training loss goes to "
            "zero but the test loss, on points it never trained on, stays high. L2 "
            "regularisation pulls weights towards zero and dropout switches random neurons "
            "off, and both keep the boundary simpler."
        ),
        watch=(
            "The loss chart: the train loss falls to almost zero while the test loss stays up.",
            "The Output plot with test data shown: the boundary wiggles around single points.",
        ),
        try_=(
            "Tick 'test data' above the Output plot, then press Play.",
            "Set regularization to L2 with rate 0.01 and Reset: the gap between the curves "
            "shrinks.",
            "Or set dropout to 0.3 instead and compare.",
        ),
    ),
    Lesson(
        id="batch-size",
        rate=30,
        charts="loss",
        title="Batch size: one example, a mini-batch, or all of them",
        config=_config(
            dataset="moons",
            n_points=200,
            noise=0.1,
            seed=1,
            hidden=[4, 2],
            activation="tanh",
            learning_rate=0.1,
            batch_size=1,
        ),
        explanation=(
            "Each update averages the gradient over a batch of training examples. With one "
            "example per batch the updates are many and noisy; with the whole training set "
            "(full batch) each update is smooth but there is only one per epoch. Mini-batches "
            "sit in between."
        ),
        watch=(
            "The loss chart: with batch size 1 the curve jitters up and down.",
            "The step and epoch counters: 100 updates make one epoch with batch size 1.",
        ),
        try_=(
            "Press Play for a few epochs and look at the loss curve.",
            "Set batch size to 10 and Reset, then to 100 (the full training set).",
            "Compare the loss after the same number of epochs, and after the same number of "
            "updates.",
        ),
    ),
    Lesson(
        id="deep-rescue",
        rate=750,
        charts="grad_norms",
        title="Batch norm and residual connections rescue a deep network",
        config=_config(**_DEEP_SIGMOID, learning_rate=0.3),
        compare={"batch_norm": True},
        explanation=(
            "This six-layer sigmoid network hardly learns: its gradients fade on the way back. "
            "Batch normalization re-centres and re-scales each layer's sums so the sigmoids work "
            "in their steep middle; residual connections add a shortcut around each layer, so "
            "the gradient has a path back that is not multiplied down."
        ),
        watch=(
            "The test accuracy above the Output plot: stuck near 50 % without help.",
            "The gradient-norm chart: the first layers' lines lie far below the output's.",
            "Run B, the same network with batch norm: its boundary closes around the circle.",
        ),
        try_=(
            "Press Play: A's boundary never forms while B's does.",
            "Open Compare and let B change residual instead of batch norm, then Play.",
            "Tick batch norm on A too: A now learns like B.",
        ),
    ),
)

LESSON_BY_ID = {lesson.id: lesson for lesson in LESSONS}


def lesson_list() -> list[dict[str, Any]]:
    """Every lesson as a JSON-able dict: id, title, config, explanation, watch, try, compare."""
    return [lesson.to_dict() for lesson in LESSONS]


def lessons_script_json() -> str:
    """lesson_list() as JSON safe inside a <script> element ("</" written as "<\\/")."""
    return json.dumps(lesson_list(), ensure_ascii=False).replace("</", "<\\/")

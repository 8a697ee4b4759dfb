"""Issue 12 on the real page: the update phase of a phase step stays on screen with the
change Δw each link got, and every neuron's δ is labelled the same way at every size.

What the diagram drew is read from `window.backpropLab.network.drawn` (the values behind each
link's colour, each δ label's text, font and box); the oracle is an in-process Trainer with the
page's configuration, whose weights before and after the update and whose δ are the engine's
own float64 numbers, not the page's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.trainer import Trainer
from tests.helpers.numbers import format_number
from tests.helpers.page import SCREENSHOTS, click_step

PHASES = ("forward", "loss", "backward", "update")
DRAWN = "() => window.backpropLab.network.drawn"
DEEP = "features=x1,x2,x1_sq,x2_sq,x1x2,sin_x1,sin_x2&hidden=8,8,8,8,8,8"
NETWORKS = {"2-hidden": "hidden=4,2", "7-8x6-1": DEEP}
SIZES = {"1280x720": (1280, 720), "1920x1080": (1920, 1080), "390x844": (390, 844)}
MIN_FONT_PX = 10


def compact(x: float) -> str:
    """The page's δ label (static/js/format.js compactNumber): its one format, two digits."""
    return format_number(x, 2)


def test_compact_matches_the_rule_on_examples():
    assert [compact(v) for v in (0.034, -0.5, 1.26, 12.3, -0.0016, 0.1, 150.2, 2600.0, 0.0)] == [
        "0.034",
        "−0.5",
        "1.3",
        "12",
        "−0.0016",
        "0.1",
        "1.5×10²",
        "2.6×10³",
        "0",
    ]
    assert compact(-4.77e-5) == "−4.8×10⁻⁵"


def configured(r, **want) -> dict:
    """The page's config once the URL's configuration is in (it follows the first state)."""
    js = {k: json.dumps(v, separators=(",", ":")) for k, v in want.items()}
    cond = " && ".join(f"JSON.stringify(c.{k}) === {json.dumps(v)}" for k, v in js.items())
    r.page.wait_for_function(
        f"() => {{ const c = window.backpropLab.store.state.config; return c && {cond}; }}"
    )
    return r.state("s.config")


def step_phase(r, phase: str) -> None:
    r.page.get_by_role("button", name="Step", exact=True).click()
    r.page.wait_for_function(f"() => window.backpropLab.store.state.phase === '{phase}'")


def wait_drawn(r) -> dict:
    """What the diagram shows once no animation runs."""
    r.page.wait_for_function("() => window.backpropLab.store.state.ui.anim === null")
    r.settle()
    return r.page.evaluate(DRAWN)


def engine_arrays(t: Trainer) -> tuple[list[np.ndarray], list[np.ndarray]]:
    p = t.weight_arrays()
    return [w.copy() for w in p["weights"]], [b.copy() for b in p["biases"]]


def test_the_update_phase_is_held_and_draws_each_links_applied_change(run):
    # Adam: its first update is −α·m̂/(√v̂ + ε), far from −α·g, so the drawing cannot pass
    # by showing the gradient scaled.
    r = run("dataset=xor&optimizer=adam&learning_rate=0.03&seed=11")
    config = configured(r, dataset="xor", optimizer="adam", learning_rate=0.03, seed=11)
    page_before = r.state("s.params")  # the state message's exact float64 weights
    t = Trainer(config)
    W0, b0 = engine_arrays(t)
    for l, W in enumerate(W0):
        np.testing.assert_array_equal(np.array(page_before["weights"][l]), W)
    for _ in PHASES:
        rec = t.phase_step()
    W1, b1 = engine_arrays(t)
    assert rec.applied and t.phase == "update"

    r.page.select_option("#step-unit", "phase")
    for phase in PHASES:
        step_phase(r, phase)
    r.page.wait_for_function(
        "() => { const rec = window.backpropLab.store.state.record;"
        " return rec && rec.applied && rec.step === 1; }"
    )
    drawn = wait_drawn(r)
    assert drawn["phase"] == "update" and drawn["links"] == "Δw", drawn["legend"]
    assert drawn["legend"]["text"].startswith("Phase: 4 update w ← w + Δw")
    for l, (before, after) in enumerate(zip(W0, W1, strict=True)):
        shown = np.array(drawn["linkValues"][l])
        assert shown.shape == before.shape
        # float32 on the wire: Δw to float32's precision
        np.testing.assert_allclose(shown, after - before, rtol=1e-5, atol=1e-9)
        g = rec.layer_arrays(rec.grads, l)[0]
        assert np.abs(shown - (-config["learning_rate"] * g)).max() > 1e-3  # not −α·g
    biases = {(b["layer"], b["j"]): b["value"] for b in drawn["biasValues"]}
    for l, (before, after) in enumerate(zip(b0, b1, strict=True)):
        np.testing.assert_allclose(
            [biases[(l, j)] for j in range(len(before))], after - before, rtol=1e-5, atol=1e-9
        )
    r.shot("phase-update-held-1280x720")

    r.page.wait_for_timeout(1200)  # well past the 0.5 s animation: still held
    r.settle()
    later = r.page.evaluate(DRAWN)
    assert later["phase"] == "update" and later["links"] == "Δw"
    assert later["linkValues"] == drawn["linkValues"]

    # the view toggle shows the same update's gradients, then its update again
    r.page.click("#view-backward")
    drawn = wait_drawn(r)
    assert drawn["phase"] is None and drawn["links"] == "∂L/∂w"
    assert drawn["legend"]["text"].startswith("Backward view: links ∂L/∂w")
    for l in range(len(W0)):
        np.testing.assert_allclose(
            np.array(drawn["linkValues"][l]),
            rec.layer_arrays(rec.grads, l)[0],
            rtol=1e-5,
            atol=1e-9,
        )
    r.page.click("#view-forward")
    drawn = wait_drawn(r)
    assert drawn["phase"] == "update" and drawn["links"] == "Δw"

    # an update-by-update step animates its four phases, then shows the forward view
    r.page.select_option("#step-unit", "update")
    click_step(r)
    drawn = wait_drawn(r)
    assert r.state("s.phase") is None
    assert drawn["phase"] is None and drawn["links"] == "w"
    assert drawn["legend"]["text"].startswith("Forward view")
    assert r.errors == [], r.errors


def overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("size", SIZES)
def test_every_neuron_has_a_legible_delta_label_in_the_backward_view(run, size, network):
    r = run(f"dataset=spiral&{NETWORKS[network]}&seed=4", size=SIZES[size])
    hidden = [int(w) for w in NETWORKS[network].split("hidden=")[1].split(",")]
    config = configured(r, dataset="spiral", seed=4, hidden=hidden)
    click_step(r)
    r.page.click("#view-backward")
    drawn = wait_drawn(r)
    width = r.page.evaluate("() => window.backpropLab.network.surface.width")

    rec = Trainer(config).step()
    # δ of node layer l + 1: the batch mean of ∂ℓ_i/∂z = Σ over the batch of ∂L/∂z (L the mean)
    want = {
        (l + 1, j): float(v)
        for l, t in enumerate(rec.traces)
        for j, v in enumerate(t.dz.sum(axis=0))
    }
    labels = {(d["layer"], d["j"]): d for d in drawn["labels"]}
    if size == "390x844" and network == "7-8x6-1":
        # the page's number format (0.034, −3.4×10⁻⁵) is wider than the old ".034", "3e-5":
        # a phone has no room for a label under each of 49 neurons (the legend says so
        # where it has room: "select one to read its δ")
        assert labels == {}
        assert r.page.evaluate("() => window.backpropLab.network.labelsFit") is False
        r.shot(f"phase-delta-labels-{network}-{size}")
        return
    assert set(labels) == set(want), sorted(set(want) - set(labels))
    for key, label in labels.items():
        assert label["value"] == pytest.approx(want[key], rel=1e-5, abs=1e-9), key
        assert label["text"] == compact(want[key]), (key, label, want[key])
        assert label["font"] >= MIN_FONT_PX, label
        box = label["box"]
        assert 0 <= box["x"] and box["x"] + box["w"] <= width, label
    boxes = [d["box"] for d in drawn["labels"]]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not overlaps(a, b), (a, b)
        for n in drawn["neurons"]:
            assert not overlaps(a, n["box"]), (a, n)
    r.shot(f"phase-delta-labels-{network}-{size}")
    assert r.errors == [], r.errors


@pytest.mark.parametrize("size", SIZES)
def test_screenshots_of_the_held_update_phase(run, size):
    r = run(f"dataset=spiral&{DEEP}&seed=4&momentum=0.9", size=SIZES[size])
    r.page.select_option("#step-unit", "phase")
    for phase in PHASES:
        step_phase(r, phase)
    drawn = wait_drawn(r)
    assert drawn["phase"] == "update" and drawn["links"] == "Δw"
    assert len(drawn["legend"]["text"]) >= len("Phase: 4 update w ← w + Δw")
    path = r.shot(f"phase-update-7-8x6-1-{size}")
    assert path.parent == SCREENSHOTS and path.stat().st_size > 0
    assert r.errors == [], r.errors

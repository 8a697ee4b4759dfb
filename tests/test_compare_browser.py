"""Compare mode's panel and card in the page with a run B whose network differs from A's,
driven in chromium against a real server.

Every value is read off the page (the card's text, its step and loss, run B's canvas) and
checked against an engine trainer built apart from the page's config plus B's change and
stepped as often as the page's step counter says.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engine.trainer import Trainer
from tests.helpers.page import PageRun, reveal

STATE = "window.backpropLab.store.state"


def open_panel(page: PageRun, field: str) -> None:
    reveal(page.page, "#btn-compare")
    page.page.click("#btn-compare")
    page.page.select_option("#compare-field", field)


def start(page: PageRun, check: str) -> None:
    """Press the panel's start button and wait for B's `check` (a JS test on `c`)."""
    page.page.get_by_test_id("compare-start").click()
    page.page.wait_for_function(f"() => {{ const c = {STATE}.compare; return c && ({check}); }}")
    page.settle()


def step_both(page: PageRun, n: int) -> None:
    for k in range(n):
        page.page.click("#btn-step")
        page.wait_steps(k + 1)
    expect(page.page.get_by_test_id("compare-step")).to_have_text(str(n))
    page.settle()


def assert_b_matches(page: PageRun, changes: dict) -> None:
    """B's step and loss off the card equal an engine trainer's with A's config + changes."""
    n = page.steps()
    b = Trainer({**page.state("s.config"), **changes})
    b.run(n)
    assert int(page.text("compare-step")) == n
    shown = page.text("compare-loss").replace("−", "-")
    assert float(shown) == pytest.approx(b.metrics()["loss"]["train"], rel=6e-4)
    assert page.state("s.compare.metrics.loss.train") == b.metrics()["loss"]["train"]
    a = Trainer(page.state("s.config"))
    a.run(n)
    assert page.state("s.metrics.loss.train") == a.metrics()["loss"]["train"]


def test_a_structural_comparison_from_the_panel(run):
    page = run()
    assert page.state("s.config.hidden") == [4, 2] and not page.state("s.config.batch_norm")
    page.page.click("#btn-step")  # A has moved: a structural comparison restarts it
    page.wait_steps(1)

    # batch norm: offered among the network's fields, suggested on, restarts both
    open_panel(page, "batch_norm")
    groups = page.page.eval_on_selector_all(
        "#compare-field optgroup", "gs => gs.map(g => [g.label, [...g.children].map(o => o.value)])"
    )
    assert groups[1][0] == "Network (both restart)"
    assert {"init", "batch_norm", "residual", "hidden", "features"} <= set(groups[1][1])
    assert "optimizer" in groups[0][1] and "hidden" not in groups[0][1]
    expect(page.page.get_by_test_id("compare-hint")).to_contain_text("restart from step 0")
    assert page.page.eval_on_selector("#compare-value", "s => s.value") == "true"
    start(page, "c.changes.batch_norm === true")
    assert page.steps() == 0 and page.text("compare-step") == "0"
    expect(page.page.locator(".compare-what")).to_have_text(
        "A (left) vs B (right): Batch norm: off → on"
    )
    step_both(page, 6)
    assert_b_matches(page, {"batch_norm": True})
    assert page.canvas_signature("#boundary-b")["colours"] > 20  # B's plot is drawn

    # hidden layers: typed into the panel, and B's network shape on the card
    open_panel(page, "hidden")
    assert page.page.input_value("#compare-value") == "8, 4"  # A's widths doubled
    page.page.fill("#compare-value", "8, 8")
    page.page.dispatch_event("#compare-value", "change")
    start(page, "c.changes.hidden && c.changes.hidden.join() === '8,8'")
    expect(page.page.locator(".compare-what")).to_have_text(
        "A (left) vs B (right): Hidden layers: 4, 2 → 8, 8; network: 2–4–2–1 → 2–8–8–1"
    )
    assert page.state("s.compare.config.batch_norm") is False  # the old comparison went
    step_both(page, 4)
    assert_b_matches(page, {"hidden": [8, 8]})

    # input features: ticked in the panel, named by their labels
    open_panel(page, "features")
    page.page.get_by_test_id("compare-feature-sin_x1").check()
    page.shot("compare-panel-features-1280x720")
    start(page, "c.changes.features && c.changes.features.length === 5")
    features = ["x1", "x2", "x1_sq", "x2_sq", "sin_x1"]
    assert page.state("s.compare.changes.features") == features
    labels = page.state("s.featureLabels")
    what = page.page.locator(".compare-what").inner_text()
    assert f"→ {', '.join(labels[f] for f in features)}" in what
    assert "network: 2–4–2–1 → 5–4–2–1" in what
    step_both(page, 3)
    assert_b_matches(page, {"features": features})
    assert page.canvas_signature("#boundary-b")["colours"] > 20
    page.shot("compare-features-1280x720")
    assert page.errors == []


def test_a_live_comparison_still_says_it_keeps_the_weights(run):
    page = run()
    open_panel(page, "learning_rate")
    expect(page.page.get_by_test_id("compare-hint")).to_contain_text("same initial weights")
    expect(page.page.get_by_test_id("compare-start")).to_have_text("Start comparing")
    page.page.fill("#compare-value", "0.3")
    page.page.dispatch_event("#compare-value", "change")
    start(page, "c.changes.learning_rate === 0.3")
    expect(page.page.locator(".compare-what")).to_have_text(
        "A (left) vs B (right): Learning rate α: 0.03 → 0.3"
    )
    step_both(page, 2)
    assert_b_matches(page, {"learning_rate": 0.3})
    assert page.errors == []


def test_the_deep_rescue_lesson_compares_a_with_batch_norm_beside_it(run):
    page = run("lesson=deep-rescue")
    page.page.wait_for_function(
        f"() => {{ const c = {STATE}.compare; return c && c.changes.batch_norm === true; }}"
    )
    page.settle()
    expect(page.page.locator(".compare-what")).to_have_text(
        "A (left) vs B (right): Batch norm: off → on"
    )
    assert page.state("s.config.hidden") == [6, 6, 6, 6, 6, 6]
    assert page.state("s.compare.config.hidden") == [6, 6, 6, 6, 6, 6]
    step_both(page, 3)
    assert_b_matches(page, {"batch_norm": True})
    assert page.errors == []

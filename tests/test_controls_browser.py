"""Keyboard shortcuts and the view toggle while a phase is held (issue 12's bugs), on the
real page."""

from __future__ import annotations

import numpy as np
from playwright.sync_api import expect

from tests.helpers.page import click_step, reveal

LEGEND = "window.backpropLab.network.legendText"


def test_arrow_keys_on_a_focused_select_step_and_never_change_it(run):
    r = run("dataset=xor&learning_rate=0.03")
    r.page.select_option("#step-unit", "phase")
    r.page.focus("#step-unit")
    r.page.keyboard.press("ArrowRight")
    r.page.wait_for_function("() => window.backpropLab.store.state.phase === 'forward'")
    assert r.page.eval_on_selector("#step-unit", "e => e.value") == "phase"
    r.page.keyboard.press("ArrowRight")
    r.page.wait_for_function("() => window.backpropLab.store.state.phase === 'loss'")
    assert r.page.eval_on_selector("#step-unit", "e => e.value") == "phase"
    r.page.focus("#cfg-learning_rate")
    r.page.keyboard.press("ArrowLeft")  # a step back (the half-shown step), not α 0.03 → 0.01
    r.page.wait_for_function("() => window.backpropLab.store.state.phase === null")
    r.settle()
    assert r.state("s.config.learning_rate") == 0.03
    assert r.page.eval_on_selector("#cfg-learning_rate", "e => e.value") == "0.03"
    assert r.errors == [], r.errors


def test_the_view_toggle_works_while_a_phase_is_held(run):
    r = run("dataset=xor")
    r.page.select_option("#step-unit", "phase")
    r.page.get_by_role("button", name="Step", exact=True).click()
    r.page.wait_for_function("() => window.backpropLab.store.state.phase === 'forward'")
    r.settle()
    assert r.page.evaluate(f"() => {LEGEND}").startswith("Phase: 1 forward pass")
    r.page.click("#view-backward")
    r.settle()
    # the backward view of a step in its forward phase: no gradient given away yet
    assert "come in phase 3" in r.page.evaluate(f"() => {LEGEND}")
    r.page.click("#view-forward")
    r.settle()
    assert r.page.evaluate(f"() => {LEGEND}").startswith("Phase: 1 forward pass")
    for _ in range(2):
        r.page.get_by_role("button", name="Step", exact=True).click()
        r.page.wait_for_function(
            "() => window.backpropLab.store.state.phase === 'loss'"
            " || window.backpropLab.store.state.phase === 'backward'"
        )
    r.page.wait_for_function("() => window.backpropLab.store.state.phase === 'backward'")
    r.settle()
    assert r.state("s.ui.view") == "backward"  # the backward phase shows itself backward
    assert r.page.evaluate(f"() => {LEGEND}").startswith("Phase: 3 backward pass")
    r.page.click("#view-forward")
    r.settle()
    assert r.page.evaluate(f"() => {LEGEND}").startswith("Forward view")
    assert r.errors == [], r.errors


def test_the_gradient_chart_names_every_layer_of_a_deep_network(run):
    r = run("dataset=circle&hidden=8,8,8,8,8,8&activation=sigmoid", size=(1280, 720))
    r.page.get_by_role("button", name="Play", exact=True).click()
    r.page.wait_for_function("() => window.backpropLab.store.state.history.length > 40")
    r.page.get_by_role("button", name="Pause", exact=True).click()
    r.page.locator(
        "#chart-tabs [data-chart=grad_norms]"
    ).click()  # one chart at a time at this size
    r.settle()
    shown = r.page.evaluate("() => window.backpropLab.charts.lines.grad_norms.legendShown")
    assert shown == ["h1", "h2", "h3", "h4", "h5", "h6", "out"], shown
    r.shot("1280x720-deep-gradient-norms")
    assert r.errors == [], r.errors


def test_play_at_the_defaults_learns_circle_and_xor(run):
    for dataset in ("circle", "xor"):
        r = run(f"dataset={dataset}")
        assert r.page.eval_on_selector("#speed-out", "e => e.textContent") == "750/s"
        r.page.get_by_role("button", name="Play", exact=True).click()
        r.page.wait_for_function(  # no clock: it learns, however long the machine takes
            "() => { const s = window.backpropLab.store.state;"
            " return s.metrics.loss.test !== null && s.metrics.loss.test < 0.05; }",
            timeout=120_000,
        )
        r.page.get_by_role("button", name="Pause", exact=True).click()
        assert r.state("s.counters.step") > 100
        assert r.errors == [], r.errors


def test_the_speed_control_spans_one_update_a_second_to_full_speed(run):
    r = run("dataset=circle")
    slider = r.page.locator("#speed")
    slider.fill("0")  # one update a second: each one drawn
    r.page.get_by_role("button", name="Play", exact=True).click()
    r.page.wait_for_function("() => window.backpropLab.store.state.playing")
    assert r.page.eval_on_selector("#speed-out", "e => e.textContent") == "1/s"
    r.page.wait_for_function("() => window.backpropLab.store.state.counters.step >= 1")
    r.page.get_by_role("button", name="Pause", exact=True).click()
    r.page.wait_for_function("() => !window.backpropLab.store.state.playing")
    slider.fill(slider.get_attribute("max"))
    # the readout follows on the next frame (a slow machine may not have drawn it yet)
    r.page.wait_for_function("() => document.getElementById('speed-out').textContent !== '1/s'")
    assert r.page.eval_on_selector("#speed-out", "e => e.textContent") == "6000/s"
    assert "epochs a second" in r.page.eval_on_selector("#speed-out", "e => e.title")
    assert r.errors == [], r.errors


def test_residual_where_no_skip_fits_says_why_and_changes_nothing(run):
    # issue 21 item 12: at the default hidden [4, 2] ticking Residual reset training and
    # changed nothing else
    r = run("dataset=xor")
    r.page.locator("#btn-step").click()
    r.wait_steps(1)
    reveal(r.page, "#cfg-residual")  # the Network group starts folded (issue 22)
    box = r.page.locator("#cfg-residual")
    assert box.is_disabled()
    why = r.page.get_by_test_id("residual-why")
    assert why.is_visible() and "No skip fits" in why.inner_text(), why.inner_text()
    box.click(force=True)  # a disabled box ignores the click
    r.settle()
    assert r.steps() == 1 and r.state("s.config.residual") is False
    r.shot("1280x720-residual-unavailable")
    # with two hidden layers of one width a skip fits: the box is live and says nothing
    r.open("dataset=xor&hidden=4,4")
    assert not r.page.locator("#cfg-residual").is_disabled(), r.state("s.config.hidden")
    assert not r.page.get_by_test_id("residual-why").is_visible()
    assert r.errors == [], r.errors


def test_the_page_says_what_the_server_did_with_a_change(run):
    """Every change goes out as `configure` and the server decides what it does (issue 25):
    its reply's effect is said, and the weights agree with it: a learning rate keeps them
    (the same numbers), one more neuron draws a new network from the seed (step 0)."""
    r = run("dataset=xor&hidden=4,2")
    click_step(r, 2)
    before = r.state("[...s.params.weights.flat(2), ...s.params.biases.flat()]")
    said = r.page.locator("#toasts [data-toast]", has_text="changed:")
    r.page.select_option("#cfg-learning_rate", "0.1")
    expect(said).to_contain_text("Learning rate α changed: weights kept.")
    assert r.state("s.config.learning_rate") == 0.1
    # the same weights (the frame's float32 copy before, the state's float64 now)
    after = r.state("[...s.params.weights.flat(2), ...s.params.biases.flat()]")
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-7)
    assert r.state("s.counters.step") == 2
    r.page.get_by_role("button", name="Add a neuron to layer 1").click()
    expect(said).to_contain_text("Hidden layers changed: a new network from the seed.")
    assert r.state("s.config.hidden") == [5, 2] and r.state("s.counters.step") == 0
    assert [len(W) for W in r.state("s.params.weights")] == [2, 5, 2]
    assert said.count() == 1  # the second replaced the first
    assert r.errors == [], r.errors

"""Classrooms in one chromium with two browser contexts, a teacher and a follower, against the
real server: live following, read-only followers, forks, late joiners, compare mode, and
export → import and share links that reproduce the exact numbers.

Oracles: what the other context's page shows, and the engine itself (a Trainer built from
the page's own config and stepped the same number of times) for compare mode.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from engine.trainer import Trainer
from tests.helpers.page import PageRun, reveal

STATE = "window.backpropLab.store.state"


def present(teacher: PageRun) -> str:
    """Open a room from the teacher's page; returns the join code shown on it."""
    teacher.page.click("#btn-room")
    code = teacher.page.get_by_test_id("room-code").inner_text().strip()
    assert len(code) == 6
    return code


def follow(run, code: str) -> PageRun:
    f = run(f"join={code}")
    f.page.wait_for_function(f"() => {STATE}.role === 'follower'")
    return f


def stamp_step_changes(page) -> None:
    """Record, in `window.__seen[step]`, when the status line first showed each step count
    (epoch milliseconds, comparable across the browser's pages)."""
    page.evaluate("""() => {
        window.__seen = {};
        const el = document.querySelector('[data-testid="step-count"]');
        new MutationObserver(() => {
            const n = el.textContent;
            const t = performance.timeOrigin + performance.now();
            if (!(n in window.__seen)) window.__seen[n] = t;
        }).observe(el, {childList: true, characterData: true, subtree: true});
    }""")


def test_the_follower_sees_each_teacher_step(run):
    """Every step, in order, each after its click. How soon is a figure of bench/classroom.py
    (lag p99 ≤ 250 ms), not a wall-clock limit here."""
    teacher = run()
    code = present(teacher)
    student = follow(run, code)
    expect(teacher.page.get_by_test_id("room-button")).to_contain_text(f"{code} · 1")
    stamp_step_changes(student.page)
    lags = []
    for n in range(1, 6):
        t0 = teacher.page.evaluate("""() => { const t = performance.timeOrigin + performance.now();
            document.getElementById('btn-step').click(); return t; }""")
        student.wait_steps(n)
        lags.append(student.page.evaluate(f"() => window.__seen['{n}']") - t0)
        teacher.wait_steps(n)
    assert all(lag > 0 for lag in lags), lags  # seen after the click that made it
    seen = student.page.evaluate("() => Object.keys(window.__seen).map(Number)")
    assert sorted(k for k in seen if k > 0) == [1, 2, 3, 4, 5], seen
    # the follower's numbers are the teacher's, read off both pages
    for testid in ("loss-train", "loss-test", "accuracy-train", "accuracy-test", "epoch"):
        assert student.text(testid) == teacher.text(testid)
    # so is the view: the teacher's backward view and selected link show on the follower
    teacher.page.click("#view-backward")
    teacher.page.evaluate(
        "() => window.backpropLab.store.dispatch({type: 'select', selection: "
        "{kind: 'link', layer: 0, i: 1, j: 2}})"
    )
    student.page.wait_for_function(
        f"() => {STATE}.ui.view === 'backward' && {STATE}.ui.selection"
        f" && {STATE}.ui.selection.kind === 'link' && {STATE}.inspect"
    )
    expect(student.page.locator("#inspector")).to_contain_text("∂L/∂w")
    student.shot("classroom-follower-1280x720")
    teacher.shot("classroom-teacher-1280x720")


def test_the_follower_cannot_drive(run):
    teacher = run()
    code = present(teacher)
    teacher.page.click("#btn-step")
    teacher.wait_steps(1)
    student = follow(run, code)
    student.wait_steps(1)
    student.page.keyboard.press("ArrowRight")  # the keyboard's step
    student.page.keyboard.press(" ")  # and play
    expect(student.page.locator(".toast", has_text="read-only").first).to_be_visible()
    # a hand-made message over the follower's socket is refused with a typed error
    student.page.evaluate(
        "() => window.backpropLab.conn.ws.send(JSON.stringify({type: 'step', count: 5}))"
    )
    student.page.wait_for_function(f"() => {STATE}.toasts.some(t => t.code === 'forbidden')")
    time.sleep(0.3)
    assert teacher.steps() == 1 and student.steps() == 1
    assert not teacher.state("s.playing")
    # the controls only the presenter can use are hidden, not greyed (issue 22)
    assert student.page.evaluate("() => document.body.classList.contains('following')")
    for sel in ("#btn-play", "[data-testid=gradcheck]", "#btn-lessons", "#btn-room"):
        expect(student.page.locator(sel)).to_be_hidden()


def test_a_fork_diverges_from_the_room_and_following_again_works(run):
    teacher = run()
    code = present(teacher)
    for _ in range(3):
        teacher.page.click("#btn-step")
    teacher.wait_steps(3)
    student = follow(run, code)
    student.wait_steps(3)
    student.page.get_by_test_id("fork").click()
    student.page.wait_for_function(f"() => {STATE}.role === 'solo' && {STATE}.forkOf")
    assert f"forked={code}" in student.page.url and "join=" not in student.page.url
    student.wait_steps(3)  # the fork starts where the room was
    assert student.text("loss-train") == teacher.text("loss-train")
    for _ in range(4):
        student.page.click("#btn-step")
    student.wait_steps(7)
    student.page.select_option("#cfg-learning_rate", "1")
    student.page.wait_for_function(f"() => {STATE}.config.learning_rate === 1")
    time.sleep(0.3)
    assert teacher.steps() == 3 and teacher.state("s.config.learning_rate") == 0.03
    teacher.page.click("#btn-step")
    teacher.wait_steps(4)
    time.sleep(0.3)
    assert student.steps() == 7  # the room's steps no longer reach the fork
    student.shot("classroom-fork-1280x720")
    student.page.get_by_test_id("follow-again").click()
    student.page.wait_for_function(f"() => {STATE}.role === 'follower'")
    student.wait_steps(4)
    assert student.state("s.config.learning_rate") == 0.03
    assert f"join={code}" in student.page.url
    teacher.page.click("#btn-step")
    student.wait_steps(5)


def test_a_late_joiner_sees_the_current_state_at_once(run):
    teacher = run()
    teacher.page.click("[data-dataset='xor']")
    teacher.page.wait_for_function(f"() => {STATE}.config.dataset === 'xor'")
    code = present(teacher)
    teacher.page.select_option("#step-unit", "epoch")
    teacher.page.click("#btn-step")
    teacher.page.wait_for_function(f"() => {STATE}.counters.epoch === 1")
    teacher.page.click("#view-backward")
    steps = teacher.steps()
    student = follow(run, code)
    student.page.wait_for_function(f"() => {STATE}.ui.view === 'backward'")
    assert student.steps() == steps and student.text("epoch") == "1"
    assert student.state("s.config.dataset") == "xor"
    assert student.text("loss-train") == teacher.text("loss-train")
    # the decision boundary is drawn from the room's current frame, not an empty plot
    assert student.state("s.heatmaps.output.n") == 100
    sig = student.canvas_signature("#boundary")
    assert sig["colours"] > 20
    # ...and so are the backward view's gradients (the last update's, from the engine)
    oracle = Trainer(teacher.state("s.config"))
    oracle.run_epoch()
    dW = [g["dW"] for g in oracle.last_gradients()]
    student.page.wait_for_function(f"() => {STATE}.frameGrads !== null")
    shown = student.page.evaluate("() => window.backpropLab.network.gradScale")
    # a follower's frames are float16 (a classroom's Wi-Fi is shared): rounding is monotone,
    # so the largest |∂L/∂w| shown is the float16 of the engine's largest
    assert shown == float(np.float16(max(abs(g).max() for g in dW)))
    shown_dW = student.state("s.frameGrads.layers[0].dW")
    assert np.array_equal(shown_dW, dW[0].astype(np.float16).astype(np.float64))


def test_followers_read_the_presenters_lesson_card(run):
    teacher = run("lesson=xor")
    expect(teacher.page.get_by_test_id("lesson-title")).to_have_text("XOR needs a hidden layer")
    student = follow(run, present(teacher))
    expect(student.page.get_by_test_id("lesson-title")).to_have_text("XOR needs a hidden layer")
    assert (
        student.page.get_by_test_id("lesson-try").inner_text()
        == teacher.page.get_by_test_id("lesson-try").inner_text()
    )
    expect(student.page.locator("#lesson-card .restart")).to_be_hidden()  # read-only
    teacher.page.keyboard.press("Escape")  # closes the room panel
    teacher.page.click("#lesson-card [aria-label='Close the lesson']")
    expect(student.page.get_by_test_id("lesson-card")).to_be_hidden()


def test_the_backward_view_shows_gradients_while_playing(run):
    page = run()
    page.page.click("#view-backward")
    page.page.click("#btn-play")
    page.page.wait_for_function(f"() => {STATE}.frameGrads && {STATE}.counters.step > 5")
    page.page.click("#btn-play")
    page.page.wait_for_function(f"() => !{STATE}.playing")
    page.settle()
    n = page.steps()
    oracle = Trainer(page.state("s.config"))
    oracle.run(n)
    dW = [g["dW"] for g in oracle.last_gradients()]
    assert page.state("s.frameGrads.step") == n
    assert page.page.evaluate("() => window.backpropLab.network.gradScale") == pytest.approx(
        max(abs(g).max() for g in dW), rel=1e-6
    )


def test_compare_mode_runs_both_in_lockstep_and_matches_the_engine(run):
    page = run()
    reveal(page.page, "#btn-compare")
    page.page.click("#btn-compare")
    page.page.select_option("#compare-field", "optimizer")
    page.page.select_option("#compare-value", "adam")
    page.page.get_by_test_id("compare-start").click()
    page.page.wait_for_function(
        f"() => {STATE}.compare && {STATE}.compare.changes.optimizer === 'adam'"
    )
    expect(page.page.get_by_test_id("compare-card")).to_be_visible()
    page.page.click("#btn-play")
    time.sleep(1.5)
    page.page.click("#btn-play")
    page.page.wait_for_function(f"() => !{STATE}.playing")
    page.settle()
    n = page.steps()
    assert n > 10
    assert int(page.text("compare-step")) == n  # lockstep, read off the page
    config = page.state("s.config")
    a, b = Trainer(config), Trainer({**config, "optimizer": "adam"})
    a.run(n)
    b.run(n)
    assert page.state("s.metrics.loss.train") == a.metrics()["loss"]["train"]
    assert page.state("s.compare.metrics.loss.train") == b.metrics()["loss"]["train"]
    page.page.click("#btn-step")
    page.wait_steps(n + 1)
    expect(page.page.get_by_test_id("compare-step")).to_have_text(str(n + 1))
    # B's curve is drawn over A's in the loss chart, and B's boundary beside A's
    names = page.page.evaluate("() => window.backpropLab.charts.lines.loss.series.map(s => s.name)")
    assert names == ["A train", "A test", "B train", "B test"]
    assert page.canvas_signature("#boundary-b")["colours"] > 20
    page.shot("classroom-compare-1280x720")
    page.page.click("#btn-compare-stop")
    page.page.wait_for_function(f"() => {STATE}.compare === null")


def exact_params(page: PageRun):
    """The session's float64 weights: ask for a `state` (an empty `view`) and read it."""
    page.page.evaluate("() => window.backpropLab.conn.send({type: 'view'})")
    page.page.wait_for_function(f"() => {STATE}.paramsStep === {STATE}.counters.step")
    return page.state("s.params")


def test_an_exported_json_imported_reproduces_the_next_step_to_the_last_bit(run, tmp_path):
    page = run()
    reveal(page.page, "#cfg-optimizer")
    page.page.select_option("#cfg-optimizer", "adam")
    page.page.wait_for_function(f"() => {STATE}.config.optimizer === 'adam'")
    for _ in range(5):
        page.page.click("#btn-step")
    page.wait_steps(5)
    with page.page.expect_download() as dl:
        reveal(page.page, "#btn-export")
        page.page.click("#btn-export")
    path = tmp_path / "export.json"
    dl.value.save_as(path)
    assert json.loads(path.read_text())["counters"]["step"] == 5
    page.page.click("#btn-step")
    page.wait_steps(6)
    first = (
        page.state("s.metrics.loss.train"),
        page.state("s.record.batch_loss"),
        exact_params(page),
    )
    page.page.click("#btn-reset")  # somewhere else entirely
    page.wait_steps(0)
    page.page.set_input_files("#file-import", str(path))
    page.wait_steps(5)
    page.page.click("#btn-step")
    page.wait_steps(6)
    again = (
        page.state("s.metrics.loss.train"),
        page.state("s.record.batch_loss"),
        exact_params(page),
    )
    assert again == first


def test_a_share_link_carries_the_config_and_the_exact_weights(run):
    page = run()
    page.page.click("[data-dataset='spiral']")
    page.page.wait_for_function(f"() => {STATE}.config.dataset === 'spiral'")
    for _ in range(3):
        page.page.click("#btn-step")
    page.wait_steps(3)
    page.page.click("#btn-share")
    page.page.check("#share-weights")
    url_box = page.page.get_by_test_id("share-url")
    page.page.wait_for_function(
        "() => document.querySelector('[data-testid=share-url]').value.includes('&w=')"
    )
    link = url_box.input_value()
    weights = exact_params(page)
    other = run(link.split("?", 1)[1])
    w0 = weights["weights"][-1][-1][-1]
    other.page.wait_for_function(f"() => {STATE}.params.weights.at(-1).at(-1).at(-1) === {w0!r}")
    assert other.state("s.config.dataset") == "spiral"
    got = exact_params(other)
    assert got["weights"] == weights["weights"] and got["biases"] == weights["biases"]


def test_the_room_survives_the_teacher_dropping_and_the_same_browser_takes_it_back(run):
    teacher = run()
    code = present(teacher)
    for _ in range(2):
        teacher.page.click("#btn-step")
    teacher.wait_steps(2)
    student = follow(run, code)
    assert f"present={code}" in teacher.page.url
    teacher.page.close()  # the tab is gone; its sessionStorage with it
    student.page.wait_for_function(f"() => {STATE}.room && !{STATE}.room.presenterOnline")
    expect(student.page.get_by_test_id("room-bar")).to_contain_text("offline")
    again = teacher.context.new_page()  # same browser: localStorage holds the token
    again.goto(f"{teacher.base}/?present={code}")
    again.wait_for_function(
        f"() => {STATE}.role === 'presenter' && {STATE}.room"
        f" && {STATE}.room.code === '{code}' && {STATE}.counters.step === 2"
    )
    student.page.wait_for_function(f"() => {STATE}.room.presenterOnline")
    again.click("#btn-step")
    student.wait_steps(3)
    teacher.page = again  # so the fixture's clean-up leaves from the live page


def test_a_follower_on_a_phone_gets_one_column_with_the_views_first(run):
    teacher = run()
    code = present(teacher)
    teacher.page.click("#btn-step")
    student = run(f"join={code}", size=(390, 844))
    student.page.wait_for_function(f"() => {STATE}.role === 'follower'")
    student.wait_steps(1)
    student.settle()
    page = student.page
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways scroll
    # the presenter's settings and the empty inspector are hidden for a follower (issue 22)
    expect(page.locator("#config-panel")).to_be_hidden()
    expect(page.locator("#inspector")).to_be_hidden()
    views = ("#network", "#boundary", "#chart-loss")
    boxes = {sel: page.locator(sel).bounding_box() for sel in views}
    for sel, box in boxes.items():
        assert box["x"] >= 0 and box["x"] + box["width"] <= 391, (sel, box)
    order = [boxes[s]["y"] for s in ("#network", "#boundary", "#chart-loss")]
    assert order == sorted(order), boxes  # the views first, the settings last
    assert boxes["#network"]["height"] >= 250 and boxes["#boundary"]["height"] >= 250
    for sel in ("#network", "#boundary"):
        assert student.canvas_signature(sel)["colours"] > 20, sel
    expect(page.get_by_test_id("fork")).to_be_in_viewport()
    student.shot("classroom-follower-phone-390x844")

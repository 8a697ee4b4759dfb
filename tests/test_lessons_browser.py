"""Guided lessons and projector mode, driven in Debian's chromium against the live server.

Like tests/test_page_browser.py these fail (never skip) without chromium, and read every value
off the real page: the store's state, the visible controls, the URL and the canvases' pixels.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from engine.config import Config
from server.lessons import LESSON_BY_ID
from tests.helpers.page import SIZES, PageRun, reveal


def lesson_config(lesson_id: str) -> dict:
    """The full config the page must run: engine defaults under the lesson's fields."""
    return Config.from_dict(LESSON_BY_ID[lesson_id].config).to_dict()


def query(r: PageRun) -> dict[str, list[str]]:
    return parse_qs(urlsplit(r.page.url).query, keep_blank_values=True)


def open_from_menu(r: PageRun, lesson_id: str) -> None:
    """Open a lesson as a teacher does: the Lessons button, then its title."""
    r.page.click("#btn-lessons")
    r.page.locator(f"#lessons-menu [data-lesson='{lesson_id}']").click()


def wait_lesson(r: PageRun, lesson_id: str) -> None:
    """Until the session runs the lesson's config from fresh weights (step 0)."""
    want = lesson_config(lesson_id)
    r.page.wait_for_function(
        """([id, want]) => { const s = window.backpropLab.store.state;
            const same = ([k, v]) => JSON.stringify(s.config[k]) === JSON.stringify(v);
            return s.ui.lesson === id && s.config && s.counters.step === 0
              && Object.entries(want).every(same); }""",
        arg=[lesson_id, want],
    )
    r.settle()


def link_ink(r: PageRun) -> float:
    """Share of non-white pixels in the diagram between the inputs and the first hidden
    layer: only links are drawn there, so thicker lines mean more ink."""
    return r.page.evaluate(
        """() => { const net = window.backpropLab.network, c = net.canvas, s = net.size;
            const dpr = c.width / c.getBoundingClientRect().width;
            const cols = net.columns, ys = cols[0].concat(cols[1]).map((n) => n.y);
            const x0 = cols[0][0].x + s / 2 + 4, x1 = cols[1][0].x - s / 2 - 8;
            const y0 = Math.min(...ys) - s / 2, y1 = Math.max(...ys) + s / 2;
            const d = c.getContext('2d').getImageData(Math.round(x0 * dpr), Math.round(y0 * dpr),
              Math.round((x1 - x0) * dpr), Math.round((y1 - y0) * dpr)).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] < 720) n++;
            return n / (d.length / 4); }"""
    )


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_a_lesson_url_runs_the_lessons_full_config_and_shows_its_card(run):
    r = run("lesson=xor")
    wait_lesson(r, "xor")
    lesson = LESSON_BY_ID["xor"]
    # every field, off the store: the lesson's own and the engine defaults for the rest
    config = r.state("s.config")
    assert config == lesson_config("xor")
    assert config["hidden"] == [4] and config["seed"] == 1 and config["learning_rate"] == 0.1
    # the visible controls say the same
    expect(r.page.locator("#cfg-learning_rate")).to_have_value("0.1")
    expect(r.page.locator("#cfg-activation")).to_have_value("tanh")
    expect(r.page.locator("#cfg-seed")).to_have_value("1")
    expect(r.page.locator("button.dataset.on")).to_have_attribute("data-dataset", "xor")
    expect(r.page.locator("#net-layers")).to_contain_text("1 hidden layer")
    # the card: title, explanation, what to watch, what to try
    card = r.page.get_by_test_id("lesson-card")
    expect(card).to_be_visible()
    expect(r.page.get_by_test_id("lesson-title")).to_have_text(lesson.title)
    expect(card).to_contain_text(lesson.explanation[:40])
    assert r.page.get_by_test_id("lesson-watch").locator("li").count() == len(lesson.watch)
    assert r.page.get_by_test_id("lesson-try").locator("li").count() == len(lesson.try_)
    expect(r.page.locator("#lessons-menu [data-lesson=xor]")).to_have_attribute(
        "aria-checked", "true"
    )
    # the URL keeps the lesson next to the config it rewrites
    q = query(r)
    assert q["lesson"] == ["xor"] and q["dataset"] == ["xor"] and q["hidden"] == ["4"]
    # at 1280×720 the card does not cover the diagram
    assert not overlaps(card.bounding_box(), r.page.locator("#network").bounding_box())
    assert r.errors == [], r.errors


def test_restarting_a_lesson_brings_back_its_own_data_and_weights(run):
    r = run("lesson=xor")
    wait_lesson(r, "xor")
    points = r.state("s.points.train.x.length")
    weights = r.state("s.params.weights")
    lab = "window.backpropLab"
    r.page.evaluate(f"() => {lab}.conn.send({{type: 'add_point', x1: 1, x2: 2, label: 1}})")
    r.page.wait_for_function(f"() => {lab}.store.state.points.train.x.length === {points + 1}")
    r.page.get_by_role("button", name="Step", exact=True).click()
    r.page.wait_for_function(f"() => {lab}.store.state.counters.step === 1")
    r.page.locator("#lesson-card .restart").click()
    r.page.wait_for_function(
        f"() => {lab}.store.state.points.train.x.length === {points}"
        f" && {lab}.store.state.counters.step === 0"
    )
    assert r.state("s.params.weights") == weights


def test_a_lesson_url_overrides_a_different_running_config_and_resets(run):
    r = run("dataset=spiral&hidden=3&learning_rate=1&seed=9")
    r.page.get_by_role("button", name="Step", exact=True).click()
    r.wait_steps(1)
    r.open("lesson=symmetry")  # same tab, same session: the lesson must win
    wait_lesson(r, "symmetry")
    assert r.state("s.config.init") == "zeros"
    # and its weights are the engine's zeros, fresh from the seed
    weights = r.state("s.params.weights.flat(2)")
    assert weights and all(w == 0 for w in weights)
    assert r.errors == [], r.errors


def test_choosing_a_lesson_from_the_menu_switches_config_url_and_card(run):
    r = run("lesson=xor")
    wait_lesson(r, "xor")
    for _ in range(3):
        r.page.keyboard.press("ArrowRight")
    r.wait_steps(3)
    open_from_menu(r, "diverge")
    wait_lesson(r, "diverge")  # config and step 0: a reset, not just a reconfigure
    assert r.state("s.config") == lesson_config("diverge")
    expect(r.page.locator("#cfg-learning_rate")).to_have_value("3")
    expect(r.page.get_by_test_id("lesson-title")).to_have_text(LESSON_BY_ID["diverge"].title)
    assert query(r)["lesson"] == ["diverge"] and query(r)["learning_rate"] == ["3"]
    # the lesson's claim on the page: playing it diverges and the stop line says so
    r.page.get_by_role("button", name="Play").click()
    stop = r.page.get_by_test_id("stop-reason")
    expect(stop).to_have_attribute("data-reason", "diverged", timeout=30_000)
    expect(stop).to_contain_text("learning rate")
    # the optimizers lesson runs in compare mode: B is the same start with Adam
    open_from_menu(r, "optimizers")
    wait_lesson(r, "optimizers")
    r.page.wait_for_function(
        "() => { const c = window.backpropLab.store.state.compare;"
        " return c && c.config.optimizer === 'adam'; }"
    )
    assert r.state("s.config.optimizer") == "sgd"
    # a lesson without a comparison ends it
    open_from_menu(r, "xor")
    wait_lesson(r, "xor")
    r.page.wait_for_function("() => window.backpropLab.store.state.compare === null")
    open_from_menu(r, "optimizers")
    wait_lesson(r, "optimizers")
    # closing the card leaves the config but drops the lesson from the URL
    r.page.get_by_role("button", name="Close the lesson").click()
    expect(r.page.get_by_test_id("lesson-card")).to_be_hidden()
    r.page.wait_for_function("() => !new URLSearchParams(location.search).has('lesson')")
    assert query(r)["optimizer"] == ["sgd"]
    assert r.errors == [], r.errors


def test_projector_mode_toggles_with_p_and_the_button_and_survives_a_reload(run):
    r = run("lesson=xor")
    wait_lesson(r, "xor")
    body = r.page.locator("body")
    lines_before = link_ink(r)
    assert r.page.evaluate("() => window.backpropLab.network.scale.line") == 1
    # typing in a field does not toggle it
    r.page.locator("#cfg-n_points").focus()
    r.page.keyboard.press("p")
    assert "projector" not in (body.get_attribute("class") or "")
    r.page.locator("#cfg-n_points").blur()
    r.page.keyboard.press("p")
    expect(body).to_have_class("projector")
    r.page.wait_for_function("() => new URLSearchParams(location.search).get('projector') === '1'")
    assert query(r)["lesson"] == ["xor"]  # both page settings ride along
    r.settle()
    r.page.wait_for_timeout(200)
    # thicker lines: the views' factor and the diagram's ink
    assert r.page.evaluate("() => window.backpropLab.network.scale.line") >= 1.6
    assert r.page.evaluate("() => window.backpropLab.boundary.scale.line") >= 1.6
    lines_after = link_ink(r)
    assert lines_after > 1.4 * lines_before, (lines_before, lines_after)
    # large type
    size = lambda sel: r.page.evaluate(  # noqa: E731
        f"() => parseFloat(getComputedStyle(document.querySelector('{sel}')).fontSize)"
    )
    assert size("[data-testid=step-count]") >= 20
    expect(r.page.locator("#cfg-learning_rate")).to_be_visible()
    expect(r.page.locator("#cfg-activation")).to_be_visible()
    expect(r.page.locator("button.dataset.on")).to_be_visible()
    expect(r.page.locator("#btn-play")).to_be_visible()
    # everything a lecture uses stays (issue 12); only preparation tools go
    for kept in (
        "#cfg-seed",
        "#cfg-init",
        "#cfg-regularization",
        "#cfg-n_points",
        "#step-unit",
        "#btn-export",
        "#btn-record",
    ):
        reveal(r.page, kept)  # advanced controls are one click away (issue 22)
        expect(r.page.locator(kept)).to_be_visible()
    for hidden in ("#btn-import-label", "button.png >> nth=0"):
        expect(r.page.locator(hidden)).to_be_hidden()
    # the page still fits 1280×720: nothing scrolls, the card stays off the diagram
    assert r.page.evaluate("() => document.documentElement.scrollHeight") <= 720
    net = r.page.locator("#network").bounding_box()
    assert net["height"] > 200
    assert not overlaps(r.page.get_by_test_id("lesson-card").bounding_box(), net)
    # a reload keeps it, and keeps the lesson's session as it is
    r.open(urlsplit(r.page.url).query)
    expect(body).to_have_class("projector")
    assert r.state("s.ui.projector") is True
    assert r.state("s.ui.lesson") == "xor"
    # the button turns it off again
    r.page.locator("#btn-projector").click()
    expect(body).not_to_have_class("projector")
    r.page.wait_for_function("() => !new URLSearchParams(location.search).has('projector')")
    assert r.errors == [], r.errors


@pytest.mark.parametrize("size", list(SIZES))
def test_screenshots_of_a_lesson_and_of_projector_mode(run, size):
    r = run("lesson=vanishing", size=SIZES[size])
    wait_lesson(r, "vanishing")
    for _ in range(5):
        r.page.keyboard.press("ArrowRight")
    r.wait_steps(5)
    r.page.wait_for_timeout(1500)  # let the update animation finish
    r.shot(f"{size}-lesson")
    r.page.keyboard.press("p")
    expect(r.page.locator("body")).to_have_class("projector")
    r.page.keyboard.press("b")
    r.page.wait_for_timeout(300)
    r.shot(f"{size}-projector")
    assert r.page.evaluate("() => document.documentElement.scrollHeight") <= SIZES[size][1]
    assert r.errors == [], r.errors

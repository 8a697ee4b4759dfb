"""A lecture without a hitch (issue 12): what a teacher needs stays in view at projector and
laptop sizes, the numbers say what they are, the Output plot keeps its points visible, the
charts stay legible, lessons set their own pace, and the Record panel counts frames. Each
check reads the real page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from server.lessons import CHART_NAMES, LESSONS
from tests.helpers.page import click_step, reveal

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"1280x720": (1280, 720), "1366x768": (1366, 768), "1920x1080": (1920, 1080)}
BAR = ("learning_rate", "activation", "regularization", "batch_size")
STATE = "window.backpropLab.store.state"


def box(r, selector: str) -> dict:
    return r.page.locator(selector).bounding_box()


def in_view(r, selector: str, size) -> bool:
    b = box(r, selector)
    return (
        b is not None
        and b["y"] >= 0
        and b["y"] + b["height"] <= size[1]
        and b["x"] + b["width"] <= size[0]
    )


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("mode", ["plain", "lesson", "projector"])
def test_the_hyperparameters_a_lecture_changes_are_in_view(run, size, mode):
    wh = SIZES[size]
    r = run("lesson=overfitting" if mode == "lesson" else "", size=wh)
    if mode == "projector":
        r.page.keyboard.press("p")
        expect(r.page.locator("body")).to_have_class("projector")
    r.settle()
    for name in BAR:
        expect(r.page.locator(f"#cfg-{name}")).to_be_visible()
        assert in_view(r, f"#cfg-{name}", wh), (name, box(r, f"#cfg-{name}"))
    # the regularisation rate appears beside its switch once a penalty is on
    r.page.select_option("#cfg-regularization", "l2")
    r.page.wait_for_function(f"() => {STATE}.config.regularization === 'l2'")
    r.settle()
    assert in_view(r, "#cfg-regularization_rate", wh)
    # nothing scrolls: the page fits the screen
    assert r.page.evaluate("() => document.documentElement.scrollHeight") <= wh[1]
    r.shot(f"{size}-{mode}-bar")
    assert r.errors == [], r.errors


def test_projector_mode_keeps_every_control_a_lecture_or_lesson_uses(run):
    r = run("lesson=symmetry", size=(1280, 720))
    r.page.keyboard.press("p")
    expect(r.page.locator("body")).to_have_class("projector")
    # the lesson unfolds the panel's groups of the fields it sets (issue 22) ...
    for name in ("init", "learning_rate"):
        expect(r.page.locator(f"#cfg-{name}")).to_be_visible()
    # ... and the rest are one click away: each folded group's summary, and More's menu
    for summary in r.page.locator("#config-panel details.group:not([open]) > summary").all():
        summary.click()
    schema = r.state("s.schema.map(f => f.name)")
    in_diagram = {"features", "hidden"}
    for name in schema:
        if name in in_diagram or name == "dataset":
            continue
        el = r.page.locator(f"#cfg-{name}")
        # present and not display:none in projector mode (a row may be hidden only for the
        # same reason as outside it: an optimizer that does not use the field)
        if not hidden_row(r, f"#cfg-{name}"):
            expect(el).to_be_visible()
    for sel in ("#step-unit", "#speed", "#btn-record", "#btn-export", "#cfg-init", "#click-mode"):
        reveal(r.page, sel)
        expect(r.page.locator(sel)).to_be_visible()
    # each lesson's settings have a visible control: the one the lesson asks to change
    for lesson in LESSONS:
        for name in lesson.config:
            if name in in_diagram or name in {"seed", "dataset"}:
                continue
            sel = f"#cfg-{name}"
            if r.page.locator(sel).count() and not hidden_row(r, sel):
                expect(r.page.locator(sel)).to_be_visible()
    assert r.errors == [], r.errors


def test_the_lessons_menu_shows_every_title_whole_and_opens_at_the_lessons_pace(run):
    r = run(size=(1280, 720))
    r.page.click("#btn-lessons")
    menu = r.page.get_by_test_id("lessons-menu")
    expect(menu).to_be_visible()
    items = r.page.eval_on_selector_all(
        "#lessons-menu .lesson-name",
        "els => els.map(e => ({text: e.textContent, whole: e.scrollWidth <= e.clientWidth + 1,"
        " box: e.getBoundingClientRect().toJSON()}))",
    )
    assert [i["text"] for i in items] == [lesson.title for lesson in LESSONS]
    for i in items:
        assert i["whole"], i
        assert 0 <= i["box"]["left"] and i["box"]["right"] <= 1280 and i["box"]["bottom"] <= 720, i
    rates = r.page.evaluate("async () => (await import('/static/js/state.js')).PLAY_RATES")
    tabs = r.page.evaluate(
        "async () => (await import('/static/js/charts_view.js')).CHART_TABS.map(t => t[0])"
    )
    assert list(CHART_NAMES) == tabs
    for lesson in LESSONS:
        assert lesson.rate in rates, lesson.id
        assert lesson.charts in CHART_NAMES, lesson.id
    lesson = next(x for x in LESSONS if x.rate != 750)
    r.page.locator(f"#lessons-menu [data-lesson='{lesson.id}']").click()
    expect(menu).to_be_hidden()
    r.page.wait_for_function(f"() => {STATE}.ui.lesson === '{lesson.id}'")
    expect(r.page.locator("#speed-out")).to_have_text(f"{lesson.rate}/s")
    expect(r.page.locator("#btn-lessons")).to_contain_text(f"Lesson {LESSONS.index(lesson) + 1}")
    # Play goes at the lesson's pace: the session reports the rate it plays at
    r.page.get_by_role("button", name="Play", exact=True).click()
    r.page.wait_for_function(f"() => {STATE}.playing")
    assert r.state("s.ui.rate") == lesson.rate
    r.page.get_by_role("button", name="Pause", exact=True).click()
    assert r.errors == [], r.errors


def test_the_scores_say_which_is_train_and_which_is_test(run):
    r = run("dataset=xor&train_fraction=0.3")
    click_step(r, 3)
    r.settle()
    head = r.page.locator(".scores").inner_text()
    for label in ("train loss", "test loss", "train acc.", "test acc."):
        assert label in head, head
    acc = r.state("s.metrics.accuracy")
    assert r.page.get_by_test_id("accuracy-train").inner_text() == f"{acc['train'] * 100:.1f}%"
    assert r.page.get_by_test_id("accuracy-test").inner_text() == f"{acc['test'] * 100:.1f}%"
    assert acc["train"] != acc["test"]  # different numbers, so a swap would show
    assert r.errors == [], r.errors


def hidden_row(r, selector: str) -> bool:
    """Hidden for a reason of its own (an optimizer that does not use the field), not by a mode."""
    return r.page.evaluate(
        f"() => document.querySelector('{selector}').closest('[hidden]') !== null"
    )


def pixel(r, canvas: str, x: float, y: float) -> list[int]:
    """The canvas's RGB at CSS position (x, y)."""
    return r.page.evaluate(
        """([sel, x, y]) => { const c = document.querySelector(sel);
        const k = c.width / c.getBoundingClientRect().width;
        const d = c.getContext('2d').getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data;
        return [d[0], d[1], d[2]]; }""",
        [canvas, x, y],
    )


def test_a_trained_output_keeps_its_points_visible_on_a_pale_background(run):
    r = run("dataset=circle&learning_rate=0.1", size=(1280, 720))
    r.page.get_by_role("button", name="Play", exact=True).click()
    r.page.wait_for_function(f"() => {STATE}.metrics.accuracy.train > 0.99", timeout=120_000)
    r.page.get_by_role("button", name="Pause", exact=True).click()
    r.settle()
    r.page.wait_for_timeout(300)
    r.settle()
    # for every 5th point drawn on its own: its centre and the background at the spot nearby
    # that is farthest from every point (clear of all rings), both read off the canvas
    probes = r.page.evaluate("""() => { const b = window.backpropLab.boundary;
        const s = window.backpropLab.store.state;
        const px = s.points.train.x.map(([a, c]) => b.toPx(a, c));
        const out = [];
        for (let k = 0; k < px.length; k += 5) {
          // a point on its own: none drawn over its centre
          if (px.some((p, i) => i !== k && Math.hypot(p.x - px[k].x, p.y - px[k].y) < 9)) continue;
          let best = null, bd = -1;
          for (let d = 8; d <= 20; d += 2) for (let t = 0; t < 16; t++) {
            const a = t * Math.PI / 8;
            const q = {x: px[k].x + d * Math.cos(a), y: px[k].y + d * Math.sin(a)};
            const gap = Math.min(...px.map(p => Math.hypot(p.x - q.x, p.y - q.y)));
            if (gap > bd) { bd = gap; best = q; }
          }
          if (bd >= 8) out.push({k, centre: px[k], near: best});
        }
        return out; }""")
    checked = 0
    for p in probes:
        inside = pixel(r, "#boundary", p["centre"]["x"], p["centre"]["y"])
        near = pixel(r, "#boundary", p["near"]["x"], p["near"]["y"])
        if max(near) - min(near) < 40:  # the pale band along the boundary itself
            continue
        gap = sum((a - b) ** 2 for a, b in zip(inside, near)) ** 0.5
        assert gap > 60, (p, inside, near)
        # the background stays pale: far from the full class colour
        assert max(near) - min(near) < 150, near
        checked += 1
    assert checked >= 5
    assert r.errors == [], r.errors


@pytest.mark.parametrize("projector", [False, True])
def test_the_charts_stay_legible_at_projector_size(run, projector):
    r = run("dataset=circle", size=(1280, 720))
    if projector:
        r.page.keyboard.press("p")
    r.settle()
    # before any step: a tick at 0 only, never a "step 1" that did not happen
    ticks = r.page.evaluate("() => window.backpropLab.charts.lines.loss.xTicksDrawn")
    assert [t["text"] for t in ticks] == ["0"], ticks
    click_step(r, 12)
    r.settle()
    shown = r.page.evaluate("""() => window.backpropLab.charts.charts.filter(c => !c.canvas.hidden)
        .map(c => ({h: c.canvas.getBoundingClientRect().height, y: c.yTicksDrawn, x: c.xTicksDrawn,
                    font: parseFloat(getComputedStyle(document.documentElement).fontSize)}))""")
    mini = r.page.evaluate("async () => (await import('/static/js/charts_view.js')).MIN_CHART_PX")
    mini *= r.page.evaluate("() => window.backpropLab.charts.lines.loss.opts.scale.font")
    assert shown
    for c in shown:
        assert c["h"] >= mini, c
        ys = sorted(t["y"] for t in c["y"])
        assert all(b - a >= 11 for a, b in zip(ys, ys[1:])), ys  # no two labels on each other
        xs = [int(t["text"]) for t in c["x"]]
        assert len(xs) >= 2 and xs == sorted(xs) and xs[-1] <= 12, xs
    # the tabs pick a chart; "All" is offered only where all three fit
    r.page.locator("#chart-tabs [data-chart=grad_norms]").click()
    r.settle()
    assert (
        r.page.evaluate("() => window.backpropLab.charts.lines.grad_norms.canvas.hidden") is False
    )
    assert r.page.evaluate("() => window.backpropLab.charts.lines.loss.canvas.hidden") is True
    # every title fits its canvas: the short form where the full one would be cut
    for name in ("grad_norms", "loss"):
        r.page.locator(f"#chart-tabs [data-chart={name}]").click()
        r.settle()
        title = r.page.evaluate(f"""() => {{ const c = window.backpropLab.charts.lines.{name};
            return {{text: c.titleDrawn, end: c.titleEnd, width: c.surface.width,
                     full: c.opts.title}}; }}""")
        assert title["end"] - 4 <= title["width"], title  # the text ends 6 px inside
        assert title["text"] == title["full"] or projector, title
        # the loss scale's menu shows with the loss chart only
        assert r.page.locator("#loss-scale").is_visible() == (name == "loss")
    r.page.locator("#chart-tabs [data-chart=grad_norms]").click()
    r.settle()
    r.shot(f"1280x720-charts{'-projector' if projector else ''}")
    assert r.errors == [], r.errors


def test_all_three_charts_show_where_they_fit(run):
    r = run("dataset=circle", size=(1920, 1080))
    click_step(r, 3)
    r.settle()
    expect(r.page.locator("#chart-tabs [data-chart=all]")).to_be_visible()
    assert r.page.evaluate("() => window.backpropLab.charts.charts.every(c => !c.canvas.hidden)")
    assert r.errors == [], r.errors


def test_the_record_panel_counts_frames_and_can_keep_one_per_update(run):
    r = run("dataset=xor")
    reveal(r.page, "#btn-record")
    r.page.click("#btn-record")
    panel = r.page.locator("#record-panel")
    words = panel.inner_text()
    assert "frames" in words and "steps" not in words.replace("steps ", ""), words
    r.page.select_option("[data-record=every]", "update")
    expect(r.page.get_by_test_id("record-buffered")).to_have_text("0")
    reveal(r.page, "#btn-record")
    r.page.click("#btn-record")
    for n in range(1, 7):  # quick presses: each waits for its step's maps, not for its
        r.page.locator("#btn-step").click()  # animation (1.2 s) or its frame
        r.wait_steps(n)
        r.page.wait_for_function(f"() => window.backpropLab.recorder.mapsStep === {n}")
    expect(r.page.get_by_test_id("record-buffered")).to_have_text("6")
    steps = r.page.evaluate("() => window.backpropLab.recorder.frames(300).map(f => f.step)")
    assert steps == [1, 2, 3, 4, 5, 6], steps
    expect(r.page.get_by_test_id("record-span")).to_have_text(", steps 1–6")
    assert r.errors == [], r.errors


def test_on_a_phone_the_network_shows_early(run):
    r = run(size=(390, 844))
    r.settle()
    bar = box(r, ".topbar")
    net = box(r, "#network")
    assert bar["height"] <= 220, bar
    assert net["y"] <= 300, net
    # every group of the bar is still reachable: its controls are in the page
    for sel in ("#btn-play", "#cfg-learning_rate", "#btn-room", "#btn-record"):
        expect(r.page.locator(sel)).to_be_attached()
    r.shot("390x844-phone-top")
    assert r.errors == [], r.errors


def test_the_loss_phase_says_its_loss_is_the_batchs(run):
    r = run("dataset=xor")
    r.page.select_option("#step-unit", "phase")
    for phase in ("forward", "loss"):
        r.page.locator("#btn-step").click()
        r.page.wait_for_function(f"() => {STATE}.phase === '{phase}'")
    r.page.wait_for_function(f"() => !{STATE}.ui.anim")
    r.settle()
    label = r.page.evaluate("() => window.backpropLab.network.drawn.lossLabel")
    assert label.startswith("batch loss L = "), label
    shown = float(label.rsplit("= ", 1)[1].replace("−", "-"))
    loss = r.state("s.record.batch_loss")
    assert abs(shown - loss) <= 0.5e-3 * max(1, abs(loss)) + 1e-4, (label, loss)
    assert r.errors == [], r.errors


def test_with_a_penalty_the_loss_phase_names_the_data_loss_as_the_inspector_does(run):
    # issue 21 item 12: the inspector's L is the data loss plus the penalty; the loss phase
    # showed the data loss alone as "batch loss L"
    r = run("dataset=xor&regularization=l2&regularization_rate=0.01")
    r.page.select_option("#step-unit", "phase")
    for phase in ("forward", "loss"):
        r.page.locator("#btn-step").click()
        r.page.wait_for_function(f"() => {STATE}.phase === '{phase}'")
    r.page.wait_for_function(f"() => !{STATE}.ui.anim")
    r.settle()
    label = r.page.evaluate("() => window.backpropLab.network.drawn.lossLabel")
    assert label.startswith("batch data loss L_data = "), label
    assert "(L = L_data + penalty " in label, label
    number = r"([−\d.e+-]+)"
    data = float(re.search(rf"L_data = {number} ", label)[1].replace("−", "-"))
    penalty = float(re.search(rf"penalty {number}\)", label)[1].replace("−", "-"))
    rec = r.state("s.record")
    assert rec["penalty"] > 0
    assert abs(data - rec["batch_loss"]) <= 0.5e-3 * max(1, abs(rec["batch_loss"])) + 1e-4
    assert abs(penalty - rec["penalty"]) <= 0.5e-3 * rec["penalty"] + 1e-7, (label, rec)
    r.shot("1280x720-loss-phase-penalty")
    assert r.errors == [], r.errors

"""The page, driven in Debian's chromium against a real uvicorn server (`live_server`).

These tests fail (never skip) when chromium is missing. Every value they check is read off
the page (the status line, the inspector, the canvases' pixels) or, for the chain rule, off
the protocol in the same test. Screenshots of the main states go to SCREENSHOTS.
"""

from __future__ import annotations

import json
import math
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from engine.config import IMPORTED_DATASETS
from tests.helpers.page import SCREENSHOTS, SIZES, PageRun, click_step
from tests.helpers.tabs import LiveTab


def wait_steps_above(r: PageRun, n: int) -> None:
    r.page.wait_for_function(
        f"() => Number(document.querySelector('[data-testid=step-count]').textContent) > {n}"
    )


def wait_points(r: PageRun, n: int) -> None:
    r.page.wait_for_function(f"() => window.backpropLab.store.state.points.train.x.length === {n}")


def test_page_loads_without_console_errors_and_every_canvas_is_painted(run):
    r = run(size=(1920, 1080))  # where all three charts fit
    canvases = r.page.eval_on_selector_all(  # the shown ones (compare mode's B is hidden)
        "canvas[id]", "els => els.filter(e => !e.hidden).map(e => '#' + e.id)"
    )
    views = {"#network", "#boundary", "#chart-loss", "#chart-accuracy", "#chart-grad_norms"}
    assert views <= set(canvases)
    for sel in canvases:
        sig = r.canvas_signature(sel)
        assert sig["width"] > 50 and sig["height"] > 40, (sel, sig)
        assert sig["colours"] > 3, f"{sel} looks blank: {sig}"
    # The boundary shows a heatmap, not a flat fill: many colours inside the plot.
    assert r.canvas_signature("#boundary")["colours"] > 50
    assert r.errors == [], r.errors


def test_three_steps_move_the_counter_by_three_and_show_a_finite_loss(run):
    r = run()
    start = r.steps()
    for _ in range(3):
        r.page.get_by_role("button", name="Step", exact=True).click()
    r.wait_steps(start + 3)
    r.page.wait_for_timeout(300)
    assert r.steps() == start + 3
    loss = r.number("loss-train")
    assert math.isfinite(loss) and loss >= 0
    assert math.isfinite(r.number("loss-test"))
    assert r.errors == []


def test_changing_the_learning_rate_mid_run_keeps_the_steps_and_the_weights(run):
    r = run("learning_rate=0.03")
    initial = flat_weights(r)
    click_step(r, 4)
    r.page.wait_for_timeout(300)
    weights = flat_weights(r)
    assert weights != pytest.approx(initial, abs=1e-7), "the diagram's weights did not move"
    steps = r.steps()
    r.page.select_option("#cfg-learning_rate", "0.3")
    r.page.wait_for_function("() => window.backpropLab.store.state.config.learning_rate === 0.3")
    r.page.wait_for_timeout(300)
    assert r.steps() == steps
    # The page's weights travel as float32 in frames and float64 in state messages.
    assert flat_weights(r) == pytest.approx(weights, rel=1e-6, abs=1e-7)
    # and training goes on from there
    click_step(r)
    assert r.steps() == steps + 1
    assert flat_weights(r) != pytest.approx(weights, abs=1e-7)
    assert "learning_rate=0.3" in r.page.url


def flat_weights(r: PageRun) -> list[float]:
    return r.state("[...s.params.weights.flat(2), ...s.params.biases.flat()]")


def test_switching_the_activation_redraws_the_neuron_maps(run):
    r = run("activation=tanh")
    centre = r.page.evaluate("() => window.backpropLab.network.nodeCenter(1, 0)")
    size = r.page.evaluate("() => window.backpropLab.network.size")
    region = [centre["x"] - size / 2 + 2, centre["y"] - size / 2 + 2, size - 4, size - 4]
    before = r.canvas_signature("#network", region)
    assert before["colours"] > 4, "the neuron map should be a heatmap"
    r.page.evaluate("() => { window.__maps = window.backpropLab.store.state.heatmaps; }")
    r.page.select_option("#cfg-activation", "relu")
    r.page.wait_for_function(
        "() => { const s = window.backpropLab.store.state;"
        " return s.config.activation === 'relu' && s.heatmaps && s.heatmaps !== window.__maps; }"
    )
    r.settle()
    after = r.canvas_signature("#network", region)
    assert after["sum"] != before["sum"], "the neuron map did not change"
    assert r.errors == []


def is_record(d: dict) -> bool:
    return "binary" in d and d["binary"][0]["kind"] == "record"


def test_inspector_chain_rule_equals_the_engines_gradient_read_over_the_protocol(run, base_url):
    query = "dataset=xor&batch_size=1&hidden=3&seed=7&learning_rate=0.1"
    r = run(query)
    click_step(r, 2)
    pt = r.page.evaluate("() => window.backpropLab.network.linkPoint(0, 1, 2, 0.25)")
    r.click_canvas("#network", pt["x"], pt["y"])
    expect(r.page.get_by_test_id("chain-value")).to_be_visible()
    page_value = float(r.page.get_by_test_id("chain-value").get_attribute("data-value"))
    page_grad = float(r.page.get_by_test_id("grad-batch").get_attribute("data-value"))
    config = r.state("s.config")

    # The same configuration and seed in a session of our own, over the protocol: the
    # second update's record frame carries the engine's ∂L/∂W (float32), and an inspect of
    # the same weight its float64 value.
    with LiveTab.open(
        f"{base_url.replace('http', 'ws', 1)}/ws", origin=base_url, open_timeout=10
    ) as ws:
        assert ws.hello["protocol"] >= 1
        ws.send({"type": "configure", "config": config})
        ws.recv_json("state", timeout=10)
        for n in (1, 2):
            ws.send({"type": "step"})
            assert ws.recv_json("step", timeout=10)["step"] == n
            header, arrays = ws.recv_until(is_record, timeout=10)["binary"]
        dW = {
            e["layer"]: a
            for e, a in zip(header["arrays"], arrays, strict=True)
            if e["name"] == "dW"
        }
        record_grad = float(dW[0][1, 2])
        ws.send({"type": "inspect", "layer": 0, "neuron": 2, "source": 1})
        inspected = ws.recv_json("inspection", timeout=10)["result"]
    assert header["step"] == 2 and header["applied"] is True
    # batch_size=1: the chain rule on the one example is the weight's whole gradient.
    assert page_value == pytest.approx(record_grad, rel=1e-6, abs=1e-9)
    assert page_grad == pytest.approx(record_grad, rel=1e-6, abs=1e-9)
    assert (
        page_value
        == inspected["weight"]["grad"]
        == next(e["value"] for e in inspected["graph"]["equations"] if e["id"] == "grad_w_example")
    )


def test_play_then_pause_advances_the_counters(run):
    r = run()
    start = r.steps()
    r.page.get_by_role("button", name="Play", exact=True).click()
    wait_steps_above(r, start + 5)
    r.page.get_by_role("button", name="Pause", exact=True).click()
    expect(r.page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    r.page.wait_for_timeout(400)
    paused_at = r.steps()
    assert paused_at > start + 5
    r.page.wait_for_timeout(600)
    assert r.steps() == paused_at, "training went on after Pause"
    assert math.isfinite(r.number("loss-train"))
    assert r.errors == []


def test_a_url_with_a_configuration_reproduces_it_after_a_reload(run):
    query = (
        "dataset=xor&hidden=5,3&activation=relu&learning_rate=0.1&features=x1,x2,x1x2"
        "&optimizer=adam&batch_size=7&noise=0.1&seed=3"
    )
    r = run(query)
    want = {
        "dataset": "xor",
        "hidden": [5, 3],
        "activation": "relu",
        "learning_rate": 0.1,
        "features": ["x1", "x2", "x1x2"],
        "optimizer": "adam",
        "batch_size": 7,
        "noise": 0.1,
        "seed": 3,
    }

    def check(run_: PageRun) -> None:
        got = run_.state("s.config")
        assert {k: got[k] for k in want} == want
        assert run_.page.locator("#cfg-learning_rate").input_value() == "0.1"
        assert run_.page.locator("#cfg-optimizer").input_value() == "adam"
        assert run_.page.locator('[data-feature="x1x2"]').get_attribute("aria-pressed") == "true"
        assert (
            run_.state("JSON.stringify(s.params.weights.map(w => [w.length, w[0].length]))")
            == "[[3,5],[5,3],[3,1]]"
        )

    check(r)
    url = r.page.url
    sid = r.state("s.connection.sessionId")
    r.page.reload()
    r.wait_ready()
    check(r)
    # the page does not send `leave` on unload: a reload resumes its session
    assert r.state("s.connection.sessionId") == sid and r.state("s.connection.resumed")
    # A fresh tab (a new session) given the URL gets the same setup.
    other = run(urlsplit(url).query)
    check(other)
    assert flat_weights(other) == pytest.approx(flat_weights(r), rel=1e-6)


def test_adding_a_custom_point_changes_the_data(run):
    r = run("dataset=circle&n_points=100")
    n = r.state("s.points.train.x.length")
    target = r.page.evaluate("() => window.backpropLab.boundary.toPx(-4.5, 4.5)")
    r.page.locator("#class-picker [data-cls='1']").click()
    r.click_canvas("#boundary", target["x"], target["y"])
    wait_points(r, n + 1)
    x1, x2 = r.state("s.points.train.x[s.points.train.x.length - 1]")
    assert x1 == pytest.approx(-4.5, abs=0.1) and x2 == pytest.approx(4.5, abs=0.1)
    assert r.state("s.points.train.y[s.points.train.y.length - 1]") == 1
    r.click_canvas("#boundary", target["x"], target["y"], button="right")
    wait_points(r, n)
    assert r.errors == []


def test_keyboard_and_phase_stepping(run):
    r = run("dataset=xor")
    r.page.locator("#network").click(position={"x": 5, "y": 5})  # focus on the page, not a control
    r.page.keyboard.press("ArrowRight")
    r.wait_steps(1)
    r.page.keyboard.press("ArrowRight")
    r.wait_steps(2)
    r.page.keyboard.press("ArrowLeft")
    r.wait_steps(1)
    r.page.keyboard.press("b")
    assert r.state("s.ui.view") == "backward"
    r.page.keyboard.press("f")
    assert r.state("s.ui.view") == "forward"
    r.page.select_option("#step-unit", "phase")
    for phase in ("forward", "loss", "backward"):
        r.page.get_by_role("button", name="Step", exact=True).click()
        r.page.wait_for_function(f"() => window.backpropLab.store.state.phase === '{phase}'")
        assert r.steps() == 1, "a phase before the update must not count as an update"
    r.page.get_by_role("button", name="Step", exact=True).click()
    r.wait_steps(2)
    r.page.locator("#network").click(position={"x": 5, "y": 5})
    r.page.keyboard.press(" ")
    expect(r.page.get_by_role("button", name="Pause", exact=True)).to_be_visible()
    wait_steps_above(r, 4)
    r.page.keyboard.press(" ")
    expect(r.page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    assert r.errors == []


def test_a_lost_connection_shows_the_banner_and_resumes_the_same_session(run):
    r = run("dataset=moons&hidden=3")
    click_step(r, 3)
    sid = r.state("s.connection.sessionId")
    r.page.evaluate("() => window.backpropLab.conn.ws.close()")
    expect(r.page.locator("#banner")).to_contain_text("reconnecting")
    r.page.wait_for_function(
        "() => { const c = window.backpropLab.store.state.connection;"
        " return c.status === 'open' && c.resumed; }"
    )
    expect(r.page.locator("#banner")).to_be_hidden()
    assert r.state("s.connection.sessionId") == sid
    assert r.steps() == 3
    assert r.state("s.config.dataset") == "moons"
    click_step(r)
    assert r.steps() == 4


def test_the_page_uses_the_hellos_vocabulary(run):
    """Loss choices follow the hello's heads, every config change goes out as `configure`
    (the server decides whether it keeps the weights), and feature labels come from the
    hello."""
    r = run("dataset=circle&output_activation=tanh&loss=mse")
    sent: list[dict] = []
    r.page.on(
        "websocket",
        lambda ws: ws.on(
            "framesent",
            lambda payload: isinstance(payload, str) and sent.append(json.loads(payload)),
        ),
    )
    r.page.reload()  # so the listener sees the socket
    r.wait_ready()
    options = (
        "() => [...document.querySelectorAll('#cfg-loss option')]"
        ".map(o => [o.value, o.hidden, o.disabled])"
    )
    # binary with tanh: mse only; bce greyed (it needs sigmoid); cross-entropy not offered
    assert r.page.evaluate(options) == [
        ["mse", False, False],
        ["bce", False, True],
        ["cross_entropy", True, True],
    ]
    r.page.select_option("#cfg-learning_rate", "0.1")
    r.page.wait_for_function("() => window.backpropLab.store.state.config.learning_rate === 0.1")
    r.page.locator(".dataset[data-dataset='blobs']").click()
    r.page.wait_for_function("() => window.backpropLab.store.state.config.dataset === 'blobs'")
    r.settle()
    assert r.page.evaluate(options) == [
        ["mse", True, True],
        ["bce", True, True],
        ["cross_entropy", False, False],
    ]
    assert {"type": "configure", "config": {"learning_rate": 0.1}} in sent
    assert {"type": "configure", "config": {"dataset": "blobs"}} in sent
    assert r.page.locator('[data-feature="x1"]').get_attribute(
        "aria-label"
    ) == "Input feature " + r.state("s.featureLabels.x1")
    assert r.state("s.featureLabels.x1_sq") == "X₁²"
    assert r.errors == []


def test_hovering_a_neuron_shows_its_full_resolution_map_in_the_boundary_view(run):
    r = run("dataset=circle&hidden=4,2")
    plot = r.page.evaluate(
        "() => { const a = window.backpropLab.boundary.toPx(-6, 6),"
        " b = window.backpropLab.boundary.toPx(6, -6); return [a.x, a.y, b.x - a.x, b.y - a.y]; }"
    )
    output = r.canvas_signature("#boundary", plot)
    centre = r.page.evaluate("() => window.backpropLab.network.nodeCenter(1, 2)")
    box = r.page.locator("#network").bounding_box()
    r.page.mouse.move(box["x"] + centre["x"], box["y"] + centre["y"])
    r.page.wait_for_function(  # made in the page from the same pass as the output's map
        "() => { const f = window.backpropLab.boundary.mapShown;"
        " return f && f.layer === 1 && f.j === 2 && f.n === 100; }"
    )
    r.settle()
    assert r.state("s.heatmaps.neurons[0].n") == 20  # the diagram's maps stay small
    hovered = r.canvas_signature("#boundary", plot)
    assert hovered["sum"] != output["sum"]
    r.page.mouse.move(box["x"] + 2, box["y"] + box["height"] - 2)  # off every neuron
    r.page.wait_for_function(
        "() => { const s = window.backpropLab.store.state;"
        " return !s.ui.hover && s.heatmaps && !window.backpropLab.boundary.mapShown; }"
    )
    assert r.errors == []


def test_leave_ends_the_session_and_the_page_does_not_reconnect(run):
    r = run()
    sid = r.state("s.connection.sessionId")
    assert r.page.evaluate("() => window.backpropLab.conn.leave()")
    expect(r.page.locator("#banner")).to_contain_text("session has ended")
    r.page.wait_for_timeout(600)
    assert r.state("s.connection.status") == "left"
    assert r.page.evaluate("() => sessionStorage.getItem('backprop-lab-session')") is None
    r.page.get_by_role("button", name="Start a new session").click()
    r.wait_ready()
    assert r.state("s.connection.sessionId") != sid
    assert r.state("s.connection.resumed") is False
    assert r.errors == []


@pytest.mark.parametrize("size", sorted(SIZES))
def test_screenshots_of_the_main_states(run, size):
    w, h = SIZES[size]
    print(f"\nscreenshots: {SCREENSHOTS}")
    r = run("dataset=circle&hidden=4,2&learning_rate=0.1", size=(w, h))
    click_step(r, 5)
    r.page.wait_for_function("() => !window.backpropLab.store.state.ui.anim")
    r.shot(f"{size}-forward")
    r.page.keyboard.press("b")
    r.settle()
    r.shot(f"{size}-backward")
    pt = r.page.evaluate("() => window.backpropLab.network.linkPoint(1, 2, 0, 0.3)")
    r.click_canvas("#network", pt["x"], pt["y"])
    expect(r.page.get_by_test_id("chain-value")).to_be_visible()
    r.page.get_by_role("button", name="Verify this step").click()
    expect(r.page.get_by_test_id("gradcheck-result")).to_be_visible()
    r.shot(f"{size}-inspector")
    # the chain rule and the gradient used are in view at once; the update a scroll away
    expect(r.page.get_by_test_id("chain-rule")).to_be_in_viewport(ratio=1)
    r.page.get_by_test_id("update-formula").scroll_into_view_if_needed()
    expect(r.page.get_by_test_id("update-formula")).to_be_in_viewport(ratio=1)
    assert r.page.get_by_test_id("gradcheck-error").get_attribute("data-value") is not None
    r.page.keyboard.press("f")

    d = run(
        "dataset=plane&activation=linear&output_activation=linear&learning_rate=10&hidden=8,8",
        size=(w, h),
    )
    d.page.get_by_role("button", name="Play", exact=True).click()
    stop = d.page.get_by_test_id("stop-reason")
    expect(stop).to_contain_text("learning rate is probably too large")
    expect(stop).to_contain_text("infinite")
    expect(d.page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    d.shot(f"{size}-diverged")

    m = run("dataset=blobs&n_classes=4&learning_rate=0.1&hidden=6,4", size=(w, h))
    m.page.get_by_role("button", name="Play", exact=True).click()
    wait_steps_above(m, 60)
    m.page.get_by_role("button", name="Pause", exact=True).click()
    m.page.get_by_label("test data").check()
    m.settle()
    m.shot(f"{size}-multiclass")
    for run_ in (r, d, m):
        assert run_.errors == [], run_.errors


@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_data_set_tile_has_a_distinct_caption_that_fits(run, size):
    r = run(size=SIZES[size])
    tiles = r.page.eval_on_selector_all(
        ".datasets .dataset span",
        "els => els.map(e => ({text: e.textContent, fits: e.scrollWidth <= e.clientWidth,"
        " dataset: e.parentElement.dataset.dataset, hidden: e.parentElement.hidden}))",
    )
    assert len(tiles) == len(r.state("s.schema.find(f => f.name === 'dataset').choices"))
    # your own data's tiles (one per task) show only while a CSV file is the data
    assert [t["dataset"] for t in tiles if t["hidden"]] == list(IMPORTED_DATASETS)
    tiles = [t for t in tiles if not t["hidden"]]
    captions = [t["text"] for t in tiles]
    assert len(set(captions)) == len(captions), captions
    assert [t for t in tiles if not t["fits"]] == []

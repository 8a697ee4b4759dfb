"""Accessibility (WCAG 2.1 AA, issue 26), on the real page in Debian's chromium.

Oracles: axe-core (bundled by axe-playwright-python) in ten states a lecture goes through;
the keyboard alone (no mouse event, no dispatch) reaching and selecting what a click would,
checked against the inspector's own headings and the server's points; WCAG's contrast formula
on the computed styles of every focusable element, against the background it is drawn on;
the equations' spoken readings against the numbers the same equation shows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers.a11y import (
    STATE,
    STATES,
    aria_snapshot,
    axe_violations,
    contrast,
    parse_colour,
    select,
    tab_stops_to,
)
from tests.helpers.page import click_step

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", list(STATES))
def test_axe_finds_no_violation(run, name):
    pages = STATES[name](run)
    for r in pages:
        assert axe_violations(r.page) == [], name
        assert r.errors == [], r.errors


def press(r, *keys):
    for k in keys:
        r.page.keyboard.press(k)
    r.settle()


def test_the_keyboard_alone_selects_a_neuron_a_link_and_a_bias_and_adds_a_point(run):
    r = run()
    click_step(r, 1)  # so the inspector has a step to explain
    # The skip link is the first Tab stop and takes the focus to the diagram.
    assert tab_stops_to(r.page, "a.skip-link") == 1
    press(r, "Enter")
    assert r.page.evaluate("() => document.activeElement.id") == "network"
    heading = r.page.locator("#inspector h3")

    press(r, "ArrowDown", "ArrowDown", "Enter")  # neuron 1 → its bias → neuron 2 of layer 1
    expect(heading).to_have_text("Layer 1, neuron 2")
    # the cursor is drawn where the diagram drew that neuron, in the focus colour
    drawn = r.page.evaluate("() => window.backpropLab.network.drawn")
    box = next(n["box"] for n in drawn["neurons"] if n["layer"] == 1 and n["j"] == 1)
    ring = drawn["keyFocus"]
    assert (ring["kind"], ring["x"], ring["y"]) == ("neuron", box["x"], box["y"])
    focus = css_var(r, "--focus")
    assert pixel(r, "#network", box["x"] - 3, box["y"] + box["h"] / 2) == pytest.approx(
        focus, abs=12
    )

    press(r, "ArrowRight", "Enter")  # the link straight ahead
    expect(heading).to_have_text("Weight from neuron 2 of layer 1 to neuron 2 of layer 2")
    press(r, "ArrowDown", "Enter")  # the next link between the same two columns
    expect(heading).to_have_text("Weight from neuron 3 of layer 1 to neuron 1 of layer 2")
    press(r, "ArrowRight", "ArrowDown", "Enter")  # that link's target, then its bias
    expect(heading).to_have_text("Bias of neuron 1 in layer 2")
    press(r, "Escape")
    r.page.wait_for_function(f"() => {STATE}.ui.selection === null")

    # On to the output plot by Tab; the arrows move its cursor 0.5 a press, Enter adds.
    for _ in range(40):
        if r.page.evaluate("() => document.activeElement.id") == "boundary":
            break
        r.page.keyboard.press("Tab")
    assert r.page.evaluate("() => document.activeElement.id") == "boundary"
    n = r.state("s.points.train.x.length")
    press(r, "ArrowRight", "ArrowRight", "ArrowUp", "Enter")
    r.page.wait_for_function(f"() => {STATE}.points.train.x.length === {n + 1}")
    assert r.state("s.points.train.x.at(-1)") == [1.0, 0.5]
    assert r.state("s.points.train.y.at(-1)") == r.state("s.ui.classPick")
    assert r.steps() == 1  # neither → nor Enter stepped the network
    assert r.errors == [], r.errors


def css_var(r, name):
    css = r.page.evaluate(
        "(n) => { const e = document.createElement('i'); e.style.color = `var(${n})`;"
        " document.body.append(e); const c = getComputedStyle(e).color; e.remove(); return c; }",
        name,
    )
    return list(parse_colour(css)[:3])


def pixel(r, selector, x, y):
    return r.page.evaluate(
        """([sel, x, y]) => {
            const c = document.querySelector(sel);
            const dpr = c.width / c.getBoundingClientRect().width;
            const [px, py] = [Math.round(x * dpr), Math.round(y * dpr)];
            const d = c.getContext('2d').getImageData(px, py, 1, 1).data;
            return [d[0], d[1], d[2]];
        }""",
        [selector, x, y],
    )


# Each focusable element's outline colour and the opaque colour behind it (its ancestors'
# backgrounds composited, the page's at the bottom): the ring is drawn just outside it.
FOCUS_RINGS = """() => {
  const parse = (c) => {
    const m = c.match(/[\\d.]+/g).map(Number);
    return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1];
  };
  const under = (el) => {
    const layers = [];
    for (let e = el.parentElement; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] === 1) break;
    }
    let rgb = [255, 255, 255];
    for (const c of layers.reverse()) rgb = rgb.map((v, k) => v * (1 - c[3]) + c[k] * c[3]);
    return rgb;
  };
  const el = document.activeElement;
  const s = getComputedStyle(el);
  return { id: el.id || el.textContent.trim().slice(0, 30) || el.tagName, style: s.outlineStyle,
           width: parseFloat(s.outlineWidth), colour: s.outlineColor, under: under(el) };
}"""


@pytest.mark.parametrize("query", ["", "projector=1"])
def test_the_focus_ring_has_3_to_1_contrast_wherever_it_is_drawn(run, query):
    r = run(query)
    click_step(r, 1)
    select(r, {"kind": "link", "layer": 1, "i": 0, "j": 0})  # the inspector's controls too
    r.page.get_by_test_id("chain-rule").wait_for()
    r.page.evaluate(  # from the top of the page, as a freshly loaded one
        "() => { const a = document.createElement('span'); a.tabIndex = -1;"
        " document.body.prepend(a); a.focus(); }"
    )
    seen, worst = set(), []
    for _ in range(200):
        r.page.keyboard.press("Tab")
        ring = r.page.evaluate(FOCUS_RINGS)
        if ring["id"] in seen:  # round the page and back to the top
            break
        seen.add(ring["id"])
        assert ring["style"] != "none" and ring["width"] >= 2, ring
        c = contrast(parse_colour(ring["colour"]), ring["under"])
        worst.append((c, ring["id"]))
    # (the inspector takes the settings panel's place while a link is selected, issue 22)
    assert len(seen) > 25
    assert min(worst)[0] >= 3, sorted(worst)[:5]
    # ...in a colour that means nothing else: far from every colour the views draw with
    focus = parse_colour(ring["colour"])[:3]
    palette = palette_colours()
    for name, rgb in palette.items():
        assert sum((a - b) ** 2 for a, b in zip(focus, rgb)) ** 0.5 > 90, name


def palette_colours() -> dict[str, tuple[int, int, int]]:
    """The colours with a meaning, read from colors.js and the views that draw them."""
    src = (ROOT / "static/js/colors.js").read_text()
    out = {}
    for name in ("NEG", "POS"):
        out[name] = tuple(int(v) for v in re.search(rf"{name} = \[([^\]]+)\]", src)[1].split(","))
    classes = re.search(r"CLASS_COLORS = \[([^\]]+)\]", src)[1]
    for k, hx in enumerate(re.findall(r"#([0-9a-f]{6})", classes)):
        out[f"class {k}"] = tuple(int(hx[i : i + 2], 16) for i in (0, 2, 4))
    out.update({"selected": (17, 17, 17), "traced": (208, 0, 0), "run B": (204, 121, 167)})
    return out


def test_the_canvas_cursor_reads_against_white_and_the_palette():
    src = (ROOT / "static/js/colors.js").read_text()
    focus = re.search(r'FOCUS = "#([0-9a-f]{6})"', src)[1]
    rgb = tuple(int(focus[i : i + 2], 16) for i in (0, 2, 4))
    css = (ROOT / "static/css/app.css").read_text()
    assert f"--focus: #{focus}" in css  # one colour on the canvases and in the page
    assert contrast(rgb, (255, 255, 255)) >= 3  # the ring's white halo
    assert contrast(rgb, (238, 240, 243)) >= 3 and contrast(rgb, (223, 227, 232)) >= 3


# Machado, Oliveira and Fernandes (2009), tritanopia at severity 1, on linear RGB.
TRITAN = (
    (1.255528, -0.076749, -0.178779),
    (-0.078411, 0.930809, 0.147602),
    (0.004733, 0.691367, 0.3039),
)


def _lin(c):
    c /= 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _srgb(v):
    v = min(1.0, max(0.0, v))
    return 255 * (12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055)


def test_orange_and_blue_stay_apart_under_tritanopia():
    """Negative (orange) and positive (blue) stay two colours under a simulated tritanopia
    (they differ in lightness as well as hue), so no second palette is needed."""
    pal = palette_colours()
    sim = {}
    for name in ("NEG", "POS"):
        lin = [_lin(c) for c in pal[name]]
        sim[name] = tuple(_srgb(sum(m * v for m, v in zip(row, lin))) for row in TRITAN)
    assert contrast(sim["NEG"], sim["POS"]) >= 1.5, sim
    assert sum((a - b) ** 2 for a, b in zip(sim["NEG"], sim["POS"])) ** 0.5 > 100, sim


def test_an_equation_is_read_with_the_numbers_it_shows(run):
    r = run()
    click_step(r, 1)
    select(r, {"kind": "neuron", "layer": 1, "j": 0})
    eq = r.page.get_by_test_id("eq-delta")
    eq.wait_for()
    label = eq.get_attribute("aria-label")
    assert eq.get_attribute("role") == "math"
    assert label.startswith("delta 1 equals "), label
    shown = eq.inner_text().split(" = ", 2)[-1]  # "0.568 × (−0.00194) = −0.0011017"
    numbers = lambda t: [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", t)]  # noqa: E731
    spoken = label.split(" equals ", 1)[1].replace("minus ", "-")
    assert numbers(spoken) == numbers(shown.replace("−", "-")), (label, shown)
    # no stray text in the inspector ('[object HTMLParagraphElement],,,' before)
    assert "[object" not in aria_snapshot(r.page, "#inspector")


def test_the_network_table_holds_the_records_numbers(run):
    r = run()
    click_step(r, 2)
    r.page.wait_for_function(
        "() => document.querySelector('[data-testid=net-table-links]') &&"
        " document.querySelector('#net-table h2').textContent.includes('step 2')"
    )
    rows = r.page.eval_on_selector_all(
        "[data-testid=net-table-neurons] tbody tr",
        "rs => rs.map(tr => [...tr.cells].map(c => c.textContent))",
    )
    a_mean = r.state("s.record.layers.map(L => L.a_mean).flat()")
    delta = r.state("s.record.layers.map(L => L.delta_mean).flat()")
    assert [row[0] for row in rows[:2]] == ["layer 1, neuron 1", "layer 1, neuron 2"]
    got = [float(v.replace("−", "-")) for _, a, d, *_ in rows for v in (a, d)]
    want = [v for pair in zip(a_mean, delta) for v in pair]
    assert got == pytest.approx(want, rel=1e-4, abs=1e-9)
    links = r.page.locator("[data-testid=net-table-links] tbody tr").count()
    assert links == sum(len(W) * len(W[0]) for W in r.state("s.params.weights"))
    charts = r.page.get_by_test_id("chart-values").inner_text()
    said = re.search(r"Loss: step 2: train ([\d.]+)", charts)
    assert said and float(said[1]) == pytest.approx(r.number("loss-train"), rel=1e-3), charts


def test_a_step_is_announced_politely_and_a_stop_assertively(run):
    r = run()
    click_step(r, 1)
    polite = r.page.get_by_test_id("announce-polite")
    expect(polite).to_contain_text("Step 1")
    loss = polite.inner_text().rsplit("train loss ", 1)[1]
    assert float(loss) == pytest.approx(r.number("loss-train"), rel=1e-3)
    r.page.evaluate(
        "() => window.backpropLab.store.dispatch({type: 'stopped', reason: 'diverged',"
        " message: 'The loss became infinite.'})"
    )
    expect(r.page.get_by_test_id("announce-assertive")).to_contain_text("Stopped at step 1")


def test_reduced_motion_turns_the_phase_animation_off(run):
    r = run()
    r.page.emulate_media(reduced_motion="reduce")
    r.page.wait_for_function(f"() => {STATE}.ui.animate === false")
    r.page.select_option("#step-unit", "phase")
    r.page.get_by_role("button", name="Step", exact=True).click()
    r.page.wait_for_function(f"() => {STATE}.phase === 'forward' && {STATE}.record")
    assert r.state("s.ui.anim") is None
    r.page.emulate_media(reduced_motion="no-preference")
    r.page.wait_for_function(f"() => {STATE}.ui.animate === true")
    r.page.get_by_role("button", name="Step", exact=True).click()
    r.page.wait_for_function(f"() => {STATE}.phase === 'loss'")
    assert r.state("s.ui.anim") is not None


def test_points_and_full_weight_links_keep_3_to_1_on_what_they_are_drawn_over(run):
    """WCAG 1.4.11 on the canvases: a data point's outline against every colour the output
    map can take under it (either scale, either class tint); a link at full weight against
    the diagram's white. The colours are the page's own (colors.js, imported in the page)."""
    r = run()
    c = r.page.evaluate(
        """async () => {
            const m = await import('/static/js/colors.js');
            const lut = (t) => Array.from({length: 256},
                (_, q) => Array.from(t.slice(q * 4, q * 4 + 3)));
            const tints = [];
            for (let k = 0; k < m.CLASS_COLORS.length; k++)
              for (let p = 0; p <= 1; p += 0.1) tints.push(m.classTint(k, p));
            return {outline: m.hexToRgb(m.POINT_OUTLINE), neg: m.NEG, pos: m.POS,
                    under: [...lut(m.BACKGROUND_LUT), ...lut(m.DISCRETE_LUT), ...tints]};
        }"""
    )
    assert min(contrast(c["outline"], u) for u in c["under"]) >= 3
    for end in ("neg", "pos"):
        assert contrast(c[end], (255, 255, 255)) >= 3, end

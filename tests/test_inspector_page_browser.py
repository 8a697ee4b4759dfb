"""The inspector as a class reads it (issue 21): its hints are text, every number on it is in
the page's one format (static/js/format.js), every equation it prints holds on its printed
numbers to one unit of the result's last digit, a gradient check says which step it checked
and greys out once stale, an example outside the batch is shown as what it is, and the
backward walk starts at the loss with the diagram showing only what the walk has reached."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlencode

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.helpers.numbers import evaluate_printed, last_digit_unit, parse_number
from tests.helpers.page import SCREENSHOTS, PageRun, click_step


def neuron_center(r, layer: int, j: int) -> dict:
    return r.page.evaluate(f"() => window.backpropLab.network.nodeCenter({layer}, {j})")


def select_neuron(r, layer: int, j: int) -> None:
    pt = neuron_center(r, layer, j)
    r.click_canvas("#network", pt["x"], pt["y"])


def inspector_text(r) -> str:
    return r.page.locator("#inspector").inner_text()


def test_the_neuron_inspector_prints_its_step_line_and_hints_as_text(run):
    r = run("dataset=xor&hidden=4,2&seed=0")
    click_step(r, 3)
    select_neuron(r, 1, 0)
    expect(r.page.locator("#inspector h3")).to_have_text("Layer 1, neuron 1")
    expect(r.page.locator("#inspector .nums")).to_be_visible()
    text = inspector_text(r)
    assert "[object" not in text and ",,," not in text, text
    assert "traced example #" in text, text
    r.page.click("#view-backward")
    r.page.keyboard.press("p")
    expect(r.page.locator("body")).to_have_class(re.compile(r"\bprojector\b"))
    r.shot("inspector-neuron-projector")
    assert r.errors == [], r.errors


# -- printed arithmetic (item 7) and one number format (item 11) ----------------------------

READ_PRINTED = """() => {
  const insp = document.querySelector('#inspector');
  const eqs = [...insp.querySelectorAll('.eq, [data-testid=eq-grad_w]')].map(el => {
    const parts = el.childNodes;
    return {id: el.dataset.testid, expr: parts[2].textContent,
            value: parts[parts.length - 1].textContent};
  });
  const rows = [...insp.querySelectorAll('table.batch-terms tr')].slice(1)
    .map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent));
  const mean = insp.querySelector('[data-testid=grad-data]');
  return {eqs, rows, mean: mean ? mean.textContent : null, text: insp.innerText};
}"""


def holds(lhs_text: str, result_text: str) -> tuple[bool, str]:
    try:
        got, shown = evaluate_printed(lhs_text), parse_number(result_text)
    except AssertionError as e:
        return False, f"{lhs_text} = {result_text}: unreadable ({e})"
    unit = last_digit_unit(result_text)
    ok = abs(got - shown) <= unit * Decimal("1.0000001")
    return ok, f"{lhs_text} = {result_text}: the printed numbers give {got:.6E} (unit {unit})"


def check_printed(printed: dict) -> list[str]:
    """Every printed equation evaluated on its printed numbers, against the rule of item 7."""
    bad = []
    for e in printed["eqs"]:
        ok, why = holds(e["expr"], e["value"])
        if not ok:
            bad.append(f"{e['id']}: {why}")
    products = []
    for row in printed["rows"]:
        if len(row) == 4:
            ok, why = holds(f"({row[1]}) × ({row[2]})", row[3])
            if not ok:
                bad.append(f"batch row {row[0]}: {why}")
        products.append(row[-1])
    if printed["mean"] is not None:
        terms = " + ".join(f"({p})" for p in products)
        ok, why = holds(f"({terms})/{len(products)}", printed["mean"])
        if not ok:
            bad.append(f"batch mean: {why}")
    return bad


# every number the inspector prints: a leading zero, U+2212, no e-notation
FOREIGN_NUMBER = re.compile(r"(?<![\w.])-\d|(?<![\w\d])\.\d|\d[eE][-+]?\d")


def random_config(rng: np.random.Generator) -> tuple[dict, tuple[int, int, int]]:
    dataset = str(rng.choice(["xor", "circle", "gaussian", "spiral", "moons", "plane", "blobs"]))
    depth = int(rng.integers(1, 4))
    width = int(rng.integers(2, 5))
    hidden = (
        [width] * depth if rng.random() < 0.5 else [int(rng.integers(2, 5)) for _ in range(depth)]
    )
    batch_norm = bool(rng.random() < 0.4)
    regularization = str(rng.choice(["none", "l1", "l2"]))
    cfg = {
        "dataset": dataset,
        "seed": int(rng.integers(0, 1000)),
        "features": "x1,x2,x1x2",
        "hidden": ",".join(map(str, hidden)),
        "activation": str(rng.choice(["tanh", "relu", "sigmoid", "leaky_relu", "elu", "linear"])),
        "batch_norm": str(batch_norm).lower(),
        "dropout": str(rng.choice([0.0, 0.2])),
        "residual": str(bool(rng.random() < 0.5)).lower(),
        "optimizer": str(rng.choice(["sgd", "momentum", "nesterov", "rmsprop", "adam"])),
        "learning_rate": str(rng.choice([0.003, 0.03, 0.3])),
        "regularization": regularization,
        "regularization_rate": "0" if regularization == "none" else str(rng.choice([0.001, 0.03])),
        "batch_size": str(rng.choice([3, 10, 30])),
    }
    sizes = [3, *hidden, 1]
    layer = int(rng.integers(0, len(sizes) - 1))
    i, j = int(rng.integers(0, sizes[layer])), int(rng.integers(0, sizes[layer + 1]))
    return cfg, (layer, i, j)


def wait_config(r, seed: int, hidden: str) -> None:
    r.page.wait_for_function(
        "([seed, hidden]) => { const c = window.backpropLab.store.state.config;"
        " return c && c.seed === seed && c.hidden.join(',') === hidden; }",
        arg=[seed, hidden],
    )


def test_every_printed_equation_holds_on_its_printed_numbers_over_random_configs(browser, base_url):
    rng = np.random.default_rng(21)
    failures, checked = [], 0
    for n in range(20):
        cfg, (layer, i, j) = random_config(rng)
        r = PageRun(browser, base_url, urlencode(cfg))
        try:
            wait_config(r, cfg["seed"], cfg["hidden"])
            click_step(r, 1 + n % 3)
            pt = r.page.evaluate(
                f"() => window.backpropLab.network.linkPoint({layer}, {i}, {j}, 0.3)"
            )
            r.click_canvas("#network", pt["x"], pt["y"])
            expect(r.page.get_by_test_id("grad-batch")).to_be_visible()
            r.settle()
            printed = r.page.evaluate(READ_PRINTED)
            assert len(printed["eqs"]) >= 2, printed
            checked += len(printed["eqs"]) + len(printed["rows"]) + 1
            failures += [f"{urlencode(cfg)} w{layer}[{i},{j}]: {b}" for b in check_printed(printed)]
            foreign = FOREIGN_NUMBER.findall(printed["text"])
            if foreign:
                failures.append(f"{urlencode(cfg)}: numbers in another format: {foreign}")
            if n == 0:
                r.shot("inspector-printed-arithmetic")
            assert r.errors == [], r.errors
        finally:
            r.close()
    report = f"{len(failures)} of {checked} printed equations fail:\n" + "\n".join(failures)
    (SCREENSHOTS.parent / "printed-arithmetic.txt").write_text(report, encoding="utf-8")
    assert not failures, report
    assert checked >= 20 * 6


# -- a gradient check says which step it checked, and greys out once stale (item 12) -------


def verify(r) -> None:
    r.page.get_by_test_id("gradcheck").click()
    expect(r.page.get_by_test_id("gradcheck-result")).to_be_visible()
    r.settle()


def test_the_gradient_check_names_its_step_and_greys_out_when_stale(run):
    r = run("dataset=xor&hidden=4,2&seed=0&learning_rate=0.03")
    click_step(r, 3)
    verify(r)
    result = r.page.get_by_test_id("gradcheck-result")
    expect(result).to_contain_text("Gradient check of step 3")
    expect(result).not_to_have_class(re.compile(r"\bstale\b"))
    click_step(r, 1)  # more steps: the check is of step 3, the weights are of step 4
    expect(result).to_have_class(re.compile(r"\bstale\b"))
    expect(result).to_contain_text("step 3")
    expect(result).to_contain_text("verify again")
    r.shot("inspector-gradcheck-stale")
    verify(r)
    expect(result).to_contain_text("Gradient check of step 4")
    expect(result).not_to_have_class(re.compile(r"\bstale\b"))
    r.page.select_option("#cfg-learning_rate", "0.3")  # a config change
    expect(result).to_have_class(re.compile(r"\bstale\b"))
    assert r.errors == [], r.errors


# -- an example outside the batch (item 3) ---------------------------------------------------


def test_an_example_outside_the_batch_is_shown_as_what_it_is(run):
    r = run("dataset=xor&hidden=4,2&seed=0&batch_norm=true&batch_size=10")
    click_step(r, 3)
    select_neuron(r, 1, 0)
    expect(r.page.locator("#inspector .nums")).to_be_visible()
    batch = set(r.state("Array.from(s.record.batch)"))
    assert len(batch) == 10
    n_train = r.state("s.points.train.x.length")
    outside = next(k for k in range(n_train) if k not in batch)
    r.page.evaluate(
        f"() => window.backpropLab.store.dispatch({{type: 'setExample', example: {outside}}})"
    )
    r.page.wait_for_function(
        f"() => {{ const i = window.backpropLab.store.state.inspect;"
        f" return i && i.example === {outside}; }}"
    )
    r.settle()
    text = inspector_text(r)
    assert "did not contribute" in text and "step 3" in text, text
    assert "current weights (after step 3)" in text and "running mean" in text, text
    assert "not applied yet" not in text and "the gradient the optimizer used" not in text
    # no gradient and no batch statistics of a batch of one
    assert "batch mean" not in text, text
    grads = r.page.evaluate(
        "() => [...document.querySelectorAll('#inspector .gnode')]"
        ".filter(n => n.dataset.grad !== '').length"
    )
    assert grads == 0
    z_hat = r.page.get_by_test_id("graph-z_hat").get_attribute("data-value")
    assert float(z_hat) != 0.0
    r.page.keyboard.press("p")
    expect(r.page.locator("body")).to_have_class(re.compile(r"\bprojector\b"))
    r.shot("inspector-outside-batch-projector")
    assert r.errors == [], r.errors


# -- the backward walk and the diagram tell one story (item 10) ------------------------------

DRAWN = "() => window.backpropLab.network.drawn"


def labelled(r) -> dict:
    return {(d["layer"], d["j"]): d["value"] for d in r.page.evaluate(DRAWN)["labels"]}


def test_the_backward_walk_starts_at_the_loss_and_the_diagram_shows_only_what_it_reached(run):
    r = run("dataset=xor&hidden=3,2&seed=4&features=x1,x2")
    r.page.select_option("#step-unit", "phase")
    pt = r.page.evaluate("() => window.backpropLab.network.linkPoint(0, 1, 2, 0.3)")
    r.click_canvas("#network", pt["x"], pt["y"])  # w from x2 to hidden neuron 3 of layer 1
    for shows in (1, 2, 3):  # forward, loss, backward
        r.page.get_by_role("button", name="Step", exact=True).click()
        r.page.wait_for_function(
            "() => { const i = window.backpropLab.store.state.inspect;"
            f" return i && i.step === 1 && i.shows.length === {shows}; }}"
        )
    r.settle()
    inspect = r.state("s.inspect")
    deltas = inspect["deltas"]  # the traced example's δ, per weight layer
    # step 1 of the walk: the loss's end, δ of the output = (ŷ − y)·g′(z), and only it
    expect(r.page.get_by_test_id("eq-delta_out_1")).to_be_visible()
    expect(r.page.get_by_test_id("eq-delta_out_1")).to_contain_text("(ŷ − y)")
    assert r.page.get_by_test_id("eq-grad_a").count() == 0
    assert set(labelled(r)) == {(3, 0)}, labelled(r)
    assert labelled(r)[(3, 0)] == pytest.approx(deltas[2][0], rel=1e-12)
    legend = r.page.evaluate(DRAWN)["legend"]["text"]
    assert f"example #{inspect['example']}" in legend, legend
    r.shot("walk-1-output-delta")
    # step 2: Σ w·δ from the layer above: that layer's δ appear, this layer's not yet
    r.page.get_by_role("button", name="Step", exact=True).click()
    expect(r.page.get_by_test_id("eq-grad_a")).to_be_visible()
    r.settle()
    assert set(labelled(r)) == {(3, 0), (2, 0), (2, 1)}, labelled(r)
    for k in (0, 1):
        assert labelled(r)[(2, k)] == pytest.approx(deltas[1][k], rel=1e-12)
    # on to δ of this neuron: it alone of its layer is labelled, with the equations' δ
    while r.page.get_by_test_id("eq-delta").count() == 0:
        r.page.get_by_role("button", name="Step", exact=True).click()
        r.settle()
    r.settle()
    assert set(labelled(r)) == {(3, 0), (2, 0), (2, 1), (1, 2)}, labelled(r)
    value = float(r.page.get_by_test_id("eq-delta-value").get_attribute("data-value"))
    assert labelled(r)[(1, 2)] == pytest.approx(value, rel=1e-12)
    r.page.keyboard.press("p")
    r.shot("walk-delta-projector")
    assert r.errors == [], r.errors


def test_the_diagrams_delta_says_batch_mean_without_a_traced_example(run):
    r = run("dataset=xor&hidden=3,2&seed=4&features=x1,x2")
    click_step(r, 1)
    r.page.click("#view-backward")
    r.settle()
    legend = r.page.evaluate(DRAWN)["legend"]["text"]
    assert "batch mean" in legend or "batch-mean" in legend, legend
    batch_mean = r.state("s.record.layers.map(L => L.delta_mean)")
    for (layer, j), v in labelled(r).items():
        assert v == pytest.approx(batch_mean[layer - 1][j], rel=1e-12)
    # a selected neuron traces an example: the labels follow it, and say so
    select_neuron(r, 2, 1)
    r.page.wait_for_function(
        "() => { const i = window.backpropLab.store.state.inspect; return i && i.deltas; }"
    )
    r.settle()
    inspect = r.state("s.inspect")
    legend = r.page.evaluate(DRAWN)["legend"]["text"]
    assert f"example #{inspect['example']}" in legend, legend
    for (layer, j), v in labelled(r).items():
        assert v == pytest.approx(inspect["deltas"][layer - 1][j], rel=1e-12)
    assert r.errors == [], r.errors

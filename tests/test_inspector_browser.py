"""The inspector on the real page, for a network with batch norm, dropout, residual
connections and an L2 penalty: every equation it prints holds with the numbers it prints,
and those numbers are the engine's, checked against finite differences of an independent
forward pass (tests/helpers/inspector_oracle.py)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from engine.trainer import Trainer
from tests.helpers.inspector_oracle import fd, oracle_loss, weight_fd
from tests.helpers.numbers import SUPERSCRIPTS, evaluate_printed, parse_number
from tests.helpers.page import click_step

QUERY = (
    "dataset=xor&features=x1,x2&hidden=4,4&batch_norm=true&dropout=0.2&residual=true"
    "&regularization=l2&regularization_rate=0.01&optimizer=adam&seed=5"
)
LAYER, I, J = 1, 1, 2

READ_EQUATIONS = """() => [
    ...document.querySelectorAll('#inspector .eq, #inspector [data-testid=eq-grad_w]')]
  .map(el => {
    const walk = (n, exact) => n.nodeType === 3 ? n.textContent
      : n.classList && n.classList.contains('num')
        ? (exact ? `(${n.dataset.value})` : `(${n.textContent})`)
      : [...n.childNodes].map(c => walk(c, exact)).join('');
    const parts = el.childNodes;
    const value = parts[parts.length - 1];
    return {id: el.dataset.testid, exact: walk(parts[2], true), shown: walk(parts[2], false),
            value: Number(value.dataset.value), value_shown: value.textContent};
  })"""


def arithmetic(text: str) -> float:
    """The value of a printed expression (numbers in the page's format, or exact values)."""
    text = re.sub(r"\((-?[0-9.]+(?:e[-+]?[0-9]+)?)\)", lambda m: format_exact(m.group(1)), text)
    return float(evaluate_printed(text))


def format_exact(text: str) -> str:
    """An exact value (a data-value) written in the page's notation, digit for digit."""
    d = Decimal(text)
    sign, (mantissa, exponent) = ("−" if d < 0 else ""), f"{abs(d):e}".split("e")
    return f"({sign}{mantissa}×10{str(int(exponent)).translate(SUPERSCRIPTS)})"


def shown_number(text: str) -> float:
    return float(parse_number(text))


def select_link(r) -> None:
    pt = r.page.evaluate(f"() => window.backpropLab.network.linkPoint({LAYER}, {I}, {J}, 0.3)")
    r.click_canvas("#network", pt["x"], pt["y"])


def test_every_printed_equation_holds_and_its_numbers_are_the_engines(run):
    r = run(QUERY)
    click_step(r, 2)
    select_link(r)
    expect(r.page.get_by_test_id("eq-grad_w")).to_be_visible()
    equations = r.page.evaluate(READ_EQUATIONS)
    ids = {e["id"] for e in equations}
    # batch norm, dropout, the skip connection and the penalty are all in the story
    assert {
        "eq-z",
        "eq-z_hat",
        "eq-u",
        "eq-drop",
        "eq-skip",
        "eq-grad_a",
        "eq-grad_h",
        "eq-grad_u",
        "eq-delta",
        "eq-grad_w_penalty",
        "eq-grad_w",
    } <= ids, ids
    for e in equations:
        # the exact numbers give the exact value; the printed ones give the printed value
        assert arithmetic(e["exact"]) == pytest.approx(e["value"], rel=1e-9, abs=1e-12), e
        assert arithmetic(e["shown"]) == pytest.approx(
            shown_number(e["value_shown"]), rel=2e-3, abs=2e-4
        ), e

    # the same session in-process (same config, seed, two updates) and the oracle
    config = r.state("s.config")
    t = Trainer(config)
    t.step()
    rec = t.step()
    example = r.state("s.inspect.example")
    row = int(list(rec.batch).index(example))
    B = len(rec.batch)
    nodes = r.page.evaluate(
        "() => [...document.querySelectorAll('#inspector .gnode')].map(n => ({"
        "id: n.dataset.testid.slice(6), value: Number(n.dataset.value),"
        " grad: n.dataset.grad === '' ? null : Number(n.dataset.grad)}))"
    )
    assert [n["id"] for n in nodes] == ["a_in", "w", "z", "z_hat", "u", "h", "drop", "a", "loss"]
    for n in nodes:
        if n["id"] in ("z", "u", "h", "drop", "a"):
            want = B * fd(lambda e, n=n: oracle_loss(t, rec, (LAYER, n["id"], row, J, e)))
            assert n["grad"] == pytest.approx(want, rel=1e-4, abs=1e-7), n
    g = float(r.page.get_by_test_id("grad-batch").get_attribute("data-value"))
    assert g == pytest.approx(weight_fd(t, rec, LAYER, I, J), rel=1e-5, abs=1e-8)
    # the batch's table: its last column's mean is ∂L_data/∂w
    products = r.page.evaluate(
        "() => [...document.querySelectorAll('table.batch-terms tr')].slice(1)"
        ".map(tr => Number(tr.lastChild.querySelector('.num').dataset.value))"
    )
    assert len(products) == B
    data = float(r.page.get_by_test_id("grad-data").get_attribute("data-value"))
    assert sum(products) / B == pytest.approx(data, rel=1e-9)
    traced = r.page.locator("table.batch-terms tr.traced td").first.inner_text()
    assert traced == f"#{example}"
    # and the update starts from exactly that gradient
    expect(r.page.get_by_test_id("update-formula")).to_contain_text("w ←")
    # the loss read-outs say that the penalty the optimizer minimises is not in them
    expect(r.page.get_by_test_id("loss-penalty")).to_be_visible()
    r.shot("inspector-bn-dropout-residual")
    assert r.errors == [], r.errors


def test_phase_by_phase_the_page_shows_gradients_only_from_the_backward_phase(run):
    r = run(QUERY)
    r.page.select_option("#step-unit", "phase")
    select_link(r)
    seen = {}
    for phase in ("forward", "loss", "backward", "update"):
        r.page.get_by_role("button", name="Step", exact=True).click()
        r.page.wait_for_function(
            f"() => {{ const i = window.backpropLab.store.state.inspect;"
            f" return i && i.step === 1 && i.shows.length === "
            f"{('forward', 'loss', 'backward', 'update').index(phase) + 1}; }}"
        )
        r.settle()
        if phase == "backward":
            walk_back(r)
        grads = r.page.evaluate(
            "() => [...document.querySelectorAll('#inspector .gnode')]"
            ".filter(n => n.dataset.grad !== '').length"
        )
        seen[phase] = grads
        has_update = r.page.get_by_test_id("update-formula").count() > 0
        if phase in ("forward", "loss"):
            expect(r.page.get_by_test_id("phase-hint")).to_be_visible()
            assert grads == 0 and r.page.get_by_test_id("chain-rule").count() == 0
        else:
            assert grads > 0 and r.page.get_by_test_id("chain-rule").count() == 1
        assert has_update == (phase == "update")
        r.shot(f"inspector-phase-{phase}")
    assert r.errors == [], r.errors


def walk_back(r) -> None:
    """In the backward phase each press of Step shows one more step, from ℓ back to w,
    and the gradients it gives; the update waits until the walk reaches the weight."""
    shown, grads = [], []
    while r.page.get_by_test_id("walk-hint").count():
        shown.append(r.page.locator("#inspector .eq").count())
        grads.append(
            r.page.evaluate(
                "() => [...document.querySelectorAll('#inspector .gnode')]"
                ".filter(n => n.dataset.grad !== '').length"
            )
        )
        assert r.page.get_by_test_id("update-formula").count() == 0
        if len(shown) == 3:
            r.shot("inspector-walk-3")
        r.page.get_by_role("button", name="Step", exact=True).click()
        r.settle()
        assert len(shown) < 20
    assert r.state("s.phase") == "backward" and len(shown) >= 5
    # the walk starts at the loss: the output's δ (no node of this weight's graph yet), then
    # a and d, w last
    assert grads[0] == 0 and grads[1] == 2 and grads == sorted(grads) and grads[-1] < 8
    assert shown == sorted(shown)

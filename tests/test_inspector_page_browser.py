"""The inspector as a class reads it (issue 21): its hints are text, every number on it is in
the page's one format (static/js/format.js), every equation it prints holds on its printed
numbers to one unit of the result's last digit, a gradient check says which step it checked
and greys out once stale, an example outside the batch is shown as what it is, and the
backward walk starts at the loss with the diagram showing only what the walk has reached."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.helpers.page import click_step


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
    assert r.errors == [], r.errors

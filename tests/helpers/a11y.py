"""Accessibility checks of the page: axe-core (bundled by axe-playwright-python, no CDN) in the
states a lecture goes through, Tab stops from the page top, WCAG contrast from computed colours.

Used by tests/test_a11y_browser.py (which asserts) and bench/a11y.py (which prints the figures
for a before/after comparison). Each state function takes a `run` (tests/conftest.py) and
returns the `PageRun`(s) it opened, the one to audit first.
"""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe

from tests.helpers.page import PageRun, click_step, reveal

STATE = "window.backpropLab.store.state"
AXE = Axe()
# Every rule axe runs by default (WCAG 2.0/2.1 A and AA and best practices), plus the
# experimental one that checks a control's accessible name contains its visible text
# (WCAG 2.5.3 Label in Name).
AXE_OPTIONS = {"rules": {"label-content-name-mismatch": {"enabled": True}}}


def axe_violations(page) -> list[dict]:
    """axe's violations on the page as it is: [{id, impact, targets}]."""
    results = AXE.run(page, options=AXE_OPTIONS)
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "targets": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results.response["violations"]
    ]


def _present(r: PageRun) -> str:
    r.page.click("#btn-room")
    code = r.page.get_by_test_id("room-code").inner_text().strip()
    assert len(code) == 6
    return code


def state_default(run):
    return [run()]


def state_after_steps(run):
    r = run()
    click_step(r, 3)
    r.settle()
    return [r]


def state_projector(run):
    r = run("projector=1")
    click_step(r, 1)
    r.settle()
    return [r]


def state_lesson(run):
    r = run("lesson=xor")
    r.page.get_by_test_id("lesson-card").wait_for()
    return [r]


def state_selected(run):
    """A neuron selected, then a link: the inspector's two longest readings."""
    r = run()
    click_step(r, 1)
    select(r, {"kind": "neuron", "layer": 1, "j": 0})
    r.page.get_by_test_id("neuron-delta").wait_for()
    select(r, {"kind": "link", "layer": 1, "i": 0, "j": 0})
    r.page.get_by_test_id("chain-rule").wait_for()
    r.settle()
    return [r]


def state_backward(run):
    r = run()
    click_step(r, 2)
    r.page.click("#view-backward")
    r.page.wait_for_function(f"() => {STATE}.ui.view === 'backward'")
    r.settle()
    return [r]


def state_room_and_follower(run):
    teacher = run()
    code = _present(teacher)
    student = run(f"join={code}")
    student.page.wait_for_function(f"() => {STATE}.role === 'follower'")
    student.page.get_by_test_id("room-bar").wait_for()
    return [teacher, student]


def state_compare(run):
    r = run()
    reveal(r.page, "#btn-compare")
    r.page.click("#btn-compare")
    r.page.select_option("#compare-field", "optimizer")
    r.page.select_option("#compare-value", "adam")
    r.page.get_by_test_id("compare-start").click()
    r.page.wait_for_function(f"() => {STATE}.compare && {STATE}.compare.changes.optimizer")
    click_step(r, 1)
    r.settle()
    return [r]


def state_record_panel(run):
    r = run()
    click_step(r, 2)
    reveal(r.page, "#btn-record")
    r.page.click("#btn-record")
    r.page.locator("#record-panel").wait_for()
    return [r]


def state_phone(run):
    r = run(size=(390, 844))
    click_step(r, 1)
    r.settle()
    return [r]


STATES = {
    "default": state_default,
    "after steps": state_after_steps,
    "projector": state_projector,
    "lesson open": state_lesson,
    "neuron and link selected": state_selected,
    "backward view": state_backward,
    "room panel and follower": state_room_and_follower,
    "compare mode": state_compare,
    "record panel": state_record_panel,
    "phone 390x844": state_phone,
}


def select(r: PageRun, selection: dict) -> None:
    """Select as a click on the diagram would (the test of the keyboard does it by keys)."""
    r.page.evaluate(
        "(sel) => window.backpropLab.store.dispatch({type: 'select', selection: sel})", selection
    )


def tab_stops_to(page, selector: str, limit: int = 200) -> int | None:
    """How many presses of Tab from the page top (nothing focused) reach `selector`, or None."""
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    page.evaluate("() => window.scrollTo(0, 0)")
    # Start from the top of the document, as a freshly loaded page does.
    page.evaluate(
        "() => { const a = document.createElement('span'); a.tabIndex = -1; a.id = '__top';"
        " document.body.prepend(a); a.focus(); }"
    )
    for n in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            page.evaluate("() => document.getElementById('__top').remove()")
            return n
    page.evaluate("() => document.getElementById('__top').remove()")
    return None


def parse_colour(css: str) -> tuple[float, float, float, float]:
    """'rgb(1, 2, 3)' or 'rgba(1, 2, 3, 0.5)' → (r, g, b, a), 0..255 and 0..1."""
    m = re.fullmatch(r"rgba?\(([^)]*)\)", css.strip())
    assert m, css
    parts = [float(p) for p in re.split(r"[,\s/]+", m.group(1).strip()) if p]
    return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)


def luminance(rgb) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour (0..255 channels)."""

    def lin(c):
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    """WCAG contrast ratio of two opaque colours."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def aria_snapshot(page, selector: str) -> str | None:
    """What the accessibility tree holds for `selector` (Playwright's ARIA snapshot: roles,
    names and text, as a screen reader gets them), or None when it is not on the page."""
    loc = page.locator(selector)
    return loc.first.aria_snapshot() if loc.count() else None

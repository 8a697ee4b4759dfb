"""Accessibility figures of the page (issue 26), for a before/after comparison.

    python bench/a11y.py        # needs Debian's chromium and the test extra (axe-playwright-python)

Prints: axe-core's violations (every default rule plus label-content-name-mismatch) in each of
the ten states of tests/helpers/a11y.py, by rule and impact; how many presses of Tab from the
page top reach the network diagram (and the skip link's count, when there is one); and what
the accessibility tree gives (Playwright's snapshot) for the diagram and the inspector with a
neuron selected.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from live_server import page_server  # noqa: E402

from tests.helpers.a11y import (  # noqa: E402
    STATES,
    aria_snapshot,
    axe_violations,
    tab_stops_to,
)
from tests.helpers.page import PageRun, click_step  # noqa: E402


def main() -> None:
    with page_server() as (url, browser):
        base = url.rstrip("/")
        opened: list[PageRun] = []

        def run(query: str = "", size=(1280, 720)) -> PageRun:
            r = PageRun(browser, base, query, size)
            opened.append(r)
            return r

        total = 0
        for name, make in STATES.items():
            pages = make(run)
            found = [v for r in pages for v in axe_violations(r.page)]
            total += len(found)
            rules = ", ".join(f"{v['id']} ({v['impact']}, {len(v['targets'])})" for v in found)
            print(f"{name:26} {len(found):3} violations  {rules}")
            for r in opened:
                r.close()
            opened.clear()
        print(f"{'all states':26} {total:3}")

        r = run()
        print("Tab presses from the page top to #network:", tab_stops_to(r.page, "#network"))
        print("  ...to the diagram's first button:", tab_stops_to(r.page, "#net-layers button"))
        skip = r.page.query_selector("a.skip-link")
        if skip:
            n = tab_stops_to(r.page, "a.skip-link")
            r.page.keyboard.press("Enter")
            on = r.page.evaluate("() => document.activeElement.id")
            print(f"  by the skip link: {n} Tab, then Enter focuses #{on}")
        click_step(r, 1)
        # a neuron selected by the keyboard alone: skip link, Enter, Enter
        tab_stops_to(r.page, "a.skip-link")
        r.page.keyboard.press("Enter")
        r.page.keyboard.press("Enter")
        r.page.get_by_test_id("neuron-delta").wait_for()
        r.settle()
        r.page.wait_for_timeout(300)
        for sel in ("#network", "#announce-polite", "#inspector", "#net-table"):
            print(f"accessibility tree of {sel}:")
            print(aria_snapshot(r.page, sel))
        r.close()


if __name__ == "__main__":
    main()

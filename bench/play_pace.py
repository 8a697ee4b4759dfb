"""Time to learn after pressing Play at the defaults, measured in headless chromium.

    python bench/play_pace.py        # needs Debian's chromium (the test command installs it)

For circle, xor (the default 2→[4,2]→1 network) and spiral on 7→[8×6]→1 (all seven features,
six hidden layers of 8), the page is opened with nothing else changed, Play is pressed, and
the wall time until the page shows a test loss below the target is printed (at most 60 s).
TensorFlow Playground learns circle and xor in about 1–2 s.
"""

from __future__ import annotations

import time

from live_server import page_server

CASES = [
    ("circle", "dataset=circle", 0.05),
    ("xor", "dataset=xor", 0.05),
    (
        "spiral 7→[8×6]→1",
        "dataset=spiral&features=x1,x2,x1_sq,x2_sq,x1x2,sin_x1,sin_x2&hidden=8,8,8,8,8,8",
        0.1,
    ),
]


def main() -> None:
    with page_server() as (url, browser):
        print(f"{'data set':20} {'target':>7} {'seconds':>8} {'updates':>8}")
        for name, query, target in CASES:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{url}?{query}")
            page.wait_for_function(
                "() => { const s = window.backpropLab"
                " && window.backpropLab.store.state;"
                " return s && s.config && s.heatmaps; }"
            )
            page.get_by_role("button", name="Play", exact=True).click()
            t0 = time.perf_counter()
            try:
                page.wait_for_function(
                    "t => { const s = window.backpropLab.store.state;"
                    " return s.loss.test !== null && s.loss.test < t; }",
                    arg=target,
                    timeout=60_000,
                )
                took = f"{time.perf_counter() - t0:8.2f}"
            except Exception:
                took = "   > 60"
            steps = page.evaluate("() => window.backpropLab.store.state.counters.step")
            print(f"{name:20} {target:7g} {took} {steps:8d}", flush=True)
            page.evaluate("() => window.backpropLab.conn.leave()")
            page.close()


if __name__ == "__main__":
    main()

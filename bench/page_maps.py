"""The page's own cost of its heatmaps (protocol 3: the page makes every map from the weights).

    python bench/page_maps.py        # needs Debian's chromium (the test command installs it)

In headless chromium at 1920×1080, for the default 2→[4,2]→1 network and for 7→[8×6]→1
(all seven features, six hidden layers of 8, tanh), after a few updates: the time of one
`heatmapsOf` (every input's and hidden neuron's 20×20 map, the output's 100×100, and every
node layer at 100×100 for the hover map), the median of 60 runs, with and without 4× CPU
throttling (a student's laptop, CDP Emulation.setCPUThrottlingRate). Goals: ≤ 8 ms a frame
unthrottled and ≤ 33 ms (a 30 fps frame) throttled for 7→[8×6]→1. Then, during Play at
the default pace, how many frames the page received and how many sets of maps it made in
5 s: a slow device makes fewer maps, never drops frames.
"""

from __future__ import annotations

import statistics
import time

from live_server import DEEP, page_server

CASES = [
    ("2→[4,2]→1", "dataset=circle"),
    (
        "7→[8×6]→1",
        "dataset=spiral&features="
        + ",".join(DEEP["features"])
        + "&hidden=8,8,8,8,8,8&activation=tanh",
    ),
]
RUNS = 60
TIME_IT = """async (runs) => {
  const { heatmapsOf } = await import('/static/js/heatmaps.js');
  const s = window.backpropLab.store.state;
  const out = [];
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    heatmapsOf(s.model, s.wire.params, s.wire.compare);
    out.push(performance.now() - t0);
  }
  return out;
}"""


def main() -> None:
    with page_server() as (url, browser):
        print(
            f"{'network':12} {'throttle':>8} {'maps ms (median)':>17} {'p90':>6}"
            f" {'frames/5 s':>11} {'maps/5 s':>9}"
        )
        for name, query in CASES:
            for rate in (1, 4):
                page = browser.new_page(viewport={"width": 1920, "height": 1080})
                cdp = page.context.new_cdp_session(page)
                page.goto(f"{url}?{query}")
                page.wait_for_function(
                    "() => { const s = window.backpropLab"
                    " && window.backpropLab.store.state;"
                    " return s && s.wire && s.heatmaps; }"
                )
                for n in range(1, 4):
                    page.locator("#btn-step").click()
                    page.wait_for_function(
                        f"() => window.backpropLab.store.state.counters.step === {n}"
                    )
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": rate})
                page.evaluate(TIME_IT, 5)  # warm the JIT
                ms = sorted(page.evaluate(TIME_IT, RUNS))
                frames = (
                    "() => { const b = window.backpropLab; return [b.store.state.counters"
                    ".step, b.maps.computed, window.__frames || 0]; }"
                )
                page.evaluate(
                    "() => { window.__frames = 0; window.backpropLab.store.listen("
                    "a => { if (a.type === 'weights') window.__frames++; }); }"
                )
                page.get_by_role("button", name="Play", exact=True).click()
                _, made0, got0 = page.evaluate(frames)
                time.sleep(5)
                _, made1, got1 = page.evaluate(frames)
                page.get_by_role("button", name="Pause", exact=True).click()
                print(
                    f"{name:12} {rate:7d}× {statistics.median(ms):17.2f}"
                    f" {ms[int(0.9 * len(ms))]:6.2f} {got1 - got0:11d} {made1 - made0:9d}",
                    flush=True,
                )
                page.evaluate("() => window.backpropLab.conn.leave()")
                page.close()


if __name__ == "__main__":
    main()

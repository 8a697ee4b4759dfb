"""Every readout the engine lists is charted by the real page, and the numbers its charts
draw are the engine's: the series each chart holds, read off the page after some Steps (and
again after a reload, from the state's history), equal the history of an engine trainer
built apart from the page's config and stepped as often."""

from __future__ import annotations

from engine.readouts import READOUT_NAMES, READOUTS, Shape
from engine.trainer import Trainer
from tests.helpers.page import PageRun, click_step

# Each chart of the page's CHARTS table: its key, and its series as {name, xs, ys}.
CHARTED = """() => { const v = window.backpropLab.charts;
  return Object.fromEntries(Object.entries(v.lines).map(([key, chart]) => [key,
    chart.series.map((s) => ({name: s.name, xs: s.xs, ys: s.ys}))])); }"""


def expected_series(history: list[dict]) -> dict[str, list[dict]]:
    """What each readout's chart should hold, from an engine history: a train and a test
    line per {train, test} readout, a line per weight layer (h1, …, out) per layer one."""
    xs = [m["step"] for m in history]
    out = {}
    for r in READOUTS:
        values = [m[r.name] for m in history]
        if r.shape is Shape.SPLITS:
            out[r.name] = [
                {"name": split, "xs": xs, "ys": [v[split] for v in values]}
                for split in ("train", "test")
            ]
        else:
            n = len(values[0])
            out[r.name] = [
                {
                    "name": "out" if k == n - 1 else f"h{k + 1}",
                    "xs": xs,
                    "ys": [v[k] for v in values],
                }
                for k in range(n)
            ]
    return out


def assert_charts_are_the_engines(page: PageRun, steps: int) -> None:
    t = Trainer(page.state("s.config"))
    for _ in range(steps):
        t.step()
    charted = page.page.evaluate(CHARTED)
    assert list(charted) == list(READOUT_NAMES)  # a chart per readout, in the engine's order
    assert charted == expected_series(t.history)


def test_every_readout_is_charted_with_the_engines_numbers(run):
    page = run("dataset=xor&hidden=3,2")
    # the page's chart table names the readouts the server lists in its hello
    assert page.state("s.readouts") == list(READOUT_NAMES)
    tabs = page.page.eval_on_selector_all(
        "#chart-tabs button", "bs => bs.map(b => b.dataset.chart)"
    )
    assert tabs == ["all", *READOUT_NAMES]
    canvases = page.page.eval_on_selector_all(
        ".charts-card canvas.chart", "cs => cs.map(c => c.id)"
    )
    assert canvases == [f"chart-{name}" for name in READOUT_NAMES]

    click_step(page, 4)
    page.settle()
    assert_charts_are_the_engines(page, 4)
    assert page.state("s.history.length") == 5  # step 0 and each Step

    page.open()  # a reload resumes the session: the history comes whole in the state
    assert page.steps() == 4
    assert_charts_are_the_engines(page, 4)
    assert page.errors == [], page.errors

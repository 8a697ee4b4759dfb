"""The page makes every heatmap itself from the weights a frame carries (protocol 3). Its maps
must be the engine's: for random configs (every activation, every head, batch norm on and
off, residual connections, all seven features), every cell of every map the page computed
(inputs, each hidden neuron and the output, at the output's resolution) is within 1/255 of
`engine.heatmaps.evaluate_grid` on the session's own trainer, read in this process."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from playwright.sync_api import expect

from engine.activations import ACTIVATIONS
from engine.config import FEATURES
from tests.helpers.page import PageRun

HEADS = [  # (dataset, output activation, loss)
    ("circle", "tanh", "mse"),
    ("xor", "sigmoid", "bce"),
    ("blobs", "softmax", "cross_entropy"),
    ("plane", "linear", "mse"),
    ("spiral", "tanh", "mse"),
    ("gaussian", "sigmoid", "mse"),
]


def configs():
    rng = random.Random(14)
    acts = sorted(ACTIVATIONS)
    out = []
    for k, act in enumerate(acts):
        dataset, out_act, loss = HEADS[k % len(HEADS)]
        width = rng.choice([3, 4, 6])
        hidden = [width] * rng.choice([1, 2, 3])
        features = FEATURES if k % 2 == 0 else ("x1", "x2", "x1x2")
        out.append(
            {
                "dataset": dataset,
                "activation": act,
                "output_activation": out_act,
                "loss": loss,
                "hidden": hidden,
                "features": list(features),
                "batch_norm": k % 3 != 1,
                "residual": k % 2 == 1,
                "learning_rate": 0.1,
                "seed": k,
            }
        )
    return out


def query(config: dict) -> str:
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return ",".join(str(x) for x in v)
        return str(v)

    return "&".join(f"{k}={value(v)}" for k, v in config.items())


@pytest.mark.parametrize(
    "config",
    configs(),
    ids=lambda c: (
        f"{c['activation']}-{c['loss']}"
        f"{'-bn' if c['batch_norm'] else ''}{'-res' if c['residual'] else ''}"
    ),
)
def test_the_pages_maps_are_the_engines(live, browser, config):
    r = PageRun(browser, live.url, query(config))
    try:
        r.page.wait_for_function(
            "() => { const s = window.backpropLab.store.state; return s.config && s.heatmaps; }"
        )
        for key, v in config.items():  # the URL's config is in (the page sends it first)
            want = json.dumps(v, separators=(",", ":"))
            r.page.wait_for_function(
                f"() => JSON.stringify(window.backpropLab.store.state.config['{key}']) === '{want}'"
            )
        for n in range(1, 4):  # a few updates: batch norm's running statistics move
            r.page.locator("#btn-step").click()
            r.wait_steps(n)
        # the maps of the last frame: made from that step's weights
        r.page.wait_for_function("""() => { const s = window.backpropLab.store.state;
            return s.weights && s.weights.step === 3 && s.heatmaps && s.heatmaps.step === 3; }""")
        page = r.page.evaluate("""() => { const h = window.backpropLab.store.state.heatmaps;
            return {n: h.n, full: h.full.map(a => Array.from(a))}; }""")
        sid = r.state("s.connection.sessionId")
        session = live.app.state.sessions.sessions[sid]
        with session.lock:
            grid = session.trainer.grid(page["n"])
        engine = [grid.inputs, *grid.neurons, grid.output]
        assert len(page["full"]) == len(engine)
        for layer, (mine, theirs) in enumerate(zip(page["full"], engine)):
            mine = np.asarray(mine, dtype=np.float64).reshape(theirs.shape)
            lo, hi = grid.output_range if layer == len(engine) - 1 else grid.NEURON_RANGE
            # where the colour scale clips both, both show its end
            a, b = np.clip(mine, lo, hi), np.clip(theirs, lo, hi)
            off = np.abs(a - b) > 1 / 255
            assert not off.any(), (layer, np.abs(a - b).max(), int(off.sum()))
        assert r.errors == [], r.errors
    finally:
        r.close()


def test_a_page_of_another_protocol_is_told_to_reload(live_server_factory, browser, monkeypatch):
    """The page says which protocol it speaks; a server of another one closes with 4006 and
    the page asks for a reload, rather than misreading frames."""
    import server.client

    monkeypatch.setattr(server.client, "PROTOCOL_VERSION", 99)
    with live_server_factory() as live:
        page = browser.new_page()
        try:
            page.goto(live.url)
            page.wait_for_function(
                "() => window.backpropLab.store.state.connection.status === 'outdated'"
            )
            # the banner is drawn on the next animation frame, not with the state change
            expect(page.locator("#banner")).to_contain_text("out of date")
            text = page.locator("#banner").inner_text()
            assert "out of date" in text and "protocol 99" in text, text
            assert page.get_by_role("button", name="Reload the page").is_visible()
        finally:
            page.close()

"""The page tells the truth after a server restart: "Reconnected: resumed at step N" when its
session came back, else that it could not be restored and why, with the weights it still
shows offered back. A follower's page rejoins its room by itself, never "the room has ended".
Real server processes on a fixed port (tests/helpers/cluster.py), real chromium."""

from __future__ import annotations

import json

import numpy as np
from playwright.sync_api import expect

from tests.helpers.cluster import ServerProcess, free_port
from tests.helpers.page import PageRun, click_step


def test_a_restarted_server_resumes_the_page_and_says_so(browser, tmp_path):
    port, state = free_port(), tmp_path / "state"
    server = ServerProcess(None, "--state", str(state), "--port", str(port))
    r = follower = None
    try:
        r = PageRun(browser, server.url, "dataset=moons&hidden=3")
        click_step(r, 4)
        r.page.get_by_test_id("room-button").click()
        r.page.wait_for_function("() => window.backpropLab.store.state.room")
        code = r.state("s.room.code")
        follower = PageRun(browser, server.url, f"join={code}")
        assert server.sigterm() in (0, -15)
        expect(r.page.locator("#banner")).to_contain_text("reconnecting")
        expect(r.page.locator("#banner")).not_to_contain_text("will resume")
        server = ServerProcess(None, "--state", str(state), "--port", str(port))
        expect(r.page.locator("[data-toast]")).to_contain_text("Reconnected: resumed at step 4")
        expect(r.page.locator("#banner")).to_be_hidden()
        assert r.steps() == 4
        expect(r.page.locator("#room-panel")).to_contain_text(code)
        expect(r.page.locator("#room-panel")).not_to_contain_text("offline")
        r.shot("restart-resumed-1280x720")
        # the follower's page rejoined by itself and sees the presenter back
        follower.page.wait_for_function(
            "() => { const s = window.backpropLab.store.state;"
            " return s.connection.status === 'open' && s.room && s.room.presenterOnline; }",
            timeout=20_000,
        )
        expect(follower.page.locator("#banner")).not_to_contain_text("ended")
        click_step(r)
        follower.wait_steps(5)
    finally:
        for page in (r, follower):
            if page is not None:
                page.context.close()
        server.stop()


def test_a_session_the_server_could_not_keep_is_said_and_its_weights_offered(browser):
    port = free_port()
    server = ServerProcess(None, "--state", "none", "--port", str(port))
    r = None
    try:
        r = PageRun(browser, server.url, "dataset=moons&hidden=3")
        click_step(r, 6)
        before = r.state("s.params.weights")
        server.kill9()
        server = ServerProcess(None, "--state", "none", "--port", str(port))
        banner = r.page.locator("#banner")
        expect(banner).to_contain_text("could not be restored")
        expect(banner).to_contain_text("--state none")
        r.shot("restart-lost-1280x720")
        assert r.steps() == 0  # the page says it: a new session
        r.page.get_by_role("button", name="Import the weights this page still has (step 6)").click()
        expect(banner).to_be_hidden()
        r.page.wait_for_function(
            "(w) => JSON.stringify(window.backpropLab.store.state.params.weights) === w",
            arg=json.dumps(before, separators=(",", ":")),
        )
        for got, want in zip(r.state("s.params.weights"), before, strict=True):
            np.testing.assert_array_equal(np.array(got), np.array(want))
    finally:
        if r is not None:
            r.context.close()
        server.stop()

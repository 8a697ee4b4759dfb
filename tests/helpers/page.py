"""The page in Debian's chromium, for the browser tests: `PageRun` (a page in its own
browser context, so its own session, with its console errors), `click_step`, and where
screenshots go. The `browser`, `base_url` and `run` fixtures are in tests/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.helpers.numbers import parse_number

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(
    os.environ.get("BACKPROP_LAB_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots")
)
SIZES = {"1280x720": (1280, 720), "1920x1080": (1920, 1080)}
TIMEOUT_MS = 15_000


class PageRun:
    """A page in its own browser context (so its own session), with its console errors."""

    def __init__(self, browser, base: str, query: str = "", size=(1280, 720)):
        self.context = browser.new_context(viewport={"width": size[0], "height": size[1]})
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.base = base
        self.open(query)

    def open(self, query: str = "") -> None:
        self.page.goto(f"{self.base}/{'?' + query if query else ''}")
        self.wait_ready()

    def wait_ready(self) -> None:
        self.page.wait_for_function(
            "() => { const s = window.backpropLab && window.backpropLab.store.state;"
            " return s && s.connection.status === 'open' && s.config && s.params && s.heatmaps; }"
        )
        self.settle()

    def settle(self) -> None:
        """Wait until two animation frames have drawn everything pending."""
        self.page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )

    def state(self, expr: str):
        return self.page.evaluate(
            f"() => {{ const s = window.backpropLab.store.state; return {expr}; }}"
        )

    def text(self, testid: str) -> str:
        return self.page.get_by_test_id(testid).inner_text().strip()

    def number(self, testid: str) -> float:
        return float(parse_number(self.text(testid)))

    def steps(self) -> int:
        return int(self.text("step-count"))

    def wait_steps(self, n: int) -> None:
        expect(self.page.get_by_test_id("step-count")).to_have_text(str(n))

    def canvas_signature(self, selector: str, region=None) -> dict:
        """Distinct colours and a checksum of the canvas (or a CSS-pixel region of it)."""
        return self.page.evaluate(
            """([sel, region]) => {
                const c = document.querySelector(sel);
                const dpr = c.width / c.getBoundingClientRect().width;
                const [x, y, w, h] = region ? region.map(v => Math.round(v * dpr))
                                            : [0, 0, c.width, c.height];
                const d = c.getContext('2d')
                           .getImageData(x, y, Math.max(1, w), Math.max(1, h)).data;
                const colours = new Set();
                let sum = 0;
                for (let i = 0; i < d.length; i += 4) {
                    const v = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
                    if (colours.size < 512) colours.add(v);
                    sum = (sum * 31 + v + d[i + 3]) % 1000000007;
                }
                return {colours: colours.size, sum, width: c.width, height: c.height};
            }""",
            [selector, region],
        )

    def click_canvas(self, selector: str, x: float, y: float, **kw) -> None:
        box = self.page.locator(selector).bounding_box()
        self.page.mouse.click(box["x"] + x, box["y"] + y, **kw)

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.settle()
        self.page.screenshot(path=str(path))
        return path

    def close(self) -> None:
        """Send `leave` (the page never does on unload) so the shared server's sessions do
        not pile up against its cap, then close the browser context."""
        left = self.page.evaluate("() => window.backpropLab && window.backpropLab.conn.leave()")
        if left:
            self.page.wait_for_function(
                "() => window.backpropLab.store.state.connection.status === 'left'"
            )
        self.context.close()


def click_step(r: PageRun, times: int = 1) -> None:
    for _ in range(times):
        before = r.steps()
        r.page.get_by_role("button", name="Step", exact=True).click()
        r.wait_steps(before + 1)


def reveal(page: Page, selector: str) -> None:
    """Make an advanced control shown, as a person would (issue 22): the More menu for
    Compare, Export, Import and Record; the folded group's summary for a panel field."""
    if page.locator(selector).first.evaluate("e => !!e.closest('#more-menu')"):
        if page.get_attribute("#btn-more", "aria-expanded") != "true":
            page.click("#btn-more")
    closed = page.locator(selector).first.evaluate(
        "e => { const d = e.closest('details'); return !!d && !d.open; }"
    )
    if closed:
        page.locator(selector).first.locator("xpath=ancestor::details[1]/summary").click()

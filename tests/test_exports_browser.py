"""Exports for slides, driven in chromium against the real server (`live_server`).

PNG buttons must give exactly 2× each view's CSS size at any devicePixelRatio; recordings
must hold one frame per training step. The downloaded files are read here with independent
decoders: the PNG's IHDR, Python's zipfile, and a GIF parser with its own LZW decoder whose
last frame is compared with the canvas's pixels. Like test_page_browser, these tests fail
(never skip) without chromium.
"""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from playwright.sync_api import expect

from tests.helpers.page import SCREENSHOTS, SIZES, PageRun, click_step, reveal

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHART_IDS = ["#chart-loss", "#chart-accuracy", "#chart-grad_norms"]
VIEW_CANVASES = {"network": ["#network"], "boundary": ["#boundary"], "charts": CHART_IDS}


class ExportRun(PageRun):
    """A PageRun whose screen has `dpr` device pixels per CSS pixel."""

    def __init__(self, chromium, base: str, size=(1280, 720), dpr: float = 1.0):
        self.context = chromium.new_context(
            viewport={"width": size[0], "height": size[1]},
            device_scale_factor=dpr,
            accept_downloads=True,
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.base = base
        self.open("")

    def still(self) -> None:
        """Wait until the step's animation is over and nothing is left to draw."""
        self.page.wait_for_function(
            "() => { const st = window.backpropLab.store; return !st.frame && !st.state.ui.anim; }"
        )
        self.settle()

    def css_size(self, selector: str) -> tuple[int, int]:
        """The canvas's CSS size as HiDPICanvas rounds it."""
        return tuple(
            self.page.evaluate(
                "s => { const r = document.querySelector(s).getBoundingClientRect();"
                " return [Math.round(r.width), Math.round(r.height)]; }",
                selector,
            )
        )

    def buffered(self) -> int:
        return int(self.page.get_by_test_id("record-buffered").inner_text())

    def wait_buffered(self, n: int) -> None:
        expect(self.page.get_by_test_id("record-buffered")).to_have_text(str(n))

    def step_recorded(self, times: int) -> None:
        """Step `times` times, each time until its frame is buffered."""
        for _ in range(times):
            before = self.buffered()
            click_step(self)
            self.wait_buffered(before + 1)

    def save_recording(self, target: str, fmt: str, count: int) -> tuple[str, bytes]:
        page = self.page
        if page.locator("#record-panel").is_hidden():
            reveal(page, "#btn-record")
            page.get_by_role("button", name="Record").click()
        page.locator("[data-record=target]").select_option(target)
        page.locator("[data-record=format]").select_option(fmt)
        page.locator("[data-record=count]").fill(str(count))
        with page.expect_download(timeout=60_000) as info:
            page.locator("[data-record=save]").click()
        d = info.value
        return d.suggested_filename, d.path().read_bytes()

    def canvas_rgb(self, selector: str) -> tuple[int, int, list[int]]:
        """(width, height, [r, g, b, …]) of the canvas's backing store."""
        w, h, data = self.page.evaluate(
            "s => { const c = document.querySelector(s);"
            " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " const rgb = [];"
            " for (let i = 0; i < d.length; i += 4) rgb.push(d[i], d[i + 1], d[i + 2]);"
            " return [c.width, c.height, rgb]; }",
            selector,
        )
        return w, h, data


@pytest.fixture
def export_run(browser, base_url):
    runs = []

    def make(size=(1280, 720), dpr: float = 1.0) -> ExportRun:
        r = ExportRun(browser, base_url, size, dpr)
        runs.append(r)
        return r

    yield make
    for r in runs:
        r.close()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE, data[:8]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


# ----- an independent GIF reader: blocks, then LZW


def lzw_decode(data: bytes, min_size: int, n_pixels: int) -> list[int]:
    """GIF's variable-width LZW (codes LSB first; the width grows when the table fills)."""
    clear, end = 1 << min_size, (1 << min_size) + 1
    table = [[i] for i in range(clear)] + [[], []]
    width, pos, prev, out = min_size + 1, 0, None, []
    bits = int.from_bytes(data, "little")
    while pos + width <= len(data) * 8:
        code = (bits >> pos) & ((1 << width) - 1)
        pos += width
        if code == clear:
            table, width, prev = table[: clear + 2], min_size + 1, None
            continue
        if code == end:
            break
        if prev is None:
            entry = table[code]
        elif code < len(table):
            entry = table[code]
            table.append(prev + entry[:1])
        else:
            assert code == len(table), f"LZW code {code} beyond the table ({len(table)})"
            entry = prev + prev[:1]
            table.append(entry)
        out.extend(entry)
        prev = entry
        if len(table) == 1 << width and width < 12:
            width += 1
    assert len(out) == n_pixels, (len(out), n_pixels)
    return out


def parse_gif(data: bytes) -> dict:
    """{width, height, palette, loop, frames: [{x, y, w, h, delay, indices}]}."""
    assert data[:6] == b"GIF89a", data[:6]
    width, height, packed = struct.unpack("<HHB", data[6:11])
    pos, palette = 13, []
    if packed & 0x80:
        n = 2 << (packed & 7)
        palette = [tuple(data[pos + 3 * i : pos + 3 * i + 3]) for i in range(n)]
        pos += 3 * n
    gif = {"width": width, "height": height, "palette": palette, "loop": None, "frames": []}
    delay = None

    def sub_blocks(p: int) -> tuple[bytes, int]:
        chunks = []
        while data[p]:
            chunks.append(data[p + 1 : p + 1 + data[p]])
            p += 1 + data[p]
        return b"".join(chunks), p + 1

    while True:
        kind = data[pos]
        if kind == 0x3B:
            break
        if kind == 0x21:
            label = data[pos + 1]
            body, pos = sub_blocks(pos + 2)
            if label == 0xF9:
                delay = struct.unpack("<H", body[1:3])[0]
            elif label == 0xFF and body.startswith(b"NETSCAPE2.0"):
                gif["loop"] = struct.unpack("<H", body[12:14])[0]
        elif kind == 0x2C:
            x, y, w, h, fpacked = struct.unpack("<HHHHB", data[pos + 1 : pos + 10])
            assert not fpacked & 0x80, "frames use the global palette"
            min_size = data[pos + 10]
            body, pos = sub_blocks(pos + 11)
            gif["frames"].append(
                {
                    "x": x,
                    "y": y,
                    "w": w,
                    "h": h,
                    "delay": delay,
                    "indices": lzw_decode(body, min_size, w * h),
                }
            )
        else:
            raise AssertionError(f"unexpected GIF block 0x{kind:02x} at {pos}")
    return gif


def gif_last_frame_rgb(gif: dict) -> list[tuple[int, int, int]]:
    """The picture after every frame is drawn in place (disposal "leave")."""
    w = gif["width"]
    screen = [0] * (w * gif["height"])
    for f in gif["frames"]:
        for row in range(f["h"]):
            start = (f["y"] + row) * w + f["x"]
            screen[start : start + f["w"]] = f["indices"][row * f["w"] : (row + 1) * f["w"]]
    return [gif["palette"][i] for i in screen]


# ----- PNG at 2×


@pytest.mark.parametrize("dpr", [1.0, 1.5])
@pytest.mark.parametrize("view", ["network", "boundary", "charts"])
def test_the_png_button_saves_the_view_at_exactly_twice_its_css_size(export_run, view, dpr):
    r = export_run(dpr=dpr)
    click_step(r)
    r.still()
    shown = [
        s
        for s in VIEW_CANVASES[view]  # the chart tabs may show one chart of three
        if not r.page.evaluate(f"() => document.querySelector('{s}').hidden")
    ]
    sizes = [r.css_size(s) for s in shown]
    before = {s: r.canvas_signature(s) for s in shown}
    with r.page.expect_download() as info:
        reveal(r.page, f"button.png[data-png={view}]")
        r.page.locator(f"button.png[data-png={view}]").click()
    data = info.value.path().read_bytes()
    # Charts come as one PNG, the shown ones stacked.
    expected = (2 * max(w for w, _ in sizes), 2 * sum(h for _, h in sizes))
    assert png_size(data) == expected, (view, dpr, sizes)
    # The screen's canvases are back at the screen's scale with the same picture.
    r.settle()
    for s in shown:
        w, h = r.css_size(s)
        sig = r.canvas_signature(s)
        js_round = lambda v: int(v + 0.5)  # noqa: E731  (Math.round, not banker's rounding)
        assert (sig["width"], sig["height"]) == (js_round(w * dpr), js_round(h * dpr)), (s, sig)
        assert sig == before[s], s
    assert r.errors == [], r.errors


def test_in_compare_mode_the_output_png_holds_run_a_and_run_b(export_run):
    r = export_run()
    r.page.evaluate(
        "() => window.backpropLab.conn.send("
        "{type: 'compare', config: {learning_rate: 0.3}, restart: false})"
    )
    r.page.wait_for_function(
        "() => window.backpropLab.store.state.compare"
        " && !document.querySelector('#boundary-b').hidden"
    )
    click_step(r)
    r.still()
    (wa, ha), (wb, hb) = r.css_size("#boundary"), r.css_size("#boundary-b")
    assert r.canvas_signature("#boundary-b")["colours"] > 20  # B's plot is drawn on screen
    with r.page.expect_download() as info:
        reveal(r.page, "button.png[data-png=boundary]")
        r.page.locator("button.png[data-png=boundary]").click()
    assert png_size(info.value.path().read_bytes()) == (2 * max(wa, wb), 2 * (ha + hb))
    assert r.errors == [], r.errors


# ----- recordings


def test_a_gif_of_the_last_steps_has_one_frame_per_step_and_the_canvas_colours(export_run):
    r = export_run()
    r.wait_buffered(1)  # the first state
    r.step_recorded(3)
    name, data = r.save_recording("network", "gif", 3)
    assert name.endswith(".gif")
    gif = parse_gif(data)
    assert (gif["width"], gif["height"]) == r.css_size("#network")
    assert len(gif["frames"]) == 3
    assert gif["loop"] == 0
    assert all(f["delay"] >= 10 for f in gif["frames"])
    # Every step changed the diagram, so no frame is the 1×1 "nothing changed" frame.
    assert all(f["w"] * f["h"] > 100 for f in gif["frames"])
    # The last frame is the canvas on screen now (dpr 1: one canvas pixel per GIF pixel).
    r.still()
    w, h, rgb = r.canvas_rgb("#network")
    assert (w, h) == (gif["width"], gif["height"])
    shown = gif_last_frame_rgb(gif)
    diffs = sorted(
        max(abs(a - b) for a, b in zip(px, rgb[3 * i : 3 * i + 3])) for i, px in enumerate(shown)
    )
    mean = sum(diffs) / len(diffs)
    assert mean < 3.0, f"mean colour error {mean:.2f}"
    assert diffs[int(0.99 * len(diffs))] <= 24, diffs[int(0.99 * len(diffs)) :][:20]
    # Asking for more steps than were buffered gives all of them.
    _, data = r.save_recording("network", "gif", 300)
    assert len(parse_gif(data)["frames"]) == 4
    assert r.errors == [], r.errors


@pytest.mark.parametrize("target", ["page", "charts", "boundary"])
def test_a_zip_holds_one_png_per_step_at_the_targets_size(export_run, target):
    r = export_run()
    r.wait_buffered(1)
    r.step_recorded(2)
    name, data = r.save_recording(target, "zip", 2)
    assert name.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        members = z.namelist()
        assert len(members) == 2, members
        assert all(m.endswith(".png") for m in members)
        sizes = {png_size(z.read(m)) for m in members}
    if target == "page":
        expected = (1280, 720)
    else:
        views = [r.css_size(s) for s in VIEW_CANVASES[target]]
        expected = (max(w for w, _ in views), sum(h for _, h in views))
    assert sizes == {expected}, (target, sizes)
    assert r.errors == [], r.errors


def test_while_playing_captures_are_throttled_and_the_buffer_is_bounded(export_run):
    r = export_run()
    r.wait_buffered(1)
    r.page.get_by_role("button", name="Play").click()
    r.page.wait_for_timeout(2000)
    r.page.get_by_role("button", name="Pause").click()
    r.page.wait_for_timeout(300)
    captured = r.buffered() - 1
    steps = r.steps()
    assert 3 <= captured <= 2.0 * 10 + 3, captured  # ≤ 10 a second, with slack for timing
    assert captured < steps, (captured, steps)
    # The ring buffer keeps at most 300 frames whatever is pushed into it.
    kept = r.page.evaluate("""async () => {
        const { Recorder, MAX_FRAMES } = await import('/static/js/recorder.js');
        const rec = new Recorder({}, { settled: () => true });
        const blob = new Blob([new Uint8Array(10)], { type: 'image/png' });
        for (let k = 0; k < MAX_FRAMES + 50; k++)
            rec._push({ time: k, step: k, images: { v: { blob } } });
        return [rec.count, MAX_FRAMES, rec.frames(5).map(f => f.step)];
    }""")
    assert kept == [300, 300, [345, 346, 347, 348, 349]]
    assert r.errors == [], r.errors


@pytest.mark.parametrize("size", list(SIZES), ids=list(SIZES))
def test_the_record_popover_fits_the_top_bar(export_run, size):
    w, h = SIZES[size]
    r = export_run(size=(w, h))
    r.wait_buffered(1)
    bar = r.page.locator(".topbar").bounding_box()
    reveal(r.page, "#btn-record")
    r.page.get_by_role("button", name="Record").click()
    panel = r.page.locator("#record-panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= w and box["y"] + box["height"] <= h, box
    assert r.page.locator(".topbar").bounding_box()["height"] == bar["height"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    r.page.screenshot(path=str(SCREENSHOTS / f"record-popover-{size}.png"))
    r.page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert r.errors == [], r.errors


def test_the_whole_page_frame_draws_the_panels_words_and_controls(export_run):
    """A whole-page frame is drawn from the page's layout: the inspector's chain rule, the
    status line and each control's shown value are in it, where the page shows them."""
    r = export_run()
    r.page.evaluate(
        "() => window.backpropLab.store.dispatch({type: 'select', selection: "
        "{kind: 'link', layer: 0, i: 1, j: 0}})"
    )
    expect(r.page.locator("#inspector")).to_contain_text("∂L/∂w")
    click_step(r)
    r.still()
    layout, dark, unit = r.page.evaluate("""async () => {
        const { readPageLayout, drawPage } = await import('/static/js/page_image.js');
        const L = readPageLayout({});
        const c = document.createElement('canvas');
        c.width = L.width; c.height = L.height;
        const ctx = c.getContext('2d');
        drawPage(ctx, L, {}, 1);
        const b = document.getElementById('inspector').getBoundingClientRect();
        const px = ctx.getImageData(b.left, b.top, b.width, b.height).data;
        let dark = 0;
        for (let i = 0; i < px.length; i += 4) if (px[i] + px[i + 1] + px[i + 2] < 300) dark++;
        const unit = document.getElementById('step-unit');  // a select in the top bar
        return [L, dark, unit.selectedOptions[0].text];
    }""")
    texts = [t["text"] for t in layout["texts"]]
    formula = r.page.get_by_test_id("chain-rule").inner_text().strip()
    # drawn a line and a styled run at a time: all its characters are there, in order
    assert "".join(formula.split()) in "".join("".join(texts).split())
    assert r.text("step-count") in texts and r.text("loss-train") in texts
    assert f"{unit} ▾" in texts
    assert dark > 300  # the inspector's box is not empty in the frame
    assert r.errors == [], r.errors

"""The stage's figures (issue 22), read off the real page in headless chromium:

    python bench/stage.py            # needs Debian's chromium

- the neuron map size (the network view's own `size`) at 1280×720 in projector mode and at
  1366×768 plain, for the default 2→[4,2]→1 and for 7→[8×6]→1: on first open, with a hidden
  neuron selected (the inspector showing its walk), and with a lesson open too; and how far
  the network's canvas moved or resized when the selection opened;
- the controls visible on the first screen at 1280×720 (owner) and 390×844 (a phone
  follower), and how many of them are greyed out;
- the scores, titles and labels cut at every listed size, plain and projector, with long
  numbers;
- at 1366×892–940, whether the Charts card settles on one choice and paints.
"""

from __future__ import annotations

from live_server import page_server

from tests.helpers.stage import (
    CHARTS,
    CONTROLS,
    CUT,
    DEEP,
    LONG_NUMBERS,
    NET,
    SIZES,
    select_hidden_neuron,
    settle,
)

READY = (
    "() => { const s = window.backpropLab && window.backpropLab.store.state;"
    " return s && s.connection.status === 'open' && s.config && s.params && s.heatmaps; }"
)


def open_page(browser, url, query, w, h):
    ctx = browser.new_context(viewport={"width": w, "height": h})
    page = ctx.new_page()
    page.goto(f"{url}?{query}", wait_until="domcontentloaded")
    wait_config(page, query)
    return ctx, page


def wait_config(page, query):
    """Ready, with the URL's hidden widths in force (the URL's config comes after a state)."""
    page.wait_for_function(READY)
    if "hidden=8,8,8,8,8,8" in query:
        page.wait_for_function(
            "() => { const s = window.backpropLab.store.state;"
            " return s.config.hidden.length === 6 && s.heatmaps"
            " && s.heatmaps.neurons.length === 6; }"
        )
    settle(page)


def close(ctx, page):
    """Leave (the server's session cap), then close the context."""
    page.evaluate("() => window.backpropLab.conn.leave()")
    ctx.close()


def step(page, n=1):
    for _ in range(n):
        before = page.evaluate("() => window.backpropLab.store.state.counters.step")
        page.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function(f"() => window.backpropLab.store.state.counters.step > {before}")
    settle(page)


def network_sizes(browser, url):
    print("neuron map size (px), network canvas moved/resized on select (px)")
    for label, mode, (w, h) in [
        ("projector 1280×720", "projector=1&", (1280, 720)),
        ("plain 1366×768", "", (1366, 768)),
    ]:
        for net, q in [("2→[4,2]→1", "dataset=circle"), ("7→[8×6]→1", f"dataset=spiral&{DEEP}")]:
            ctx, page = open_page(browser, url, mode + q, w, h)
            step(page)
            first = page.evaluate(NET)
            select_hidden_neuron(page)
            page.wait_for_function("() => window.backpropLab.store.state.inspect")
            settle(page)
            sel = page.evaluate(NET)
            page.goto(f"{url}?{mode}{q}&lesson=xor")
            wait_config(page, q)
            step(page)
            select_hidden_neuron(page)
            page.wait_for_function("() => window.backpropLab.store.state.inspect")
            settle(page)
            les = page.evaluate(NET)
            jump = max(abs(first[k] - sel[k]) for k in "xywh")
            print(
                f"  {label:19} {net:10} first {first['size']:5.1f}  selected {sel['size']:5.1f}"
                f"  +lesson {les['size']:5.1f}  jump {jump:5.1f}"
            )
            close(ctx, page)


def controls(browser, url):
    print("controls visible on the first screen (shown / greyed)")
    ctx, page = open_page(browser, url, "", 1280, 720)
    c = page.evaluate(CONTROLS)
    print(f"  owner 1280×720: {c['shown']} shown, {c['greyed']} greyed")
    page.evaluate("() => window.backpropLab.conn.send({type: 'open_room'})")
    page.wait_for_function("() => window.backpropLab.store.state.room")
    code = page.evaluate("() => window.backpropLab.store.state.room.code")
    followers = [("phone follower 390×844", (390, 844)), ("laptop follower 1280×720", (1280, 720))]
    for name, (w, h) in followers:
        fctx, fpage = open_page(browser, url, f"join={code}", w, h)
        fpage.wait_for_function("() => window.backpropLab.store.state.role === 'follower'")
        settle(fpage)
        c = fpage.evaluate(CONTROLS)
        print(f"  {name}: {c['shown']} shown, {c['greyed']} greyed: {', '.join(c['names'])}")
        close(fctx, fpage)
    close(ctx, page)


def cuts(browser, url):
    print("cut at each size (plain / projector), with long numbers")
    for name, w, h in SIZES:
        row = []
        for mode in ("", "projector=1&"):
            ctx, page = open_page(browser, url, mode + "dataset=circle", w, h)
            step(page)
            page.evaluate(LONG_NUMBERS)
            cut = page.evaluate(CUT)
            said = "; ".join(f"{c['text']} {c['by']}" for c in cut[:4])
            row.append(f"{len(cut):2}" + (f" ({said})" if cut else ""))
            close(ctx, page)
        print(f"  {name:10} plain {row[0]} | projector {row[1]}")


def chart_flip(browser, url):
    print("charts at 1366 wide: tabs over 20 frames, painted pixels")
    for h in range(892, 941, 8):
        for mode in ("", "projector=1&"):
            ctx, page = open_page(browser, url, mode + "dataset=circle", 1366, h)
            step(page, 2)
            seen = page.evaluate(
                """async () => { const seen = new Set();
                for (let k = 0; k < 20; k++) { await new Promise(r => requestAnimationFrame(r));
                  seen.add(window.backpropLab.charts.shown); } return [...seen]; }"""
            )
            ink = page.evaluate(CHARTS)
            name = "projector" if mode else "plain"
            print(f"  1366×{h} {name:9} shown {seen}  ink {[c['ink'] for c in ink]}")
            close(ctx, page)


def main() -> None:
    with page_server() as (url, browser):
        network_sizes(browser, url)
        controls(browser, url)
        cuts(browser, url)
        chart_flip(browser, url)


if __name__ == "__main__":
    main()

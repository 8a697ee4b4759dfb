"""What the stage looks like, read off the real page (issue 22): the neuron maps' size from
the network view's own layout, the boxes of scores, titles and labels against their cards
and the window, the charts' painted pixels and the controls a newcomer sees. Shared by
tests/test_stage_browser.py (which asserts) and bench/stage.py (which prints)."""

from __future__ import annotations

# (name, width, height): the sizes the issue lists, plain and projector alike
SIZES = [
    ("1024x768", 1024, 768),
    ("1280x720", 1280, 720),
    ("1280x800", 1280, 800),
    ("1366x768", 1366, 768),
    ("1366x900", 1366, 900),
    ("1366x920", 1366, 920),
    ("1440x900", 1440, 900),
    ("1600x900", 1600, 900),
    ("1920x1080", 1920, 1080),
    ("2560x1440", 2560, 1440),
    ("390x844", 390, 844),
]
DEEP = "features=x1,x2,x1_sq,x2_sq,x1x2,sin_x1,sin_x2&hidden=8,8,8,8,8,8&activation=tanh"

# The network's layout as the view itself computed it: map size and the canvas's box.
NET = """() => { const n = window.backpropLab.network; const r = n.canvas.getBoundingClientRect();
  return { size: n.size, x: r.x, y: r.y, w: r.width, h: r.height }; }"""

# Long numbers as training leaves them, written into the scores (the page's own format).
LONG_NUMBERS = """() => {
  const put = (id, t) => { document.querySelector(`[data-testid="${id}"]`).textContent = t; };
  put("loss-train", "0.004533"); put("loss-test", "0.004533");
  put("accuracy-train", "100.0%"); put("accuracy-test", "100.0%");
  put("epoch", "12345"); }"""

# Every visible score, card title and control label whose box runs outside its card (or
# its bar) or the window, where no scrollbar of an ancestor reaches it. [{what, text, by}]
CUT = """() => {
  const out = [];
  const vis = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden"
    && !el.closest("[hidden], details:not([open]) > :not(summary), .popover, .record-panel");
  const scrolls = (a, axis) => {
    const o = getComputedStyle(a)[axis === "x" ? "overflowX" : "overflowY"];
    return (o === "auto" || o === "scroll")
      && (axis === "x" ? a.scrollWidth > a.clientWidth : a.scrollHeight > a.clientHeight);
  };
  const bodyScrolls = getComputedStyle(document.body).overflowY !== "hidden";
  const sel = ".scores .stat, .card-head h2, .card-head > *, label, button, select, output,"
    + " .lesson-head h2";
  for (const el of document.querySelectorAll(sel)) {
    if (!vis(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    const reach = { x: false, y: false };
    let by = null;
    for (let a = el.parentElement; a && a !== document.body && !by; a = a.parentElement) {
      const b = a.getBoundingClientRect();
      const box = a.matches(".card, .panel, .topbar, .room-bar, .scores, .card-head, .lesson-card");
      for (const axis of ["x", "y"]) {
        if (reach[axis]) continue;
        const out1 = axis === "x" ? r.left < b.left - 1 || r.right > b.right + 1
          : r.top < b.top - 1 || r.bottom > b.bottom + 1;
        if (!out1) continue;
        if (scrolls(a, axis)) { reach[axis] = true; continue; }
        if (box) by = `${axis} past ${a.className || a.tagName}`;
      }
    }
    if (!by && !reach.x && (r.left < -1 || r.right > innerWidth + 1)) by = "x past the window";
    const below = r.top < -1 || r.bottom > innerHeight + 1;
    if (!by && !reach.y && !bodyScrolls && below) by = "y past the window";
    if (by) out.push({ what: el.tagName.toLowerCase() + (el.className ? "." + el.className : ""),
      text: (el.textContent || el.getAttribute("aria-label") || "").trim().slice(0, 40), by,
      px: Math.round(Math.max(r.right - innerWidth, 0)) });
  }
  for (const c of window.backpropLab.charts.charts) {  // the titles the charts draw
    if (c.canvas.hidden || !c.titleDrawn) continue;
    if (c.titleEnd > c.surface.width + 1)
      out.push({ what: "chart title", text: c.titleDrawn, by: "past its canvas" });
  }
  return out; }"""

# The charts on show and how many of their pixels are painted (not the white background).
CHARTS = """() => window.backpropLab.charts.charts.filter((c) => !c.canvas.hidden).map((c) => {
  const cv = c.canvas, d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
  let ink = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) ink++;
  return { id: cv.id, w: cv.width, h: cv.height, ink }; })"""

# The controls a person can see on the first screen: buttons, selects, inputs and file
# labels with a box inside the window, not hidden; `greyed` counts the disabled-looking ones.
CONTROLS = """() => {
  let shown = 0, greyed = 0; const names = [];
  for (const el of document.querySelectorAll("button, select, input, label.button")) {
    if (el.type === "file" || !el.getClientRects().length) continue;
    if (el.closest("details:not([open])") && !el.matches("summary")) continue;  // folded
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) continue;
    if (r.bottom <= 0 || r.top >= innerHeight || r.right <= 0 || r.left >= innerWidth) continue;
    let clip = false;
    for (let a = el.parentElement; a; a = a.parentElement) {
      const b = a.getBoundingClientRect(), o = getComputedStyle(a);
      const outX = r.left >= b.right - 1 || r.right <= b.left + 1;
      const outY = r.top >= b.bottom - 1 || r.bottom <= b.top + 1;
      if ((o.overflowX !== "visible" && outX) || (o.overflowY !== "visible" && outY)) clip = true;
    }
    if (clip) continue;
    shown++;
    let op = 1;
    for (let a = el; a; a = a.parentElement) op *= Number(getComputedStyle(a).opacity);
    if (el.disabled || op < 0.7 || getComputedStyle(el).pointerEvents === "none") greyed++;
    names.push(el.id || el.dataset.chart || el.getAttribute("aria-label")
      || el.textContent.trim().slice(0, 16));
  }
  return { shown, greyed, names }; }"""


def select_hidden_neuron(page) -> None:
    """Select neuron 0 of the first hidden layer as a click would (the store's own action)."""
    page.evaluate(
        "() => window.backpropLab.store.dispatch({type: 'select',"
        " selection: {kind: 'neuron', layer: 1, j: 0}})"
    )


def settle(page) -> None:
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

// Charts over training time: train/test loss (linear or log), accuracy, and the gradient norm
// of every layer (log scale, so vanishing and exploding gradients stand out). Hovering a
// chart reads out the values at that step.

import { HiDPICanvas } from "./canvas.js";
import { formatNumber } from "./format.js";
import { lastValues } from "./a11y_text.js";
import { drawScale } from "./projector.js";

const ONE = { line: 1, font: 1 };
const font = (px, k, bold = false) => `${bold ? "bold " : ""}${px * k.font}px system-ui, sans-serif`;

const TRAIN = "#1f1f1f";
const TEST = "#0072b2";
export const COMPARE_B = "#cc79a7";  // run B in compare mode (Okabe–Ito reddish purple)
const LAYER_COLORS = ["#e69f00", "#0072b2", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#7f7f7f", "#000000", "#b8860b"];

/** One line chart on a canvas: `update(series, {log, yMin, yMax, title, shortTitle, scale})` then
 *  `draw()`; `scale` ({line, font} factors) thickens lines and enlarges labels. */
export class LineChart {
  constructor(canvas, onResize) {
    this.surface = new HiDPICanvas(canvas, onResize);
    this.series = [];
    this.opts = {};
    this.hoverX = null;
    canvas.addEventListener("mousemove", (ev) => { this.hoverX = this.surface.pointer(ev).x; this.draw(); });
    canvas.addEventListener("mouseleave", () => { this.hoverX = null; this.draw(); });
  }

  get canvas() { return this.surface.canvas; }

  /** series: [{name, color, xs: number[], ys: (number|null)[]}]; arrays of equal length. */
  update(series, opts) {
    for (const s of series) {
      if (s.xs.length !== s.ys.length) throw new Error(`series ${s.name}: xs and ys differ in length`);
    }
    this.series = series;
    this.opts = opts;
  }

  _range() {
    const log = this.opts.log;
    let lo = Infinity, hi = -Infinity, xMax = 0, xMin = Infinity;
    for (const s of this.series) {
      s.ys.forEach((y, k) => {
        if (y === null || !Number.isFinite(y) || (log && y <= 0)) return;
        const v = log ? Math.log10(y) : y;
        lo = Math.min(lo, v); hi = Math.max(hi, v);
        xMax = Math.max(xMax, s.xs[k]); xMin = Math.min(xMin, s.xs[k]);
      });
    }
    if (!Number.isFinite(lo)) return null;
    if (this.opts.yMin !== undefined && !log) lo = Math.min(lo, this.opts.yMin);
    if (this.opts.yMax !== undefined && !log) hi = Math.max(hi, this.opts.yMax);
    if (hi - lo < 1e-12) { hi += log ? 0.5 : Math.abs(hi) * 0.1 + 1e-3; lo -= log ? 0.5 : Math.abs(lo) * 0.1 + 1e-3; }
    if (!log && this.opts.zeroBased && lo > 0) lo = 0;
    const pad = (hi - lo) * 0.06;
    hi += pad;
    if (!(this.opts.zeroBased && lo === 0) && this.opts.yMin === undefined) lo -= pad;
    return { lo, hi, xMin: Math.min(xMin, 0), xMax: Math.max(xMax, 1), dataXMax: xMax };
  }

  draw() {
    const { width: W, height: H } = this.surface;
    const ctx = this.surface.begin("#ffffff");
    const k = this.opts.scale || ONE;
    ctx.font = font(12, k, true);
    // the full title where it fits, else its short form (a narrow card in projector mode)
    const full = this.opts.title || "";
    const title = ctx.measureText(full).width + 12 <= W || !this.opts.shortTitle ? full : this.opts.shortTitle;
    this.titleDrawn = title;  // read by tests
    this.titleEnd = 6 + ctx.measureText(title).width + 10;
    // the legend beside the title when it fits, else on rows of its own under it
    const rows = this._legendRows(ctx, W);
    const right = 8, top = 6 + 12 * k.font * (rows.length > 1 || (rows.length && rows[0].below) ? rows.length + 1 : 1),
      bottom = 4 + 12 * k.font;
    const r = this._range();
    const log = this.opts.log;
    const ticks = r ? (log ? logTicks(r.lo, r.hi) : linTicks(r.lo, r.hi)) : [];
    const label = (v) => (log ? formatNumber(10 ** v, 2) : formatNumber(v, 3));
    ctx.font = font(11, k);
    const left = Math.max(40, ...ticks.map((v) => ctx.measureText(label(v)).width + 10));
    const pw = W - left - right, ph = H - top - bottom;
    this.yTicksDrawn = [];  // [{text, y}], read by tests
    this.xTicksDrawn = [];
    ctx.fillStyle = "#111";
    ctx.textBaseline = "alphabetic";
    ctx.font = font(12, k, true);
    ctx.fillText(title, 6, 1 + 12 * k.font);
    ctx.font = font(12, k);
    ctx.strokeStyle = "#c4c7ca";
    ctx.lineWidth = 1;
    ctx.strokeRect(left + 0.5, top + 0.5, pw, ph);
    if (!r) {
      ctx.fillStyle = "#555";
      ctx.fillText(this.opts.empty || "no data yet: press Step or Play", left + 8, top + ph / 2 + 4);
      this._legend(ctx, rows);
      return;
    }
    const X = (x) => left + ((x - r.xMin) / (r.xMax - r.xMin || 1)) * pw;
    const Y = (v) => top + ph - ((v - r.lo) / (r.hi - r.lo)) * ph;
    // y ticks
    ctx.fillStyle = "#444";
    ctx.font = font(11, k);
    ctx.textAlign = "right";
    let lastY = Infinity;
    for (const v of ticks) {
      const y = Y(v);
      if (y < top - 1 || y > top + ph + 1) continue;
      if (Math.abs(lastY - y) < 11 * k.font) continue;  // labels would overlap in a short chart
      lastY = y;
      ctx.fillText(label(v), left - 4, y + 4);
      this.yTicksDrawn.push({ text: label(v), y });
      ctx.strokeStyle = "#eef0f2";
      ctx.beginPath(); ctx.moveTo(left + 1, y); ctx.lineTo(left + pw, y); ctx.stroke();
    }
    this._xTicks(ctx, X, r, left, pw, H);
    // lines
    ctx.save();
    ctx.beginPath(); ctx.rect(left, top, pw, ph); ctx.clip();
    const line = (s, ys, width, alpha) => {
      ctx.strokeStyle = s.color;
      ctx.globalAlpha = alpha;
      ctx.lineWidth = width * k.line;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      let pen = false;
      ys.forEach((y, i) => {
        if (y === null || !Number.isFinite(y) || (log && y <= 0)) { pen = false; return; }
        const px = X(s.xs[i]), py = Y(log ? Math.log10(y) : y);
        if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
        pen = true;
      });
      ctx.stroke();
      ctx.globalAlpha = 1;
    };
    for (const s of this.series) {
      if (s.smooth && s.ys.length > 20) {  // every update faint, a moving average over it
        line(s, s.ys, 1, 0.25);
        line(s, smoothed(s.ys, log), (s.width || 2) * 1.25, 1);
      } else line(s, s.ys, s.width || 2, 1);
    }
    ctx.restore();
    ctx.setLineDash([]);
    this._legend(ctx, rows);
    this._readout(ctx, X, r, left, top, pw, ph);
  }

  /** Whole-step ticks under the plot, up to the last step drawn, and "step" in the margin. */
  _xTicks(ctx, X, r, left, pw, H) {
    const k = this.opts.scale || ONE;
    ctx.font = font(11, k);
    ctx.fillStyle = "#444";
    ctx.textAlign = "right";
    ctx.fillText("step", left - 4, H - 3);
    ctx.textAlign = "center";
    const wide = ctx.measureText(formatNumber(r.dataXMax, 6)).width + 14 * k.font;
    const most = Math.max(1, Math.floor(pw / wide));
    const stride = niceStride((r.dataXMax - r.xMin) / most);
    for (let v = Math.ceil(r.xMin / stride) * stride; v <= r.dataXMax; v += stride) {
      const x = X(v);
      const text = formatNumber(v, 6);
      const half = ctx.measureText(text).width / 2;
      const at = Math.min(Math.max(x, left + half), left + pw - half);
      ctx.fillText(text, at, H - 3);
      this.xTicksDrawn.push({ text, x: at });
    }
    ctx.textAlign = "left";
  }

  /** Every series' legend entry placed: [{below, items: [{s, x, w}]}], right-aligned rows;
   *  the first row beside the title if all fit there. */
  _legendRows(ctx, W) {
    const k = this.opts.scale || ONE;
    ctx.font = font(11, k);
    const items = this.series.map((s) => ({ s, w: ctx.measureText(s.name).width + 22 }));
    const total = items.reduce((a, it) => a + it.w, 0);
    const rows = [];
    if (!items.length) return rows;
    if (W - 8 - total >= this.titleEnd) rows.push({ below: false, items });
    else {
      let row = [], width = 0;
      for (const it of items) {
        if (row.length && width + it.w > W - 14) { rows.push({ below: true, items: row }); row = []; width = 0; }
        row.push(it); width += it.w;
      }
      rows.push({ below: true, items: row });
    }
    this.legendShown = rows.flatMap((r) => r.items.map((it) => it.s.name));  // read by tests
    return rows;
  }

  _legend(ctx, rows) {
    const k = this.opts.scale || ONE;
    ctx.font = font(11, k);
    ctx.textAlign = "right";
    const W = this.surface.width;
    rows.forEach((row, i) => {
      const y = 1 + 12 * k.font * (row.below ? i + 2 : 1);
      let x = W - 8;
      for (const { s, w } of [...row.items].reverse()) {
        ctx.fillStyle = "#222";
        ctx.fillText(s.name, x, y);
        ctx.fillStyle = s.color;
        ctx.fillRect(x - w + 8, y - 6, 10, 4 * k.line);
        x -= w;
      }
    });
    ctx.textAlign = "left";
  }

  _readout(ctx, X, r, left, top, pw, ph) {
    if (this.hoverX === null || this.hoverX < left || this.hoverX > left + pw) return;
    const target = r.xMin + ((this.hoverX - left) / pw) * (r.xMax - r.xMin);
    const lines = [];
    let step = null;
    for (const s of this.series) {
      if (!s.xs.length) continue;
      let k = 0, bd = Infinity;
      s.xs.forEach((x, i) => { const d = Math.abs(x - target); if (d < bd) { bd = d; k = i; } });
      step = s.xs[k];
      lines.push([s.color, `${s.name}: ${formatNumber(s.ys[k])}`]);
    }
    if (step === null) return;
    const x = X(step);
    ctx.strokeStyle = "#555";
    ctx.setLineDash([2, 2]);
    ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + ph); ctx.stroke();
    ctx.setLineDash([]);
    lines.unshift(["#111", `step ${step}`]);
    ctx.font = "12px system-ui, sans-serif";
    const w = Math.max(...lines.map((l) => ctx.measureText(l[1]).width)) + 12;
    const bx = x + w + 8 > left + pw ? x - w - 6 : x + 6;
    ctx.fillStyle = "rgba(255,255,255,0.92)";
    ctx.fillRect(bx, top + 2, w, lines.length * 15 + 4);
    ctx.strokeStyle = "#999";
    ctx.strokeRect(bx, top + 2, w, lines.length * 15 + 4);
    lines.forEach(([c, t], i) => { ctx.fillStyle = c; ctx.fillText(t, bx + 6, top + 16 + i * 15); });
  }
}

/** An exponential moving average that follows a trend through per-update noise (in log
 *  space on a log chart); its window is about a fiftieth of the series. */
function smoothed(ys, log) {
  const a = 2 / (Math.max(2, ys.length / 50) + 1);
  let m = null;
  return ys.map((y) => {
    if (y === null || !Number.isFinite(y) || (log && y <= 0)) return null;
    const v = log ? Math.log10(y) : y;
    m = m === null ? v : m + a * (v - m);
    return log ? 10 ** m : m;
  });
}

/** The smallest of 1, 2, 5, 10, 20, 50 … that is at least `min` (≥ 1: whole steps). */
function niceStride(min) {
  for (let e = 1; ; e *= 10) {
    for (const m of [1, 2, 5]) if (m * e >= min) return m * e;
  }
}

function linTicks(lo, hi) {
  const span = hi - lo, mag = 10 ** Math.floor(Math.log10(span / 3));
  const stepSize = [1, 2, 5, 10].map((m) => m * mag).find((st) => span / st <= 4) || mag * 10;
  const out = [];
  for (let v = Math.ceil(lo / stepSize) * stepSize; v <= hi + 1e-12; v += stepSize) out.push(v);
  return out;
}

function logTicks(lo, hi) {
  const out = [];
  const stride = Math.max(1, Math.ceil((hi - lo) / 4));
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e += stride) out.push(e);
  if (out.length < 2) return linTicks(lo, hi);
  return out;
}

/** The series of a chart of a {train, test} readout: A's train and test; in compare mode
 *  B's too (`b`: which of B's splits), in B's colour. */
const splits = (b) => (key, h, B) => {
  const read = (rows, split) => rows.map((m) => (m[key] ? m[key][split] ?? null : null));
  const xs = h.map((m) => m.step), named = (a) => (B ? `A ${a}` : a);
  const series = [
    { name: named("train"), color: TRAIN, xs, ys: read(h, "train") },
    { name: named("test"), color: TEST, xs, ys: read(h, "test"), dash: [5, 3] },
  ];
  const bxs = B ? B.map((m) => m.step) : [];
  if (B && b.includes("train")) series.push({ name: "B train", color: COMPARE_B, xs: bxs, ys: read(B, "train"), width: 2 });
  if (B && b.includes("test")) series.push({ name: "B test", color: COMPARE_B, xs: bxs, ys: read(B, "test"), dash: [2, 3] });
  return series;
};

/** The series of a chart of a per-layer readout: one a layer (h1, h2, …, out), each update
 *  faint under its moving average; A's only. */
const layers = (key, h) => {
  const xs = h.map((m) => m.step);
  const n = h.reduce((most, m) => Math.max(most, (m[key] || []).length), 0);
  return Array.from({ length: n }, (_, l) => ({ name: l === n - 1 ? "out" : `h${l + 1}`,
    color: LAYER_COLORS[l % LAYER_COLORS.length], width: 1.6, smooth: true,
    xs, ys: h.map((m) => (m[key] ? m[key][l] ?? null : null)) }));
};

/**
 * The charts, one a readout, in the card's order: the one table tabs, canvases, the
 * recorder's images and the lessons' chart names (server/lessons.py CHARTS) come from. `key`
 * is the readout's name (engine/readouts.py), the history entries' field it reads; `series(key,
 * history, historyB)` makes its lines, `opts(state)` its scale and title (LineChart.update);
 * `missing`: the text shown, with no lines, when no entry has a train value; `control`: the
 * id of the card's control that acts on this chart alone, shown only while the chart is.
 * @type {{key: string, tab: string, label: string, series: Function, opts: Function,
 *   missing?: string, control?: string}[]}
 */
export const READOUT_CHARTS = [
  { key: "loss", tab: "Loss", label: "Training and test loss over time", series: splits(["train", "test"]),
    opts: (s) => ({ log: s.ui.lossScale === "log", title: `Loss: mean ℓ, data only (${s.ui.lossScale})`,
      shortTitle: `Loss, data only (${s.ui.lossScale})`, zeroBased: true }), control: "loss-scale" },
  { key: "accuracy", tab: "Accuracy", label: "Accuracy over time", series: splits(["train"]),
    opts: () => ({ title: "Accuracy", yMin: 0, yMax: 1 }), missing: "no accuracy for regression" },
  { key: "grad_norms", tab: "‖∂L/∂W‖", series: layers,
    label: "Gradient norm per layer over time: the norm of each layer's weight gradient ∂L/∂W (L with the L1/L2 penalty), log scale",
    opts: () => ({ log: true, title: "‖∂L/∂W‖ per layer, weights only (log)", shortTitle: "‖∂L/∂W‖ per layer (log)" }) },
];
// The chart tabs: all the charts, or one.
export const CHART_TABS = [["all", "All"], ...READOUT_CHARTS.map((c) => [c.key, c.tab])];
// Below this height a chart's axis labels crowd each other: "All" is offered only where
// each chart gets at least this much, else one chart fills the card.
export const MIN_CHART_PX = 110;
const HEAD_REM = 2.4;  // the card head's height allowance, in rem (one row of tabs)

/** The charts of READOUT_CHARTS, fed from `state.history`, with their tabs. Which are shown: the
 *  user's pick (`ui.charts`), else all where they fit, else the open lesson's
 *  (`ui.chartFocus`). */
export class ChartsView {
  /** card: the Charts card (the canvases go after its head); tabs: the head's radiogroup;
   *  on: {choose(name)}. */
  constructor(card, tabs, onResize, on) {
    this.card = card;
    /** @type {Object<string, LineChart>} a chart per READOUT_CHARTS key */
    this.lines = {};
    for (const c of READOUT_CHARTS) {
      const canvas = document.createElement("canvas");
      Object.assign(canvas, { id: `chart-${c.key}`, className: "chart" });
      canvas.setAttribute("aria-label", c.label);
      canvas.setAttribute("role", "img");
      card.append(canvas);
      this.lines[c.key] = new LineChart(canvas, onResize);
    }
    this.tabs = tabs;
    this.buttons = CHART_TABS.map(([name, text]) => {
      const b = document.createElement("button");
      Object.assign(b, { type: "button", textContent: text });
      b.setAttribute("role", "radio");
      b.dataset.chart = name;
      b.addEventListener("click", () => on.choose(name));
      return b;
    });
    tabs.replaceChildren(...this.buttons);
    this.shown = "all";
  }

  /** The LineCharts in READOUT_CHARTS order. */
  get charts() { return READOUT_CHARTS.map((c) => this.lines[c.key]); }

  /** Whether the card holds every chart at MIN_CHART_PX or more (more in projector mode,
   *  whose labels are larger). Read off the card's height and a fixed allowance for its head,
   *  never the head's own height: the head holds the "All" tab this decides to show, and a
   *  decision that reads its own result flips every frame (at 1366×892–940 it did). */
  _allFit(state) {
    const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    return (this.card.clientHeight - HEAD_REM * rem) / READOUT_CHARTS.length >= MIN_CHART_PX * drawScale(state).font;
  }

  _choose(state) {
    const fit = this._allFit(state);
    const pick = state.ui.charts;
    if (pick && (pick !== "all" || fit)) return pick;
    return fit ? "all" : state.ui.chartFocus || "loss";
  }

  render(state) {
    this.shown = this._choose(state);
    const fit = this._allFit(state);
    for (const b of this.buttons) {
      b.hidden = b.dataset.chart === "all" && !fit;
      b.setAttribute("aria-checked", String(b.dataset.chart === this.shown));
    }
    const h = state.history;
    // Compare mode: run B's curves over A's (B's train solid, test dashed, in B's colour).
    const B = state.compare ? state.compare.history : null;
    const scale = drawScale(state);
    for (const c of READOUT_CHARTS) {
      const chart = this.lines[c.key];
      chart.canvas.hidden = this.shown !== "all" && this.shown !== c.key;
      const control = c.control && document.getElementById(c.control);
      if (control) (control.closest("label") || control).hidden = chart.canvas.hidden;
      const none = c.missing && !h.some((m) => m[c.key] && m[c.key].train !== null);
      chart.update(none ? [] : c.series(c.key, h, B), { ...c.opts(state), scale,
        ...(c.missing ? { empty: h.length ? c.missing : undefined } : {}) });
      if (!chart.canvas.hidden) chart.draw();
      chart.canvas.setAttribute("aria-label", `${c.label}; last values, ${lastValues(c.key, h)}`);
    }
  }
}

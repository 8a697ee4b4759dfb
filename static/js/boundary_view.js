// The decision boundary: the output heatmap over the input plane with the training points
// (and test points when asked), the current mini-batch highlighted, and editing by mouse:
// click adds a point of the picked class (Shift: the other class), right-click removes one.
// Hovering a neuron in the diagram shows that neuron's map here instead.

import { HiDPICanvas, Thumb } from "./canvas.js";
import {
  BACKGROUND_LUT, BINARY_CLASS_COLORS, CLASS_COLORS, DISCRETE_LUT, FOCUS, POINT_OUTLINE, classTint, divergingCss, paintCodes,
} from "./colors.js";
import { featureLabel, taskOf } from "./state.js";
import { drawScale } from "./projector.js";
import { DOMAIN, focusMap } from "./heatmaps.js";

const PAD = { left: 26, right: 8, top: 8, bottom: 22 };

const minus = (v) => String(v).replace("-", "−");

/** Round ticks of a file's column over the whole plot (−6…6 read back in the file's units):
 *  [{at: plot units, text: file units}], at most n + 2 of them at 1, 2 or 5 × 10^k apart. */
export function fileTicks(scale, n) {
  const [a, b] = scale.to;
  const { lo, hi } = scale;
  if (hi === lo) return [{ at: (a + b) / 2, text: minus(lo) }];
  const toFile = (v) => lo + ((v - a) * (hi - lo)) / (b - a);
  const toPlot = (f) => a + ((f - lo) * (b - a)) / (hi - lo);
  const f0 = toFile(DOMAIN[0]), f1 = toFile(DOMAIN[1]);
  const raw = (f1 - f0) / n;
  const p10 = 10 ** Math.floor(Math.log10(raw));
  // the finest round step that keeps to n + 1 ticks
  const step = [1, 2, 5, 10].map((m) => m * p10).find((s) => (f1 - f0) / s <= n + 1) || 10 * p10;
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const out = [];
  for (let k = Math.ceil(f0 / step); k * step <= f1 + step * 1e-9; k++) {
    const f = k * step;
    out.push({ at: toPlot(f), text: minus(f.toFixed(digits)) });
  }
  return out;
}

export class BoundaryView {
  /** on: {addPoint(x1, x2, label), removePoint(split, index), trace(index), askPoint(x1, x2)
   *  (click mode "ask": the class is asked which class the network gives the point)} */
  constructor(canvas, on) {
    this.surface = new HiDPICanvas(canvas, () => on.resized());
    this.on = on;
    this.thumb = new Thumb();
    this.state = null;
    this.lastKey = null;
    canvas.addEventListener("click", (ev) => this._click(ev));
    canvas.addEventListener("contextmenu", (ev) => { ev.preventDefault(); this._remove(ev); });
  }

  get canvas() { return this.surface.canvas; }

  _plot() {
    const { width: W, height: H } = this.surface;
    const side = Math.max(10, Math.min(W - PAD.left - PAD.right, H - PAD.top - PAD.bottom));
    return { x: PAD.left + (W - PAD.left - PAD.right - side) / 2, y: PAD.top, side };
  }

  /** The plot's side in device pixels: the finest map worth drawing. */
  plotPixels() { return Math.round(this._plot().side * this.surface.dpr); }

  toPx(x1, x2) {
    const p = this._plot();
    return { x: p.x + ((x1 - DOMAIN[0]) / (DOMAIN[1] - DOMAIN[0])) * p.side,
      y: p.y + ((DOMAIN[1] - x2) / (DOMAIN[1] - DOMAIN[0])) * p.side };
  }

  fromPx(x, y) {
    const p = this._plot();
    return { x1: DOMAIN[0] + ((x - p.x) / p.side) * (DOMAIN[1] - DOMAIN[0]),
      x2: DOMAIN[1] - ((y - p.y) / p.side) * (DOMAIN[1] - DOMAIN[0]) };
  }

  render(state) {
    this.state = state;
    const k = this.scale = drawScale(state);
    const ctx = this.surface.begin("#ffffff");
    const p = this._plot();
    const caption = this._paintMap(state);
    if (this.thumb.img) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.thumb.canvas, p.x, p.y, p.side, p.side);
    } else {
      ctx.fillStyle = "#eceef0";
      ctx.fillRect(p.x, p.y, p.side, p.side);
    }
    ctx.strokeStyle = "#9aa0a6";
    ctx.lineWidth = k.line;
    ctx.strokeRect(p.x, p.y, p.side, p.side);
    this._axes(ctx, p);
    this._points(ctx, state);
    this._cursor(ctx, state.ui.plotCursor);
    if (caption) {
      ctx.font = `bold ${13 * k.font}px system-ui, sans-serif`;
      const w = ctx.measureText(caption).width;
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fillRect(p.x + 4, p.y + 4, w + 10, 20 * k.font);
      ctx.fillStyle = "#111";
      ctx.textBaseline = "middle";
      ctx.fillText(caption, p.x + 9, p.y + 4 + 10 * k.font);
    }
    if (state.stopped && state.stopped.reason === "diverged") {
      ctx.fillStyle = "rgba(255,255,255,0.8)";
      ctx.fillRect(p.x, p.y + p.side / 2 - 24, p.side, 48);
      ctx.fillStyle = "#a40000";
      ctx.font = `bold ${14 * k.font}px system-ui, sans-serif`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText("Diverged: the loss became infinite", p.x + p.side / 2, p.y + p.side / 2 - 8, p.side - 8);
      ctx.font = `${13 * k.font}px system-ui, sans-serif`;
      ctx.fillText("lower the learning rate, then Reset", p.x + p.side / 2, p.y + p.side / 2 + 11, p.side - 8);
      ctx.textAlign = "left";
    }
  }

  /** Paint the map shown (hovered neuron or output) into the thumb; returns its caption. */
  _paintMap(state) {
    const maps = state.heatmaps;
    if (!maps) { this.thumb.img = null; return state.config ? "" : "Connecting…"; }
    const h = state.ui.hover;
    const task = taskOf(state);
    const paint = (map, j) => {
      paintCodes(this.thumb.image(map.n), map.codes, j * map.n * map.n, 1, BACKGROUND_LUT);
      this.thumb.commit();
      this.mapShown = { layer: h.layer, j: h.j, n: map.n };  // read by tests
    };
    this.mapShown = null;
    // The hovered neuron's full-resolution map, from the pass that made the output's.
    const full = h ? focusMap(maps, h.layer, h.j) : null;
    if (h && h.layer > 0 && h.layer <= maps.neurons.length) {
      paint(full || maps.neurons[h.layer - 1], full ? 0 : h.j);
      return `Layer ${h.layer}, neuron ${h.j + 1}`;
    }
    if (h && h.layer === 0 && h.j < maps.inputs.units) {
      paint(full || maps.inputs, full ? 0 : h.j);
      return `Input ${featureLabel(state, state.config.features[h.j])}`;
    }
    const out = maps.output;
    const n = out.n, K = out.units, nn = n * n;
    const img = this.thumb.image(n);
    if (task === "multiclass" && K > 1) {
      const d = img.data, codes = out.codes;
      for (let p = 0; p < nn; p++) {
        let best = 0, bv = -1;
        for (let k = 0; k < K; k++) { const v = codes[k * nn + p]; if (v > bv) { bv = v; best = k; } }
        const rgb = classTint(best, state.ui.discretize ? 1 : bv / 255);
        d[p * 4] = rgb[0]; d[p * 4 + 1] = rgb[1]; d[p * 4 + 2] = rgb[2]; d[p * 4 + 3] = 255;
      }
    } else {
      const lut = state.ui.discretize && task !== "regression" ? DISCRETE_LUT : BACKGROUND_LUT;
      paintCodes(img, out.codes, 0, 1, lut);
    }
    this.thumb.commit();
    return "";
  }

  _axes(ctx, p) {
    ctx.fillStyle = "#444";
    ctx.font = `${11 * this.scale.font}px system-ui, sans-serif`;
    const src = this.state && this.state.points ? this.state.points.source : null;
    // an imported file's plot reads in the file's units (its scales, engine/csv_points.py)
    const xs = src ? fileTicks(src.scales[0], 4) : [-6, -3, 0, 3, 6].map((v) => ({ at: v, text: minus(v) }));
    const ys = src ? fileTicks(src.scales[1], 3) : [-6, 0, 6].map((v) => ({ at: v, text: minus(v) }));
    ctx.textBaseline = "top";
    ctx.textAlign = "center";
    for (const t of xs) ctx.fillText(t.text, this.toPx(t.at, 0).x, p.y + p.side + 4);
    ctx.textBaseline = "middle";
    for (const t of ys) {
      const y = this.toPx(0, t.at).y;
      const w = ctx.measureText(t.text).width;
      if (w <= p.x - 5) { ctx.textAlign = "right"; ctx.fillText(t.text, p.x - 4, y); continue; }
      ctx.fillStyle = "rgba(255,255,255,0.8)";  // too wide for the margin: inside the plot
      ctx.fillRect(p.x + 1, y - 7 * this.scale.font, w + 6, 14 * this.scale.font);
      ctx.fillStyle = "#444";
      ctx.textAlign = "left";
      ctx.fillText(t.text, p.x + 4, y);
    }
    if (src) {  // the columns' names, in the corners their axes end at, cut to half the side
      ctx.font = `${10 * this.scale.font}px system-ui, sans-serif`;
      const fit = (text) => {
        if (ctx.measureText(text).width <= p.side / 2) return text;
        let t = text;
        while (t.length > 1 && ctx.measureText(`${t}…`).width > p.side / 2) t = t.slice(0, -1);
        return `${t}…`;
      };
      const tag = (text, x, y, align) => {
        const w = ctx.measureText(text).width;
        ctx.fillStyle = "rgba(255,255,255,0.8)";
        ctx.fillRect(align === "right" ? x - w - 3 : x - 3, y - 7 * this.scale.font, w + 6, 14 * this.scale.font);
        ctx.fillStyle = "#222";
        ctx.textAlign = align;
        ctx.fillText(text, x, y);
      };
      tag(`${fit(src.scales[0].column)} →`, p.x + p.side - 4, p.y + p.side - 9 * this.scale.font, "right");
      tag(`↑ ${fit(src.scales[1].column)}`, p.x + 6, p.y + 9 * this.scale.font, "left");
    }
    ctx.textAlign = "left";
  }

  _pointColor(state, y) {
    const task = taskOf(state);
    if (task === "regression") return divergingCss(y);
    if (task === "multiclass") return CLASS_COLORS[y % CLASS_COLORS.length];
    return BINARY_CLASS_COLORS[y ? 1 : 0];
  }

  _points(ctx, state) {
    const pts = state.points;
    if (!pts) return;
    const k = this.scale;
    const r = Math.max(3.5, Math.min(6, this._plot().side / 80)) * (k.line > 1 ? 1.3 : 1);
    // training points are discs, test points squares (told apart without colour)
    const draw = (set, stroke, lw, square = false) => {
      const xs = set.x, ys = set.y;
      for (let i = 0; i < xs.length; i++) {
        const q = this.toPx(xs[i][0], xs[i][1]);
        ctx.beginPath();
        if (square) ctx.rect(q.x - r * 0.9, q.y - r * 0.9, 1.8 * r, 1.8 * r);
        else ctx.arc(q.x, q.y, r, 0, 2 * Math.PI);
        ctx.fillStyle = this._pointColor(state, ys[i]);
        ctx.fill();
        ctx.strokeStyle = stroke;
        ctx.lineWidth = lw * k.line;
        ctx.stroke();
      }
    };
    draw(pts.train, POINT_OUTLINE, 1);
    if (state.ui.showTest) draw(pts.test, POINT_OUTLINE, 1.2, true);
    const rec = state.record;
    if (rec && rec.batch) {
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 2 * k.line;
      for (const idx of rec.batch) {
        const x = pts.train.x[idx];
        if (!x) continue;
        const q = this.toPx(x[0], x[1]);
        ctx.beginPath();
        ctx.arc(q.x, q.y, r + 3, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    const ex = state.ui.example ?? (rec && rec.batch ? rec.batch[rec.example_row || 0] : null);
    if (ex !== null && ex !== undefined && pts.train.x[ex]) {
      const q = this.toPx(pts.train.x[ex][0], pts.train.x[ex][1]);
      ctx.strokeStyle = "#d00000";
      ctx.lineWidth = 2.5 * k.line;
      ctx.setLineDash([3, 2]);
      ctx.beginPath();
      ctx.arc(q.x, q.y, r + 7, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  /** The keyboard's cursor (diagram_keys.js): a cross-hair ring in the focus colour. */
  _cursor(ctx, at) {
    this.cursorDrawn = null;
    if (!at) return;
    const q = this.toPx(at.x1, at.x2), r = 9 * this.scale.line;
    ctx.save();
    for (const [colour, width] of [["#ffffff", 5], [FOCUS, 2.5]]) {
      ctx.strokeStyle = colour; ctx.lineWidth = width * this.scale.line;
      ctx.beginPath(); ctx.arc(q.x, q.y, r, 0, 2 * Math.PI);
      ctx.moveTo(q.x - r - 5, q.y); ctx.lineTo(q.x - r + 4, q.y); ctx.moveTo(q.x + r - 4, q.y); ctx.lineTo(q.x + r + 5, q.y);
      ctx.moveTo(q.x, q.y - r - 5); ctx.lineTo(q.x, q.y - r + 4); ctx.moveTo(q.x, q.y + r - 4); ctx.lineTo(q.x, q.y + r + 5);
      ctx.stroke();
    }
    ctx.restore();
    this.cursorDrawn = { x: q.x, y: q.y, r };  // read by tests
  }

  /** The label a click adds (`other`: the other class, as with Shift), for the task shown. */
  labelFor(other) {
    const ui = this.state.ui;
    const task = taskOf(this.state);
    if (task === "regression") return other ? -ui.regressionValue : ui.regressionValue;
    const k = task === "multiclass" ? this.state.config.n_classes : 2;
    return other ? (ui.classPick + 1) % k : Math.min(ui.classPick, k - 1);
  }

  /** The nearest drawn point to (x, y) within `radius` CSS pixels: {split, index} or null. */
  nearest(x, y, radius = 10, splits = ["train", "test"]) {
    const pts = this.state && this.state.points;
    if (!pts) return null;
    let best = null, bestD = radius;
    for (const split of splits) {
      if (split === "test" && !this.state.ui.showTest) continue;
      pts[split].x.forEach((v, index) => {
        const q = this.toPx(v[0], v[1]);
        const d = Math.hypot(q.x - x, q.y - y);
        if (d < bestD) { bestD = d; best = { split, index }; }
      });
    }
    return best;
  }

  _inside(x, y) {
    const p = this._plot();
    return x >= p.x && x <= p.x + p.side && y >= p.y && y <= p.y + p.side;
  }

  _click(ev) {
    const { x, y } = this.surface.pointer(ev);
    if (!this._inside(x, y) || !this.state) return;
    const ui = this.state.ui;
    if (ui.clickMode === "trace" || ev.ctrlKey || ev.metaKey) {
      const hit = this.nearest(x, y, 14, ["train"]);
      if (hit) this.on.trace(hit.index);
      return;
    }
    const { x1, x2 } = this.fromPx(x, y);
    if (ui.clickMode === "ask") { this.on.askPoint(Math.round(x1 * 100) / 100, Math.round(x2 * 100) / 100); return; }
    const label = this.labelFor(ev.shiftKey);
    this.on.addPoint(Math.round(x1 * 1000) / 1000, Math.round(x2 * 1000) / 1000, label);
  }

  _remove(ev) {
    const { x, y } = this.surface.pointer(ev);
    const hit = this.nearest(x, y);
    if (hit) this.on.removePoint(hit.split, hit.index);
  }
}


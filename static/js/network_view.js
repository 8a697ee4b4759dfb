// The network diagram: inputs on the left, hidden layers, the output; every neuron a live
// heatmap of its output over the input plane, every link coloured by sign and sized by
// magnitude. The backward view colours links by ∂L/∂w and neurons by δ = ∂L/∂z, with δ
// printed under each neuron (neuron_labels.js); a phase step's update phase colours links
// and biases by the change Δw the optimizer applied.
//
// Layout (node positions, DOM header controls) is rebuilt only on a topology change or a
// resize; every other frame only restyles.

import { HiDPICanvas, Thumb } from "./canvas.js";
import { compactNumber, formatNumber } from "./format.js";
import { DIVERGING_LUT, CLASS_RGB, FOCUS, MID, divergingCss, paintCodes } from "./colors.js";
import { LEFT, buildOverlay } from "./network_overlay.js";
import { featureLabel, layerSizes, taskOf, field } from "./state.js";
import { drawScale } from "./projector.js";
import { PHASE_NAMES, shownPhase } from "./phases.js";
import { LinkTip } from "./link_tip.js";
import { WIDEST_LABELS, labelBox, labelFont, labelRoom } from "./neuron_labels.js";
import { reached, revealed } from "./backward_walk.js";
import { nodeLayerOf, weightLayerOf } from "./selection.js";

const LABELLED_MIN = 28;  // px: neurons shrink no further than this to make room for δ labels
const HEADER = 64;     // room for the per-layer controls above the columns
const RIGHT = 84;      // room for the output column's header and the loss label (less when narrow)
const biasSize = (s) => Math.max(5, s / 4);  // the bias square at a neuron's bottom left

function classLut(k) {
  const lut = new Uint8ClampedArray(256 * 4);
  const c = CLASS_RGB[k % CLASS_RGB.length];
  for (let q = 0; q < 256; q++) {
    const t = q / 255;
    lut.set([MID[0] + (c[0] - MID[0]) * t, MID[1] + (c[1] - MID[1]) * t,
      MID[2] + (c[2] - MID[2]) * t, 255], q * 4);
  }
  return lut;
}

function bezier(ctx, x0, y0, x1, y1, upto = 1) {
  const mx = (x0 + x1) / 2;
  ctx.moveTo(x0, y0);
  if (upto >= 1) { ctx.bezierCurveTo(mx, y0, mx, y1, x1, y1); return; }
  const n = 12;
  for (let k = 1; k <= n; k++) {
    const p = bezierPoint(x0, y0, x1, y1, (k / n) * upto);
    ctx.lineTo(p.x, p.y);
  }
}

function bezierPoint(x0, y0, x1, y1, t) {
  const mx = (x0 + x1) / 2, u = 1 - t;
  const x = u * u * u * x0 + 3 * u * u * t * mx + 3 * u * t * t * mx + t * t * t * x1;
  const y = u * u * u * y0 + 3 * u * u * t * y0 + 3 * u * t * t * y1 + t * t * t * y1;
  return { x, y };
}

function maxAbs(arrays) {
  let m = 0;
  for (const a of arrays) for (const row of a) {
    if (Array.isArray(row)) { for (const v of row) if (Math.abs(v) > m) m = Math.abs(v); }
    else if (Math.abs(row) > m) m = Math.abs(row);
  }
  return m;
}

export class NetworkView {
  /**
   * canvas: the diagram; overlay: a positioned element for the header controls and the
   * feature buttons; on: {select(sel), hover(h), toggleFeature(name), setHidden(widths),
   * setLayerActivation(index, name), setWeight(layer, i, j, value), canEdit()}.
   */
  constructor(canvas, overlay, layerBox, on) {
    this.surface = new HiDPICanvas(canvas, () => { this.needLayout = true; on.resized(); });
    this.overlay = overlay;
    this.layerBox = layerBox;
    this.on = on;
    this.nodes = [];       // per node layer: [{x, y, j, feature, active}]
    this.size = 30;
    this.thumbs = new Map();
    this.lastMaps = null;
    this.needLayout = true;
    this.topologyKey = "";
    this.actSelects = [];
    this.scale = { line: 1, font: 1 };  // line width and label size factors (projector mode)
    this.labelsFit = true;  // whether the layout has room for a label under every neuron
    this.drawn = null;      // what the last frame drew (read by tests; see _draw)
    canvas.addEventListener("mousemove", (ev) => this._hover(ev));
    canvas.addEventListener("mouseleave", () => { this.on.hover(null); this.tipAt = null; this.linkTip.hide(); });
    this.linkTip = new LinkTip(overlay.parentElement, on);
    this.shownGrads = null;  // the ∂L/∂w the links show in the backward view, else null
    canvas.addEventListener("click", (ev) => this._click(ev));
  }

  get canvas() { return this.surface.canvas; }

  /** Draw; returns true while a phase animation still needs frames. */
  render(state, dirty, now) {
    if (!state.config) { this._empty("Connecting…"); return false; }
    const sizes = layerSizes(state);
    const key = JSON.stringify([sizes, state.config.features, state.schema.length]);
    if (dirty.has("topology") || this.needLayout || key !== this.topologyKey) {
      this.topologyKey = key;
      this._layout(state, sizes);
    }
    const acts = state.config.activation;
    this.actSelects.forEach((sel, l) => { sel.value = Array.isArray(acts) ? acts[l] : acts; });
    if (state.heatmaps !== this.lastMaps) this._paintThumbs(state);
    if (state.featureMaps !== this.lastFeatureMaps) this._paintFeatureThumbs(state);
    return this._draw(state, now);
  }

  _empty(text) {
    const ctx = this.surface.begin("#ffffff");
    ctx.fillStyle = "#555"; ctx.font = "16px system-ui, sans-serif";
    ctx.fillText(text, 20, 40);
  }

  _layout(state, sizes) {
    this.needLayout = false;
    const { width: W, height: H } = this.surface;
    const allFeatures = (field(state, "features") || {}).choices || state.config.features;
    const active = state.config.features;
    const cols = [allFeatures.length, ...sizes.slice(1)];
    const avail = H - HEADER - 26;
    // A neuron's slot holds the neuron and, under it, its bias square's overhang and its
    // label (inputs have neither): the neurons shrink, to 8 px at least, until every column fits.
    const font = drawScale(state).font;
    const under = (s, c) => (c === 0 ? 0 : labelRoom(s, font, biasSize(s) / 2));
    const pitch = (s, c) => Math.max(s * 1.28, s + under(s, c));
    const fits = (s) => cols.every((count, c) => count * pitch(s, c) <= avail + 1e-6);
    let size = Math.min(56, avail / (Math.max(...cols) * 1.28));
    while (size > 8 && !fits(size)) size -= 0.25;
    size = Math.max(8, size);
    const right = W - Math.max(44, Math.min(RIGHT, W * 0.12));
    const stepAt = (s) => (cols.length > 1 ? (right - s / 2 - (LEFT + s / 2)) / (cols.length - 1) : 0);
    // Labels fit when the slots hold them and the widest one clears the next column's biases.
    const ctx = this.surface.ctx;
    const labelsFitAt = (s) => {
      ctx.font = `${labelFont(s, font)}px system-ui, sans-serif`;
      const widest = Math.max(...WIDEST_LABELS.map((t) => labelBox(0, 0, s, font, 0, ctx.measureText(t).width).w));
      return fits(s) && (cols.length < 2 || widest / 2 <= stepAt(s) - s / 2 - biasSize(s) / 2 - 2);
    };
    // Many columns in a narrow card: smaller neurons (not below LABELLED_MIN) leave room for a
    // δ label under each, which a lecture on vanishing gradients reads layer by layer. From
    // the width alone, so the layout never depends on what it draws.
    let labelled = size;
    while (labelled > LABELLED_MIN && !labelsFitAt(labelled)) labelled -= 0.25;
    if (labelled < size && labelsFitAt(labelled)) size = labelled;
    this.size = size;
    const s = this.size;
    const x0 = LEFT + s / 2;
    const step = stepAt(s);
    this.labelsFit = labelsFitAt(s);
    this.nodes = cols.map((count, c) => {
      const gap = Math.min(pitch(s, c), avail / count);
      const top = HEADER + (avail - gap * count) / 2 + gap / 2 - Math.max(0, Math.min(under(s, c), gap - s)) / 2;
      const out = [];
      for (let r = 0; r < count; r++) {
        const node = { x: x0 + c * step, y: top + r * gap, col: c };
        if (c === 0) {
          node.feature = allFeatures[r];
          node.j = active.indexOf(node.feature);
          node.active = node.j >= 0;
        } else { node.j = r; node.active = true; }
        out.push(node);
      }
      return out;
    });
    // Links read the active inputs only, in the weights' order.
    this.columns = this.nodes.map((col, c) => (c === 0
      ? active.map((f) => col.find((n) => n.feature === f)) : col));
    this.actSelects = buildOverlay(this, state, sizes, step);
    this.lastMaps = null;
  }

  _thumb(key) {
    let t = this.thumbs.get(key);
    if (!t) { t = new Thumb(); this.thumbs.set(key, t); }
    return t;
  }

  /** Inactive input features keep a (faded) map of their own, from the `features` frame. */
  _paintFeatureThumbs(state) {
    const fm = state.featureMaps;
    this.lastFeatureMaps = fm;
    if (!fm) return;
    fm.names.forEach((name, k) => {
      const t = this._thumb(`feature:${name}`);
      paintCodes(t.image(fm.maps.n), fm.maps.codes, k * fm.maps.n * fm.maps.n, 1, DIVERGING_LUT);
      t.commit();
    });
  }

  _paintThumbs(state) {
    const maps = state.heatmaps;
    this.lastMaps = maps;
    if (!maps) return;
    const put = (key, map, j, lut) => {
      const t = this._thumb(key);
      paintCodes(t.image(map.n), map.codes, j * map.n * map.n, 1, lut);
      t.commit();
    };
    for (let j = 0; j < maps.inputs.units; j++) put(`0:${j}`, maps.inputs, j, DIVERGING_LUT);
    maps.neurons.forEach((map, l) => {
      for (let j = 0; j < map.units; j++) put(`${l + 1}:${j}`, map, j, DIVERGING_LUT);
    });
    const multi = taskOf(state) === "multiclass";
    const last = maps.neurons.length + 1;
    for (let j = 0; j < maps.output.units; j++) {
      put(`${last}:${j}`, maps.output, j, multi ? classLut(j) : DIVERGING_LUT);
    }
  }

  _draw(state, now) {
    const ctx = this.surface.begin("#ffffff");
    const rec = state.record;
    const params = state.params;
    const phase = shownPhase(state, now);
    const backward = phase ? phase.phase === "backward" : state.ui.view === "backward";
    // A step's record, else the last frame's gradients (play mode, a late joiner) if current.
    const fg = state.frameGrads;
    const grads = rec && rec.layers ? rec.layers
      : fg && fg.step === state.counters.step ? fg.layers : null;
    // before the backward phase of a held step, its gradients are not shown (not yet computed, as far as the class knows)
    const early = state.phase === "forward" || state.phase === "loss";
    const showGrad = backward && !!grads && !early;
    // A phase step's update phase shows what the optimizer changed: Δw = w_after − w_before.
    const updates = phase && phase.stepped && phase.phase === "update" && rec && rec.applied
      && rec.layers.every((L) => L.dW_applied && L.db_applied) ? rec.layers : null;
    const s = this.size;
    const cols = this.columns;
    const nCols = cols.length;
    const sel = state.ui.selection;
    const k = this.scale = drawScale(state);
    const drawn = { phase: phase && phase.phase, view: state.ui.view,
      links: updates ? "Δw" : showGrad ? "∂L/∂w" : "w", linkValues: [], biasValues: [], labels: [], neurons: [] };

    // The δ under the neurons: the traced example's while an inspection of this step shows
    // its backward pass (so diagram and equations tell one story), else the batch mean; in
    // the inspector's backward walk, only where the walk has reached (backward_walk.js).
    const insp = state.inspect;
    const follow = showGrad && insp && insp.deltas && insp.in_batch && rec && insp.step === rec.step ? insp : null;
    const walk = follow ? revealed(follow, state.ui.reveal) : null;
    const reach = (c, j) => !walk || reached(walk, follow, c, j, nCols);
    const deltaOf = (c) => (follow ? follow.deltas[c - 1] : grads && grads[c - 1] ? grads[c - 1].delta_mean : null);
    this.deltaSource = follow ? { kind: "example", example: follow.example, walking: !!walk } : { kind: "batch" };
    drawn.deltaSource = this.deltaSource;

    // Column reveal for the animation.
    let litUpTo = nCols, gradFrom = 0;
    if (phase && phase.phase === "forward") litUpTo = phase.t * (nCols - 1) + 1;
    if (phase && phase.phase === "backward") gradFrom = (1 - phase.t) * (nCols - 1);

    // Links.
    const weightsNow = params ? params.weights : null;
    this.lastParams = params;
    const gMax = showGrad ? maxAbs(grads.map((L) => L.dW)) || 1 : 1;
    this.gradScale = gMax;
    this.shownGrads = showGrad ? grads : null;
    const uMax = updates ? maxAbs(updates.map((L) => L.dW_applied)) || 1 : 1;  // biases clip at it, as with ∂L/∂w
    this.updateScale = uMax;
    for (let l = 0; l < nCols - 1; l++) {
      const from = cols[l], to = cols[l + 1];
      const W = weightsNow && weightsNow[l];
      const L = grads && grads[l];
      const values = drawn.linkValues[l] = [];
      if (!W || !from.length) continue;
      const dim = phase && phase.phase === "forward" && l + 1 > litUpTo;
      const partial = phase && phase.phase === "forward" ? Math.max(0, Math.min(1, litUpTo - 1 - l)) : 1;
      for (let i = 0; i < from.length; i++) {
        const row = values[i] = [];
        for (let j = 0; j < to.length; j++) {
          let v, width, value;
          if (updates) {
            value = updates[l].dW_applied[i][j];
            v = value / uMax;
            width = (1 + 7 * Math.min(1, Math.abs(v))) * k.line;
          } else if (showGrad && L && (l + 1) > gradFrom - 0.001 && to.every((_, q) => reach(l + 1, q))) {
            value = L.dW[i][j];
            v = value / gMax;
            width = (1 + 7 * Math.min(1, Math.abs(v))) * k.line;
          } else {
            let w = W[i] ? W[i][j] : 0;
            if (phase && phase.phase === "update" && L && L.dW_applied) {
              w -= L.dW_applied[i][j] * (1 - phase.t);  // slide from before to after (w: the record's, after)
            }
            value = w;
            v = Math.sign(w) * (0.22 + 0.78 * Math.min(1, Math.abs(w)));
            width = (1 + Math.min(9, Math.abs(w) * 1.8)) * k.line;
          }
          row.push(value);
          const a = from[i], b = to[j];
          const picked = sel && sel.kind === "link" && weightLayerOf(sel) === l && sel.i === i && sel.j === j;
          ctx.beginPath();
          bezier(ctx, a.x + s / 2, a.y, b.x - s / 2, b.y, dim ? 1 : partial || 1);
          ctx.strokeStyle = divergingCss(v, dim ? 0.25 : 1);
          ctx.lineWidth = picked ? width + 4 : width;
          if (picked) { ctx.save(); ctx.strokeStyle = "#111"; ctx.stroke(); ctx.restore();
            ctx.beginPath(); bezier(ctx, a.x + s / 2, a.y, b.x - s / 2, b.y); ctx.lineWidth = width; ctx.strokeStyle = divergingCss(v); }
          ctx.stroke();
        }
      }
      if (phase && phase.phase === "forward" && partial > 0 && partial < 1) {
        ctx.fillStyle = "#222";
        for (let i = 0; i < from.length; i++) for (let j = 0; j < to.length; j++) {
          const p = bezierPoint(from[i].x + s / 2, from[i].y, to[j].x - s / 2, to[j].y, partial);
          ctx.fillRect(p.x - 1.5, p.y - 1.5, 3, 3);
        }
      }
    }

    // Nodes.
    const dMax = showGrad ? maxAbs(cols.slice(1).map((_, c) => deltaOf(c + 1) || [])) || 1 : 1;
    this.deltaScale = dMax;
    ctx.font = `${labelFont(s, k.font)}px system-ui, sans-serif`;
    ctx.textBaseline = "middle";
    const deltas = [];  // {node, c, d}: the δ labels, drawn last
    this.nodes.forEach((col, c) => {
      const dim = phase && phase.phase === "forward" && c + 1 > litUpTo + 0.001;
      for (const node of col) {
        const x = node.x - s / 2, y = node.y - s / 2;
        ctx.globalAlpha = dim ? 0.3 : node.active ? 1 : 0.35;
        const D = c > 0 ? deltaOf(c) : null;
        if (showGrad && D && c > gradFrom - 0.001 && reach(c, node.j)) {
          const d = D[node.j];
          ctx.fillStyle = divergingCss(d / dMax);
          ctx.fillRect(x, y, s, s);
          deltas.push({ node, c, d });
        } else {
          const key = c === 0 ? `0:${node.j}` : `${c}:${node.j}`;
          const t = node.active ? this.thumbs.get(key)
            : c === 0 ? this.thumbs.get(`feature:${node.feature}`) : null;
          if (t && t.img && (state.heatmaps || !node.active)) {
            ctx.imageSmoothingEnabled = false;
            ctx.drawImage(t.canvas, x, y, s, s);
          } else {
            ctx.fillStyle = "#e4e6e8";
            ctx.fillRect(x, y, s, s);
          }
        }
        ctx.globalAlpha = 1;
        const picked = sel && sel.kind === "neuron" && nodeLayerOf(sel) === c && sel.j === node.j;
        const hovered = state.ui.hover && state.ui.hover.layer === c && state.ui.hover.j === node.j;
        ctx.strokeStyle = picked ? "#111" : hovered ? "#444" : "#9aa0a6";
        ctx.lineWidth = (picked ? 3 : hovered ? 2 : 1) * k.line;
        ctx.strokeRect(x, y, s, s);
        drawn.neurons.push({ layer: c, j: node.j, box: { x, y, w: s, h: s } });
        if (c > 0) {
          const shown = updates ? { values: updates.map((U) => U.db_applied), scale: uMax }
            : showGrad && c > gradFrom - 0.001 && cols[c].every((_, q) => reach(c, q)) ? { values: grads.map((G) => G.db), scale: gMax } : null;
          const b = this._bias(ctx, state, node, c, shown);
          drawn.biasValues.push({ layer: c - 1, j: node.j, value: b });
        }
        if (c === 0) {
          ctx.fillStyle = node.active ? "#111" : "#6b7077";  // 4.5:1 on white even when off
          ctx.textAlign = "right";
          ctx.fillText(featureLabel(state, node.feature), x - 6, node.y);
        }
      }
    });
    if (this.labelsFit) for (const { node, c, d } of deltas) drawn.labels.push({ layer: c, j: node.j, value: d, ...this._label(ctx, node, d) });

    // The output's label and, in the loss phase, the batch loss.
    const out = this.nodes[nCols - 1];
    ctx.textAlign = "left";
    ctx.fillStyle = "#111";
    if (phase && phase.phase === "loss" && rec) {
      const pulse = 0.5 + 0.5 * Math.sin(phase.t * Math.PI);
      for (const node of out) {
        ctx.strokeStyle = `rgba(200,40,40,${0.4 + 0.6 * pulse})`;
        ctx.lineWidth = 4 * k.line;
        ctx.strokeRect(node.x - s / 2 - 4, node.y - s / 2 - 4, s + 8, s + 8);
      }
      ctx.font = `bold ${14 * k.font}px system-ui, sans-serif`;
      // the mini-batch's loss, which the update follows (not the data sets' losses shown
      // elsewhere). L is the inspector's L, the data loss plus the penalty: with a penalty on,
      // the data part is named L_data, as in the inspector's ∂L_data/∂w, and the penalty beside it
      const lines = rec.penalty
        ? [`batch data loss L_data = ${formatNumber(rec.batch_loss)}`, `(L = L_data + penalty ${formatNumber(rec.penalty)})`]
        : [`batch loss L = ${formatNumber(rec.batch_loss)}`];
      drawn.lossLabel = lines.join(" ");
      const width = Math.max(...lines.map((line) => ctx.measureText(line).width));
      const lx = Math.min(out[0].x - s / 2, this.surface.width - width - 4);
      lines.forEach((line, i) => ctx.fillText(line, lx, out[0].y - s / 2 - 14 - (lines.length - 1 - i) * 17 * k.font));
    }
    drawn.legend = this._legend(ctx, state, showGrad, phase, updates);
    drawn.keyFocus = this._keyFocus(ctx, state.ui.keyFocus);
    this.legendText = drawn.legend.text;  // what the diagram says it shows (read by tests)
    this.drawn = drawn;
    if (this.tipAt) this._showTip();
    return !!(phase && phase.running);
  }

  /** The keyboard's cursor (diagram_keys.js): a ring in the focus colour with white on both
   *  sides, so it reads on any heatmap or link; returns the box drawn (for tests) or null. */
  _keyFocus(ctx, el) {
    if (!el || !this.columns) return null;
    const s = this.size;
    let box = null;
    if (el.kind === "link") {
      const a = this.columns[el.layer] && this.columns[el.layer][el.i ?? 0];
      const b = this.columns[el.layer + 1] && this.columns[el.layer + 1][el.j];
      if (!a || !b) return null;
      const path = () => { ctx.beginPath(); bezier(ctx, a.x + s / 2, a.y, b.x - s / 2, b.y); };
      ctx.save();
      for (const [colour, width] of [["#ffffff", 9], [FOCUS, 5]]) {
        path(); ctx.strokeStyle = colour; ctx.lineWidth = width * this.scale.line; ctx.stroke();
      }
      ctx.restore();
      const m = bezierPoint(a.x + s / 2, a.y, b.x - s / 2, b.y, 0.5);
      return { kind: "link", x: m.x, y: m.y };
    }
    const node = this.columns[el.kind === "bias" ? el.layer + 1 : el.layer];
    const n = node && node[el.j];
    if (!n) return null;
    if (el.kind === "bias") {
      if (!n.bias) return null;
      box = { x: n.bias.x, y: n.bias.y, w: n.bias.s, h: n.bias.s };
    } else box = { x: n.x - s / 2, y: n.y - s / 2, w: s, h: s };
    const pad = 3 * this.scale.line;
    ctx.save();
    ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 7 * this.scale.line;
    ctx.strokeRect(box.x - pad, box.y - pad, box.w + 2 * pad, box.h + 2 * pad);
    ctx.strokeStyle = FOCUS; ctx.lineWidth = 3 * this.scale.line;
    ctx.strokeRect(box.x - pad, box.y - pad, box.w + 2 * pad, box.h + 2 * pad);
    ctx.restore();
    return { kind: el.kind, ...box };
  }

  /** δ under its neuron, on a white box; returns {text, font, box} as drawn. */
  _label(ctx, node, d) {
    const s = this.size, font = labelFont(s, this.scale.font);
    const text = compactNumber(d);
    ctx.font = `${font}px system-ui, sans-serif`;
    const box = labelBox(node.x, node.y, s, this.scale.font, biasSize(s) / 2, ctx.measureText(text).width);
    ctx.fillStyle = "rgba(255,255,255,0.88)";
    ctx.fillRect(box.x, box.y, box.w, box.h);
    ctx.fillStyle = "#111";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(text, node.x, box.y + box.h / 2 + 0.5);
    return { text, font, box };
  }

  /** The bias square; `shown` {values: per layer, scale}: the gradients or updates to show
   *  instead of the bias itself. Returns the value it shows. */
  _bias(ctx, state, node, c, shown) {
    const bs = biasSize(this.size);
    const x = node.x - this.size / 2 - bs / 2 - 1, y = node.y + this.size / 2 - bs / 2;
    let value = 0, v = 0;
    if (shown && shown.values[c - 1]) {
      value = shown.values[c - 1][node.j];
      v = value / shown.scale;
    } else if (state.params && state.params.biases[c - 1]) v = value = state.params.biases[c - 1][node.j];
    ctx.fillStyle = divergingCss(Math.sign(v) * (0.2 + 0.8 * Math.min(1, Math.abs(v))));
    ctx.fillRect(x, y, bs, bs);
    const sel = state.ui.selection;
    const picked = sel && sel.kind === "bias" && nodeLayerOf(sel) === c && sel.j === node.j;
    ctx.strokeStyle = picked ? "#111" : "#777";
    ctx.lineWidth = (picked ? 2 : 1) * this.scale.line;
    ctx.strokeRect(x, y, bs, bs);
    node.bias = { x, y, s: bs };
    return value;
  }

  /** The legend line and the colour key; returns {text, key: [low end, high end]}. */
  _legend(ctx, state, showGrad, phase, updates) {
    const H = this.surface.height, W = this.surface.width;
    const font = 13 * this.scale.font;
    ctx.font = `${font}px system-ui, sans-serif`;
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    const y = H - 8;
    const noLabels = this.labelsFit ? "" : "; too many neurons for δ labels: select one to read its δ";
    // what the numbers under the neurons are (see _draw)
    const src = this.deltaSource || { kind: "batch" };
    const deltaShort = src.kind === "example" ? `δ of example #${src.example}` : "batch-mean δ";
    const deltaWhat = src.kind === "example"
      ? `δ of traced example #${src.example}${src.walking ? " as far as the walk has reached" : ""}`
      : "δ = ∂L/∂z, batch mean";
    // the legend's wordings, longest first: the longest that fits is drawn
    let texts, ends = ["−", "+"];
    if (updates) {
      const base = `Phase: ${PHASE_NAMES.update}`;
      texts = [`${base} · links Δw, biases Δb (max |Δw| = ${formatNumber(this.updateScale, 3)})`, `${base} · links Δw, biases Δb`, base];
      ends = [`−${compactNumber(this.updateScale)}`, `+${compactNumber(this.updateScale)}`];
    } else if (phase) {
      texts = phase.phase === "backward" && showGrad
        ? [`Phase: ${PHASE_NAMES[phase.phase]} · neurons: ${deltaWhat}${noLabels}`, `Phase: ${PHASE_NAMES[phase.phase]} · ${deltaShort}`,
          `Phase: ${PHASE_NAMES[phase.phase]}`]
        : [`Phase: ${PHASE_NAMES[phase.phase]}`];
    } else if (state.ui.view === "backward" && (state.phase === "forward" || state.phase === "loss")) {
      texts = ["Backward view: the gradients come in phase 3, the backward pass", "Backward view: gradients come in phase 3"];
    } else if (state.ui.view === "backward") {
      texts = showGrad
        ? [`Backward view: links ∂L/∂w (max |∂L/∂w| = ${formatNumber(this.gradScale, 3)}), neurons ${deltaWhat}${noLabels}`,
          `Backward view: links ∂L/∂w, neurons ${deltaShort}`, `Backward view: ∂L/∂w and ${deltaShort}`]
        : ["Backward view: take a step to see the gradients"];
    } else {
      texts = ["Forward view: neuron maps show each output over the plane; links show weights",
        "Forward view: neuron outputs and weights"];
    }
    // colour key on the right, its ends labelled; the text gets the rest
    const kw = Math.min(110, W * 0.2);
    const endW = ends.map((e) => ctx.measureText(e).width);
    const kx = W - 8 - endW[1] - 4 - kw;
    const left = kx - 4 - endW[0];
    const room = Math.max(40, left - 16);
    const text = texts.find((t) => ctx.measureText(t).width * 0.85 <= room) || texts[texts.length - 1];
    ctx.fillStyle = "#333";
    ctx.fillText(text, 8, y, room);
    for (let q = 0; q < kw; q++) {
      ctx.fillStyle = divergingCss((q / (kw - 1)) * 2 - 1);
      ctx.fillRect(kx + q, y - 10, 1, 10);
    }
    ctx.fillStyle = "#333";
    ctx.fillText(ends[0], left, y);
    ctx.fillText(ends[1], kx + kw + 4, y);
    return { text, key: ends };
  }

  _hit(ev) {
    const { x, y } = this.surface.pointer(ev);
    const s = this.size;
    for (let c = 1; c < this.nodes.length; c++) {
      for (const node of this.nodes[c]) {
        const b = node.bias;
        if (b && x >= b.x - 2 && x <= b.x + b.s + 2 && y >= b.y - 2 && y <= b.y + b.s + 2) {
          return { kind: "bias", layer: c - 1, j: node.j };
        }
        if (Math.abs(x - node.x) <= s / 2 && Math.abs(y - node.y) <= s / 2) {
          return { kind: "neuron", layer: c, j: node.j };
        }
      }
    }
    let best = null, bestD = 7;
    const cols = this.columns || [];
    for (let l = 0; l < cols.length - 1; l++) {
      const a0 = cols[l][0], b0 = cols[l + 1][0];
      if (!a0 || !b0 || x < a0.x + s / 2 - 2 || x > b0.x - s / 2 + 2) continue;
      const t = (x - (a0.x + s / 2)) / (b0.x - s / 2 - (a0.x + s / 2));
      for (let i = 0; i < cols[l].length; i++) {
        for (let j = 0; j < cols[l + 1].length; j++) {
          const a = cols[l][i], b = cols[l + 1][j];
          // Sample near the pointer's x only.
          for (const dt of [-0.04, -0.02, 0, 0.02, 0.04]) {
            const p = bezierPoint(a.x + s / 2, a.y, b.x - s / 2, b.y, Math.max(0, Math.min(1, t + dt)));
            const d = Math.hypot(p.x - x, p.y - y);
            if (d < bestD) { bestD = d; best = { kind: "link", layer: l, i, j }; }
          }
        }
      }
    }
    return best;
  }

  _hover(ev) {
    const h = this._hit(ev);
    this.canvas.style.cursor = h ? "pointer" : "default";
    this.on.hover(h && h.kind === "neuron" ? { layer: h.layer, j: h.j } : null);
    this.tipAt = h && h.kind === "link" ? { link: h, ...this.surface.pointer(ev) } : null;
    this._showTip();
  }

  /** The hovered link's tooltip, with the values the diagram now shows (redrawn each frame). */
  _showTip() {
    const at = this.tipAt, w = at ? this._weight(at.link) : null;
    if (w === null) { this.linkTip.hide(); return; }
    const G = this.shownGrads && this.shownGrads[at.link.layer];
    this.linkTip.show(at.x, at.y, w, G ? G.dW[at.link.i][at.link.j] : null);
  }

  _click(ev) {
    const h = this._hit(ev);
    this.on.select(h);
    const w = h && h.kind === "link" ? this._weight(h) : null;
    if (w !== null) { const p = this.surface.pointer(ev); this.tipAt = null; this.linkTip.open(h, p.x, p.y, w); }
  }

  /** The weight of link {layer, i, j} as the page holds it, or null. */
  _weight(link) {
    const W = this.lastParams && this.lastParams.weights[link.layer];
    return W && W[link.i] && W[link.i][link.j] !== undefined ? W[link.i][link.j] : null;
  }

  /** Position of a node in CSS pixels (for tests and the inspector). */
  nodeCenter(layer, j) {
    const col = this.columns && this.columns[layer];
    return col && col[j] ? { x: col[j].x, y: col[j].y } : null;
  }

  /** A point on link (layer, i, j), in CSS pixels. */
  linkPoint(layer, i, j, t = 0.5) {
    const a = this.columns[layer][i], b = this.columns[layer + 1][j], s = this.size;
    return bezierPoint(a.x + s / 2, a.y, b.x - s / 2, b.y, t);
  }
}


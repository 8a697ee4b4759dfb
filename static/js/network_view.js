// The network diagram: inputs on the left, hidden layers, the output; every neuron a live
// heatmap of its output over the input plane, every link coloured by sign and sized by
// magnitude. The backward view colours links by ∂L/∂w and neurons by δ = ∂L/∂z.
//
// Layout (node positions, DOM header controls) is rebuilt only on a topology change or a
// resize; every other frame only restyles.

import { HiDPICanvas, Thumb, fmt } from "./canvas.js";
import { DIVERGING_LUT, CLASS_RGB, MID, divergingCss, paintCodes } from "./colors.js";
import { LEFT, buildOverlay } from "./network_overlay.js";
import { featureLabel, layerSizes, taskOf, field } from "./state.js";
import { drawScale } from "./projector.js";

const PHASES = ["forward", "loss", "backward", "update"];
/** The view a held phase is drawn in: the backward pass backward, the others forward. */
export const phaseView = (phase) => (phase === "backward" ? "backward" : "forward");
const HEADER = 64;     // room for the per-layer controls above the columns
const RIGHT = 84;      // room for the output label

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
   * setLayerActivation(index, name)}.
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
    canvas.addEventListener("mousemove", (ev) => this._hover(ev));
    canvas.addEventListener("mouseleave", () => this.on.hover(null));
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
    const biggest = Math.max(...cols);
    const avail = H - HEADER - 26;
    this.size = Math.max(8, Math.min(56, avail / (biggest * 1.28)));
    const s = this.size;
    const x0 = LEFT + s / 2, x1 = W - RIGHT - s / 2;
    const step = cols.length > 1 ? (x1 - x0) / (cols.length - 1) : 0;
    this.nodes = cols.map((count, c) => {
      const gap = Math.min(s * 1.28, avail / count);
      const top = HEADER + (avail - gap * count) / 2 + gap / 2;
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

  _phase(state, now) {
    const anim = state.ui.anim;
    if (!anim) {
      // phase stepping holds the last phase on screen, in its own view: switching the view
      // (f / b, or the toggle) shows that view of the same step instead
      const p = state.phase;
      if (p && p !== "update" && state.record && state.ui.view === phaseView(p)) return { phase: p, t: 1, running: false };
      return null;
    }
    const t = Math.min(1, (now - anim.start) / anim.duration);
    if (anim.phase === "all") {
      const k = Math.min(3, Math.floor(t * 4));
      return { phase: PHASES[k], t: Math.min(1, t * 4 - k), running: t < 1 };
    }
    return { phase: anim.phase, t, running: t < 1 };
  }

  _draw(state, now) {
    const ctx = this.surface.begin("#ffffff");
    const rec = state.record;
    const params = state.params;
    const phase = this._phase(state, now);
    const backward = phase ? phase.phase === "backward" : state.ui.view === "backward";
    // A step's record, else the last frame's gradients (play mode, a late joiner) if current.
    const fg = state.frameGrads;
    const grads = rec && rec.layers ? rec.layers
      : fg && fg.step === state.counters.step ? fg.layers : null;
    // before the backward phase of a held step, its gradients are not shown (not yet computed, as far as the class knows)
    const early = state.phase === "forward" || state.phase === "loss";
    const showGrad = backward && !!grads && !early;
    const s = this.size;
    const cols = this.columns;
    const nCols = cols.length;
    const sel = state.ui.selection;
    const k = this.scale = drawScale(state);

    // Column reveal for the animation.
    let litUpTo = nCols, gradFrom = 0;
    if (phase && phase.phase === "forward") litUpTo = phase.t * (nCols - 1) + 1;
    if (phase && phase.phase === "backward") gradFrom = (1 - phase.t) * (nCols - 1);

    // Links.
    const weightsNow = params ? params.weights : null;
    const gMax = showGrad ? maxAbs(grads.map((L) => L.dW)) || 1 : 1;
    this.gradScale = gMax;
    for (let l = 0; l < nCols - 1; l++) {
      const from = cols[l], to = cols[l + 1];
      const W = weightsNow && weightsNow[l];
      const L = grads && grads[l];
      if (!W || !from.length) continue;
      const dim = phase && phase.phase === "forward" && l + 1 > litUpTo;
      const partial = phase && phase.phase === "forward" ? Math.max(0, Math.min(1, litUpTo - 1 - l)) : 1;
      for (let i = 0; i < from.length; i++) {
        for (let j = 0; j < to.length; j++) {
          let v, width;
          if (showGrad && L && (l + 1) > gradFrom - 0.001) {
            v = L.dW[i][j] / gMax;
            width = (1 + 7 * Math.min(1, Math.abs(v))) * k.line;
          } else {
            let w = W[i] ? W[i][j] : 0;
            if (phase && phase.phase === "update" && L && L.W && L.dW_applied) {
              w = L.W[i][j] - L.dW_applied[i][j] * (1 - phase.t);  // slide from before to after
            }
            v = Math.sign(w) * (0.22 + 0.78 * Math.min(1, Math.abs(w)));
            width = (1 + Math.min(9, Math.abs(w) * 1.8)) * k.line;
          }
          const a = from[i], b = to[j];
          const picked = sel && sel.kind === "link" && sel.layer === l && sel.i === i && sel.j === j;
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
    const dMax = showGrad ? maxAbs(grads.map((L) => L.dz_mean || [])) || 1 : 1;
    this.deltaScale = dMax;
    ctx.font = `${Math.max(10, Math.min(14, s * 0.32)) * k.font}px system-ui, sans-serif`;
    ctx.textBaseline = "middle";
    this.nodes.forEach((col, c) => {
      const dim = phase && phase.phase === "forward" && c + 1 > litUpTo + 0.001;
      for (const node of col) {
        const x = node.x - s / 2, y = node.y - s / 2;
        ctx.globalAlpha = dim ? 0.3 : node.active ? 1 : 0.35;
        const L = c > 0 && grads ? grads[c - 1] : null;
        if (showGrad && c > 0 && L && L.dz_mean && c > gradFrom - 0.001) {
          const d = L.dz_mean[node.j];
          ctx.fillStyle = divergingCss(d / dMax);
          ctx.fillRect(x, y, s, s);
          const label = fmt(d, 2);
          if (ctx.measureText(label).width <= s + 2) {
            ctx.fillStyle = Math.abs(d / dMax) > 0.55 ? "#fff" : "#111";
            ctx.textAlign = "center";
            ctx.fillText(label, node.x, node.y);
          }
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
        const picked = sel && sel.kind === "neuron" && sel.layer === c && sel.j === node.j;
        const hovered = state.ui.hover && state.ui.hover.layer === c && state.ui.hover.j === node.j;
        ctx.strokeStyle = picked ? "#111" : hovered ? "#444" : "#9aa0a6";
        ctx.lineWidth = (picked ? 3 : hovered ? 2 : 1) * k.line;
        ctx.strokeRect(x, y, s, s);
        if (c > 0) this._bias(ctx, state, node, c, showGrad && c > gradFrom - 0.001 ? grads : null);
        if (c === 0) {
          ctx.fillStyle = node.active ? "#111" : "#888";
          ctx.textAlign = "right";
          ctx.fillText(featureLabel(state, node.feature), x - 6, node.y);
        }
      }
    });

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
      ctx.fillText(`L = ${fmt(rec.batch_loss)}`, out[0].x - s / 2, out[0].y - s / 2 - 14);
    }
    this._legend(ctx, state, showGrad, phase);
    return !!(phase && phase.running);
  }

  _bias(ctx, state, node, c, grads) {  // grads: per-layer gradients to show, or null
    const bs = Math.max(5, this.size / 4);
    const x = node.x - this.size / 2 - bs / 2 - 1, y = node.y + this.size / 2 - bs / 2;
    let v = 0;
    if (grads && grads[c - 1].db) v = grads[c - 1].db[node.j] / this.gradScale;
    else if (state.params && state.params.biases[c - 1]) v = state.params.biases[c - 1][node.j];
    ctx.fillStyle = divergingCss(Math.sign(v) * (0.2 + 0.8 * Math.min(1, Math.abs(v))));
    ctx.fillRect(x, y, bs, bs);
    const sel = state.ui.selection;
    const picked = sel && sel.kind === "bias" && sel.layer === c - 1 && sel.j === node.j;
    ctx.strokeStyle = picked ? "#111" : "#777";
    ctx.lineWidth = (picked ? 2 : 1) * this.scale.line;
    ctx.strokeRect(x, y, bs, bs);
    node.bias = { x, y, s: bs };
  }

  _legend(ctx, state, showGrad, phase) {
    const H = this.surface.height, W = this.surface.width;
    ctx.font = `${13 * this.scale.font}px system-ui, sans-serif`;
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    const y = H - 8;
    let text;
    if (phase) {
      const names = { forward: "1 forward pass", loss: "2 loss", backward: "3 backward pass (δ flows right to left)", update: "4 update w ← w + Δw" };
      text = `Phase: ${names[phase.phase]}`;
    } else if (state.ui.view === "backward" && (state.phase === "forward" || state.phase === "loss")) {
      text = "Backward view: the gradients come in phase 3, the backward pass";
    } else if (state.ui.view === "backward") {
      text = showGrad
        ? `Backward view: links ∂L/∂w (max |∂L/∂w| = ${fmt(this.gradScale, 3)}), neurons δ = ∂L/∂z (batch mean)`
        : "Backward view: take a step to see the gradients";
    } else {
      text = "Forward view: neuron maps show each output over the plane; links show weights";
    }
    this.legendText = text;  // what the diagram says it shows (read by tests)
    // colour key on the right; the text gets the rest
    const kx = W - 160, kw = 110;
    ctx.fillStyle = "#333";
    ctx.fillText(text, 8, y, kx - 16 - 12 * this.scale.font);
    for (let k = 0; k < kw; k++) {
      ctx.fillStyle = divergingCss((k / (kw - 1)) * 2 - 1);
      ctx.fillRect(kx + k, y - 10, 1, 10);
    }
    ctx.fillStyle = "#333";
    ctx.fillText("−", kx - 10, y);
    ctx.fillText("+", kx + kw + 4, y);
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
  }

  _click(ev) {
    this.on.select(this._hit(ev));
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


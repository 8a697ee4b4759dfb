// @ts-check
// The network diagram and the output plot by keyboard (WCAG 2.1.1, issue 26). Each canvas is
// one Tab stop; inside it the arrow keys move a cursor that the view draws in the focus
// colour (`ui.keyFocus`, `ui.plotCursor` in state.js), Enter or Space acts as a click would.
//
// Diagram: ↑ ↓ walk a column's stops (each neuron, then its bias square); → from a neuron or
// bias takes the outgoing link straight ahead (to the same row of the next column, or its
// last) and ← the incoming one; on a link ↑ ↓ walk the links between the same two columns
// (by source, then target) and → ← go to the neuron at either end. Enter or Space
// selects (the inspector opens), Escape clears the selection.
// Plot: the arrows move a cursor over the input plane (Shift: finer), Enter or Space adds a
// point of the chosen class at it, or in trace mode traces the example nearest to it; t traces.
//
// The handled keys stop here, so the page's own shortcuts (→ step, space play) do not fire;
// a canvas focused by a click leaves every key to those shortcuts, as before.

import { layerSizes } from "./state.js";
import { nodeLayerOf, weightLayerOf } from "./selection.js";
import { DOMAIN } from "./heatmaps.js";

/** @typedef {import("./state.js").Selection} Selection */

/** The stops of column c: [{kind, layer, j}], a hidden or output neuron followed by its bias. */
function columnStops(sizes, c) {
  const out = [];
  for (let j = 0; j < sizes[c]; j++) {
    out.push({ kind: "neuron", layer: c, j });
    if (c > 0) out.push({ kind: "bias", layer: c - 1, j });
  }
  return out;
}

// The column an element is in: a neuron's or a bias's node layer, the column a link leaves
// (node layer l for weight layer l).
const colOf = (el) => (el.kind === "link" ? weightLayerOf(el) : nodeLayerOf(el));

/**
 * Where key `key` takes the diagram's cursor from `el` in a network of node layer sizes
 * `sizes`: a Selection-shaped element, or `el` itself at an edge. Pure, for tests.
 * @param {Selection} el @param {number[]} sizes @param {string} key @returns {Selection}
 */
export function moveInDiagram(el, sizes, key) {
  const last = sizes.length - 1;
  if (el.kind === "link") {
    const weightLayer = weightLayerOf(el), to = nodeLayerOf(el);  // from node layer weightLayer
    const i = el.i ?? 0, n = sizes[to];
    if (key === "ArrowRight") return { kind: "neuron", layer: to, j: el.j };
    if (key === "ArrowLeft") return { kind: "neuron", layer: weightLayer, j: i };
    const k = i * n + el.j + (key === "ArrowDown" ? 1 : key === "ArrowUp" ? -1 : 0);
    if (k < 0 || k >= sizes[weightLayer] * n) return el;
    return { kind: "link", layer: weightLayer, i: Math.floor(k / n), j: k % n };
  }
  const c = colOf(el);
  if (key === "ArrowUp" || key === "ArrowDown") {
    const stops = columnStops(sizes, c);
    const at = stops.findIndex((s) => s.kind === el.kind && s.j === el.j);
    return stops[at + (key === "ArrowDown" ? 1 : -1)] || el;
  }
  if (key === "ArrowRight" && c < last) {
    return { kind: "link", layer: c, i: el.j, j: Math.min(el.j, sizes[c + 1] - 1) };
  }
  if (key === "ArrowLeft" && c > 0) {
    return { kind: "link", layer: c - 1, i: Math.min(el.j, sizes[c - 1] - 1), j: el.j };
  }
  return el;
}

/** Whether `el` names an element of a network of sizes `sizes`. */
export function inDiagram(el, sizes) {
  if (!el) return false;
  const c = colOf(el);
  if (c < 0 || c >= sizes.length || el.j < 0 || el.j >= sizes[c]) return false;
  if (el.kind === "bias") return c > 0;
  if (el.kind === "link") return c < sizes.length - 1 && (el.i ?? 0) >= 0 && (el.i ?? 0) < sizes[c] && el.j < sizes[c + 1];
  return true;
}

const ARROWS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"]);

/** Tells whether a canvas has the keyboard's focus: reached by Tab or the skip link, not by a
 *  click, after which the page's shortcuts (→ step, space play) keep working as before. */
class KeyboardFocus {
  constructor(canvas, { focus, blur }) {
    this.byMouse = false;
    canvas.addEventListener("mousedown", () => { this.byMouse = true; });
    canvas.addEventListener("focus", () => { if (!this.byMouse) focus(); });
    canvas.addEventListener("blur", () => { this.byMouse = false; blur(); });
  }

  get active() { return !this.byMouse; }
}

export class DiagramKeys {
  /**
   * canvas: the diagram; getState(): the store's state; on: {focus(el|null), moved(el),
   * select(el|null)}: the cursor to draw (null: none), where a key moved it, a selection.
   */
  constructor(canvas, getState, on) {
    this.getState = getState;
    this.on = on;
    /** @type {Selection|null} */
    this.at = null;  // kept while the canvas is blurred, so Tab back returns to it
    this.keyboard = new KeyboardFocus(canvas, { focus: () => this._show(this._start()), blur: () => on.focus(null) });
    canvas.addEventListener("mousedown", () => { this.at = null; });
    canvas.addEventListener("keydown", (ev) => this._key(ev));
  }

  _start() {
    const s = this.getState(), sizes = layerSizes(s);
    const sel = s.ui.selection;
    if (inDiagram(this.at, sizes)) return this.at;
    if (inDiagram(sel, sizes)) return sel;
    return { kind: "neuron", layer: sizes.length > 1 ? 1 : 0, j: 0 };
  }

  _show(el) {
    this.at = el;
    this.on.focus(el);
  }

  _key(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || !this.keyboard.active) return;
    const s = this.getState();
    if (!s.config) return;
    const sizes = layerSizes(s);
    const at = this._start();
    if (ARROWS.has(ev.key)) {
      const to = moveInDiagram(at, sizes, ev.key);
      this._show(to);
      this.on.moved(to);
    } else if (ev.key === "Enter" || ev.key === " ") {
      this._show(at);
      this.on.select(at);
    } else if (ev.key === "Escape") {
      this.on.select(null);
      return;  // the page's Escape closes its popovers too
    } else return;
    ev.preventDefault();
    ev.stopPropagation();
  }
}

const COARSE = 0.5, FINE = 0.1;  // cursor steps over the input plane, in data units

export class PlotKeys {
  /**
   * canvas: the output plot; getState(): the store's state; on: {cursor({x1, x2}|null),
   * add(x1, x2, other), trace(x1, x2)}: the cursor to draw, a point to add (`other`: the other
   * class, as Shift-click), the example nearest to (x1, x2) to trace.
   */
  constructor(canvas, getState, on) {
    this.getState = getState;
    this.on = on;
    this.at = { x1: 0, x2: 0 };
    this.keyboard = new KeyboardFocus(canvas, { focus: () => on.cursor(this.at), blur: () => on.cursor(null) });
    canvas.addEventListener("keydown", (ev) => this._key(ev));
  }

  _key(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || !this.keyboard.active) return;
    const s = this.getState();
    if (!s.points) return;
    const d = ev.shiftKey ? FINE : COARSE;
    const move = { ArrowLeft: [-d, 0], ArrowRight: [d, 0], ArrowUp: [0, d], ArrowDown: [0, -d] }[ev.key];
    const clamp = (v) => Math.round(Math.max(DOMAIN[0], Math.min(DOMAIN[1], v)) * 1000) / 1000;
    if (move) {
      this.at = { x1: clamp(this.at.x1 + move[0]), x2: clamp(this.at.x2 + move[1]) };
      this.on.cursor(this.at);
    } else if (ev.key === "Enter" || ev.key === " ") {
      this.on.cursor(this.at);
      if (s.ui.clickMode === "trace") this.on.trace(this.at.x1, this.at.x2);
      else this.on.add(this.at.x1, this.at.x2, ev.shiftKey);
    } else if (ev.key === "t") {
      this.on.trace(this.at.x1, this.at.x2);
    } else return;
    ev.preventDefault();
    ev.stopPropagation();
  }
}

/** The index of the training example nearest to (x1, x2), or null when there is none. */
export function nearestExample(points, x1, x2) {
  let best = null, bestD = Infinity;
  if (!points) return null;
  points.train.x.forEach((v, i) => {
    const d = Math.hypot(v[0] - x1, v[1] - x2);
    if (d < bestD) { bestD = d; best = i; }
  });
  return best;
}

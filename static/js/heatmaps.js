// Every heatmap, computed in the page from the weights the frames carry (protocol 3): the
// network's evaluation-mode forward pass over a grid of the input plane, in float32, the
// same pass as engine/network.py `activations_on` (engine/heatmaps.py is the reference the
// tests compare with). A map is a pure function of a few hundred weights, so the wire
// carries those, not the 40 KB of pixels they make.
//
// Grids as in the engine: n cells a side over DOMAIN, sampled at the cells' centres, row 0
// the top of the plane (x2 = +6), column 0 its left (x1 = −6). A map is {units, n, codes,
// lo, hi}: uint8 codes, q standing for lo + q·(hi − lo)/255, unit k's cells at k·n·n.

import { paramLayout } from "./frame_layout.js";

export const DOMAIN = [-6, 6];          // engine/datasets.py DOMAIN
export const GRID = 100;                // cells a side of the output map at least (and of a focus map)
export const MAX_GRID = 256;            // ...and at most, where the device is fast and the plot large
const CRISP_MS = 4;                     // a finer output map only while the maps cost less than this
export const NEURON_GRID = 20;          // cells a side of each input's and hidden neuron's map
export const NEURON_RANGE = [-1, 1];    // TensorFlow Playground's colour scale, clipped

// The input features (engine/features.py FEATURE_FUNCS, TF Playground's INPUTS).
const FEATURES = {
  x1: (x1) => x1, x2: (x1, x2) => x2, x1_sq: (x1) => x1 * x1, x2_sq: (x1, x2) => x2 * x2,
  x1x2: (x1, x2) => x1 * x2, sin_x1: (x1) => Math.sin(x1), sin_x2: (x1, x2) => Math.sin(x2),
};

/** tanh to float32 precision (within 3e-7 of Math.tanh), a rational function as in Eigen's
 *  float tanh: 3.4× Math.tanh's speed in chromium here, where tanh was most of a map's cost. */
function tanh32(x) {
  if (x > 7.90531110763549805) return 1;
  if (x < -7.90531110763549805) return -1;
  if (x !== x) return x;
  const x2 = x * x;
  let p = x2 * -2.76076847742355e-16 + 2.00018790482477e-13;
  p = x2 * p - 8.60467152213735e-11;
  p = x2 * p + 5.12229709037114e-08;
  p = x2 * p + 1.48572235717979e-05;
  p = x2 * p + 6.37261928875436e-04;
  p = x2 * p + 4.89352455891786e-03;
  let q = x2 * 1.19825839466702e-06 + 1.18534705686654e-04;
  q = x2 * q + 2.26843463243900e-03;
  q = x2 * q + 4.89352518554385e-03;
  return (x * p) / q;
}

/** Activations applied in place to a Float32Array (engine/activations.py); `c` holds the
 *  engine's constants (model.constants). */
const ACTIVATIONS = {
  linear: () => {},
  sigmoid: (z) => { for (let p = 0; p < z.length; p++) z[p] = 0.5 * tanh32(0.5 * z[p]) + 0.5; },
  tanh: (z) => { for (let p = 0; p < z.length; p++) z[p] = tanh32(z[p]); },
  relu: (z) => { for (let p = 0; p < z.length; p++) if (!(z[p] > 0)) z[p] = z[p] === z[p] ? 0 : z[p]; },
  leaky_relu: (z, c) => { for (let p = 0; p < z.length; p++) if (z[p] <= 0) z[p] *= c.leaky_slope; },
  elu: (z, c) => { for (let p = 0; p < z.length; p++) if (z[p] <= 0) z[p] = c.elu_alpha * Math.expm1(z[p]); },
  swish: (z) => { for (let p = 0; p < z.length; p++) z[p] *= 0.5 * tanh32(0.5 * z[p]) + 0.5; },
};

/** The output's value range on the colour scale (engine/heatmaps.py output_range). */
export function outputRange(outputActivation) {
  return outputActivation === "sigmoid" || outputActivation === "softmax" ? [0, 1] : [-1, 1];
}

/** The n cell centres of one axis, left to right. */
function centres(n) {
  const [lo, hi] = DOMAIN;
  return Float64Array.from({ length: n }, (_, i) => lo + ((i + 0.5) * (hi - lo)) / n);
}

/** Feature `names` over the n×n grid, neuron-major: (names.length · n·n) float32. */
export function featureGrid(names, n) {
  const c = centres(n);
  const nn = n * n;
  const out = new Float32Array(names.length * nn);
  names.forEach((name, k) => {
    const f = FEATURES[name];
    if (!f) throw new Error(`unknown feature ${name}`);
    for (let r = 0; r < n; r++) {
      const x2 = c[n - 1 - r];
      for (let col = 0; col < n; col++) out[k * nn + r * n + col] = f(c[col], x2);
    }
  });
  return out;
}

/**
 * The network `model` (a state's model) with weights `params` (a frame's flat vector) over
 * the n×n grid, in evaluation mode: [inputs, hidden 1, …, output], each a neuron-major
 * Float32Array (units · n·n).
 */
export function evaluate(model, params, n) {
  const P = n * n;
  const layout = paramLayout(model);
  const nLayers = model.sizes.length - 1;
  let a = featureGrid(model.features, n);
  const outs = [a];
  for (let l = 0; l < nLayers; l++) {
    const { fi, fo, W, b, scale, shift } = layout.layers[l];
    const z = new Float32Array(fo * P);
    const w = new Float64Array(fi);
    for (let j = 0; j < fo; j++) {
      // z_j = b_j + Σ_i w_ij·a_i, summed per cell in a register: one write per cell, not fi
      for (let i = 0; i < fi; i++) w[i] = params[W + i * fo + j];
      const bj = params[b + j];
      const s = scale === undefined ? 1 : params[scale + j], t = scale === undefined ? 0 : params[shift + j];
      const base = j * P;
      for (let p = 0; p < P; p++) {
        let acc = bj;
        for (let i = 0, q = p; i < fi; i++, q += P) acc += w[i] * a[q];
        z[base + p] = scale === undefined ? acc : Math.fround(acc) * s + t;
      }
    }
    if (l === nLayers - 1) {
      if (model.output_activation === "softmax") softmax(z, fo, P);
      else activate(model.output_activation, z, model.constants);
    } else {
      activate(model.activations[l], z, model.constants);
      if (model.skip[l]) for (let q = 0; q < z.length; q++) z[q] += a[q];
    }
    outs.push(z);
    a = z;
  }
  return outs;
}

function activate(name, z, constants) {
  const f = ACTIVATIONS[name];
  if (!f) throw new Error(`unknown activation ${name}`);
  f(z, constants);
}

function softmax(z, K, P) {
  for (let p = 0; p < P; p++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, z[k * P + p]);
    let s = 0;
    for (let k = 0; k < K; k++) { const e = Math.exp(z[k * P + p] - m); z[k * P + p] = e; s += e; }
    for (let k = 0; k < K; k++) z[k * P + p] /= s;
  }
}

/** uint8 codes of `values`: lo ↦ 0, hi ↦ 255, clipped; NaN ↦ 255 (engine quantize). */
export function quantize(values, lo, hi) {
  const out = new Uint8Array(values.length);
  const k = 255 / (hi - lo);
  for (let q = 0; q < values.length; q++) {
    const v = values[q];
    out[q] = v !== v ? 255 : Math.floor((Math.min(hi, Math.max(lo, v)) - lo) * k + 0.5);
  }
  return out;
}

/** A map of `units` neurons over an n×n grid from their float values. */
export function mapOf(values, n, [lo, hi]) {
  return { units: values.length / (n * n), n, codes: quantize(values, lo, hi), lo, hi };
}

/** The full-resolution map of node layer `layer`'s neuron `j` (0 = inputs) from the output
 *  pass's values, for the hovered neuron (no round trip). */
export function focusMap(heatmaps, layer, j) {
  const full = heatmaps && heatmaps.full;
  if (!full || layer >= full.length - 1) return null;
  const nn = heatmaps.n * heatmaps.n;
  const values = full[layer].subarray(j * nn, (j + 1) * nn);
  return values.length === nn ? { ...mapOf(values, heatmaps.n, NEURON_RANGE), layer, j } : null;
}

/** Every map the page draws from a model and its weights: {n, output, outputRange, neurons,
 *  inputs, full, compareOutput}. `full` keeps each node layer's float values at n×n. */
export function heatmapsOf(model, params, compare = null, n = GRID, m = NEURON_GRID) {
  const full = evaluate(model, params, n);
  const small = evaluate(model, params, m);
  const range = outputRange(model.output_activation);
  return {
    n,
    output: mapOf(full[full.length - 1], n, range),
    outputRange: range,
    inputs: mapOf(small[0], m, NEURON_RANGE),
    neurons: small.slice(1, -1).map((v) => mapOf(v, m, NEURON_RANGE)),
    full,
    compareOutput: compare ? compareOutputOf(compare.model, compare.params, n) : null,
  };
}

function compareOutputOf(model, params, n) {
  const full = evaluate(model, params, n);
  return mapOf(full[full.length - 1], n, outputRange(model.output_activation));
}

/** Maps for the newest weights, at most one computation an animation frame: a frame that
 *  arrives while maps are due replaces the weights waiting, never queues behind them. A
 *  device too slow for every frame lowers its map rate (the weights and numbers still
 *  update every frame): it skips animation frames in proportion to the maps' cost. A fast
 *  one draws the output crisper: up to the plot's device pixels (MAX_GRID), as long as a set
 *  of maps stays under CRISP_MS. */
export class MapMaker {
  /** onMaps(heatmaps, step): called with each new set of maps. */
  constructor(onMaps) {
    this.onMaps = onMaps;
    this.pending = null;
    this.raf = 0;
    this.cost = 0;          // ms, a moving average of one computation
    this.next = 0;          // performance.now() before which no computation starts
    this.lastMs = 0;
    this.computed = 0;      // how many sets of maps were made (read by benches and tests)
    this.n = GRID;          // the output map's cells a side now
    this.key = "";          // the model the grid size was chosen for
  }

  /** Maps are wanted for `job` = {model, params, compare, step, pixels} (pixels: the Output
   *  plot's side in device pixels, the finest grid worth drawing). */
  want(job) {
    this.pending = job;
    if (!this.raf) this.raf = requestAnimationFrame((t) => this._run(t));
  }

  _run(now) {
    this.raf = 0;
    if (!this.pending) return;
    if (now < this.next) { this.raf = requestAnimationFrame((t) => this._run(t)); return; }
    const job = this.pending;
    this.pending = null;
    if (job.model.key !== this.key) { this.key = job.model.key; this.n = GRID; this.computed = 0; }
    const n = this.n;
    const t0 = performance.now();
    const maps = { ...heatmapsOf(job.model, job.params, job.compare, n), step: job.step };
    const ms = performance.now() - t0;
    this.lastMs = ms;
    this.cost = this.computed ? 0.8 * this.cost + 0.2 * ms : ms;
    this.computed += 1;
    // the cost grows with the cells: the finest grid that stays under CRISP_MS, in steps of 4
    const finest = Math.min(MAX_GRID, Math.max(GRID, job.pixels || GRID));
    const fits = 4 * Math.floor(n * Math.sqrt(CRISP_MS / Math.max(this.cost, 0.01)) / 4);
    if (this.computed >= 3) this.n = Math.max(GRID, Math.min(finest, fits, n * 2));
    // past a third of a 60 Hz frame, leave the next frames to drawing and input
    this.next = now + Math.max(0, 3 * this.cost - 16.7);
    this.onMaps(maps, job.step);
  }
}

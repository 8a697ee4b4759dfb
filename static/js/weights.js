// @ts-check
// The weights the page shows: one record in the store, `state.weights`, replaced whole by
// whichever message brings newer ones, never edited in place:
//   - a `state`: the exact float64 weights of its step (what a share link carries);
//   - a step's `record` frame: its W and b as shown (float32; before the update while a phase
//     step is half-shown);
//   - a weights `frame`: float32 (float16 for a room's followers), with the evaluation-mode
//     arrays the heatmaps need (batch norm's scale and shift) and compare mode's run B.
// A frame of the step the exact weights are of brings nothing newer: it only fills in those
// evaluation arrays and run B. Everything else is derived on read: the nested {weights,
// biases} the views draw (`paramsOf`, memoised) and whether they are exact (`exactStep`).

import { paramLayout } from "./frame_layout.js";

/**
 * @typedef {import("./frame_layout.js").LayoutModel & {key: string}} WeightsModel
 * @typedef {{weights: number[][][], biases: number[][]}} Params
 * @typedef {{step: number, exact: boolean, model: WeightsModel, flat: Float32Array|Float64Array,
 *   complete: boolean, compare: {model: WeightsModel, params: Float32Array}|null}} Weights
 *   `flat` laid out by paramLayout(model); `complete` once a frame of this model came and
 *   batch norm's evaluation arrays (if any) are in it: the heatmaps are made only from those.
 */

/**
 * The evaluation-only slots [from, to) (batch norm's scale and shift) of `model`'s layout.
 * @param {WeightsModel} model @returns {number[][]}
 */
function evalSlots(model) {
  const out = [];
  for (const L of paramLayout(model).layers) {
    if (L.scale !== undefined && L.shift !== undefined) out.push([L.scale, L.shift + L.fo]);
  }
  return out;
}

/**
 * Weights laid out for `model` from per-layer W rows and b (a state's params or a record's
 * layers), of `step`; float64 when `exact`.
 * @param {WeightsModel} model @param {number[][][]} Ws @param {number[][]} bs
 * @param {number} step @param {boolean} exact @param {Weights|null} old the weights they replace
 * @returns {Weights|null} null when the shapes are not the model's
 */
export function weightsFromLayers(model, Ws, bs, step, exact, old) {
  const { layers, size } = paramLayout(model);
  if (Ws.length !== layers.length || bs.length !== layers.length) return null;
  const flat = exact ? new Float64Array(size) : new Float32Array(size);
  for (const [l, L] of layers.entries()) {
    const W = Ws[l], b = bs[l];
    if (W.length !== L.fi || b.length !== L.fo) return null;
    for (let i = 0; i < L.fi; i++) {
      if (W[i].length !== L.fo) return null;
      flat.set(W[i], L.W + i * L.fo);
    }
    flat.set(b, L.b);
  }
  // Batch norm's evaluation arrays come only with frames: kept from the weights of this same
  // step. Complete once a frame of this model came (a new model's maps wait for its frame).
  const slots = evalSlots(model);
  const seen = !!old && old.complete && old.model.key === model.key;
  const same = seen && old.step === step;
  for (const [a, z] of slots) {
    if (same) flat.set(old.flat.subarray(a, z), a);
    else flat.fill(NaN, a, z);
  }
  const compare = seen ? old.compare : null;
  return { step, exact, model, flat, complete: seen && (slots.length === 0 || same), compare };
}

/**
 * The weights after a frame `f` (decodeWeightsFrame) for `model`: the frame's own, or, at the
 * step of exact weights, those with the frame's evaluation arrays and run B.
 * @param {Weights|null} old @param {WeightsModel} model
 * @param {{step: number, params: Float32Array, compare: any}} f
 * @returns {Weights}
 */
export function weightsFromFrame(old, model, f) {
  if (old && old.exact && old.step === f.step && old.model.key === model.key) {
    const flat = Float64Array.from(old.flat);
    for (const [a, z] of evalSlots(model)) flat.set(f.params.subarray(a, z), a);
    return { ...old, flat, complete: true, compare: f.compare };
  }
  return { step: f.step, exact: false, model, flat: f.params, complete: true, compare: f.compare };
}

/** @type {WeakMap<Weights, Params>} */
const NESTED = new WeakMap();

/**
 * The nested {weights: [l][i][j], biases: [l][j]} of `w`, made once per weights (the views
 * read them every frame), or null.
 * @param {Weights|null} w
 * @returns {Params|null}
 */
export function paramsOf(w) {
  if (!w) return null;
  let p = NESTED.get(w);
  if (!p) {
    const { layers } = paramLayout(w.model);
    const flat = w.flat;
    p = { weights: layers.map((L) => Array.from({ length: L.fi }, (_, i) => Array.from(flat.subarray(L.W + i * L.fo, L.W + (i + 1) * L.fo)))),
      biases: layers.map((L) => Array.from(flat.subarray(L.b, L.b + L.fo))) };
    NESTED.set(w, p);
  }
  return p;
}

/**
 * The step whose exact (float64) weights `w` are, or null while they are a frame's float32 copy.
 * @param {Weights|null} w
 * @returns {number|null}
 */
export function exactStep(w) {
  return w && w.exact ? w.step : null;
}

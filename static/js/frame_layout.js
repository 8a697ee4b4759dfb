// @ts-check
// Where each weight layer's numbers sit in a weights frame's flat vectors (server/frames.py
// `_flat` and `_flat_gradients`, whose part order contract.js's FRAME gives): the one reading
// of that layout in the page, used by the frame decoder (protocol.js), the store's weights
// (weights.js) and the heatmaps' forward pass (heatmaps.js), none of which needs the others.

import { FRAME } from "./contract.js";

/** @typedef {{sizes: number[], batch_norm: boolean}} LayoutModel the fields of a state's model it reads */
/** @typedef {{fi: number, fo: number, W: number, b: number, scale?: number, shift?: number}} LayerOffsets */

// Batch norm's parts, present only in its hidden layers.
const BATCH_NORM_PARTS = new Set(["scale", "shift"]);

/**
 * Offsets of `parts` (in the contract's order) layer by layer: W (fan_in × fan_out) or dW
 * (the same), every other part one number per neuron (fan_out).
 * @param {LayoutModel} model @param {string[]} parts
 */
function layout(model, parts) {
  /** @type {Array<{fi: number, fo: number} & Object<string, number>>} */
  const layers = [];
  let o = 0;
  const n = model.sizes.length - 1;
  for (let l = 0; l < n; l++) {
    const fi = model.sizes[l], fo = model.sizes[l + 1];
    /** @type {{fi: number, fo: number} & Object<string, number>} */
    const L = { fi, fo };
    for (const part of parts) {
      if (BATCH_NORM_PARTS.has(part) && !(model.batch_norm && l < n - 1)) continue;
      L[part] = o;
      o += part === "W" || part === "dW" ? fi * fo : fo;
    }
    layers.push(L);
  }
  return { layers, size: o };
}

/**
 * A frame's `params` (FRAME.param_parts): per weight layer W (fan_in × fan_out, row-major),
 * b, and under batch norm (hidden layers) the evaluation-mode scale and shift.
 * {layers: offsets, size}.
 * @param {LayoutModel} model
 * @returns {{layers: LayerOffsets[], size: number}}
 */
export function paramLayout(model) {
  return /** @type {{layers: LayerOffsets[], size: number}} */ (layout(model, FRAME.param_parts));
}

/**
 * A frame's `grads` (FRAME.gradient_parts): per weight layer dW (fan_in × fan_out,
 * row-major), db and delta_mean (the batch mean of δ), fo numbers each.
 * {layers: [{fi, fo, dW, db, delta_mean}], size}.
 * @param {LayoutModel} model
 */
export function gradientLayout(model) {
  return layout(model, FRAME.gradient_parts);
}

/**
 * Rows [r][c] (plain arrays) of the r × c block of `data` at `at`.
 * @param {ArrayLike<number> & {subarray(a: number, b: number): ArrayLike<number>}} data
 * @param {number} at @param {number} r @param {number} c
 * @returns {number[][]}
 */
export const rowsAt = (data, at, r, c) => Array.from({ length: r }, (_, i) => Array.from(data.subarray(at + i * c, at + (i + 1) * c)));

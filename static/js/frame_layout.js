// @ts-check
// Where each weight layer's numbers sit in a weights frame's flat vectors (server/frames.py
// `_flat` and `_flat_gradients`): the one statement of that layout in the page, read by the
// frame decoder (protocol.js), the store's weights (weights.js) and the heatmaps'
// forward pass (heatmaps.js), none of which needs the others.

/** @typedef {{sizes: number[], batch_norm: boolean}} LayoutModel the fields of a state's model it reads */
/** @typedef {{fi: number, fo: number, W: number, b: number, scale?: number, shift?: number}} LayerOffsets */

/**
 * A frame's `params`: per weight layer W (fan_in × fan_out, row-major), b, and under batch
 * norm (hidden layers) the evaluation-mode scale and shift. {layers: offsets, size}.
 * @param {LayoutModel} model
 * @returns {{layers: LayerOffsets[], size: number}}
 */
export function paramLayout(model) {
  /** @type {LayerOffsets[]} */
  const layers = [];
  let o = 0;
  const n = model.sizes.length - 1;
  for (let l = 0; l < n; l++) {
    const fi = model.sizes[l], fo = model.sizes[l + 1];
    /** @type {LayerOffsets} */
    const L = { fi, fo, W: o, b: o + fi * fo };
    o += fi * fo + fo;
    if (model.batch_norm && l < n - 1) { L.scale = o; L.shift = o + fo; o += 2 * fo; }
    layers.push(L);
  }
  return { layers, size: o };
}

/**
 * A frame's `grads`: per weight layer dW (fan_in × fan_out, row-major), db and delta_mean
 * (the batch mean of δ), fo numbers each. {layers: [{fi, fo, dW, db, delta_mean}], size}.
 * @param {LayoutModel} model
 */
export function gradientLayout(model) {
  const layers = [];
  let o = 0;
  for (let l = 0; l < model.sizes.length - 1; l++) {
    const fi = model.sizes[l], fo = model.sizes[l + 1];
    layers.push({ fi, fo, dW: o, db: o + fi * fo, delta_mean: o + fi * fo + fo });
    o += fi * fo + 2 * fo;
  }
  return { layers, size: o };
}

/**
 * Rows [r][c] (plain arrays) of the r × c block of `data` at `at`.
 * @param {ArrayLike<number> & {subarray(a: number, b: number): ArrayLike<number>}} data
 * @param {number} at @param {number} r @param {number} c
 * @returns {number[][]}
 */
export const rowsAt = (data, at, r, c) => Array.from({ length: r }, (_, i) => Array.from(data.subarray(at + i * c, at + (i + 1) * c)));

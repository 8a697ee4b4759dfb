// @ts-check
// What is selected on the diagram, and the two kinds of layer it names. A selection's
// `layer` (its name on the wire, in the `ui` message and a question's target) means a node
// layer for a neuron (0 = the inputs) but a weight layer for a link or a bias (weight layer l
// feeds node layer l + 1). Page code reads it through these two names, never bare.

/** @typedef {import("./contract.js").Selection} Selection {kind, layer, j, i?}, as the wire has it */

/**
 * The node layer of a neuron (0 = inputs), or the one a link or bias feeds.
 * @param {Selection} sel
 * @returns {number}
 */
export function nodeLayerOf(sel) {
  return sel.kind === "neuron" ? sel.layer : sel.layer + 1;
}

/**
 * The weight layer of a link or bias, or the one feeding a neuron (−1 for an input).
 * @param {Selection} sel
 * @returns {number}
 */
export function weightLayerOf(sel) {
  return sel.kind === "neuron" ? sel.layer - 1 : sel.layer;
}

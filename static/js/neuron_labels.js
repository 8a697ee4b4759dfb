// The number printed under each neuron of the diagram (its δ in the backward view). One rule
// at every size, so a class's windows agree: the label sits below its neuron, its font
// follows the neuron's size between a legible minimum and a maximum (times the projector
// factor), and its text is format.js's two-digit form (0.034, −3.4×10⁻⁵). The layout
// reserves the room (`labelRoom`) under every neuron, so labels never cover a neuron or each
// other.

export const MIN_LABEL_PX = 10;  // CSS px: the smallest label font, however small the neuron
export const MAX_LABEL_PX = 14;
const LINE = 1.2;                // label box height ÷ font size

/** Label font size in CSS px for neurons of side `size` (fontScale: projector factor). */
export function labelFont(size, fontScale = 1) {
  return Math.max(MIN_LABEL_PX, Math.min(MAX_LABEL_PX, size * 0.32)) * fontScale;
}

/** Height of a label's box for `font`. */
export function labelHeight(font) {
  return Math.ceil(font * LINE);
}

/** Vertical room a label takes under a neuron of side `size`, below `overhang` px of
 *  something else hanging under the neuron (its bias square). */
export function labelRoom(size, fontScale, overhang) {
  return overhang + 1 + labelHeight(labelFont(size, fontScale)) + 1;
}

/** The label's box {x, y, w, h} (CSS px) under a neuron centred at (x, y), `width` wide. */
export function labelBox(x, y, size, fontScale, overhang, width) {
  const h = labelHeight(labelFont(size, fontScale));
  const w = Math.ceil(width) + 4;
  return { x: x - w / 2, y: y + size / 2 + overhang + 1, w, h };
}

// The widest δ labels format.js's compactNumber makes (a sign, two digits and an exponent).
export const WIDEST_LABELS = ["−0.034", "−3.4×10⁻⁵", "−1.2×10⁻¹²", "−1.2×10³"];

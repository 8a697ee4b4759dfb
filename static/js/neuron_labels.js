// The number printed under each neuron of the diagram (its δ in the backward view). One rule
// at every size, so a class's windows agree: the label sits below its neuron, its font
// follows the neuron's size between a legible minimum and a maximum (times the projector
// factor), and its text is at most about five characters. The layout reserves the room
// (`labelRoom`) under every neuron, so labels never cover a neuron or each other.

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

// The widest texts compactNumber makes (a sign, a point and three digits; an exponent).
export const WIDEST_LABELS = ["−.034", "−3e-3", "−1e-12", "−999"];

/**
 * Two significant digits without the leading zero (0.034 → ".034", −0.5 → "−.5", 1.25 →
 * "1.3"), whole numbers from 100 to 999, and one digit with an exponent outside
 * [0.01, 1000) (0.0016 → "2e-3"); a minus sign, not a hyphen, before negatives.
 */
export function compactNumber(x) {
  if (x === null || x === undefined) return "—";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : x < 0 ? "−∞" : "NaN";
  const a = Math.abs(x);
  let s;
  if (a === 0) s = "0";
  else if (a < 0.01 || a >= 999.5) s = a.toExponential(0).replace("+", "");
  else if (a >= 99.5) s = String(Math.round(a));
  else s = a.toPrecision(2).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "").replace(/^0\./, ".");
  return x < 0 && s !== "0" ? `−${s}` : s;
}

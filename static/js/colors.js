// Colour scales shared by every view. Orange = negative, blue = positive (TensorFlow
// Playground's convention, readable with the common colour-vision deficiencies); classes
// use the Okabe–Ito palette. All functions are pure drawing transforms.

export const NEG = [226, 116, 8];      // orange, dark enough for 3:1 against white (WCAG 1.4.11)
export const MID = [240, 241, 242];    // near white
export const POS = [16, 108, 186];     // blue
export const CLASS_COLORS = ["#e69f00", "#0072b2", "#009e73", "#cc79a7", "#56b4e9"];
// The keyboard focus, on the canvases as in app.css (--focus): violet, which means nothing else.
export const FOCUS = "#6b2bd6";
// The outline of a data point: dark, so a point keeps 3:1 against any background map
// (a point of its own class sits on a pale tint of its own colour).
export const POINT_OUTLINE = "#1b1f24";
export const CLASS_RGB = CLASS_COLORS.map(hexToRgb);
export const BINARY_CLASS_COLORS = [rgbCss(NEG), rgbCss(POS)];

export function hexToRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

export function rgbCss(rgb, alpha = 1) {
  return alpha === 1 ? `rgb(${rgb[0]},${rgb[1]},${rgb[2]})` : `rgba(${rgb[0]},${rgb[1]},${rgb[2]},${alpha})`;
}

function mix(a, b, t) {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** Diverging colour of t in [-1, 1] (clipped): orange, white, blue. */
export function diverging(t) {
  if (!Number.isFinite(t)) return [128, 128, 128];
  const c = Math.max(-1, Math.min(1, t));
  return c < 0 ? mix(MID, NEG, -c) : mix(MID, POS, c);
}

export function divergingCss(t, alpha = 1) {
  const rgb = diverging(t).map(Math.round);
  return rgbCss(rgb, alpha);
}

/** 256×4 RGBA lookup table for uint8 codes 0..255 mapping to [-1, 1]. */
export const DIVERGING_LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let q = 0; q < 256; q++) {
    const rgb = diverging((q / 255) * 2 - 1);
    lut.set([rgb[0], rgb[1], rgb[2], 255], q * 4);
  }
  return lut;
})();

// How far the Output plot's background goes towards a full colour: pale, as in Playground,
// so that the data points drawn over it in full colour stay visible once the net is sure.
export const BACKGROUND_STRENGTH = 0.55;

/** The diverging scale at BACKGROUND_STRENGTH, for maps drawn under the data points. */
export const BACKGROUND_LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let q = 0; q < 256; q++) {
    const rgb = diverging(((q / 255) * 2 - 1) * BACKGROUND_STRENGTH);
    lut.set([rgb[0], rgb[1], rgb[2], 255], q * 4);
  }
  return lut;
})();

/** Same, but two colours only (discretized boundary): below the middle orange, else blue. */
export const DISCRETE_LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 4);
  const lo = mix(MID, NEG, BACKGROUND_STRENGTH), hi = mix(MID, POS, BACKGROUND_STRENGTH);
  for (let q = 0; q < 256; q++) lut.set([...(q < 128 ? lo : hi), 255], q * 4);
  return lut;
})();

/** Light tint of a class colour for a heatmap cell whose winning probability is p in [0, 1]. */
export function classTint(k, p) {
  return mix(MID, CLASS_RGB[k % CLASS_RGB.length], Math.max(0, Math.min(1, p)) * BACKGROUND_STRENGTH);
}

/** Fill `img` (ImageData n×n) from uint8 codes `codes` sampled at `offset + idx*stride`. */
export function paintCodes(img, codes, offset, stride, lut) {
  const d = img.data;
  const n = img.width * img.height;
  for (let p = 0; p < n; p++) {
    const q = codes[offset + p * stride] * 4;
    const o = p * 4;
    d[o] = lut[q]; d[o + 1] = lut[q + 1]; d[o + 2] = lut[q + 2]; d[o + 3] = 255;
  }
}

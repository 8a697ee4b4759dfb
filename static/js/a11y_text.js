// @ts-check
// Words for what the page draws, for screen readers (issue 26): an equation read aloud, the
// element of the diagram the keyboard is on, the charts' last values, the live region's
// sentences. Pure functions of the state and the engine's numbers: no DOM.

import { MINUS, RESULT_DIGITS, formatNumber, printedDigits } from "./format.js";
import { nodeLayerOf, weightLayerOf } from "./selection.js";

// Symbols as a screen reader should say them (most read "δ" as "delta" already, but not
// "∂", "′" or the subscripts); the longest first where one contains another.
const SPOKEN = [
  ["∂ℓ/∂", "d loss by d "], ["∂L/∂", "d L by d "], ["∂", "d "], ["δ", "delta "], ["ℓ", "loss"],
  ["Σ", "sum "], ["ŷ", "y hat"], ["′", " prime"], ["·", " times "], ["×", " times "], ["−", " minus "],
  ["σ", "sigma"], ["α", "alpha"], ["μ", "mu"], ["ρ", "rho"], ["β", "beta "], ["ε", "epsilon"],
  ["γ", "gamma"], ["η", "eta"], ["λ", "lambda"], ["‖", " norm "], ["√", "square root of "],
  ["m̂", "m hat"], ["v̂", "v hat"], ["ẑ", "z hat"], ["Δ", "change in "],
];
const SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉";
const SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹";

/** A symbol string in words: "δ₁" → "delta 1", "∂ℓ/∂a₁⁽¹⁾" → "d loss by d a 1 of layer 1". */
export function spokenSymbols(text) {
  let s = String(text).replace(/⁽([⁰-⁹¹²³]+)⁾/g, (_, d) => ` of layer ${[...d].map((c) => SUPERSCRIPTS.indexOf(c)).join("")}`);
  for (const [sym, words] of SPOKEN) s = s.split(sym).join(words);
  s = s.replace(/[₀-₉]+/g, (d) => ` ${[...d].map((c) => SUBSCRIPTS.indexOf(c)).join("")}`)
    .replace(/ₖ/g, " k").replace(/ᵢ/g, " i").replace(/ⱼ/g, " j");
  return s.replace(/\s+/g, " ").trim();
}

/** A number as said, as the page prints it (format.js): "minus 0.0011", and 4.77×10⁻⁵ as
 *  "4.77 times 10 to the minus 5". */
export function spokenNumber(x, digits = RESULT_DIGITS) {
  const t = formatNumber(x, digits)
    .replace(/×10([⁻⁰-⁹¹²³]+)/, (_, e) => ` times 10 to the ${[...e].map((c) => (c === "⁻" ? "minus " : SUPERSCRIPTS.indexOf(c))).join("")}`);
  return t.startsWith(MINUS) ? `minus ${t.slice(1)}` : t;
}

/** An engine expression's numbers in words (engine/graph.py `numbers`, read aloud), each
 *  with the digits the page prints it with. */
export function spokenExpr(e, digits = RESULT_DIGITS) {
  if (e.op === "num") return spokenNumber(e.value, digits);
  const parts = e.args.map((a) => (a.op === "num" ? spokenExpr(a, digits) : `(${spokenExpr(a, digits)})`));
  if (e.op === "mean") return `the mean of ${parts.join(", ")}`;
  if (e.op === "sqrt") return `the square root of ${parts[0]}`;
  if (e.op === "div") return parts.join(" divided by ");
  return parts.join({ mul: " times ", add: " plus ", sub: " minus " }[e.op] || ", ");
}

/** An inspector equation read aloud: "delta 1 equals 0.0296 times 0.01155 equals 0.0003419"
 *  (the quantity, its numbers as printed, its value; the symbolic rule is in the title). */
export function spokenEquation(eq) {
  const quantity = String(eq.lhs).split(" = ")[0];
  const digits = printedDigits(eq.expr, eq.value);
  return `${spokenSymbols(quantity)} equals ${spokenExpr(eq.expr, digits)} equals ${spokenNumber(eq.value)}`;
}

/** The name of a diagram element (a selection-shaped {kind, layer, j, i?}). */
export function elementName(state, el, nLayers) {
  if (!el) return "";
  const neuron = (layer, j) => (layer === 0 ? `input ${inputName(state, j)}`
    : layer === nLayers ? `output neuron ${j + 1}` : `layer ${layer}, neuron ${j + 1}`);
  if (el.kind === "neuron") return neuron(nodeLayerOf(el), el.j);
  if (el.kind === "bias") return `bias of ${neuron(nodeLayerOf(el), el.j)}`;
  return `link from ${neuron(nodeLayerOf(el) - 1, el.i ?? 0)} to ${neuron(nodeLayerOf(el), el.j)}`;
}

function inputName(state, j) {
  const f = state.config && state.config.features[j];
  return f ? spokenSymbols(state.featureLabels[f] || f) : String(j + 1);
}

/** The gradients the diagram shows: a step's record, else the last frame's (while playing). */
export function shownGrads(state) {
  const rec = state.record, fg = state.frameGrads;
  if (rec && rec.layers) return rec.layers;
  return fg && fg.step === state.counters.step ? fg.layers : null;
}

/** The numbers of one diagram element, in words (what the keyboard's cursor announces). */
export function elementReading(state, el) {
  const p = state.params;
  if (!el || !p) return "";
  const nLayers = p.weights.length;
  const g = shownGrads(state);
  const parts = [elementName(state, el, nLayers)];
  const weightLayer = weightLayerOf(el);  // of a link or bias; the one feeding a neuron
  if (el.kind === "neuron" && weightLayer >= 0) {
    const L = g && g[weightLayer];
    if (L && L.a_mean) parts.push(`mean output over the batch ${spokenNumber(L.a_mean[el.j])}`);
    if (L && L.delta_mean) parts.push(`mean delta ${spokenNumber(L.delta_mean[el.j])}`);
  } else if (el.kind === "bias") {
    parts.push(`b ${spokenNumber(p.biases[weightLayer][el.j])}`);
    const L = g && g[weightLayer];
    if (L && L.db) parts.push(`d L by d b ${spokenNumber(L.db[el.j])}`);
  } else if (el.kind === "link") {
    const W = p.weights[weightLayer];
    if (W && W[el.i ?? 0]) parts.push(`weight ${spokenNumber(W[el.i ?? 0][el.j])}`);
    const L = g && g[weightLayer];
    if (L && L.dW) parts.push(`d L by d w ${spokenNumber(L.dW[el.i ?? 0][el.j])}`);
  }
  const sel = state.ui.selection;
  if (sel && sel.kind === el.kind && sel.layer === el.layer && sel.j === el.j && (sel.i ?? 0) === (el.i ?? 0)) parts.push("selected");
  return parts.join(", ");
}

/** A chart's last values in words, e.g. "step 12: train 0.213, test 0.25". */
export function lastValues(key, history) {
  const m = history.length ? history[history.length - 1] : null;
  const v = m && m[key];
  if (!v) return "no values yet";
  if (Array.isArray(v)) return `step ${m.step}: ${v.map((x, l) => `layer ${l + 1} ${spokenNumber(x)}`).join(", ")}`;
  if (typeof v === "object") {
    return `step ${m.step}: ${Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => `${k} ${spokenNumber(x)}`).join(", ")}`;
  }
  return `step ${m.step}: ${spokenNumber(v)}`;
}

/** What the polite live region says after a step: step, phase, loss. */
export function stepSentence(state) {
  const m = state.metrics || {};
  const loss = m.loss ? m.loss.train : null;
  const phase = state.phase ? `, phase ${state.phase}` : "";
  return `Step ${state.counters.step}${phase}, train loss ${spokenNumber(loss)}`;
}

// @ts-check
// The page's one number format, for every number it prints (issue 21, item 11): a leading
// zero (0.011, not .011), a true minus sign (U+2212), a fixed number of significant digits
// with trailing zeros dropped, and outside [0.001, 10 000) scientific notation written as a
// lecture writes it, 4.77×10⁻⁵ (never 4.77e-5). `printedDigits` chooses how many digits an
// equation's operands need so that, evaluated on its printed numbers, it gives its printed
// result to one unit of that result's last digit.

export const MINUS = "\u2212";
const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
const PLAIN_LOW = 1e-3;  // smaller magnitudes are written in scientific notation...
const PLAIN_HIGH = 1e4;  // ...and so are these and larger

/** `x` rounded to `digits` significant digits, as a number (what its printed text reads as). */
export function rounded(x, digits) {
  return x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(digits));
}

/** `x` with `digits` significant digits: "0.011", "−4.77×10⁻⁵", "1234", "—" for missing. */
export function formatNumber(x, digits = 4) {
  if (x === null || x === undefined) return "—";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : x < 0 ? `${MINUS}∞` : "NaN";
  if (x === 0) return "0";
  const a = Math.abs(rounded(x, digits));
  let s;
  if (a >= PLAIN_LOW && a < PLAIN_HIGH && !a.toPrecision(digits).includes("e")) {
    s = a.toPrecision(digits);
    if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  } else {
    const [mantissa, exponent] = a.toExponential(digits - 1).split("e");
    const m = mantissa.includes(".") ? mantissa.replace(/0+$/, "").replace(/\.$/, "") : mantissa;
    const e = String(Number(exponent)).split("").map((c) => SUPERSCRIPT[c]).join("");
    s = `${m}×10${e}`;
  }
  return x < 0 ? `${MINUS}${s}` : s;
}

/** A δ label under a neuron: two significant digits, the same format. */
export function compactNumber(x) {
  return formatNumber(x, 2);
}

/** The unit of the last digit `formatNumber(x, digits)` prints (0 for 0). */
export function lastDigitUnit(x, digits) {
  if (x === 0 || !Number.isFinite(x)) return 0;
  const r = Math.abs(rounded(x, digits));
  return 10 ** (Math.floor(Math.log10(r)) - digits + 1);
}

/**
 * The value of an expression tree (engine/graph.py: {op, value, args?, count?}) evaluated on
 * its leaves rounded to `digits` significant digits: what a student's calculator gives.
 */
export function evaluatePrinted(expr, digits) {
  if (expr.op === "num") return rounded(expr.value, digits);
  const vals = expr.args.map((a) => evaluatePrinted(a, digits));
  if (expr.op === "mul") return vals.reduce((p, v) => p * v, 1);
  if (expr.op === "add") return vals.reduce((p, v) => p + v, 0);
  if (expr.op === "sub") return vals.slice(1).reduce((p, v) => p - v, vals[0]);
  if (expr.op === "div") return vals[0] / vals[1];
  if (expr.op === "sqrt") return Math.sqrt(vals[0]);
  if (expr.op === "mean") return vals.reduce((p, v) => p + v, 0) / expr.count;
  throw new Error(`unknown op ${expr.op}`);
}

export const RESULT_DIGITS = 4;
const MAX_DIGITS = 17;

/**
 * How many significant digits the leaves of `expr` need so that the expression, evaluated on
 * them, gives `value` printed with `resultDigits` to one unit of its last digit: at least
 * `resultDigits`, no more than it takes (17 at most, when nothing would do).
 */
export function printedDigits(expr, value, resultDigits = RESULT_DIGITS) {
  const shown = rounded(value, resultDigits);
  const unit = lastDigitUnit(value, resultDigits);
  for (let d = resultDigits; d < MAX_DIGITS; d++) {
    const got = evaluatePrinted(expr, d);
    if (value === 0 ? got === 0 : Math.abs(got - shown) <= unit * 0.999) return d;
  }
  return MAX_DIGITS;
}

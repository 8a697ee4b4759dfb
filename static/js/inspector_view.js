// The inspector: the computation graph of the selected neuron or weight on the traced example
// (each operation's value and gradient), every equation read off it with the engine's
// numbers (engine/graph.py builds them as expression trees, so each is true by construction),
// then for a weight the batch's terms, the penalty, the gradient the optimizer used and its
// update. In phase stepping it shows only what the phase has computed. A "Verify this step"
// button runs the finite-difference gradient check. Every number is the server's.

import { isBackward, revealed } from "./backward_walk.js";
import { RESULT_DIGITS, formatNumber, printedDigits } from "./format.js";
import { featureLabel, gradcheckStale } from "./state.js";
import { spokenEquation } from "./a11y_text.js";
import { h } from "./dom.js";
import { nodeLayerOf, weightLayerOf } from "./selection.js";

function num(value, testid, digits = RESULT_DIGITS) {
  return h("span", { className: "num", "data-testid": testid,
    dataset: value === null || value === undefined ? {} : { value: String(value) } }, formatNumber(value, digits));
}

function row(label, ...value) {
  return h("div", { className: "kv" }, h("span", { className: "k" }, label), h("span", { className: "v" }, ...value));
}

export class InspectorView {
  /** on: {gradcheck(), setWeight(layer, i, j, v), setBias(layer, j, v), clear()} */
  constructor(root, on) {
    this.root = root;
    this.on = on;
  }

  render(state) {
    const sel = state.ui.selection;
    const body = [];
    this.walk = null;
    body.push(h("div", { className: "insp-head" },
      h("h2", {}, "Inspector"),
      h("button", { type: "button", "data-testid": "gradcheck", onclick: () => this.on.gradcheck(),
        disabled: state.busy.gradcheck || !state.config, title: "finite differences against backprop on this step's batch" },
      state.busy.gradcheck ? "Checking…" : "Verify this step"),
      sel ? h("button", { type: "button", className: "ghost", "aria-label": "Close the inspector selection",
        onclick: () => this.on.clear() }, "×") : null));
    body.push(this._gradcheck(state));
    if (!sel) {
      body.push(h("p", { className: "hint" },
        "Click a neuron, a link or a bias (the small square) in the diagram to see its numbers. ",
        "To choose the traced example, switch the boundary's click mode to “trace” or Ctrl-click a point."));
    } else {
      const r = state.inspect;
      const pending = !r || !matches(r, sel);
      this.walk = pending ? null : revealed(r, state.ui.reveal);
      if (sel.kind === "neuron") body.push(...this._neuron(state, sel, pending ? null : r));
      else if (sel.kind === "link") body.push(...this._link(state, sel, pending ? null : r));
      else if (sel.kind === "bias") body.push(...this._bias(state, sel, pending ? null : r));
    }
    this.root.replaceChildren(...body.flat(Infinity).filter(Boolean));  // a part may be a list of nodes
    const centre = this.root.closest(".centre");
    if (centre) centre.classList.toggle("inspecting", Boolean(sel && sel.layer !== undefined));
  }

  _gradcheck(state) {
    const g = state.gradcheck;
    if (!g) return null;
    const ok = g.passed ?? (g.max_rel_error !== null && g.max_rel_error < 1e-6);
    const stale = gradcheckStale(state);
    return h("div", { className: `gradcheck ${ok ? "ok" : "bad"}${stale ? " stale" : ""}`, "data-testid": "gradcheck-result" },
      ok ? "✓ " : "✗ ", `Gradient check of step ${g.step ?? "?"}: largest relative error `,
      num(g.max_rel_error, "gradcheck-error", 3),
      ` over ${g.n_checked ?? "?"}/${g.n_params ?? "?"} parameters: `,
      ok ? "backprop matches finite differences" : "backprop and finite differences disagree",
      stale ? h("div", { className: "hint", "data-testid": "gradcheck-stale" },
        `Stale: ${stale} since; press “Verify this step” to verify again.`) : null,
      (g.notes || []).map((n) => h("div", { className: "hint", "data-testid": "gradcheck-note" }, n)));
  }

  _example(r) {
    if (!r) return [];  // a list of parts: callers spread it
    const phase = r.phase ? `, phase: ${r.phase}` : "";
    const line = r.evaluation
      ? h("p", { className: "hint", "data-testid": "outside-batch" },
        `Traced example #${r.example} is not in the batch of step ${r.update}: it did not contribute to that update, so it has no gradient here. `,
        `Shown: its forward pass at the current weights (after step ${r.step}), in evaluation mode`,
        r.graph.nodes.some((n) => n.id === "z_hat") ? " (batch norm with its running mean and variance, no dropout)" : " (no dropout)",
        ". Trace a circled example of the batch to see the backward pass.")
      : h("p", { className: "hint" }, `Step ${r.step}${r.applied ? "" : " (not applied yet)"}, traced example #${r.example}`, phase);
    return [line,
    r.settings_changed && r.settings_changed.length ? h("p", { className: "warn", "data-testid": "settings-changed" },
      `The settings changed since this step (${r.settings_changed.join("; ")}): it is explained as it was made.`) : null,
    this.walk ? h("p", { className: "hint", "data-testid": "walk-hint" },
      `Backward pass, step ${this.walk.step} of ${this.walk.of}: press Step to go on back toward ${r.weight ? "the weight" : "this neuron's z"}, one equation at a time.`) : null,
    r.shows && !r.shows.includes("backward") && !r.evaluation ? h("p", { className: "hint", "data-testid": "phase-hint" },
      r.shows.includes("loss") ? "Loss phase: the forward pass and the loss are known; gradients come in the backward phase."
        : "Forward phase: only values so far; the loss and the gradients come in the next phases.") : null];
  }

  /** The operations the engine ran for this neuron on the traced example, left to right. */
  _graph(r) {
    const g = r.graph;
    const chips = [];
    const hidden = (n) => this.walk && !this.walk.nodes.has(n.id);
    g.nodes.map((n) => (n.grad !== null && hidden(n) ? { ...n, grad: null } : n)).forEach((n, k) => {
      // the edge into this node, labelled with its local derivative once the backward pass shows it
      const local = n.local && n.grad !== null ? h("span", { className: "glocal", title: n.local.label,
        dataset: { value: String(n.local.value) } }, `×${formatNumber(n.local.value, 3)}`) : null;
      if (k) chips.push(h("span", { className: "garrow", "aria-hidden": local ? null : "true" }, local, n.id === "w" ? "" : "→"));
      const grad = n.grad === null ? null
        : h("span", { className: "ggrad" }, n.id === "w" ? "δ·a " : "∂ ", formatNumber(n.grad));
      chips.push(h("span", { className: "gnode", title: `${n.what}${n.grad === null ? "" : `; gradient ${n.id === "w" ? "δ·a, this example's term" : `${g.grad_symbol}${n.label}`}`}`,
        "data-testid": `graph-${n.id}`, dataset: { value: String(n.value), grad: n.grad === null ? "" : String(n.grad) } },
      h("b", {}, n.label), " ", formatNumber(n.value), grad));
    });
    const legend = g.grad_symbol.startsWith("B")
      ? `∂: B·∂L/∂(node), B = ${g.batch_size} (with batch norm, this example's share of the batch's gradient, × B)`
      : "∂: ∂ℓ/∂(node), this example's loss ℓ";
    return h("div", { className: "graph" }, h("h4", {}, `The computation on example #${r.example} `,
      h("span", { className: "hint" }, r.shows.includes("backward") ? legend : "values of the forward pass")),
    h("div", { className: "gchain" }, chips));
  }

  /** One equation: its symbols, then its numbers and value (data-values for tests), its
   *  operands printed with as many digits as the printed value needs (format.js). */
  _equation(eq, { big = false, testid = `eq-${eq.id}`, valueTestid = `eq-${eq.id}-value`, relation = " = " } = {}) {
    return h("div", { className: `formula eq${big ? " big" : ""}`, "data-testid": testid,
      role: "math", "aria-label": spokenEquation(eq) },
      h("span", { className: "lhs" }, eq.lhs), relation, numbers(eq.expr, printedDigits(eq.expr, eq.value)), " = ",
      num(eq.value, valueTestid));
  }

  /** The equations whose ids `pick` accepts and the walk has reached, in the engine's order. */
  _equations(r, pick) {
    const eqs = r.graph.equations.filter((e) => pick(e.id) && this._shown(e.id));
    return eqs.map((e) => h("div", { title: e.title }, this._equation(e)));
  }

  /** Whether the backward walk has reached equation `id` (always, outside the walk). */
  _shown(id) { return !this.walk || !isBackward(id) || this.walk.equations.has(id); }

  _neuron(state, sel, r) {
    const nodeLayer = nodeLayerOf(sel);
    const isOut = nodeLayer === (state.params ? state.params.weights.length : 0);
    const title = h("h3", {}, isOut ? `Output neuron ${sel.j + 1}` : `Layer ${nodeLayer}, neuron ${sel.j + 1}`);
    if (nodeLayer === 0) return [title, h("p", {}, "Inputs have no z or δ.")];
    if (!r) return [title, h("p", { className: "hint" }, "asking the engine…")];
    const n = r.neuron;
    // an example outside the batch has no batch to average over and no δ (engine/explain.py)
    const mean = (v, testid) => (r.evaluation ? null : h("td", {}, num(v, testid)));
    const out = [title, ...this._example(r),
      h("table", { className: "nums" },
        h("tr", {}, h("th", {}, ""), h("th", {}, `example #${r.example}`), r.evaluation ? null : h("th", {}, "batch mean")),
        h("tr", {}, h("td", {}, "z"), h("td", {}, num(n.z, "neuron-z")), mean(n.z_mean, "neuron-z-mean")),
        h("tr", {}, h("td", {}, "a"), h("td", {}, num(n.a, "neuron-a")), mean(n.a_mean, "neuron-a-mean")),
        r.evaluation ? null : h("tr", {}, h("td", {}, "δ"), h("td", {}, num(n.delta, "neuron-delta")), mean(n.delta_mean, "neuron-delta-mean")))];
    if (n.yhat !== undefined) out.push(row("ŷ, target, ℓ", `${formatNumber(n.yhat)}, ${formatNumber(n.target)}, ${formatNumber(n.loss)}`));
    out.push(this._graph(r), ...this._equations(r, isDeltaEquation), this._forwardDetails(r));
    return out;
  }

  _forwardDetails(r) {
    const eqs = this._equations(r, isForwardEquation);
    return eqs.length ? h("details", { className: "fwd" }, h("summary", {}, "The forward equations"), eqs) : null;
  }

  _link(state, sel, r) {
    const weightLayer = weightLayerOf(sel);  // from node layer weightLayer to weightLayer + 1
    const from = weightLayer === 0 ? (state.config.features[sel.i] ? featureLabel(state, state.config.features[sel.i]) : `input ${sel.i + 1}`) : `neuron ${sel.i + 1} of layer ${weightLayer}`;
    const nLayers = state.params ? state.params.weights.length : 0;
    const to = weightLayer + 1 === nLayers ? `output ${sel.j + 1}` : `neuron ${sel.j + 1} of layer ${weightLayer + 1}`;
    const w = state.params && state.params.weights[weightLayer] ? state.params.weights[weightLayer][sel.i][sel.j] : null;
    const out = [h("h3", {}, `Weight from ${from} to ${to}`),
      row("w (now)", num(w, "link-weight"),
        this._editor("weight", w, (v) => this.on.setWeight(weightLayer, sel.i, sel.j, v)))];
    if (!r || !r.weight) { out.push(h("p", { className: "hint" }, "asking the engine…")); return out; }
    const g = r.weight;
    const eq = Object.fromEntries(r.graph.equations.filter((e) => this._shown(e.id)).map((e) => [e.id, e]));
    out.push(...this._example(r), this._graph(r));
    if (!eq.grad_w_example) {
      out.push(...this._equations(r, isDeltaEquation), this._forwardDetails(r));
      return out;
    }
    const ex = eq.grad_w_example;
    // Two columns when the card is wide enough (how δ came about | from the example to the
    // batch to the update), so the whole story fits a 1280×720 projector.
    out.push(h("div", { className: "insp-cols" },
      h("div", {},
        h("h4", {}, "Backward: δ of the neuron this weight feeds"),
        ...this._equations(r, isDeltaEquation), this._forwardDetails(r)),
      h("div", {},
        h("h4", {}, "The chain rule on the traced example"),
        this._equation(ex, { big: true, testid: "chain-rule", valueTestid: "chain-value" }),
        eq.grad_w_data ? this._batchTable(eq.grad_w_data, r) : null,
        eq.grad_w_penalty ? h("div", {}, h("div", { className: "eq-title" }, eq.grad_w_penalty.title), this._equation(eq.grad_w_penalty)) : null,
        // g stands out when the penalty makes it differ from ∂L_data/∂w; without one it is that mean
        eq.grad_w ? this._equation(eq.grad_w, { big: !!eq.grad_w_penalty, valueTestid: "grad-batch" }) : null,
        eq.grad_w ? this._update(g) : null)));
    return out;
  }

  /** ∂L_data/∂w = (1/B)·Σ δ·a: the batch's terms in a table, the traced row marked. The
   *  products get the digits their mean needs, each row's δ and a the digits its product needs. */
  _batchTable(eq, r) {
    const rows = eq.expr.args;
    // the sum a student adds up is of the printed products, so their digits follow the mean
    const printed = { op: "mean", count: eq.expr.count, args: rows.map((t) => ({ op: "num", value: t.value })) };
    const dProduct = printedDigits(printed, eq.value);
    const products = rows.filter((t) => t.op === "mul");
    const dRow = Math.max(dProduct, ...products.map((t) => printedDigits(t, t.value, dProduct)));
    const body = rows.map((t) => t.op === "num"
      ? h("tr", {}, h("td", { colspan: "3" }, t.label), h("td", {}, num(t.value, undefined, dProduct)))
      : h("tr", { className: t.label === `#${r.example}` ? "traced" : null },
        h("td", {}, t.label), h("td", {}, num(t.args[0].value, undefined, dRow)), h("td", {}, num(t.args[1].value, undefined, dRow)),
        h("td", {}, num(t.value, undefined, dProduct))));
    const [d, a] = products[0].args.map((x) => x.label);
    return h("div", { "data-testid": "batch-terms" },
      h("div", { className: "eq-title" }, `${eq.title}: ∂L_data/∂w is the mean of ${d}·${a} over the batch`),
      h("div", { className: "terms-scroll", tabindex: "0", role: "region", "aria-label": "The batch's terms" }, h("table", { className: "nums batch-terms" },
        h("tr", {}, h("th", {}, "example"), h("th", {}, d), h("th", {}, a), h("th", {}, `${d}·${a}`)), body)),
      h("div", { className: "formula" }, `∂L_data/∂w = (1/${eq.expr.count}) × Σ = `, num(eq.value, "grad-data")));
  }

  _update(g) {
    const u = g.update;
    const box = h("div", { className: "update" }, h("h4", {}, "The optimizer's update",
      u && u.optimizer ? ` (${u.optimizer}${u.rule ? `: ${u.rule}` : ""})` : ""));
    if (u && u.expr) {
      box.appendChild(this._equation({ id: "update", lhs: "w", expr: u.expr, value: u.expr.value },
        { big: true, testid: "update-formula", relation: " ← " }));
    }
    if (u && typeof u === "object") {
      const shown = new Set(["expr", "optimizer", "rule", "grad", "weight_before", "weight_after"]);
      const terms = Object.entries(u).filter(([k, v]) => !shown.has(k) && (typeof v === "number" || typeof v === "string"));
      if (terms.length) {
        box.appendChild(h("div", { className: "terms" }, terms.map(([k, v]) => h("span", { className: "term" },
          `${SYMBOLS[k] || k} = `, typeof v === "number" ? formatNumber(v) : v))));
      }
    }
    if (g.weight_after !== undefined) {
      // w before is the formula's first number; one line keeps the update on screen.
      box.appendChild(row("w after", h("span", { title: `before: ${formatNumber(g.weight, 6)}` }, formatNumber(g.weight_after, 6)),
        h("span", {}, "Δw = ", num(g.delta_w, "delta-w"))));
    } else box.appendChild(h("p", { className: "hint" }, "the update is applied at the end of the step"));
    return box;
  }

  _bias(state, sel, r) {
    const weightLayer = weightLayerOf(sel);
    const b = state.params && state.params.biases[weightLayer] ? state.params.biases[weightLayer][sel.j] : null;
    const rec = state.record;
    const backward = r && r.shows ? r.shows.includes("backward") : true;
    const db = backward && rec && rec.layers && rec.layers[weightLayer] ? rec.layers[weightLayer].db[sel.j] : null;
    const out = [h("h3", {}, `Bias of neuron ${sel.j + 1} in layer ${nodeLayerOf(sel)}`),
      row("b (now)", num(b, "bias-value"), this._editor("bias", b, (v) => this.on.setBias(weightLayer, sel.j, v))),
      row("∂L/∂b (batch)", num(db, "bias-grad"))];
    if (r && r.neuron) {
      out.push(...this._example(r));
      if (r.neuron.delta !== null) {
        out.push(h("div", { className: "formula big" },
          `∂L/∂b = (1/B)·Σ δ·1: δ = ${formatNumber(r.neuron.delta)} on the traced example; the batch mean of δ = ${formatNumber(r.neuron.delta_mean)} (biases carry no penalty)`));
      }
    }
    return out;
  }

  _editor(what, value, apply) {
    const input = h("input", { type: "number", step: "any", value: value === null ? "" : String(Math.round(value * 1e6) / 1e6),
      "aria-label": `New ${what} value`, className: "edit-value" });
    const go = () => { const v = parseFloat(input.value); if (Number.isFinite(v)) apply(v); };
    input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.stopPropagation(); go(); } });
    return h("span", { className: "editor" }, h("label", {}, `set to `, input),
      h("button", { type: "button", onclick: go }, "Set"));
  }
}

const isForwardEquation = (id) => ["z", "z_hat", "u", "drop", "skip"].includes(id);
// δ from the loss to this neuron: the output's δ first (the walk's start), then inward
const DELTA_IDS = ["grad_a", "grad_h", "grad_u", "delta"];
const isDeltaEquation = (id) => id.startsWith("delta_out_") || DELTA_IDS.includes(id);
// the optimizer's terms by the symbols of its rule (engine/optimizers.py)
const SYMBOLS = { lr: "α", momentum: "μ", alpha: "ρ", beta1: "β1", beta2: "β2", eps: "ε", velocity: "b",
  lookahead: "g + μ·b", m_hat: "m̂", v_hat: "v̂", step: "Δw" };

/** An expression's numbers, each leaf with `digits` significant digits: what
 *  tests/test_inspector_page_browser.py reads back and evaluates. */
function numbers(e, digits) {
  if (e.op === "num") {
    const v = h("span", { className: "num", title: e.label, dataset: { value: String(e.value) } }, formatNumber(e.value, digits));
    return e.value < 0 ? h("span", {}, "(", v, ")") : v;
  }
  if (e.op === "sqrt") return h("span", {}, "√(", numbers(e.args[0], digits), ")");
  const parts = e.args.map((a) => {
    const p = numbers(a, digits);
    const compound = ["add", "sub", "mean"].includes(a.op) || (e.op === "div" && a.op !== "num" && a.op !== "sqrt");
    return compound && e.op !== "add" ? h("span", {}, "[", p, "]") : p;
  });
  const joined = [];
  parts.forEach((p, k) => { if (k) joined.push({ mul: " × ", add: " + ", sub: " − ", mean: " + ", div: "/" }[e.op]); joined.push(p); });
  return e.op === "mean" ? h("span", {}, "(", ...joined, `)/${e.count}`) : h("span", {}, ...joined);
}

/** Does an inspect reply belong to the current selection? */
function matches(r, sel) {
  const n = r.neuron;
  if (!n) return false;
  const weightLayer = weightLayerOf(sel);  // the server's layers are weight layers
  if (sel.kind === "link") return r.weight && r.weight.layer === weightLayer && r.weight.i === sel.i && r.weight.j === sel.j;
  return n.layer === weightLayer && n.neuron === sel.j;
}

// The inspector: for a neuron, z, a and δ on the traced example and their batch means; for a
// link, its weight, its gradient and the chain rule with the engine's numbers, then the
// optimizer's update; for a bias, its value and ∂L/∂b = δ. A "Verify this step" button runs
// the finite-difference gradient check. Every number is the server's.

import { fmt } from "./canvas.js";
import { featureLabel } from "./state.js";

/** Build an element: h("div", {className: "x"}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "className" || k === "textContent" || k === "value") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return el;
}

function num(value, testid, digits = 5) {
  return h("span", { className: "num", "data-testid": testid,
    dataset: value === null || value === undefined ? {} : { value: String(value) } }, fmt(value, digits));
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
      if (sel.kind === "neuron") body.push(...this._neuron(state, sel, pending ? null : r));
      else if (sel.kind === "link") body.push(...this._link(state, sel, pending ? null : r));
      else if (sel.kind === "bias") body.push(...this._bias(state, sel, pending ? null : r));
    }
    this.root.replaceChildren(...body.filter(Boolean));
  }

  _gradcheck(state) {
    const g = state.gradcheck;
    if (!g) return null;
    const ok = g.passed ?? (g.max_rel_error !== null && g.max_rel_error < 1e-6);
    return h("div", { className: `gradcheck ${ok ? "ok" : "bad"}`, "data-testid": "gradcheck-result" },
      ok ? "✓ " : "✗ ", `Gradient check of step ${g.step ?? "?"}: largest relative error `,
      num(g.max_rel_error, "gradcheck-error", 3),
      ` over ${g.n_checked ?? "?"}/${g.n_params ?? "?"} parameters: `,
      ok ? "backprop matches finite differences" : "backprop and finite differences disagree");
  }

  _example(r) {
    if (!r) return null;
    return h("p", { className: "hint" }, `Step ${r.step}${r.applied ? "" : " (not applied yet)"}, traced example #${r.example}`,
      r.in_batch === false ? " (outside the batch: a one-example pass at the same weights)" : "",
      r.phase ? `, phase: ${r.phase}` : "");
  }

  _neuron(state, sel, r) {
    const isOut = sel.layer === (state.params ? state.params.weights.length : 0);
    const title = h("h3", {}, isOut ? `Output neuron ${sel.j + 1}` : `Layer ${sel.layer}, neuron ${sel.j + 1}`);
    if (sel.layer === 0) return [title, h("p", {}, "Inputs have no z or δ.")];
    if (!r) return [title, h("p", { className: "hint" }, "asking the engine…")];
    const n = r.neuron;
    const out = [title, this._example(r),
      h("table", { className: "nums" },
        h("tr", {}, h("th", {}, ""), h("th", {}, "example"), h("th", {}, "batch mean")),
        h("tr", {}, h("td", {}, "z"), h("td", {}, num(n.z, "neuron-z")), h("td", {}, num(n.z_mean, "neuron-z-mean"))),
        h("tr", {}, h("td", {}, "a"), h("td", {}, num(n.a, "neuron-a")), h("td", {}, num(n.a_mean, "neuron-a-mean"))),
        h("tr", {}, h("td", {}, "δ = ∂L/∂z"), h("td", {}, num(n.delta, "neuron-delta")), h("td", {}, num(n.delta_mean, "neuron-delta-mean"))))];
    if (n.yhat !== undefined) out.push(row("ŷ, target, loss", `${fmt(n.yhat)}, ${fmt(n.target)}, ${fmt(n.loss)}`));
    if (n.rule) out.push(h("div", { className: "formula" }, n.rule));
    if (n.formula) out.push(h("div", { className: "formula big" }, n.formula));
    if (n.note) out.push(h("p", { className: "hint" }, n.note));
    return out;
  }

  _link(state, sel, r) {
    const from = sel.layer === 0 ? (state.config.features[sel.i] ? featureLabel(state, state.config.features[sel.i]) : `input ${sel.i + 1}`) : `neuron ${sel.i + 1} of layer ${sel.layer}`;
    const nLayers = state.params ? state.params.weights.length : 0;
    const to = sel.layer + 1 === nLayers ? `output ${sel.j + 1}` : `neuron ${sel.j + 1} of layer ${sel.layer + 1}`;
    const w = state.params && state.params.weights[sel.layer] ? state.params.weights[sel.layer][sel.i][sel.j] : null;
    const out = [h("h3", {}, `Weight from ${from} to ${to}`),
      row("w (now)", num(w, "link-weight"),
        this._editor("weight", w, (v) => this.on.setWeight(sel.layer, sel.i, sel.j, v)))];
    if (!r || !r.weight) { out.push(h("p", { className: "hint" }, r ? "no gradient yet" : "asking the engine…")); return out; }
    const g = r.weight;
    // Two columns when the card is wide enough (the chain rule | the optimizer's update), so
    // the whole story fits a 1280×720 projector without scrolling.
    out.push(this._example(r), h("div", { className: "insp-cols" },
      h("div", {},
        h("h4", {}, "The chain rule on the traced example"),
        h("div", { className: "formula big", "data-testid": "chain-rule" },
          "∂L/∂w = δ_j · a_i = (", num(g.delta_j, "chain-delta"), ") × (", num(g.a_i, "chain-a"), ") = ",
          num(g.grad_example, "chain-value")),
        row("∂L/∂w used", num(g.grad, "grad-batch", 6)),
        h("div", { className: "hint" }, `(${g.batch_formula || "over the batch"})`)),
      this._update(g)));
    return out;
  }

  _update(g) {
    const u = g.update;
    const box = h("div", { className: "update" }, h("h4", {}, "The optimizer's update",
      u && u.optimizer ? ` (${u.optimizer}${u.rule ? `: ${u.rule}` : ""})` : ""));
    if (u && u.formula) box.appendChild(h("div", { className: "formula big", "data-testid": "update-formula" }, u.formula));
    if (u && typeof u === "object") {
      const shown = new Set(["formula", "optimizer", "rule", "grad", "weight_before", "weight_after"]);
      const terms = Object.entries(u).filter(([k, v]) => !shown.has(k) && (typeof v === "number" || typeof v === "string"));
      if (terms.length) {
        box.appendChild(h("div", { className: "terms" }, terms.map(([k, v]) => h("span", { className: "term" },
          `${k} = `, typeof v === "number" ? fmt(v) : v))));
      }
    }
    if (g.weight_after !== undefined) {
      // w before is the formula's first number; one line keeps the update on screen.
      box.appendChild(row("w after", h("span", { title: `before: ${fmt(g.weight, 6)}` }, fmt(g.weight_after, 6)),
        h("span", {}, "Δw = ", num(g.delta_w, "delta-w"))));
    } else if (!u) box.appendChild(h("p", { className: "hint" }, "the update is applied at the end of the step"));
    return box;
  }

  _bias(state, sel, r) {
    const b = state.params && state.params.biases[sel.layer] ? state.params.biases[sel.layer][sel.j] : null;
    const rec = state.record;
    const db = rec && rec.layers && rec.layers[sel.layer] ? rec.layers[sel.layer].db[sel.j] : null;
    const out = [h("h3", {}, `Bias of neuron ${sel.j + 1} in layer ${sel.layer + 1}`),
      row("b (now)", num(b, "bias-value"), this._editor("bias", b, (v) => this.on.setBias(sel.layer, sel.j, v))),
      row("∂L/∂b (batch)", num(db, "bias-grad"))];
    if (r && r.neuron) {
      out.push(this._example(r), h("div", { className: "formula big" },
        `∂L/∂b = δ_j · 1 = ${fmt(r.neuron.delta)} on the traced example; batch mean δ = ${fmt(r.neuron.delta_mean)}`));
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

/** Does an inspect reply belong to the current selection? */
function matches(r, sel) {
  const n = r.neuron;
  if (!n) return false;
  if (sel.kind === "link") return r.weight && r.weight.layer === sel.layer && r.weight.i === sel.i && r.weight.j === sel.j;
  const layer = sel.kind === "neuron" ? sel.layer - 1 : sel.layer;
  return n.layer === layer && n.neuron === sel.j;
}

// Compare mode on the page: the panel that starts it (which setting run B changes) and the
// card that shows B beside A: what differs, B's decision boundary and numbers. The two runs
// move in lockstep on the server; the loss and accuracy charts overlay B's curves.

import { fmt } from "./canvas.js";
import { h } from "./inspector_view.js";
import { choiceLabel, fieldLabel } from "./labels.js";

// The settings worth comparing, in the order offered (all live: the weights stay the same).
export const COMPARE_FIELDS = ["optimizer", "learning_rate", "activation", "batch_size", "regularization",
  "regularization_rate", "dropout", "momentum"];
const SUGGESTED = { optimizer: "adam", learning_rate: 3, activation: "relu", batch_size: 1,
  regularization: "l2", regularization_rate: 0.03, dropout: 0.3, momentum: 0.5 };

/** "optimizer: SGD → Adam" lines for what B changes. */
export function describeChanges(changes, configA) {
  return Object.entries(changes || {}).map(([k, v]) => {
    const show = (x) => (typeof x === "string" ? choiceLabel(x) : Array.isArray(x) ? x.join(", ") : String(x));
    return `${fieldLabel(k)}: ${show(configA ? configA[k] : "?")} → ${show(v)}`;
  });
}

export class CompareView {
  /** on: {start(changes), stop(), togglePanel(open), resized()}; boundaryB: a BoundaryView
   *  for run B, whose canvas sits beside A's in one wrapper. */
  constructor(button, panel, card, boundaryB, on) {
    this.button = button;
    this.panel = panel;
    this.card = card;
    this.boundaryB = boundaryB;
    this.on = on;
    this.key = "";
    this.choice = { field: "optimizer", value: SUGGESTED.optimizer };
    button.addEventListener("click", () => on.togglePanel(this.panel.hidden));
    card.querySelector("#btn-compare-stop").addEventListener("click", () => on.stop());
  }

  render(state) {
    const b = this.button;
    const comparing = !!state.compare;
    b.disabled = state.connection.status !== "open" || state.role === "follower" || !state.config;
    b.classList.toggle("live", comparing);
    b.setAttribute("aria-expanded", String(!this.panel.hidden));
    const key = JSON.stringify([!!state.ui.comparePanel, comparing, state.schema.length, this.choice]);
    if (key !== this.key) { this.key = key; this._panel(state); }
    this._card(state);
  }

  _panel(state) {
    this.panel.hidden = !state.ui.comparePanel;
    if (this.panel.hidden || !state.schema.length) return;
    const fields = COMPARE_FIELDS.map((n) => state.schema.find((f) => f.name === n)).filter(Boolean);
    const pick = h("select", { id: "compare-field", "aria-label": "Setting run B changes",
      onchange: (e) => { this.choice = { field: e.target.value, value: SUGGESTED[e.target.value] }; this.key = ""; this.render(state); } },
    ...fields.map((f) => { const o = new Option(fieldLabel(f.name), f.name); o.selected = f.name === this.choice.field; return o; }));
    const f = fields.find((x) => x.name === this.choice.field) || fields[0];
    let value;
    if (f.choices && f.choices.length) {
      value = h("select", { id: "compare-value", "aria-label": "Run B's value",
        onchange: (e) => { this.choice.value = e.target.value; } },
      ...f.choices.map((c) => { const o = new Option(choiceLabel(c), c); o.selected = c === this.choice.value; return o; }));
    } else {
      value = h("input", { id: "compare-value", type: "number", "aria-label": "Run B's value", step: "any",
        min: f.lo ?? undefined, max: f.hi ?? undefined, value: String(this.choice.value ?? f.default),
        onchange: (e) => { this.choice.value = f.kind === "int" ? Math.round(Number(e.target.value)) : Number(e.target.value); } });
    }
    const current = state.config ? state.config[f.name] : null;
    this.panel.replaceChildren(
      h("div", { className: "panel-title" }, "Compare two runs"),
      h("p", { className: "hint" }, "Run B starts from the same data and the same initial weights as this run (A) "
        + "and differs in one setting. Both restart from the seed and then step and play together."),
      h("div", { className: "row" }, h("label", { for: "compare-field" }, "B changes"), pick),
      h("div", { className: "row" }, h("label", { for: "compare-value" }, `to (A: ${current === null ? "—" : current})`), value),
      h("div", { className: "room-actions" },
        h("button", { type: "button", className: "primary", "data-testid": "compare-start",
          onclick: () => this.on.start({ [f.name]: this.choice.value ?? f.default }) }, "Start comparing"),
        state.compare ? h("button", { type: "button", onclick: () => this.on.stop() }, "Stop comparing") : null,
        h("button", { type: "button", onclick: () => this.on.togglePanel(false) }, "Cancel")));
  }

  _card(state) {
    const c = state.compare;
    this.card.hidden = !c;
    const wrap = this.boundaryB.canvas.parentElement;
    if (wrap.classList.contains("compare") !== !!c) {
      wrap.classList.toggle("compare", !!c);
      this.boundaryB.canvas.hidden = !c;
      this.on.resized();
    }
    if (!c) return;
    const m = c.metrics || {};
    const head = this.card.querySelector(".compare-what");
    const lines = describeChanges(c.changes, state.config);
    const text = `A (left) vs B (right): ${lines.join("; ")}`;
    if (head.textContent !== text) head.textContent = text;
    const stats = this.card.querySelector(".compare-stats");
    const acc = m.accuracy && m.accuracy.train !== null && m.accuracy.train !== undefined
      ? ` · acc. ${(m.accuracy.train * 100).toFixed(1)}%` : "";
    stats.replaceChildren(
      h("span", { className: "swatch-a" }, "A"), ` step ${state.counters.step} · loss ${fmt(state.loss.train, 4)}`,
      h("br"),
      h("span", { className: "swatch-b" }, "B"), " step ",
      h("b", { "data-testid": "compare-step" }, String(m.step ?? 0)), ` · loss `,
      h("b", { "data-testid": "compare-loss" }, fmt(m.loss ? m.loss.train : null, 4)), acc,
      ...(m.stopped ? [h("span", { className: "warn" }, ` · stopped: ${m.stopped}`)] : []));
    const maps = state.heatmaps;
    this.boundaryB.render({ ...state,
      heatmaps: maps && maps.compareOutput ? { ...maps, output: maps.compareOutput, focus: null } : null,
      ui: { ...state.ui, hover: null },
      stopped: m.stopped ? { reason: m.stopped, message: c.stopMessage } : null,
      record: null });
  }
}

// Compare mode on the page: the panel that starts it (which setting run B changes) and the
// card that shows B beside A: what differs, B's decision boundary and numbers. The two runs
// move in lockstep on the server; the loss and accuracy charts overlay B's curves.

import { formatNumber } from "./format.js";
import { h } from "./dom.js";
import { choiceLabel, fieldLabel } from "./labels.js";
import { layerSizes } from "./state.js";
import { CONFIG_FIELDS } from "./contract.js";

// The settings worth comparing, in the order offered. Which keep the weights (B starts as a
// copy of A's) and which draw new ones (B is a network of its own, both runs restart) is
// each field's effect in the engine's table (contract.js CONFIG_FIELDS: "live" and "model"
// keep them); data fields are never compared.
const KEEPS_WEIGHTS = new Set(CONFIG_FIELDS.filter((f) => f.effect === "live" || f.effect === "model").map((f) => f.name));
export const COMPARE_FIELDS = ["optimizer", "learning_rate", "activation", "batch_size", "regularization",
  "regularization_rate", "dropout", "momentum", "init", "batch_norm", "residual", "hidden", "features"];
// What B tries first, given A's config: a value that differs from A's.
const SUGGESTED = {
  optimizer: (a) => (a.optimizer === "adam" ? "sgd" : "adam"),
  learning_rate: (a) => (a.learning_rate >= 1 ? 0.03 : 3),
  activation: (a) => (a.activation === "relu" ? "tanh" : "relu"),
  batch_size: (a) => (a.batch_size === 1 ? 10 : 1),
  regularization: (a) => (a.regularization === "l2" ? "none" : "l2"),
  regularization_rate: (a) => (a.regularization_rate === 0.03 ? 0.003 : 0.03),
  dropout: (a) => (a.dropout === 0.3 ? 0 : 0.3),
  momentum: (a) => (a.momentum === 0.5 ? 0.9 : 0.5),
  init: (a) => ["he", "xavier", "uniform"].find((s) => s !== a.init),
  batch_norm: (a) => !a.batch_norm,
  residual: (a) => !a.residual,
  hidden: (a) => {  // twice as wide, or half as wide when A's layers are at the limit
    const wider = a.hidden.map((w) => Math.min(32, 2 * w));
    if (!a.hidden.length) return [4];
    return wider.join() !== a.hidden.join() ? wider : a.hidden.map((w) => Math.max(1, w >> 1));
  },
  features: (a) => (a.features.includes("x1_sq") ? ["x1", "x2"] : [...a.features, "x1_sq", "x2_sq"]),
};
const GROUPS = [
  { live: true, label: "Training (same start)" },
  { live: false, label: "Network (both restart)" },
];

/** A config value as the page words it: on/off, "8, 8" (or "none"), feature labels. */
export function showValue(name, value, featureLabels = {}) {
  if (value === undefined || value === null) return "—";
  if (typeof value === "boolean") return value ? "on" : "off";
  if (name === "hidden") return value.length ? value.join(", ") : "none";
  if (name === "features") return value.map((f) => featureLabels[f] || f).join(", ");
  if (Array.isArray(value)) return value.map((v) => choiceLabel(v)).join(", ");
  return typeof value === "string" ? choiceLabel(value) : String(value);
}

/** "Optimizer: SGD → Adam" lines for what B changes. */
export function describeChanges(changes, configA, featureLabels = {}) {
  return Object.entries(changes || {}).map(([k, v]) =>
    `${fieldLabel(k)}: ${showValue(k, configA ? configA[k] : undefined, featureLabels)} → ${showValue(k, v, featureLabels)}`);
}

/** "2–8–8–1": a network's layer sizes from its config (inputs, hidden layers, `outputs`). */
export function networkShape(config, outputs) {
  return [config.features.length, ...config.hidden, outputs].join("–");
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
    this.choice = { field: "optimizer", value: undefined };  // value: B's, once suggested
    button.addEventListener("click", () => on.togglePanel(this.panel.hidden));
    card.querySelector("#btn-compare-stop").addEventListener("click", () => on.stop());
  }

  render(state) {
    const b = this.button;
    const comparing = !!state.compare;
    b.disabled = state.connection.status !== "open" || state.role === "follower" || !state.config;
    b.classList.toggle("live", comparing);
    b.setAttribute("aria-expanded", String(!this.panel.hidden));
    if (this.choice.value === undefined && state.config) this.choice.value = SUGGESTED[this.choice.field](state.config);
    const key = JSON.stringify([!!state.ui.comparePanel, comparing, state.schema.length, this.choice, state.config]);
    if (key !== this.key) { this.key = key; this._panel(state); }
    this._card(state);
  }

  _panel(state) {
    this.panel.hidden = !state.ui.comparePanel;
    if (this.panel.hidden || !state.schema.length || !state.config) return;
    const fields = COMPARE_FIELDS.map((n) => state.schema.find((f) => f.name === n)).filter(Boolean);
    const option = (f) => { const o = new Option(fieldLabel(f.name), f.name); o.selected = f.name === this.choice.field; return o; };
    const pick = h("select", { id: "compare-field", "aria-label": "Setting run B changes",
      onchange: (e) => { this.choice = { field: e.target.value, value: SUGGESTED[e.target.value](state.config) }; this.render(state); } },
    ...GROUPS.map((g) => h("optgroup", { label: g.label },
      ...fields.filter((f) => KEEPS_WEIGHTS.has(f.name) === g.live).map(option))));
    const f = fields.find((x) => x.name === this.choice.field) || fields[0];
    const live = KEEPS_WEIGHTS.has(f.name);
    const current = showValue(f.name, state.config[f.name], state.featureLabels);
    this.panel.replaceChildren(
      h("div", { className: "panel-title" }, "Compare two runs"),
      h("p", { className: "hint", "data-testid": "compare-hint" }, live
        ? "Run B starts from the same data and the same initial weights as this run (A) and differs in one "
          + "setting. Both restart from the seed and then step and play together."
        : "Run B is a network of its own, on the same data and drawn from the same seed, and differs in "
          + "its structure. Both runs restart from step 0 and then step and play together."),
      h("div", { className: "row" }, h("label", { for: "compare-field" }, "B changes"), pick),
      h("div", { className: "row" }, h("label", { for: "compare-value" }, `to (A: ${current})`), this._value(f, state)),
      h("div", { className: "room-actions" },
        h("button", { type: "button", className: "primary", "data-testid": "compare-start",
          onclick: () => this.on.start({ [f.name]: this.choice.value ?? f.default }) },
        live ? "Start comparing" : "Restart both and compare"),
        state.compare ? h("button", { type: "button", onclick: () => this.on.stop() }, "Stop comparing") : null,
        h("button", { type: "button", onclick: () => this.on.togglePanel(false) }, "Cancel")));
  }

  /** The input for B's value of field `f` (a schema row), by its kind. */
  _value(f, state) {
    const v = this.choice.value;
    const set = (x) => { this.choice.value = x; };
    const select = (options) => h("select", { id: "compare-value", "aria-label": "Run B's value",
      onchange: (e) => set(options[e.target.selectedIndex][1]) },
    ...options.map(([label, x]) => { const o = new Option(label, String(x)); o.selected = x === v; return o; }));
    if (f.kind === "bool") return select([["on", true], ["off", false]]);
    if (f.kind === "choice" || f.kind === "per_layer") return select(f.choices.map((c) => [choiceLabel(c), c]));
    if (f.kind === "choices") {
      const chosen = new Set(v || []);
      const boxes = f.choices.map((c) => h("label", { className: "check" },
        h("input", { type: "checkbox", value: c, checked: chosen.has(c), "data-testid": `compare-feature-${c}` }),
        ` ${state.featureLabels[c] || c}`));
      return h("span", { id: "compare-value", className: "compare-features", role: "group", "aria-label": "Run B's input features",
        onchange: (e) => set([...e.currentTarget.querySelectorAll("input:checked")].map((x) => x.value)) }, ...boxes);
    }
    if (f.kind === "widths") {
      return h("input", { id: "compare-value", type: "text", "aria-label": "Run B's hidden layer widths",
        placeholder: "e.g. 8, 8 (empty: none)", value: (v || []).join(", "),
        onchange: (e) => set(e.target.value.split(/[\s,]+/).filter(Boolean).map(Number)) });
    }
    return h("input", { id: "compare-value", type: "number", "aria-label": "Run B's value", step: "any",
      min: f.lo ?? undefined, max: f.hi ?? undefined, value: String(v ?? f.default),
      onchange: (e) => set(f.kind === "int" ? Math.round(Number(e.target.value)) : Number(e.target.value)) });
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
    const lines = describeChanges(c.changes, state.config, state.featureLabels);
    const outputs = layerSizes(state).at(-1);
    const shapes = [state.config, c.config].map((x) => networkShape(x, outputs));
    if (shapes[0] !== shapes[1]) lines.push(`network: ${shapes[0]} → ${shapes[1]}`);
    const text = `A (left) vs B (right): ${lines.join("; ")}`;
    if (head.textContent !== text) head.textContent = text;
    const stats = this.card.querySelector(".compare-stats");
    const acc = m.accuracy && m.accuracy.train !== null && m.accuracy.train !== undefined
      ? ` · acc. ${(m.accuracy.train * 100).toFixed(1)}%` : "";
    stats.replaceChildren(
      h("span", { className: "swatch-a" }, "A"), ` step ${state.counters.step} · loss ${formatNumber(state.metrics.loss?.train, 4)}`,
      h("br"),
      h("span", { className: "swatch-b" }, "B"), " step ",
      h("b", { "data-testid": "compare-step" }, String(m.step ?? 0)), ` · loss `,
      h("b", { "data-testid": "compare-loss" }, formatNumber(m.loss ? m.loss.train : null, 4)), acc,
      ...(m.stopped ? [h("span", { className: "warn" }, ` · stopped: ${m.stopped}`)] : []));
    const maps = state.heatmaps;
    this.boundaryB.render({ ...state,
      heatmaps: maps && maps.compareOutput ? { ...maps, output: maps.compareOutput, full: null } : null,
      ui: { ...state.ui, hover: null },
      stopped: m.stopped ? { reason: m.stopped, message: c.stopMessage } : null,
      record: null });
  }
}

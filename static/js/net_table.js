// @ts-check
// The network's numbers as tables, for screen readers (WCAG 1.1.1, issue 26): each neuron's
// mean output and mean δ over the step's batch, each bias and ∂L/∂b, each link's weight and
// ∂L/∂w, and the charts' last values; the engine's numbers as the diagram shows them (a
// step's record, else the last frame's gradients). It sits visually hidden under the
// diagram; while playing it is rebuilt at most every REBUILD_MS, else after every step.

import { formatNumber } from "./format.js";
import { READOUT_CHARTS } from "./charts_view.js";
import { elementName, lastValues, shownGrads } from "./a11y_text.js";

const REBUILD_MS = 2000;

function table(caption, head, rows, testid) {
  const t = document.createElement("table");
  t.dataset.testid = testid;
  t.createCaption().textContent = caption;
  const hr = t.createTHead().insertRow();
  for (const h of head) { const th = document.createElement("th"); th.scope = "col"; th.textContent = h; hr.append(th); }
  const body = t.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    r.forEach((v, k) => {
      const cell = document.createElement(k ? "td" : "th");
      if (!k) cell.setAttribute("scope", "row");
      cell.textContent = typeof v === "number" || v === null ? formatNumber(v, 5) : v;
      tr.append(cell);
    });
  }
  return t;
}

export class NetTable {
  /** root: the visually hidden element under the diagram. */
  constructor(root) {
    this.root = root;
    this.built = 0;     // performance.now() of the last rebuild
    this.key = "";      // what the last rebuild showed
  }

  render(state) {
    const p = state.params;
    if (!p || !state.config) return;
    const now = performance.now();
    const key = `${state.counters.step}|${state.phase}|${state.ui.view}|${state.history.length}|${p.weights.length}`;
    if (key === this.key || (state.playing && now - this.built < REBUILD_MS)) return;
    this.key = key;
    this.built = now;
    const n = p.weights.length, g = shownGrads(state);
    const neurons = [], links = [];
    for (let l = 0; l < n; l++) {
      const L = g && g[l];
      for (let j = 0; j < p.biases[l].length; j++) {
        neurons.push([elementName(state, { kind: "neuron", layer: l + 1, j }, n),
          L && L.a_mean ? L.a_mean[j] : null, L && L.delta_mean ? L.delta_mean[j] : null,
          p.biases[l][j], L && L.db ? L.db[j] : null]);
      }
      p.weights[l].forEach((row, i) => row.forEach((w, j) => {
        links.push([elementName(state, { kind: "link", layer: l, i, j }, n), w, L && L.dW ? L.dW[i][j] : null]);
      }));
    }
    const step = `step ${state.counters.step}${state.phase ? `, phase ${state.phase}` : ""}`;
    const charts = document.createElement("ul");
    charts.dataset.testid = "chart-values";
    for (const c of READOUT_CHARTS) {
      const li = document.createElement("li");
      li.textContent = `${c.tab}: ${lastValues(c.key, state.history)}`;
      charts.append(li);
    }
    const head = document.createElement("h2");
    head.textContent = `The network's numbers at ${step}`;
    this.root.replaceChildren(head,
      table(`Neurons (${g ? "means over the step's batch" : "take a step for the batch's values"})`,
        ["neuron", "mean output a", "mean δ", "bias b", "∂L/∂b"], neurons, "net-table-neurons"),
      table("Links", ["link", "weight w", "∂L/∂w"], links, "net-table-links"),
      charts);
  }
}

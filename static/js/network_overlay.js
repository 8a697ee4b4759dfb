// The DOM controls laid over the network diagram: +/− for layers and neurons, a per-layer
// activation select above each hidden column, and a button over each input node that
// toggles its feature. Real buttons, so they are reachable by keyboard and named for ARIA.

import { choiceLabel } from "./labels.js";
import { CONFIG_FIELDS, LIMITS } from "./contract.js";
import { featureLabel, field } from "./state.js";

export const LEFT = 70;  // room for the input labels, left of the input nodes

/** Rebuild the overlay for `view`'s layout; returns the per-layer activation selects. */
export function buildOverlay(view, state, sizes, step) {
  const ov = view.overlay;
  ov.replaceChildren();
  const actSelects = [];
  const hidden = sizes.slice(1, -1);
  const actChoices = (field(state, "activation") || {}).choices || [];
  const limits = field(state, "hidden") || CONFIG_FIELDS.find((f) => f.name === "hidden");
  const colWidth = Math.max(60, Math.min(130, step - 8));
  const mk = (tag, props, parent = ov) => {
    const el = document.createElement(tag);
    Object.assign(el, props);
    parent.appendChild(el);
    return el;
  };
  // Layers +/−.
  const layerBox = view.layerBox;
  layerBox.replaceChildren();
  mk("button", { textContent: "+", title: "add a hidden layer", ariaLabel: "Add a hidden layer",
    disabled: hidden.length >= (state.limits.max_hidden_layers || LIMITS.max_hidden_layers),
    onclick: () => view.on.setHidden([...hidden, hidden.length ? hidden[hidden.length - 1] : 2]) }, layerBox);
  mk("button", { textContent: "−", title: "remove the last hidden layer",
    ariaLabel: "Remove a hidden layer", disabled: hidden.length === 0,
    onclick: () => view.on.setHidden(hidden.slice(0, -1)) }, layerBox);
  mk("span", { textContent: `${hidden.length} hidden layer${hidden.length === 1 ? "" : "s"}` }, layerBox);
  // Column headers.
  const head = (c, html) => {
    const x = view.nodes[c][0].x;
    const box = mk("div", { className: "net-col" });
    box.style.left = `${x - colWidth / 2}px`;
    box.style.width = `${colWidth}px`;
    if (html) box.textContent = html;
    return box;
  };
  head(0, "Features").classList.add("net-col-title");
  hidden.forEach((w, l) => {
    const box = head(l + 1);
    const row = mk("div", { className: "net-col-buttons" }, box);
    mk("button", { textContent: "+", ariaLabel: `Add a neuron to layer ${l + 1}`,
      title: "add a neuron", disabled: w >= limits.hi,
      onclick: () => view.on.setHidden(hidden.map((v, k) => (k === l ? v + 1 : v))) }, row);
    mk("button", { textContent: "−", ariaLabel: `Remove a neuron from layer ${l + 1}`,
      title: "remove a neuron", disabled: w <= limits.lo,
      onclick: () => view.on.setHidden(hidden.map((v, k) => (k === l ? v - 1 : v))) }, row);
    const count = mk("span", { className: "net-count", textContent: `${w} neuron${w === 1 ? "" : "s"}` }, box);
    if (count.scrollWidth > colWidth) { count.title = count.textContent; count.textContent = String(w); }  // narrow columns: the number
    const sel = mk("select", { ariaLabel: `Activation of layer ${l + 1}`, className: "net-act" }, box);
    for (const a of actChoices) sel.appendChild(new Option(choiceLabel(a), a));
    sel.onchange = () => view.on.setLayerActivation(l, sel.value);
    actSelects.push(sel);
  });
  head(sizes.length - 1, "Output").classList.add("net-col-title");
  // Feature toggles over the input nodes.
  const s = view.size;
  for (const node of view.nodes[0]) {
    const label = featureLabel(state, node.feature);
    const b = mk("button", { className: "feature-toggle" + (node.active ? " on" : ""),
      title: `${label}: click to ${node.active ? "remove" : "use"} this input feature` });
    b.setAttribute("aria-pressed", String(node.active));
    b.setAttribute("aria-label", `Input feature ${label}`);
    b.dataset.feature = node.feature;
    Object.assign(b.style, { left: `${node.x - s / 2 - LEFT + 6}px`, top: `${node.y - s / 2}px`,
      width: `${s + LEFT - 6}px`, height: `${s}px` });
    b.onclick = () => view.on.toggleFeature(node.feature);
    if (node.active) {
      b.onmouseenter = () => view.on.hover({ layer: 0, j: node.j });
      b.onmouseleave = () => view.on.hover(null);
    }
  }
  return actSelects;
}

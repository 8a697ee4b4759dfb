// Wires the store, the connection, the views and the controls. No logic of its own beyond
// routing: what to draw lives in the views, what to send in protocol.js.

import { savePng } from "./canvas.js";
import { BoundaryView } from "./boundary_view.js";
import { ChartsView } from "./charts_view.js";
import { Controls } from "./controls.js";
import { InspectorView } from "./inspector_view.js";
import { NetworkView } from "./network_view.js";
import { Connection, messages } from "./protocol.js";
import { Store, onlyLiveFields } from "./state.js";
import { Notices } from "./notices.js";
import { configDiff, decodeConfig, encodeConfig, urlHasConfig } from "./url.js";

const $ = (id) => document.getElementById(id);
const store = new Store(render);
const dispatch = (a) => store.dispatch(a);
const state = store.state;

const conn = new Connection(dispatch);
const send = (msg) => conn.send(msg);

const act = {
  // Live fields keep the weights: `set` for those, `configure` for anything else.
  configure: (changes) => send(onlyLiveFields(state, changes) ? messages.set(changes) : messages.configure(changes)),
  play: () => send(messages.play(state.ui.speed)),
  pause: () => send(messages.pause()),
  setSpeed: (speed) => { if (state.playing) send(messages.play(speed)); },
  step: () => send(messages.step(state.ui.stepUnit)),
  stepBack: () => send(messages.stepBack()),
  reset: () => send(messages.reset()),
  exportState: () => send(messages.exportState()),
  importState: (snapshot) => send(messages.importState(snapshot)),
  inspect: () => {
    const sel = state.ui.selection;
    if (!sel || !state.config) return;
    if (sel.kind === "neuron" && sel.layer === 0) return;
    send(messages.inspect(sel, state.ui.example));
  },
};

const onResize = () => store.invalidate("topology", "network", "boundary", "charts");
const network = new NetworkView($("network"), $("net-overlay"), $("net-layers"), {
  resized: onResize,
  select: (selection) => dispatch({ type: "select", selection }),
  hover: (hover) => dispatch({ type: "hover", hover }),
  toggleFeature: (name) => {
    const on = new Set(state.config.features);
    if (on.has(name)) { if (on.size === 1) return dispatch({ type: "toast", text: "Keep at least one input feature.", kind: "info" }); on.delete(name); }
    else on.add(name);
    act.configure({ features: [...on] });
  },
  setHidden: (hidden) => act.configure({ hidden }),
  setLayerActivation: (l, name) => {
    const n = state.config.hidden.length;
    const cur = state.config.activation;
    const acts = Array.isArray(cur) ? [...cur] : Array(n).fill(cur);
    acts[l] = name;
    act.configure({ activation: new Set(acts).size === 1 ? acts[0] : acts });
  },
});
const boundary = new BoundaryView($("boundary"), {
  resized: onResize,
  addPoint: (x1, x2, label) => send(messages.addPoint(x1, x2, label)),
  removePoint: (split, index) => send(messages.removePoint(split, index)),
  trace: (index) => dispatch({ type: "setExample", example: index }),
});
const charts = new ChartsView({ loss: $("chart-loss"), accuracy: $("chart-accuracy"), grads: $("chart-grads") }, onResize);
const inspector = new InspectorView($("inspector"), {
  gradcheck: () => { dispatch({ type: "gradcheckStarted" }); send(messages.gradcheck()); },
  setWeight: (layer, i, j, value) => send(messages.setWeight(layer, i, j, value)),
  setBias: (layer, j, value) => send(messages.setBias(layer, j, value)),
  clear: () => dispatch({ type: "select", selection: null }),
});
const controls = new Controls(act, dispatch);
const notices = new Notices($("banner"), $("toasts"), dispatch, () => conn.startNewSession());

function render(s, dirty) {
  const now = performance.now();
  if (dirty.has("network") || dirty.has("topology")) {
    if (network.render(s, dirty, now)) store.invalidate("network");
    else if (s.ui.anim && now - s.ui.anim.start >= s.ui.anim.duration) dispatch({ type: "animDone" });
  }
  if (dirty.has("boundary")) boundary.render(s);
  if (dirty.has("charts")) charts.render(s);
  if (dirty.has("inspector")) inspector.render(s);
  if (dirty.has("controls") || dirty.has("status")) controls.render(s);
  if (dirty.has("banner")) notices.render(s);
}

// The hovered neuron's full-resolution map: frames carry it while the server's view has it
// as `focus`. Hidden neurons and inputs only (the output's map is always full size);
// changes are coalesced so sweeping the mouse over the diagram sends a few messages.
let focusSent = null;
let focusTimer = 0;
function wantedFocus(s) {
  const h = s.ui.hover;
  return h && s.config && h.layer <= s.config.hidden.length ? { layer: h.layer, neuron: h.j } : null;
}
function syncFocus(s) {
  clearTimeout(focusTimer);
  focusTimer = setTimeout(() => {
    const want = wantedFocus(s);
    if (JSON.stringify(want) !== JSON.stringify(focusSent) && send(messages.focus(want))) focusSent = want;
  }, 80);
}

// Side effects that follow actions: re-inspecting after a change, the URL, downloads.
let urlConfig = null;
let lastInspect = 0;
let inspectTimer = 0;
function reinspect() {
  const wait = state.playing ? 250 - (performance.now() - lastInspect) : 0;
  clearTimeout(inspectTimer);
  inspectTimer = setTimeout(() => { lastInspect = performance.now(); act.inspect(); }, Math.max(0, wait));
}
store.listen((a, s) => {
  if (a.type === "hello") urlConfig = urlHasConfig(location.search, s.schema) ? decodeConfig(location.search, s.schema) : null;
  if (a.type === "state" && urlConfig) {
    const diff = configDiff(urlConfig.config, s.config);
    if (urlConfig.bad.length) dispatch({ type: "toast", text: `Ignored unreadable URL values: ${urlConfig.bad.join(", ")}` });
    urlConfig = null;
    if (Object.keys(diff).length) { act.configure(diff); return; }
  }
  if (a.type === "state" && s.config && s.schema.length) {
    const q = encodeConfig(s.config, s.schema);
    if (location.search.slice(1) !== q) history.replaceState(null, "", `${location.pathname}?${q}`);
  }
  if (["select", "setExample"].includes(a.type)) act.inspect();
  if (["state", "step", "metrics"].includes(a.type) && s.ui.selection) reinspect();
  if (a.type === "exported") download(a.snapshot);
  if (a.type === "state") focusSent = a.view ? a.view.focus ?? null : focusSent;  // the server's
  if (["hover", "state"].includes(a.type)) syncFocus(s);
});

function download(snapshot) {
  const blob = new Blob([JSON.stringify(snapshot)], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `backprop-lab-step${state.counters.step}.json`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

for (const b of document.querySelectorAll("button.png")) {
  b.addEventListener("click", () => {
    const which = b.dataset.png;
    if (which === "charts") charts.charts.forEach((c, k) => savePng(c.canvas, `backprop-lab-chart${k + 1}.png`));
    else savePng((which === "network" ? network : boundary).canvas, `backprop-lab-${which}.png`);
  });
}

window.addEventListener("beforeunload", () => conn.close());
// For the browser tests and the console: read-only handles, never used by the page itself.
window.backpropLab = { store, network, boundary, charts, conn };
store.invalidate(...["topology", "network", "boundary", "charts", "inspector", "controls", "banner"]);
conn.open();

// @ts-check
// Wires the page's accessibility parts (issue 26) to the store: the keyboard on the diagram
// and the plot (diagram_keys.js), the text version of the network (net_table.js), the live
// regions, and prefers-reduced-motion. main.js calls `wireA11y` once and `renderA11y` from
// its render.
//
// Live regions: the polite one says the step, the phase and the loss after a step the user
// asked for, and while playing at most once every PLAYING_EVERY_MS; the assertive one says a
// stop (divergence, a target reached) once.

import { DiagramKeys, PlotKeys, nearestExample } from "./diagram_keys.js";
import { NetTable } from "./net_table.js";
import { elementReading, spokenNumber, stepSentence } from "./a11y_text.js";
import { STOP_REASONS } from "./labels.js";

const PLAYING_EVERY_MS = 5000;
const $ = (id) => document.getElementById(id);

/** Put `text` in a live region (cleared first, so the same sentence is said again). */
function say(region, text) {
  if (!region) return;
  region.textContent = "";
  requestAnimationFrame(() => { region.textContent = text; });
}

let table = null;

/**
 * store: the page's Store; boundary: the BoundaryView of run A; act: {addPoint(x1, x2, label)}.
 */
export function wireA11y(store, boundary, act) {
  const state = store.state, dispatch = (a) => store.dispatch(a);
  const polite = $("announce-polite"), assertive = $("announce-assertive");
  table = new NetTable($("net-table"));
  new DiagramKeys($("network"), () => state, {
    focus: (el) => dispatch({ type: "keyFocus", focus: el }),
    moved: (el) => {
      const text = elementReading(state, el);
      $("net-focus").textContent = text;
      say(polite, text);
    },
    select: (el) => {
      dispatch({ type: "select", selection: el });
      say(polite, el ? `${elementReading(state, el)}; the inspector shows its numbers` : "selection cleared");
    },
  });
  new PlotKeys($("boundary"), () => state, {
    cursor: (at) => {
      dispatch({ type: "plotCursor", cursor: at });
      if (!at) return;
      const i = nearestExample(state.points, at.x1, at.x2);
      const near = i === null ? "" : `; nearest example #${i}, label ${spokenNumber(state.points.train.y[i])}`;
      const text = `cursor at x1 ${spokenNumber(at.x1)}, x2 ${spokenNumber(at.x2)}${near}`;
      $("plot-cursor").textContent = text;
      say(polite, text);
    },
    add: (x1, x2, other) => act.addPoint(x1, x2, boundary.labelFor(other)),
    trace: (x1, x2) => {
      const i = nearestExample(state.points, x1, x2);
      if (i !== null) { dispatch({ type: "setExample", example: i }); say(polite, `tracing example #${i}`); }
    },
  });

  let lastSaid = 0, lastStop = null;
  store.listen((a, s) => {
    const now = performance.now();
    if (a.type === "step" && a.metrics) { lastSaid = now; say(polite, stepSentence(s)); }
    else if (a.type === "metrics" && s.playing && now - lastSaid >= PLAYING_EVERY_MS) {
      lastSaid = now;
      say(polite, `Playing: ${stepSentence(s)}`);
    }
    const stop = s.stopped && s.stopped.reason ? s.stopped.reason : null;
    if (stop !== lastStop) {
      lastStop = stop;
      if (stop) say(assertive, `Stopped at step ${s.counters.step}: ${s.stopped.message || STOP_REASONS[stop] || stop}`);
    }
  });

  // Reduced motion: the phase animations' movement goes; the numbers appear at once.
  const motion = window.matchMedia("(prefers-reduced-motion: reduce)");
  const follow = () => dispatch({ type: "setUi", patch: { animate: !motion.matches } });
  motion.addEventListener("change", follow);
  follow();
}

/** The text version, redrawn with the diagram. */
export function renderA11y(state, dirty) {
  if (table && (dirty.has("network") || dirty.has("charts") || dirty.has("topology"))) table.render(state);
}

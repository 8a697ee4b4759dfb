// A room, beyond its panel (room_view.js draws that): the presenter's view mirrored to the
// followers (sent before any inspection it causes), the presenter's token kept for a
// reconnect, the reveal's answer shown where it came from, and a fork driven once ready.

import { messages, presenterTokens } from "./protocol.js";

// The presenter's choices a follower's page mirrors (state.js roomUi reads them back).
const MIRRORED_UI = ["showTest", "discretize", "lossScale", "lesson"];
const VIEW_ACTIONS = ["setView", "select", "setExample", "reveal"];

/** The presenter's view, as the `ui` message carries it. */
function uiOf(s) {
  return { view: s.ui.view, selection: s.ui.selection, example: s.ui.example, show_test: s.ui.showTest,
    discretize: s.ui.discretize, loss_scale: s.ui.lossScale, charts: s.ui.charts, chart_focus: s.ui.chartFocus,
    lesson: s.ui.lesson, reveal: s.ui.reveal };
}

/** send: the page's send; conn: the connection (a presenter's code, a fork's session). */
export function wireRoom(store, conn, send) {
  const dispatch = (a) => store.dispatch(a);
  const shareUi = (s) => send(messages.ui(uiOf(s)));
  store.on(["room"], (a, s) => {
    if (a.room && a.room.token) { presenterTokens.set(a.room.code, a.room.token); conn.present = a.room.code; }
    if (a.room && s.role === "presenter") shareUi(s);
  });
  store.on([...VIEW_ACTIONS, "setUi"], (a, s) => {
    if (s.role !== "presenter") return;
    if (a.type !== "setUi" || MIRRORED_UI.some((k) => k in a.patch)) shareUi(s);
  });
  // The reveal shows where the number came from: the inspector's walk for that link or neuron
  // (the followers' pages follow the presenter's selection).
  store.on(["revealed"], (a, s) => {
    const q = s.question;
    if (s.role !== "presenter" || !q || !q.reveal || !q.reveal.target) return;
    const t = q.reveal.target;
    if (q.kind === "delta_value") dispatch({ type: "setView", view: "backward" });
    dispatch({ type: "select", selection: { kind: t.kind, layer: t.layer, j: t.j, ...(t.i !== undefined ? { i: t.i } : {}) } });
  });
  store.on(["forked"], (a) => { if (a.session) conn.drive(a.session); });
}

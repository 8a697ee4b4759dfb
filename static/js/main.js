// Wires the store, the connection, the views and the controls, and nothing else: what to
// draw lives in the views, what to send in actions.js and protocol.js, and each side effect
// in the module it belongs to, subscribed to the actions it follows (store.on).

import { savePng, stackCanvases } from "./canvas.js";
import { BoundaryView } from "./boundary_view.js";
import { ChartsView } from "./charts_view.js";
import { Controls } from "./controls.js";
import { CsvImport } from "./csv_import.js";
import { InspectorView } from "./inspector_view.js";
import { NetworkView } from "./network_view.js";
import { Connection, messages } from "./protocol.js";
import { DEFAULT_LIMITS } from "./contract.js";
import { CompareView } from "./compare_view.js";
import { RoomView } from "./room_view.js";
import { QuestionView } from "./question_view.js";
import { SharePanel } from "./share.js";
import { Store } from "./state.js";
import { Notices } from "./notices.js";
import { RecordPanel } from "./record_panel.js";
import { Recorder } from "./recorder.js";
import { readPageLayout } from "./page_image.js";
import { readPageParams, readRoomParams } from "./url.js";
import { LessonsView, readLessons } from "./lessons.js";
import { renderProjector } from "./projector.js";
import { PageLayout } from "./layout.js";
import { renderA11y, wireA11y } from "./a11y.js";
import { followerGate } from "./follower_messages.js";
import { pageActions } from "./actions.js";
import { wirePageUrl } from "./page_url.js";
import { wireRoom } from "./room_sync.js";
import { wireInspect } from "./inspecting.js";
import { wireDownloads } from "./downloads.js";
import { wireMaps } from "./map_feed.js";

const $ = (id) => document.getElementById(id);
const store = new Store(render);
const dispatch = (a) => store.dispatch(a);
const state = store.state;
const conn = new Connection(dispatch);
const send = followerGate(state, dispatch, conn);
const lessonList = readLessons();
const act = pageActions({ state, dispatch, send, conn, lessons: lessonList });

const onResize = () => store.invalidate("topology", "network", "boundary", "charts");
const network = new NetworkView($("network"), $("net-overlay"), $("net-layers"), {
  resized: onResize,
  select: (selection) => dispatch({ type: "select", selection }),
  hover: (hover) => dispatch({ type: "hover", hover }),
  toggleFeature: act.toggleFeature,
  setHidden: (hidden) => act.configure({ hidden }),
  setWeight: act.setWeight,
  canEdit: () => state.role !== "follower",
  setLayerActivation: act.setLayerActivation,
});
const boundary = new BoundaryView($("boundary"), {
  resized: onResize,
  addPoint: act.addPoint,
  removePoint: act.removePoint,
  trace: (index) => dispatch({ type: "setExample", example: index }),
  askPoint: (x1, x2) => act.ask({ kind: "class_of_point", x1, x2 }),
});
const charts = new ChartsView($("charts-card"), $("chart-tabs"), onResize, { choose: (name) => dispatch({ type: "setUi", patch: { charts: name } }) });
const inspector = new InspectorView($("inspector"), {
  gradcheck: () => { dispatch({ type: "gradcheckStarted" }); send(messages.gradcheck()); },
  setWeight: act.setWeight,
  setBias: act.setBias,
  clear: () => dispatch({ type: "select", selection: null }),
});
const controls = new Controls(act, dispatch);
const lessons = new LessonsView($("btn-lessons"), $("lessons-menu"), $("lesson-card"), lessonList, {
  open: (id) => act.openLesson(id), close: () => act.closeLesson(), ask: (question) => act.ask(question) });
const boundaryB = new BoundaryView($("boundary-b"), {
  resized: onResize,
  addPoint: () => dispatch({ type: "toast", kind: "info", text: "Edit the data on run A (the left plot); B follows." }),
  removePoint: () => {},
  trace: () => {},
  askPoint: () => dispatch({ type: "toast", kind: "info", text: "Click the point on run A's plot (the left one)." }),
});
const layout = new PageLayout($("btn-more"), $("more-menu"), $("config-panel"), (id) => (lessons.byId(id) || {}).config || null);
const roomView = new RoomView($("btn-room"), $("room-panel"), $("room-bar"), {
  open: () => act.openRoom(), close: () => act.closeRoom(), fork: () => act.fork(),
  followAgain: () => act.followAgain(),
  togglePanel: (open) => dispatch({ type: "setUi", patch: { roomPanel: open } }),
});
const questionView = new QuestionView($("question-card"), {
  ask: (question) => act.ask(question),
  answer: (id, value) => send(messages.answer(id, value)),
  reveal: () => send(messages.reveal()),
  pickPoint: () => dispatch({ type: "setUi", patch: { clickMode: state.ui.clickMode === "ask" ? "add" : "ask" } }),
  dismiss: () => dispatch({ type: "dismissQuestion" }),
});
const compareView = new CompareView($("btn-compare"), $("compare-panel"), $("compare-card"), boundaryB, {
  start: (changes) => act.compare(changes), stop: () => act.compare(null), resized: onResize,
  togglePanel: (open) => dispatch({ type: "setUi", patch: { comparePanel: open } }),
});
// answered with a state: the exact float64 weights
new SharePanel($("btn-share"), $("share-panel"), store, () => send(messages.view()));
const csvImport = new CsvImport($("csv-dialog"), $("boundaries"), {
  preview: (name, text) => {
    dispatch({ type: "csvRead", name });
    if (!send(messages.importPoints(name, text))) dispatch({ type: "csvCancel" });
  },
  apply: (name, text) => { dispatch({ type: "csvApply" }); send(messages.importPoints(name, text, true)); },
  cancel: () => dispatch({ type: "csvCancel" }),
  refuse: (name, message) => dispatch({ type: "csvRefused", name, message }),
  limit: () => state.limits.max_import_bytes || DEFAULT_LIMITS.max_import_bytes,
});
act.readCsv = (file) => csvImport.read(file);
const notices = new Notices($("banner"), $("toasts"), dispatch, () => conn.startNewSession(), act.setParams);
wireA11y(store, boundary, { addPoint: act.addPoint });

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
  if (dirty.has("controls")) { lessons.render(s); renderProjector(s, $("btn-projector")); }
  if (["controls", "status", "inspector"].some((d) => dirty.has(d))) layout.render(s);
  if (dirty.has("banner")) notices.render(s);
  if (dirty.has("csv")) csvImport.render(s);
  if (dirty.has("room") || dirty.has("controls")) roomView.render(s);
  if (["question", "room", "network", "controls"].some((d) => dirty.has(d))) questionView.render(s);
  if (["boundary", "controls", "status", "charts"].some((d) => dirty.has(d))) compareView.render(s);
  renderA11y(s, dirty);
}

// Rooms: this tab's part comes from the URL (?join=, ?present=, ?forked=) and goes back into it.
const roomParams = readRoomParams(location.search);
conn.join = roomParams.join;
conn.present = roomParams.present;
if (roomParams.forked) dispatch({ type: "forked", code: roomParams.forked });

// Side effects, each in its module (in this order: the presenter's view goes out before the
// inspection it causes).
wirePageUrl(store, act, send);
store.on(["setUi"], (a) => { if ("projector" in a.patch) onResize(); });
wireRoom(store, conn, send);
wireInspect(store, send);
wireDownloads(store);
const maps = wireMaps(store, boundary);

// Exports for slides: each view redrawn at 2× for its PNG button; the recorder keeps the last
// steps of every view (and where they sit on the page) for the Record popover.
const exportViews = {
  network: () => [{ surface: network.surface, draw: () => network.render(state, new Set(), performance.now()) }],
  // in compare mode the Output card holds run A's plot and run B's under it: both go out
  boundary: () => [{ surface: boundary.surface, draw: () => boundary.render(state) },
    ...(state.compare ? [{ surface: boundaryB.surface, draw: () => compareView.render(state) }] : [])],
  charts: () => charts.charts.filter((c) => !c.canvas.hidden).map((c) => ({ surface: c.surface, draw: () => c.draw() })),
};
for (const b of document.querySelectorAll("button.png")) {
  b.addEventListener("click", () => {
    const which = b.dataset.png;
    const images = exportViews[which]().map((v) => v.surface.renderAt(2, v.draw));
    savePng(stackCanvases(images), `backprop-lab-${which}-step${state.counters.step}.png`);
  });
}
const recorded = { network: network.surface, boundary: boundary.surface, boundaryB: boundaryB.surface,
  ...Object.fromEntries(Object.entries(charts.lines).map(([key, chart]) => [key, chart.surface])) };
const recorder = new Recorder(recorded, {
  settled: () => !store.frame && !state.ui.anim,
  drawn: () => [...store.dirty].every((d) => d === "network"),  // only the animation's next frame waits
  finish: () => network.render({ ...state, ui: { ...state.ui, anim: null } }, new Set(), performance.now()),
  layout: () => readPageLayout(Object.fromEntries(Object.entries(recorded).map(([k, v]) => [k, v.canvas]))),
  onChange: (n) => recordPanel.showCount(n),
});
const recordPanel = new RecordPanel($("btn-record"), $("record-panel"), recorder, dispatch);
store.listen((a, s) => recorder.note(a, s));

window.addEventListener("beforeunload", () => conn.close());
// For the browser tests and the console: read-only handles, never used by the page itself.
window.backpropLab = { store, network, boundary, boundaryB, charts, conn, recorder, maps };
dispatch({ type: "setUi", patch: readPageParams(location.search) });
store.invalidate(...["topology", "network", "boundary", "charts", "inspector", "controls", "banner", "csv"]);
conn.open();

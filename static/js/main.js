// Wires the store, the connection, the views and the controls. No logic of its own beyond
// routing: what to draw lives in the views, what to send in protocol.js.

import { savePng, stackCanvases } from "./canvas.js";
import { BoundaryView } from "./boundary_view.js";
import { walkGoesOn } from "./backward_walk.js";
import { ChartsView } from "./charts_view.js";
import { Controls } from "./controls.js";
import { CsvImport } from "./csv_import.js";
import { InspectorView } from "./inspector_view.js";
import { NetworkView } from "./network_view.js";
import { Connection, messages, presenterTokens } from "./protocol.js";
import { CompareView } from "./compare_view.js";
import { RoomView } from "./room_view.js";
import { QuestionView } from "./question_view.js";
import { SharePanel, decodeWeights, encodeWeights, shapeWeights } from "./share.js";
import { Store, onlyLiveFields } from "./state.js";
import { Notices } from "./notices.js";
import { RecordPanel } from "./record_panel.js";
import { Recorder } from "./recorder.js";
import { readPageLayout } from "./snapshots.js";
import {
  configDiff, decodeConfig, encodeConfig, readPageParams, readRoomParams, urlHasConfig, withPageParams, withRoomParams,
} from "./url.js";
import { LessonsView, lessonChanges, readLessons } from "./lessons.js";
import { renderProjector } from "./projector.js";
import { PageLayout } from "./layout.js";
import { MapMaker, NEURON_GRID, NEURON_RANGE, featureGrid, mapOf } from "./heatmaps.js";
import { renderA11y, wireA11y } from "./a11y.js";

const $ = (id) => document.getElementById(id);
const store = new Store(render);
const dispatch = (a) => store.dispatch(a);
const state = store.state;

const conn = new Connection(dispatch);
// A room's follower watches read-only: only the hello's `follower_messages` are sent (the
// server would refuse the rest as `forbidden`); one a person asked for gets a hint, automatic
// ones are dropped quietly.
const AUTOMATIC = new Set(["inspect", "view", "ui"]);
const send = (msg) => {
  if (state.role === "follower" && !state.followerMessages.has(msg.type)) {
    if (!AUTOMATIC.has(msg.type)) {
      dispatch({ type: "toast", kind: "info", text: "You are following the presenter: the controls are read-only. "
        + "Fork to experiment on your own copy." });
    }
    return false;
  }
  return conn.send(msg);
};

const act = {
  // Live fields keep the weights: `set` for those, `configure` for anything else.
  configure: (changes) => send(onlyLiveFields(state, changes) ? messages.set(changes) : messages.configure(changes)),
  play: () => send(messages.play(state.ui.rate)),
  pause: () => send(messages.pause()),
  setSpeed: (rate) => { if (state.playing) send(messages.play(rate)); },
  step: () => (walkGoesOn(state) ? dispatch({ type: "reveal" }) : send(messages.step(state.ui.stepUnit))),
  stepBack: () => send(messages.stepBack()),
  reset: (data = false) => send(messages.reset(data)),
  exportState: () => send(messages.exportState()),
  importState: (snapshot) => send(messages.importState(snapshot)),
  readCsv: (file) => csvImport.read(file),
  exportPoints: () => send(messages.exportPoints()),
  // A lesson runs from its full config (engine defaults under the lesson's fields under
  // `overrides`) and fresh weights; `onlyIfChanged` leaves a session that is already there.
  openLesson: (id, { overrides = {}, onlyIfChanged = false } = {}) => {
    const lesson = lessons.byId(id);
    if (!lesson) {
      dispatch({ type: "setUi", patch: { lesson: null } });
      return dispatch({ type: "toast", text: `There is no lesson called “${id}”.`, kind: "info" });
    }
    // the lesson's pace and the chart it is about
    dispatch({ type: "setUi", patch: { lesson: id, rate: lesson.rate, charts: null, chartFocus: lesson.charts } });
    act.setSpeed(lesson.rate);
    const changes = lessonChanges(lesson, state.defaults, state.config, overrides);
    if (onlyIfChanged && !Object.keys(changes).length) return;
    if (Object.keys(changes).length) act.configure(changes);
    act.reset(true);  // the lesson's own data: points added by hand go
    if (typeof act.compare === "function" && (lesson.compare || state.compare)) act.compare(lesson.compare || null);
  },
  closeLesson: () => dispatch({ type: "setUi", patch: { lesson: null } }),
  openRoom: () => { send(messages.openRoom()); dispatch({ type: "setUi", patch: { roomPanel: true } }); },
  closeRoom: () => { send(messages.closeRoom()); dispatch({ type: "setUi", patch: { roomPanel: false } }); },
  fork: () => send(messages.fork()),
  // Back to the room: the fork ends (its slot freed) and the tab follows again.
  followAgain: () => {
    const code = state.forkOf;
    if (!code) return;
    conn.send(messages.leave());
    dispatch({ type: "unfork" });
    conn.follow(code);
  },
  compare: (changes) => { send(messages.compare(changes)); dispatch({ type: "setUi", patch: { comparePanel: false } }); },
  ask: (question) => { send(messages.ask(question)); if (state.ui.clickMode === "ask") dispatch({ type: "setUi", patch: { clickMode: "add" } }); },
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
  setWeight: (layer, i, j, value) => send(messages.setWeight(layer, i, j, value)),
  canEdit: () => state.role !== "follower",
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
  askPoint: (x1, x2) => act.ask({ kind: "class_of_point", x1, x2 }),
});
const charts = new ChartsView($("charts-card"), $("chart-tabs"), onResize, { choose: (name) => dispatch({ type: "setUi", patch: { charts: name } }) });
const inspector = new InspectorView($("inspector"), {
  gradcheck: () => { dispatch({ type: "gradcheckStarted" }); send(messages.gradcheck()); },
  setWeight: (layer, i, j, value) => send(messages.setWeight(layer, i, j, value)),
  setBias: (layer, j, value) => send(messages.setBias(layer, j, value)),
  clear: () => dispatch({ type: "select", selection: null }),
});
const controls = new Controls(act, dispatch);
const lessons = new LessonsView($("btn-lessons"), $("lessons-menu"), $("lesson-card"), readLessons(), {
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
const share = new SharePanel($("btn-share"), $("share-panel"), {
  link: (withWeights) => shareLink(state, withWeights),
  refresh: () => send({ type: "view" }),  // answered with a state: the exact float64 weights
});
const csvImport = new CsvImport($("csv-dialog"), $("boundaries"), {
  preview: (name, text) => {
    dispatch({ type: "csvRead", name });
    if (!send(messages.importPoints(name, text))) dispatch({ type: "csvCancel" });
  },
  apply: (name, text) => { dispatch({ type: "csvApply" }); send(messages.importPoints(name, text, true)); },
  cancel: () => dispatch({ type: "csvCancel" }),
  refuse: (name, message) => dispatch({ type: "csvRefused", name, message }),
  limit: () => state.limits.max_import_bytes || 4 * 1024 * 1024,
});
const notices = new Notices($("banner"), $("toasts"), dispatch, () => conn.startNewSession(),
  (params) => send(messages.setParams(params.weights, params.biases)));
wireA11y(store, boundary, { addPoint: (x1, x2, label) => send(messages.addPoint(x1, x2, label)) });

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

/** The share link: config (and lesson), and with `withWeights` the exact weights, or null
 *  while the page holds only a frame's float32 copy of them. */
function shareLink(s, withWeights) {
  if (!s.config) return "";
  let q = withPageParams(encodeConfig(s.config, s.schema), { lesson: s.ui.lesson, projector: false });
  if (withWeights) {
    if (s.paramsStep !== s.counters.step || !s.params) return null;
    q += `&w=${encodeWeights(s.params)}`;
  }
  return `${location.origin}${location.pathname}?${q}`;
}

// Rooms: this tab's part comes from the URL (?join=, ?present=, ?forked=) and goes back into it.
const roomParams = readRoomParams(location.search);
conn.join = roomParams.join;
conn.present = roomParams.present;
if (roomParams.forked) dispatch({ type: "forked", code: roomParams.forked });
let urlWeights = new URLSearchParams(location.search).get("w");
function shareUi(s) {  // the presenter's view, for the followers; sent before any inspect it causes
  send(messages.ui({ view: s.ui.view, selection: s.ui.selection, example: s.ui.example,
    show_test: s.ui.showTest, discretize: s.ui.discretize, loss_scale: s.ui.lossScale, charts: s.ui.charts,
    chart_focus: s.ui.chartFocus, lesson: s.ui.lesson,
    reveal: s.ui.reveal }));
}
function pageQuery(s) {
  const room = { join: s.role === "follower" && s.room ? s.room.code : null,
    present: s.role === "presenter" && s.room ? s.room.code : null, forked: s.role === "solo" ? s.forkOf : null };
  if (room.join) return withRoomParams(withPageParams("", { ...s.ui, lesson: null }), room);
  return withRoomParams(withPageParams(encodeConfig(s.config, s.schema), s.ui), room);
}

// Every heatmap is made here from the newest frame's weights (heatmaps.js), at most once an
// animation frame; the hovered neuron's full map comes from the same pass (no round trip).
const maps = new MapMaker((heatmaps, step) => dispatch({ type: "heatmaps", heatmaps, step }));
function featureMapsOf(s) {  // every input feature's map, for the diagram's feature pickers
  const field = s.schema.find((f) => f.name === "features");
  const names = field && field.choices ? field.choices : [];
  return { names, maps: mapOf(featureGrid(names, NEURON_GRID), NEURON_GRID, NEURON_RANGE) };
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
  if (a.type === "hello" && s.role === "follower") urlConfig = urlWeights = null;  // the room's config rules
  else if (a.type === "hello") {
    const { lesson } = readPageParams(location.search);
    urlConfig = urlHasConfig(location.search, s.schema) || lesson
      ? { ...decodeConfig(location.search, s.schema), lesson } : null;
  }
  if (a.type === "state" && urlConfig) {
    const { config, bad, lesson } = urlConfig;
    urlConfig = null;
    if (bad.length) dispatch({ type: "toast", text: `Ignored unreadable URL values: ${bad.join(", ")}` });
    // A lesson in the URL takes the URL's config fields as overrides, so the two never fight.
    if (lesson) { act.openLesson(lesson, { overrides: config, onlyIfChanged: true }); return; }
    const diff = configDiff(config, s.config);
    if (Object.keys(diff).length) { act.configure(diff); return; }
  }
  if (a.type === "state" && urlWeights && !urlConfig) {  // a share link's weights, once its config is in
    const shaped = shapeWeights(decodeWeights(urlWeights), s.params);
    urlWeights = null;
    if (shaped) send(messages.setParams(shaped.weights, shaped.biases));
    else dispatch({ type: "toast", text: "The link's weights do not fit its network; they were ignored." });
  }
  if (["state", "setUi", "room", "hello"].includes(a.type) && s.config && s.schema.length) {
    const q = pageQuery(s);
    if (location.search.slice(1) !== q) history.replaceState(null, "", `${location.pathname}?${q}`);
  }
  if (a.type === "setUi" && "projector" in a.patch) onResize();
  if (a.type === "room" && a.room && a.room.token) { presenterTokens.set(a.room.code, a.room.token); conn.present = a.room.code; }
  if (a.type === "room" && a.room && s.role === "presenter") shareUi(s);
  if (s.role === "presenter" && (["setView", "select", "setExample", "reveal"].includes(a.type)
    || (a.type === "setUi" && ["showTest", "discretize", "lossScale", "lesson"].some((k) => k in a.patch)))) shareUi(s);
  // The reveal shows where the number came from: the inspector's walk for that link or neuron
  // (the followers' pages follow the presenter's selection).
  if (a.type === "revealed" && s.role === "presenter" && s.question && s.question.reveal && s.question.reveal.target) {
    const t = s.question.reveal.target;
    if (s.question.kind === "delta_value") dispatch({ type: "setView", view: "backward" });
    dispatch({ type: "select", selection: { kind: t.kind, layer: t.layer, j: t.j, ...(t.i !== undefined ? { i: t.i } : {}) } });
  }
  if (["select", "setExample"].includes(a.type)) act.inspect();
  if (["state", "step", "metrics"].includes(a.type) && s.ui.selection) reinspect();
  if (a.type === "exported") download(a.snapshot);
  if (a.type === "pointsCsv") saveText(a.csv, `${a.name.replace(/\.[^.]*$/, "")}-points.csv`, "text/csv");
  if (a.type === "forked" && a.session) conn.drive(a.session);
  if (a.type === "state") share.update();
  if ((a.type === "weights" || a.type === "state") && s.wire && s.model) {
    maps.want({ model: s.model, params: s.wire.params, compare: s.wire.compare, step: s.wire.step,
      pixels: boundary.plotPixels() });
  }
  if (a.type === "hello" && s.schema.length) dispatch({ type: "featureMaps", ...featureMapsOf(s) });
});

function download(snapshot) {
  saveText(JSON.stringify(snapshot), `backprop-lab-step${state.counters.step}.json`, "application/json");
}

function saveText(text, name, type) {
  const blob = new Blob([text], { type });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

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

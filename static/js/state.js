// @ts-check
// The client state and its one dispatch path.
//
// Every change goes through `store.dispatch({type, ...})`. A reducer in REDUCERS mutates the
// state and returns the names of the views it made dirty; the store coalesces those into one
// redraw per animation frame. Reducers hold no training maths: numbers come from the server.

import { ErrorCode } from "./contract.js";
import { phaseView } from "./phases.js";
import { fieldLabel } from "./labels.js";
import { decodeWeightsFrame } from "./protocol.js";
import { exactStep, paramsOf, weightsFromFrame, weightsFromLayers } from "./weights.js";

/** @typedef {import("./protocol.js").Metrics} Metrics */
/** @typedef {import("./weights.js").Weights} Weights */

// What a reducer may mark dirty: a view's redraw, or a part of one (not contract.js VIEWS,
// the presenter's forward or backward pass).
export const DIRTY_NAMES = ["topology", "network", "boundary", "charts", "inspector", "status",
  "controls", "banner", "room", "csv", "question"];

export const HISTORY_CAP = 5000;  // points kept for the charts (older ones are thinned)

/**
 * The page's whole state: what the server sent (config, model, weights, metrics, records),
 * what the page made of it (heatmaps) and the page's own choices (`ui`). Views read it;
 * only REDUCERS write it.
 *
 * @typedef {{status: string, attempt: number, sessionId: string|null, resumed: boolean,
 *   reason?: string}} Connection
 * @typedef {import("./selection.js").Selection} Selection
 * @typedef {{units: number, n: number, codes: Uint8Array, lo: number, hi: number}} Map
 * @typedef {{n: number, output: Map, outputRange: number[], inputs: Map, neurons: Map[],
 *   full: Float32Array[], compareOutput: Map|null, step?: number}} Heatmaps
 * @typedef {import("./contract.js").Model} Model
 * @typedef {import("./weights.js").Params} Params
 * @typedef {{view: "forward"|"backward", selection: Selection|null, hover: {layer: number,
 *   j: number}|null, example: number|null, discretize: boolean, showTest: boolean,
 *   lossScale: string, charts: string|null, chartFocus: string, stepUnit: string,
 *   rate: number, classPick: number, regressionValue: number, clickMode: string,
 *   anim: {phase: string, start: number, duration: number}|null, animate: boolean,
 *   lesson: string|null, projector: boolean, reveal: number|null, [more: string]: any}} Ui
 * @typedef {{connection: Connection, role: string, room: any, compare: any, forkOf: string|null,
 *   protocol: number|null, limits: Object<string, any>, schema: any[], tasks: Object<string,
 *   string>, heads: Object<string, string[][]>,
 *   followerMessages: Set<string>, featureLabels: Object<string, string>,
 *   readouts: string[], config: any, weights: Weights|null, params: Params|null, points: any,
 *   counters: {step: number, epoch: number}, metrics: Metrics, history: Metrics[], record: any,
 *   frameGrads: {step: number, layers: any[]}|null, phase: string|null, stopped: any,
 *   playing: boolean, canStepBack: boolean, paramsStep: number|null, defaults: any,
 *   heatmaps: Heatmaps|null, featureMaps: {names: string[], maps: Map}|null,
 *   model: Model|null,
 *   unreadFrame: any, inspect: any, gradcheck: any, busy: {gradcheck: boolean},
 *   toasts: any[], lost: {reason: string, step: number|null, weights: Weights|null}|null,
 *   resumeNote: {restored: boolean}|null, configuring: string[]|null, question: any,
 *   ui: Ui}} State
 */

/** Why the last gradient check no longer describes the page (more steps, a step back, a
 *  changed setting), or null while it does. */
export function gradcheckStale(s) {
  const g = s.gradcheck;
  if (!g) return null;
  if (s.counters.step !== g.atStep) return `the weights have moved on to step ${s.counters.step}`;
  if (JSON.stringify(s.config) !== g.atConfig) return "the settings changed";
  return null;
}

/** @returns {State} */
export function initialState() {
  return {
    connection: { status: "connecting", attempt: 0, sessionId: null, resumed: false },
    role: "solo",            // solo | presenter (a class follows this session) | follower
    room: null,              // {code, role, followers, presenterOnline, joinPath, joinUrls, qr, token, relay}
    compare: null,           // compare mode's run B: {config, changes, metrics, history, stopMessage}
    forkOf: null,            // the room code this tab's session was forked from
    // the room's open question: {id, kind, prompt, choices, labels, target, x1, x2, tolerance,
    // step, answer (this follower's), tally (the presenter's counts), reveal (the engine's answer)}
    question: null,
    protocol: null,          // version from hello
    limits: {},
    schema: [],              // engine FIELDS rows from hello
    tasks: {},               // data set → "binary" | "regression" | "multiclass" (hello)
    heads: {},               // task → [[output_activation, loss], ...] valid pairs (hello)
    followerMessages: new Set(),  // what a room's follower may send (hello)
    featureLabels: {},       // feature → display label, e.g. x1_sq → "X₁²" (hello)
    readouts: [],            // the names of the readouts every metrics carries (hello)
    config: null,            // current engine config (field name → value)
    // The weights shown, their one copy (weights.js): the newest of a state's exact ones, a
    // step's record's, a frame's. `params` and `paramsStep` are read off them.
    weights: null,
    /** {weights: [l][i][j], biases: [l][j]} of `weights` (made once per weights). */
    get params() { return paramsOf(this.weights); },
    /** The step whose exact float64 weights the page has, or null (a frame's float32 copy). */
    get paramsStep() { return exactStep(this.weights); },
    points: null,            // {train: {x, y}, test: {x, y}}
    counters: { step: 0, epoch: 0 },
    metrics: { step: 0, epoch: 0 },  // the newest: {step, epoch, loss: {train, test}, ...a field per readout}
    history: [],             // one metrics per step charted, oldest first
    record: null,            // last step record (a `record` frame: StepRecord.arrays(), protocol.js) or null
    frameGrads: null,        // {step, layers: [{dW, db, delta_mean}]}: the last frame's gradients
    phase: null,             // trainer phase last shown (phase stepping)
    stopped: null,           // {reason, message} or null
    playing: false,
    canStepBack: false,
    defaults: null,
    heatmaps: null,          // {n, output, outputRange, neurons[], inputs} uint8 maps
    featureMaps: null,       // {names, maps: {units, n, codes}}: every input feature, once
    model: null,             // the network as the page evaluates it (state.model)
    unreadFrame: null,       // a frame for a model the page does not have yet
    inspect: null,           // last inspect reply
    gradcheck: null,         // last gradcheck reply
    busy: { gradcheck: false },
    toasts: [],              // [{id, text, kind}]
    // a CSV file on its way in (csv_import.js): idle | reading | preview | applying | refused;
    // `preview` is the server's points_preview, `error` its refusal naming the line
    csv: { status: "idle", name: "", preview: null, error: null },
    lost: null,              // {reason, step, params}: the session a reconnect could not resume
    resumeNote: null,        // {restored}: a reconnect resumed the session; said with its state
    configuring: null,       // the fields of the configure on its way (actions.js), till its state
    ui: {
      view: "forward",       // forward | backward
      selection: null,       // {kind: "neuron", layer, j} | {kind: "link", layer, i, j} | {kind: "bias", layer, j}
      hover: null,           // {layer, j} hovered neuron (layer 0 = inputs)
      example: null,         // training index traced by the inspector (null: batch's first)
      discretize: false,
      showTest: false,
      lossScale: "linear",
      charts: null,          // the chart tab picked (charts_view.js CHART_TABS), null: all where they fit
      chartFocus: "loss",    // the chart shown alone where three do not fit (a lesson's choice)
      stepUnit: "update",    // phase | update | epoch
      rate: DEFAULT_PLAY_RATE,  // updates a second while playing
      classPick: 1,          // class of the next added point
      regressionValue: 1,
      clickMode: "add",      // add | trace
      anim: null,            // {phase, start, duration} of the phase animation
      animate: true,
      lesson: null,          // id of the open guided lesson (lessons.js), kept in the URL
      projector: false,      // projector mode: large type, thick lines (projector.js), in the URL
      reveal: null,          // backward phase: how many steps of the inspector's walk back are shown (null: all)
      keyFocus: null,        // the diagram element the keyboard is on (diagram_keys.js), a Selection, while focused
      plotCursor: null,      // the output plot's keyboard cursor {x1, x2}, while focused
    },
  };
}

// Play speeds in updates a second, a log scale from one update at a time (each one drawn) to
// as fast as the server goes; 750 (25 updates a frame) is an epoch a frame of the default
// data, Playground's pace.
export const PLAY_RATES = [1, 2, 5, 10, 30, 75, 150, 300, 750, 1500, 3000, 6000];
export const DEFAULT_PLAY_RATE = 750;

let toastId = 0;

function sameTopology(a, b, tasks) {
  if (!a || !b) return false;
  const outputs = (c) => (tasks[c.dataset] === "multiclass" ? c.n_classes : 1);
  const key = (c) => JSON.stringify([c.features, c.hidden, outputs(c)]);
  return key(a) === key(b);
}

/** The newest metrics, kept whole and added to the history (which a step back trims). */
function mergeMetrics(s, m) {
  if (!m || typeof m.step !== "number") return;
  s.metrics = m;
  s.counters.step = m.step;
  if (typeof m.epoch === "number") s.counters.epoch = m.epoch;
  s.history = pushHistory(s.history, m);
}

/** `h` with `m` at its end (entries of its step or later dropped: a step back or a repeat),
 *  every other older entry thinned out past HISTORY_CAP. */
function pushHistory(h, m) {
  while (h.length && h[h.length - 1].step >= m.step) h.pop();
  h.push(m);
  return h.length > HISTORY_CAP ? h.filter((_, i) => i % 2 === 0 || i === h.length - 1) : h;
}

/** Take a weights frame in, if it is for the model the page has (else keep it for the state
 *  that brings its model); true when taken. */
function readFrame(s, frame) {
  const model = s.model;
  const f = model && decodeWeightsFrame(frame, model, s.compare ? s.compare.model : null);
  s.unreadFrame = f ? null : frame;
  if (!f) return false;
  // Frames carry float32 weights: newer than a state's exact ones only at another step.
  s.weights = weightsFromFrame(s.weights, model, f);
  // ...and the last update's gradients, for the backward view while playing or joining late.
  s.frameGrads = f.grads ? { step: f.step, layers: f.grads } : null;
  return true;
}

/** Compare mode: B's numbers from a state (`whole`: it replaces B) or a step/metrics. */
function mergeCompare(s, c, whole) {
  if (whole) {
    if (!c) { s.compare = null; return; }
    const history = c.history ? [...c.history] : s.compare ? s.compare.history : [];
    s.compare = { config: c.config, model: c.model, changes: c.changes, metrics: c.metrics,
      stopMessage: c.stop_message, history };
    pushCompare(s.compare, c.metrics);
    return;
  }
  if (!c || !s.compare) return;
  s.compare.metrics = c;
  pushCompare(s.compare, c);
}

function pushCompare(b, m) {
  if (m && typeof m.step === "number") b.history = pushHistory(b.history, m);
}

// What a configure did, as the server says (state.effect, contract.js CONFIG_FIELDS' effects).
const EFFECT_TEXT = { none: "nothing else changes", live: "weights kept", model: "weights kept, another function",
  network: "a new network from the seed", data: "new points and a new network" };

const QUIET_ERRORS = new Set([ErrorCode.RATE_LIMITED]);

/** @type {Object<string, (s: State, a: any) => (string[]|void)>} */
export const REDUCERS = {
  connection(s, a) {
    Object.assign(s.connection, { status: a.status, attempt: a.attempt ?? s.connection.attempt,
      reason: a.reason || "" });
    if (a.status !== "open") s.playing = false;
    return ["banner", "status", "controls"];
  },
  hello(s, a) {
    s.protocol = a.protocol;
    s.limits = a.limits || {};
    s.defaults = a.defaults || null;
    if (a.schema && a.schema.length) s.schema = a.schema;
    s.tasks = {};
    for (const [task, names] of Object.entries(a.tasks || {})) for (const n of names) s.tasks[n] = task;
    s.heads = a.heads || {};
    s.followerMessages = new Set(a.followerMessages || []);
    s.featureLabels = a.featureLabels || {};
    s.readouts = a.readouts || [];
    // The truth about a reconnect: the session this tab asked for is back (said once its
    // state, with the step, arrives), or it was lost and the server says why; the weights
    // this page still shows are then offered back (notices.js).
    if (a.lost) {
      s.lost = { reason: a.lost, step: s.metrics ? s.metrics.step : null, weights: s.weights };
    } else if (a.resumed && s.connection.attempt > 0) {
      s.resumeNote = { restored: !!a.restored };
    }
    Object.assign(s.connection, { sessionId: a.sessionId, resumed: !!a.resumed, status: "open", attempt: 0 });
    s.role = a.role || "solo";
    s.room = a.room || null;
    s.question = null;  // the room says it again, with this tab's answer
    return ["banner", "controls", "status", "room", "question"];
  },
  state(s, a) {
    const topologyChanged = !sameTopology(s.config, a.config, s.tasks);
    const dirty = ["network", "boundary", "controls", "status", "inspector", "charts"];
    if (topologyChanged) {
      dirty.push("topology");
      s.ui.selection = null; s.ui.hover = null; s.inspect = null; s.gradcheck = null;
      s.heatmaps = null;
    }
    const dataChanged = !!a.points && !!s.points;
    s.config = a.config;
    s.model = a.model;
    // the exact (float64) weights of this step
    s.weights = a.model && a.params && a.metrics
      ? weightsFromLayers(a.model, a.params.weights, a.params.biases, a.metrics.step, true, s.weights) : null;
    if (a.points) s.points = a.points;
    if (a.history) { s.history = []; for (const m of a.history) mergeMetrics(s, m); }
    mergeMetrics(s, a.metrics);
    s.playing = a.playing;
    if (a.playing && a.rate) s.ui.rate = a.rate;  // the session's pace (a room's, for its class)
    s.stopped = a.stopped;
    s.phase = a.phase;
    s.canStepBack = a.canStepBack;
    // What the server did with the page's configure (its reply's `effect`): said in a toast
    // that the next one replaces (the page no longer predicts it).
    if (a.effect && s.configuring) {
      const [first, ...more] = s.configuring;
      const what = first ? `${fieldLabel(first)}${more.length ? ` and ${more.length} more` : ""} changed: ` : "";
      REDUCERS.toast(s, { kind: "info", key: "config-effect", text: `${what}${EFFECT_TEXT[a.effect] || a.effect}.` });
      dirty.push("banner");
    }
    s.configuring = null;
    if (s.resumeNote) {
      const cut = s.resumeNote.restored ? " (the server had restarted: step back starts from here)" : "";
      REDUCERS.toast(s, { kind: "info", key: "resumed", text: `Reconnected: resumed at step ${a.metrics.step}${cut}.` });
      s.resumeNote = null;
      dirty.push("banner");
    }
    mergeCompare(s, a.compare, true);
    if (s.unreadFrame) readFrame(s, s.unreadFrame);  // it came before this state's model
    // The last record stays on screen only while it still describes these weights' step.
    const r = s.record;
    if (r && (topologyChanged || dataChanged || (r.applied ? r.step !== s.counters.step : r.step !== s.counters.step + 1))) {
      s.record = null; s.ui.anim = null;
    }
    if (dataChanged && s.ui.example !== null && s.points && s.ui.example >= s.points.train.x.length) s.ui.example = null;
    if (a.points && s.csv.status === "applying") { s.csv = { status: "idle", name: "", preview: null, error: null }; dirty.push("csv"); }
    return dirty;
  },
  /** A configure went out: its reply's `effect` says what became of these fields. */
  configureSent(s, a) { s.configuring = a.fields; return []; },
  /** A CSV file is being read and previewed by the server (nothing changes yet). */
  csvRead(s, a) { s.csv = { status: "reading", name: a.name, preview: null, error: null }; return ["csv"]; },
  pointsPreview(s, a) {
    if (s.csv.status !== "reading") return [];  // cancelled meanwhile
    s.csv = { ...s.csv, status: "preview", preview: a.preview };
    return ["csv"];
  },
  csvApply(s) { s.csv = { ...s.csv, status: "applying" }; return ["csv"]; },
  /** Cancel (or a refusal read): the dialog closes, nothing was changed. */
  csvCancel(s) { s.csv = { status: "idle", name: "", preview: null, error: null }; return ["csv"]; },
  /** A file refused before it left the page (too large to send). */
  csvRefused(s, a) { s.csv = { status: "refused", name: a.name, preview: null, error: a.message }; return ["csv"]; },
  step(s, a) {
    if (a.record) s.record = a.record;
    s.phase = a.phase ?? null;
    // a phase step shows its phase in its own view (the toggle can switch it afterwards)
    if (s.phase) s.ui.view = phaseView(s.phase);
    // The backward phase with something selected: the inspector walks back from ℓ one
    // step per press of Step (backward_walk.js), starting with the first.
    s.ui.reveal = s.phase === "backward" && s.ui.selection ? 1 : null;
    if (a.metrics) { mergeMetrics(s, a.metrics); mergeCompare(s, a.compare, false); }
    // The record's W and b (as shown) become the weights; the record keeps the rest.
    const layers = a.record ? a.record.layers : [];
    if (s.model && layers.length && layers.every((L) => L.W && L.b)) {
      const w = weightsFromLayers(s.model, layers.map((L) => L.W), layers.map((L) => L.b), s.counters.step, false, s.weights);
      if (w) s.weights = w;
      for (const L of layers) { delete L.W; delete L.b; }
    }
    if (a.stopped !== undefined) s.stopped = a.stopped;
    s.playing = false;
    if (a.record && a.animate && s.ui.animate) {
      s.ui.anim = { phase: a.phase || "all", start: performance.now(), duration: a.phase ? 500 : 1200 };
    }
    return ["network", "boundary", "charts", "status", "inspector", "controls"];
  },
  metrics(s, a) {
    mergeMetrics(s, a.metrics);
    mergeCompare(s, a.compare, false);
    if (typeof a.playing === "boolean") s.playing = a.playing;
    // A record from an earlier update would show stale gradients: drop it.
    if (s.record && s.record.step !== s.counters.step) { s.record = null; s.ui.anim = null; }
    return ["network", "charts", "status", "boundary", "controls"];
  },
  stopped(s, a) {
    s.stopped = a.reason ? { reason: a.reason, message: a.message || a.reason } : null;
    if (a.reason) s.playing = false;
    return ["status", "controls", "boundary", "network"];
  },
  featureMaps(s, a) {
    s.featureMaps = { names: a.names, maps: a.maps };
    return ["network"];
  },
  /** A weights frame: the weights and gradients now, the maps once heatmaps.js made them. */
  weights(s, a) { return readFrame(s, a.frame) ? ["network"] : []; },
  heatmaps(s, a) {
    s.heatmaps = a.heatmaps;
    return ["network", "boundary"];
  },
  inspect(s, a) {
    s.inspect = a.result;
    return ["inspector", "network"];  // the diagram's δ follow the traced example
  },
  /** One more step of the inspector's walk back through the graph (backward phase). */
  reveal(s) {
    if (s.ui.reveal !== null) s.ui.reveal += 1;
    return ["inspector", "network"];
  },
  gradcheck(s, a) {
    // what it checked: the step, at the weights and settings the page has now
    s.gradcheck = { ...a.result, atStep: s.counters.step, atConfig: JSON.stringify(s.config) };
    s.busy.gradcheck = false;
    return ["inspector"];
  },
  gradcheckStarted(s) { s.busy.gradcheck = true; s.gradcheck = null; return ["inspector"]; },
  serverError(s, a) {
    if (a.re === "gradcheck") s.busy.gradcheck = false;
    if (s.csv.status !== "idle" && (a.re === "import_points" || (a.code === ErrorCode.TOO_LARGE && s.csv.status === "reading"))) {  // shown in the dialog, line and all
      s.csv = { ...s.csv, status: "refused", preview: null, error: a.message };
      return ["csv"];
    }
    if (QUIET_ERRORS.has(a.code) && s.toasts.some((t) => t.code === a.code)) return [];
    // The refused control snaps back to the server's value.
    return [...(REDUCERS.toast(s, { text: a.message, kind: a.code === ErrorCode.REJECTED ? "info" : "error", code: a.code }) || []),
      "controls"];
  },
  /** A toast; one with a `key` replaces the earlier toast with that key ("encoding…" → "saved"). */
  toast(s, a) {
    if (a.key) s.toasts = s.toasts.filter((t) => t.key !== a.key);
    s.toasts.push({ id: ++toastId, text: a.text, kind: a.kind || "error", code: a.code || null, key: a.key || null });
    if (s.toasts.length > 4) s.toasts.shift();
    return ["banner"];
  },
  /** The lost-session notice is answered (its weights put back, or dismissed). */
  dismissLost(s) { s.lost = null; return ["banner"]; },
  dismissToast(s, a) {
    s.toasts = s.toasts.filter((t) => t.id !== a.id);
    return ["banner"];
  },
  setView(s, a) { s.ui.view = a.view; s.ui.anim = null; return ["network", "controls"]; },
  select(s, a) {
    s.ui.selection = a.selection;
    s.inspect = null;
    return ["network", "inspector"];
  },
  hover(s, a) {
    const same = JSON.stringify(s.ui.hover) === JSON.stringify(a.hover);
    s.ui.hover = a.hover;
    return same ? [] : ["boundary", "network"];
  },
  setExample(s, a) { s.ui.example = a.example; s.inspect = null; return ["boundary", "inspector"]; },
  setUi(s, a) {
    Object.assign(s.ui, a.patch);
    return ["boundary", "charts", "controls", "status", "network"];
  },
  animDone(s) { s.ui.anim = null; return ["network"]; },
  keyFocus(s, a) { s.ui.keyFocus = a.focus; return ["network"]; },
  plotCursor(s, a) { s.ui.plotCursor = a.cursor; return ["boundary"]; },
  room(s, a) {
    s.room = a.room;
    s.role = a.role === "follower" ? "follower" : a.room ? "presenter" : "solo";
    return ["room", "controls", "status"];
  },
  /** The presenter's view, mirrored on a follower's page. */
  roomUi(s, a) {
    const u = a.ui || {};
    if (u.view) s.ui.view = u.view;
    if ("selection" in u && JSON.stringify(u.selection ?? null) !== JSON.stringify(s.ui.selection)) {
      s.ui.selection = u.selection ?? null;
      s.inspect = null;
    }
    if ("example" in u) s.ui.example = u.example ?? null;
    if ("show_test" in u) s.ui.showTest = !!u.show_test;
    if ("discretize" in u) s.ui.discretize = !!u.discretize;
    if ("loss_scale" in u) s.ui.lossScale = u.loss_scale;
    if ("charts" in u) s.ui.charts = u.charts ?? null;
    if ("chart_focus" in u) s.ui.chartFocus = u.chart_focus || "loss";
    if ("lesson" in u) s.ui.lesson = u.lesson ?? null;  // the lesson card, to read along
    if ("reveal" in u) s.ui.reveal = u.reveal ?? null;
    return ["network", "boundary", "charts", "inspector", "controls"];
  },
  /** A follower's fork is ready: the page drives it from now on (main.js reconnects). */
  forked(s, a) {
    s.forkOf = a.code || (s.room ? s.room.code : s.forkOf);
    return ["room"];
  },
  /** Back to following the room this tab forked from. */
  unfork(s) { s.forkOf = null; return ["room"]; },
  /** The presenter's question (a new one replaces the card; the same one may bring this
   *  follower's answer back, as the server counted it). */
  question(s, a) {
    const q = a.question;
    if (!s.question || s.question.id !== q.id) s.question = { ...q, tally: null, reveal: null };
    else if (q.answer !== null) s.question.answer = q.answer;
    return ["question"];
  },
  /** The class's counts so far (presenter). */
  answers(s, a) {
    if (s.question && s.question.id === a.id) s.question.tally = a.tally;
    return ["question"];
  },
  /** The engine's answer and the final counts. */
  revealed(s, a) {
    if (s.question && s.question.id === a.id) s.question.reveal = a.reveal;
    return ["question"];
  },
  dismissQuestion(s) { s.question = null; return ["question"]; },
  exported() { return []; },
  pointsCsv() { return []; },  // a download (main.js), no state
};

/** Holds the state, applies actions, and calls `render(state, dirty)` once per frame. */
export class Store {
  constructor(render) {
    this.state = initialState();
    this.render = render;
    this.dirty = new Set();
    this.frame = 0;
    this.listeners = [];
  }

  dispatch(action) {
    const reducer = REDUCERS[action.type];
    if (!reducer) throw new Error(`unknown action ${action.type}`);
    const dirty = reducer(this.state, action) || [];
    for (const d of dirty) this.dirty.add(d);
    for (const fn of this.listeners) fn(action, this.state);
    this.schedule();
  }

  /** Call `fn(action, state)` after every action. */
  listen(fn) { this.listeners.push(fn); }

  /** Call `fn(action, state)` after each action of one of `types`: a module's side effects
   *  (re-inspecting, the URL, downloads) subscribe to what they follow. */
  on(types, fn) {
    const wanted = new Set(types);
    this.listen((a, s) => { if (wanted.has(a.type)) fn(a, s); });
  }

  /** Mark views dirty without an action (resize, animation frames). */
  invalidate(...names) { for (const d of names) this.dirty.add(d); this.schedule(); }

  schedule() {
    if (this.frame || this.dirty.size === 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const dirty = this.dirty;
      this.dirty = new Set();
      this.render(this.state, dirty);
    });
  }
}

/** The engine field table row for `name`, or undefined. */
export function field(state, name) {
  return state.schema.find((f) => f.name === name);
}

/** 'binary', 'regression' or 'multiclass' for the current data set, from the hello's tasks. */
export function taskOf(state) {
  const c = state.config;
  return (c && state.tasks[c.dataset]) || "binary";
}

/** The display label of input feature `name` (from the hello), e.g. "X₁²". */
export function featureLabel(state, name) {
  return state.featureLabels[name] || name;
}

/** Layer sizes [inputs, ...hidden, outputs] from the weights (the truth) or the config. */
export function layerSizes(state) {
  const p = state.params;
  if (p && p.weights && p.weights.length) {
    return [p.weights[0].length, ...p.weights.map((w) => (w[0] ? w[0].length : 0))];
  }
  const c = state.config;
  if (!c) return [];
  const k = taskOf(state) === "multiclass" ? c.n_classes : 1;
  return [c.features.length, ...c.hidden, k];
}

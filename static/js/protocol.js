// @ts-check
// The WebSocket protocol: the only module that builds or parses messages. What the two sides
// must agree on (the version, message types, close codes, the binary frames' layout) it reads
// from contract.js, generated from server/protocol.py and server/frames.py.
//
// Text frames are JSON objects with a `type`. Binary frames (server → client) are
//   0  4  magic (FRAME.magic) | 4 2 u16 format version | 6 2 u16 reserved | 8 4 u32 H (header bytes)
//   12 H  UTF-8 JSON header {"kind": "frame" | "record", ..., "arrays": [...]}
//   12+H  payload; entry {name, layer?, shape, dtype: "float32" | "float16", offset}: every
//         offset a multiple of 4 (each float array padded to 4 bytes, float16 ones too)
// All little-endian. A "frame" carries the weights (`params`, laid out by frame_layout.js), the
// last update's gradients (`grads`) and compare mode's B (`compare_params`); the page makes
// every heatmap from them (heatmaps.js).

import { CloseCode, FRAME, PROTOCOL_VERSION } from "./contract.js";
import { gradientLayout, paramLayout, rowsAt } from "./frame_layout.js";
import { weightLayerOf } from "./selection.js";

const SESSION_KEY = "backprop-lab-session";
const ROOM_KEY = "backprop-lab-rooms";  // localStorage: {code: presenter token} of this browser
const VOTER_KEY = "backprop-lab-voter";  // sessionStorage: this tab's voter id for a room's questions

/** Builders for every client → server message (server/protocol.py, "client → server"). */
export const messages = {
  /** A partial config; the server decides whether it keeps the weights. */
  configure: (config) => ({ type: "configure", config }),
  /** A bare {"type": "step"} is exactly one update. */
  step: (unit = "update", count = 1) => (unit === "update" && count === 1
    ? { type: "step" } : { type: "step", unit, count }),
  play: (rate) => ({ type: "play", rate }),  // updates a second
  pause: () => ({ type: "pause" }),
  reset: (data = false) => (data ? { type: "reset", data: true } : { type: "reset" }),
  stepBack: () => ({ type: "step_back" }),
  /**
   * The page's selection → Inspect. Page layers: a neuron sits in node layer `layer`
   * (0 = inputs), a link or bias in weight layer `layer` (feeding node layer layer + 1).
   */
  inspect: (sel, example) => {
    const m = { type: "inspect", layer: weightLayerOf(sel), neuron: sel.j };
    if (sel.kind === "link") m.source = sel.i;
    if (example !== null && example !== undefined) m.example = example;
    return m;
  },
  setWeight: (layer, source, neuron, value) => ({ type: "set_weight", layer, source, neuron, value }),
  setBias: (layer, neuron, value) => ({ type: "set_weight", layer, neuron, value }),
  addPoint: (x1, x2, label, split = "train") => ({ type: "add_point", x1, x2, label, split }),
  removePoint: (split, index) => ({ type: "remove_point", split, index }),
  exportState: () => ({ type: "export" }),
  importState: (snapshot) => ({ type: "import", snapshot }),
  /** Your own data: a CSV file's text, previewed (apply false: nothing changes) or trained on. */
  importPoints: (name, csv, apply = false) => ({ type: "import_points", name, csv, apply }),
  /** The points (train and test, with the split) as CSV in the file's units. */
  exportPoints: () => ({ type: "export_points" }),
  gradcheck: () => ({ type: "gradcheck" }),
  /** Asks for a `state` now (the exact float64 weights, for a share link). */
  view: () => ({ type: "view" }),
  /** End the session now (frees its slot). Never sent on unload: a reload must resume. */
  leave: () => ({ type: "leave" }),
  /** Every weight and bias at once, in the shapes of state.params (a share URL's weights). */
  setParams: (weights, biases) => ({ type: "set_params", weights, biases }),
  openRoom: () => ({ type: "open_room" }),
  closeRoom: () => ({ type: "close_room" }),
  /** The presenter's view for followers: {view, selection, example, show_test, discretize, loss_scale}. */
  ui: (fields) => ({ type: "ui", ...fields }),
  fork: () => ({ type: "fork" }),
  /** Compare mode: run B = this session with `changes` (live or network fields; network ones
   *  restart both runs) in lockstep; null ends it. */
  compare: (changes, restart = true) => ({ type: "compare", config: changes, restart }),
  /** Ask the room's class: {kind, target?, x1?, x2?, tolerance?} (presenter only). */
  ask: (question) => ({ type: "ask", question }),
  /** A follower's answer to question `id`: a choice, or a number; replaces its earlier one. */
  answer: (id, value) => ({ type: "answer", question: id, value }),
  /** Close the answers and show everyone the engine's answer (presenter only). */
  reveal: () => ({ type: "reveal" }),
};

/** This tab's voter id (kept across reloads and reconnects, so an answer stays one answer). */
export function voterId() {
  let id = sessionStorage.getItem(VOTER_KEY);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    sessionStorage.setItem(VOTER_KEY, id);
  }
  return id;
}

// Binary frames

/** {header, arrays: [{...entry, data: Uint8Array | Float32Array}]} of one binary frame. */
export function unpackFrame(buf) {
  const dv = new DataView(buf);
  const magic = String.fromCharCode(dv.getUint8(0), dv.getUint8(1), dv.getUint8(2), dv.getUint8(3));
  const version = dv.getUint16(4, true);
  if (magic !== FRAME.magic || version !== FRAME.version) {
    throw new Error(`not a version ${FRAME.version} Backprop Lab frame (${magic} v${version})`);
  }
  const n = dv.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, FRAME.prefix_bytes, n)));
  const start = FRAME.prefix_bytes + n;
  const arrays = header.arrays.map((e) => {
    const count = e.shape.reduce((a, b) => a * b, 1);
    let data;
    if (e.dtype === "uint8") data = new Uint8Array(buf, start + e.offset, count);
    else if (e.dtype === "float32") data = new Float32Array(buf, start + e.offset, count);
    else if (e.dtype === "float16") data = fromFloat16(new Uint16Array(buf, start + e.offset, count));
    else throw new Error(`unknown dtype ${e.dtype}`);
    return { ...e, data };
  });
  return { header, arrays };
}

/** Nested JS arrays of a flat typed array with `shape` (1-D or 2-D). */
function nest(data, shape) {
  if (shape.length === 1) return Array.from(data);
  if (shape.length !== 2) throw new Error(`expected a 1-D or 2-D array, got shape ${shape}`);
  const [r, c] = shape;
  const out = new Array(r);
  for (let i = 0; i < r; i++) out[i] = Array.from(data.subarray(i * c, (i + 1) * c));
  return out;
}

// float16 bits → float32, through a table of all 65,536 values (a room's frames are float16)
let HALF = null;
function fromFloat16(bits) {
  if (!HALF) {
    HALF = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
      HALF[h] = sign * (e === 0 ? f * 2 ** -24 : e === 31 ? (f ? NaN : Infinity) : (1 + f / 1024) * 2 ** (e - 15));
    }
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = HALF[bits[i]];
  return out;
}

/** A frame's `grads` per weight layer, [{dW, db, delta_mean}] (the batch mean of δ), or null
 *  when its length is not the model's. */
function gradientsOf(model, flat) {
  const { layers, size } = gradientLayout(model);
  if (size !== flat.length) return null;
  return layers.map((L) => ({ dW: rowsAt(flat, L.dW, L.fi, L.fo), db: Array.from(flat.subarray(L.db, L.db + L.fo)),
    delta_mean: Array.from(flat.subarray(L.delta_mean, L.delta_mean + L.fo)) }));
}

/**
 * A "frame" → {step, epoch, params (flat, laid out by paramLayout), grads, compare}, read
 * with the state's `model` (and compare mode's B's); null when the frame's weights are for
 * another model than the page has (a frame and a state crossing after a change).
 */
export function decodeWeightsFrame({ header, arrays }, model, compareModel = null) {
  const get = (name) => { const a = arrays.find((x) => x.name === name); return a ? a.data : null; };
  const params = get("params");
  if (!model || header.model !== model.key || !params || params.length !== paramLayout(model).size) return null;
  const grads = get("grads");
  const b = get("compare_params");
  const compare = b && compareModel && header.compare_model === compareModel.key
    && b.length === paramLayout(compareModel).size ? { model: compareModel, params: b } : null;
  return { step: header.step, epoch: header.epoch, params, grads: grads ? gradientsOf(model, grads) : null, compare };
}

/** A "record" frame → per-weight-layer arrays as nested JS arrays. */
export function decodeRecordFrame({ header, arrays }) {
  const layers = [];
  for (const a of arrays) {
    if (a.layer === undefined) continue;
    const L = layers[a.layer] || (layers[a.layer] = {});
    L[a.name] = nest(a.data, a.shape);
  }
  const top = (name) => {
    const a = arrays.find((x) => x.name === name && x.layer === undefined);
    return a ? nest(a.data, a.shape) : null;
  };
  return { step: header.step, applied: header.applied, phase: header.phase ?? null, layers,
    per_example_loss: top("per_example_loss"), yhat: top("yhat"), target: top("target") };
}

// Server → client, as store actions

/** @typedef {import("./contract.js").ServerMessage} ServerMessage */

/**
 * One step's numbers, as `state.metrics` and each `state.history` entry carry them (server
 * protocol.Readings): the counters and one field per readout the engine lists (hello's
 * `readouts`), e.g. {step, epoch, loss: {train, test}, accuracy: {train, test}, grad_norms}.
 * @typedef {{step: number, epoch: number, [readout: string]: any}} Metrics
 */

/**
 * The metrics a `step` or `metrics` message carries at its top level (beside fields of its
 * own), picked by the readouts' names.
 * @param {any} m
 * @param {string[]} readouts
 * @returns {Metrics}
 */
function metricsOf(m, readouts) {
  /** @type {Metrics} */
  const out = { step: m.step, epoch: m.epoch };
  for (const name of readouts) if (name in m) out[name] = m[name];
  return out;
}

/** A `room` message (or hello.room) → the store's room. */
function roomOf(r) {
  if (!r || !r.code) return null;
  return { code: r.code, role: r.role, followers: r.followers, presenterOnline: r.presenter_online,
    joinPath: r.join_path, joinUrls: r.join_urls || [], qr: r.qr || null, token: r.token || null,
    relay: r.relay || "ok" };
}

function stoppedOf(reason, message) {
  return reason ? { reason, message: message || "" } : null;
}

/**
 * Turns server messages into store actions. A `step` message is held until its record frame
 * arrives, so the record reaches the store whole.
 */
export class Decoder {
  constructor() {
    this.pendingStep = null;
    /** @type {string[]} the readouts' names, from the hello */
    this.readouts = [];
  }

  /**
   * Actions for one JSON message.
   * @param {ServerMessage} m
   * @returns {any[]}
   */
  text(m) {
    switch (m.type) {
      case "hello":
        this.readouts = m.readouts || [];
        return [{ type: "hello", protocol: m.protocol, sessionId: m.session, resumed: m.resumed,
          restored: !!m.restored, lost: m.lost ?? null,
          limits: m.limits || {}, defaults: m.defaults, schema: m.schema, tasks: m.tasks,
          heads: m.heads, featureLabels: m.feature_labels,
          followerMessages: m.follower_messages, readouts: m.readouts || [],
          role: m.role || "solo", room: roomOf(m.room) }];
      case "state":
        return [{ type: "state", config: m.config, params: m.params, metrics: m.metrics,
          playing: m.playing, speed: m.speed, rate: m.rate, phase: m.phase, stopped: stoppedOf(m.stopped, m.stop_message),
          canStepBack: m.can_step_back, model: m.model, points: m.points ?? null, history: m.history ?? null,
          compare: m.compare ?? null, effect: m.effect ?? null }];
      case "step": {
        const head = { record_step: m.record_step, applied: m.applied, phase: m.phase, batch: m.batch,
          batch_loss: m.batch_loss, penalty: m.penalty, update_ratios: m.update_ratios };
        const action = { type: "step", metrics: metricsOf(m, this.readouts), compare: m.compare ?? null,
          phase: m.phase, count: m.count, stopped: m.stopped ? undefined : null, head, record: null };
        if (m.batch && m.batch.length) { this.pendingStep = action; return []; }
        return [action];
      }
      case "metrics":
        return [{ type: "metrics", metrics: metricsOf(m, this.readouts), compare: m.compare ?? null,
          playing: m.playing }];
      case "stopped":
        return [{ type: "stopped", reason: m.reason, message: m.message }];
      case "error":
        return [{ type: "serverError", code: m.code, message: m.message, field: m.field, re: m.re }];
      case "inspection":
        return [{ type: "inspect", result: m.result }];
      case "snapshot":
        return [{ type: "exported", snapshot: m.snapshot }];
      case "points_preview":
        return [{ type: "pointsPreview", preview: m.preview }];
      case "points_csv":
        return [{ type: "pointsCsv", name: m.name, csv: m.csv }];
      case "gradcheck":
        return [{ type: "gradcheck", result: m.result }];
      case "room":
        return [{ type: "room", room: roomOf(m), role: m.role }];
      case "room_ui":
        return [{ type: "roomUi", ui: m.ui }];
      case "forked":
        return [{ type: "forked", session: m.session, step: m.step }];
      case "question":
        return [{ type: "question", question: { id: m.id, kind: m.kind, prompt: m.prompt, choices: m.choices,
          labels: m.labels, target: m.target, x1: m.x1, x2: m.x2, tolerance: m.tolerance, step: m.step,
          answer: m.answer ?? null } }];
      case "answers":
        return [{ type: "answers", id: m.id, tally: { counts: m.counts, bins: m.bins ?? null, answered: m.answered,
          followers: m.followers } }];
      case "reveal":
        return [{ type: "revealed", id: m.id, reveal: { truth: m.truth, truthLabel: m.truth_label, value: m.value,
          detail: m.detail, right: m.right, counts: m.counts, bins: m.bins ?? null, answered: m.answered,
          followers: m.followers, target: m.target ?? null, kind: m.kind } }];
      default:
        return [];
    }
  }

  /** Actions for one binary frame. */
  binary(buf) {
    const frame = unpackFrame(buf);
    if (frame.header.kind === "frame") return [{ type: "weights", frame }];
    if (frame.header.kind === "record") {
      const rec = decodeRecordFrame(frame);
      const held = this.pendingStep || { type: "step", metrics: null, phase: rec.phase, head: {} };
      this.pendingStep = null;
      return [{ ...held, record: { ...held.head, ...rec }, animate: true }];
    }
    return [];
  }

  /** A step message whose record never came (connection lost): release it bare. */
  flush() {
    const a = this.pendingStep;
    this.pendingStep = null;
    return a ? [a] : [];
  }
}

/** This browser's presenter tokens, by room code (a presenter resumes with one). */
export const presenterTokens = {
  all() { try { return JSON.parse(localStorage.getItem(ROOM_KEY) || "{}"); } catch { return {}; } },
  get(code) { return code ? this.all()[code] || null : null; },
  set(code, token) { const t = this.all(); t[code] = token; localStorage.setItem(ROOM_KEY, JSON.stringify(t)); },
  drop(code) { const t = this.all(); delete t[code]; localStorage.setItem(ROOM_KEY, JSON.stringify(t)); },
};

/**
 * The WebSocket to /ws: reconnects with backoff and resumes the session kept in
 * sessionStorage. With `follow(code)` it follows a room instead (`/ws?room=`); a tab that
 * lost its session but presents a room resumes it with this browser's presenter token.
 */
export class Connection {
  constructor(dispatch) {
    this.dispatch = dispatch;
    this.decoder = new Decoder();
    this.ws = null;
    this.attempt = 0;
    this.closed = false;
    this.timer = 0;
    this.join = null;     // the room code this tab follows
    this.present = null;  // the room code this tab presents (for the token)
  }

  get sessionId() { return sessionStorage.getItem(SESSION_KEY); }

  _query() {
    const sid = this.sessionId;
    const token = presenterTokens.get(this.present);
    if (this.join) return `?room=${encodeURIComponent(this.join)}&voter=${voterId()}`;
    if (sid) return `?session=${encodeURIComponent(sid)}`;
    if (token) return `?room=${encodeURIComponent(this.present)}&token=${encodeURIComponent(token)}`;
    return "";
  }

  /** Follow room `code` (null: drive this tab's own session again), reconnecting now. */
  follow(code) {
    this.join = code;
    if (code) sessionStorage.removeItem(SESSION_KEY);
    this.reconnect();
  }

  /** Drive session `sid` (a fork), reconnecting now. */
  drive(sid) {
    this.join = null;
    sessionStorage.setItem(SESSION_KEY, sid);
    this.reconnect();
  }

  reconnect() {
    const old = this.ws;
    this.ws = null;  // its close event is ignored
    if (old) old.close();
    this.attempt = 0;
    this.open();
  }

  open() {
    clearTimeout(this.timer);
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = this._query();
    const url = `${proto}//${location.host}/ws${q}${q ? "&" : "?"}protocol=${PROTOCOL_VERSION}`;
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.dispatch({ type: "connection", status: "connecting", attempt: this.attempt });
    ws.onmessage = (ev) => this._receive(ev.data);
    ws.onclose = (ev) => this._closed(ws, ev);
  }

  _closed(ws, ev) {
    if (this.closed || ws !== this.ws) return;
    for (const a of this.decoder.flush()) this.dispatch(a);
    if (ev.code === CloseCode.LEFT) {
      sessionStorage.removeItem(SESSION_KEY);
      this.dispatch({ type: "connection", status: "left", reason: ev.reason });
      return;  // the session is gone by request; nothing to resume
    }
    if (ev.code === CloseCode.REPLACED) {
      this.dispatch({ type: "connection", status: "replaced", reason: ev.reason });
      return;  // another tab took this session over; reconnecting would take it back
    }
    if (ev.code === CloseCode.WRONG_PROTOCOL) {
      this.dispatch({ type: "connection", status: "outdated", reason: ev.reason });
      return;  // this page's code is older (or newer) than the server's: only a reload helps
    }
    if (ev.code === CloseCode.ROOM_GONE) {
      if (this.present && !this.join) presenterTokens.drop(this.present);
      this.dispatch({ type: "connection", status: "room_gone", reason: ev.reason });
      return;  // the room ended; the page offers a session of one's own
    }
    this.attempt += 1;
    const full = ev.code === CloseCode.SERVER_FULL || ev.code === CloseCode.SLOW_DOWN;
    this.dispatch({ type: "connection", status: full ? "full" : "closed", attempt: this.attempt, reason: ev.reason });
    const delay = full ? 5000 : Math.min(5000, 250 * 2 ** Math.min(this.attempt, 5));
    this.timer = setTimeout(() => this.open(), delay);
  }

  _receive(data) {
    let actions;
    try {
      if (data instanceof ArrayBuffer) actions = this.decoder.binary(data);
      else {
        const m = JSON.parse(data);
        if (m.type === "hello") {
          if (m.session) sessionStorage.setItem(SESSION_KEY, m.session);
          this.attempt = 0;
          if (m.protocol !== PROTOCOL_VERSION) {
            this.dispatch({ type: "toast", text: `The server speaks protocol ${m.protocol}; this page expects ${PROTOCOL_VERSION}. Reload the page.` });
          }
        }
        actions = this.decoder.text(m);
      }
    } catch (err) {
      this.dispatch({ type: "toast", text: `Could not read a message from the server: ${err.message}` });
      return;
    }
    for (const a of actions) this.dispatch(a);
  }

  /** Send one message built by `messages`; false when the connection is not open. */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Forget the stored session (and any room) and start a new one. */
  startNewSession() {
    sessionStorage.removeItem(SESSION_KEY);
    this.join = this.present = null;
    this.reconnect();
  }

  /** Send `leave`: the server ends this session and closes with CloseCode.LEFT (no reconnect). */
  leave() { return this.send(messages.leave()); }

  close() { this.closed = true; clearTimeout(this.timer); if (this.ws) this.ws.close(); }
}

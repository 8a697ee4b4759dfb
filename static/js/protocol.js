// The WebSocket protocol, mirrored once from server/protocol.py (PROTOCOL_VERSION 2) and
// server/frames.py (binary frame format 1). The only module that builds or parses messages.
//
// Text frames are JSON objects with a `type`. Binary frames (server → client) are
//   0  4  magic "BPLF" | 4 2 u16 format version | 6 2 u16 reserved | 8 4 u32 H (header bytes)
//   12 H  UTF-8 JSON header {"kind": "frame" | "record" | "features", ..., "arrays": [...]}
//   12+H  payload; entry {name, layer?, shape, dtype: "uint8" | "float32", offset, lo?, hi?}
// All little-endian. Maps are (units, rows, cols), row 0 the top of the plane (x2 = +6);
// a uint8 q stands for lo + q·(hi − lo)/255.

export const PROTOCOL_VERSION = 2;
export const FRAME_VERSION = 1;
const SESSION_KEY = "backprop-lab-session";
const ROOM_KEY = "backprop-lab-rooms";  // localStorage: {code: presenter token} of this browser

export const CloseCode = { SHUTTING_DOWN: 4000, REPLACED: 4001, LEFT: 4002, SERVER_FULL: 4003,
  ROOM_GONE: 4004, SLOW_DOWN: 4005 };

/** Builders for every client → server message (server/protocol.py, "client → server"). */
export const messages = {
  configure: (config) => ({ type: "configure", config }),
  set: (config) => ({ type: "set", config }),
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
    const m = { type: "inspect", layer: sel.kind === "neuron" ? sel.layer - 1 : sel.layer, neuron: sel.j };
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
  gradcheck: () => ({ type: "gradcheck" }),
  view: (grid, neuronGrid) => ({ type: "view", grid, neuron_grid: neuronGrid }),
  /** Frames carry node layer `layer`'s neuron `neuron` at full resolution; null stops it. */
  focus: (focus) => ({ type: "view", focus: focus ? { layer: focus.layer, neuron: focus.neuron } : null }),
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
};

// Binary frames

/** {header, arrays: [{...entry, data: Uint8Array | Float32Array}]} of one binary frame. */
export function unpackFrame(buf) {
  const dv = new DataView(buf);
  const magic = String.fromCharCode(dv.getUint8(0), dv.getUint8(1), dv.getUint8(2), dv.getUint8(3));
  const version = dv.getUint16(4, true);
  if (magic !== "BPLF" || version !== FRAME_VERSION) {
    throw new Error(`not a version ${FRAME_VERSION} Backprop Lab frame (${magic} v${version})`);
  }
  const n = dv.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 12, n)));
  const start = 12 + n;
  const arrays = header.arrays.map((e) => {
    const count = e.shape.reduce((a, b) => a * b, 1);
    let data;
    if (e.dtype === "uint8") data = new Uint8Array(buf, start + e.offset, count);
    else if (e.dtype === "float32") data = new Float32Array(buf, start + e.offset, count);
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

function weightsOf(arrays) {
  const W = arrays.filter((a) => a.name === "W").sort((a, b) => a.layer - b.layer);
  const b = arrays.filter((a) => a.name === "b").sort((a, b2) => a.layer - b2.layer);
  if (!W.length || W.length !== b.length) return null;
  return { weights: W.map((a) => nest(a.data, a.shape)), biases: b.map((a) => nest(a.data, a.shape)) };
}

/** A frame's last-update gradients per weight layer, [{dW, db, dz_mean}], or null before any. */
function gradientsOf(arrays) {
  const layers = [];
  for (const a of arrays) {
    const name = { dW: "dW", db: "db", dz_sum: "dz_mean" }[a.name];  // dz_sum: the batch-mean δ
    if (name) (layers[a.layer] || (layers[a.layer] = {}))[name] = nest(a.data, a.shape);
  }
  return layers.length ? layers : null;
}

/** A "frame" (heatmaps + weights) → {step, epoch, heatmaps, params, grads}. */
export function decodeHeatmapFrame({ header, arrays }) {
  const map = (a) => {
    const [units, rows, cols] = a.shape;
    if (rows !== cols) throw new Error(`map ${a.name} is not square: ${a.shape}`);
    return { units, n: rows, codes: a.data, lo: a.lo, hi: a.hi };
  };
  const input = arrays.find((a) => a.name === "input");
  const output = arrays.find((a) => a.name === "output");
  if (!input || !output) throw new Error("a heatmap frame needs input and output maps");
  const neurons = arrays.filter((a) => a.name === "neuron").sort((a, b) => a.layer - b.layer).map(map);
  const f = arrays.find((a) => a.name === "focus");  // the focused neuron, full resolution
  const focus = f ? { ...map(f), layer: f.layer, j: f.neuron } : null;
  const b = arrays.find((a) => a.name === "compare_output");  // compare mode's run B
  return {
    step: header.step, epoch: header.epoch,
    heatmaps: { inputs: map(input), neurons, output: map(output), focus, compareOutput: b ? map(b) : null },
    params: weightsOf(arrays),
    grads: gradientsOf(arrays),
  };
}

/** A "record" frame → per-weight-layer arrays as nested JS arrays. */
export function decodeRecordFrame({ header, arrays }) {
  const layers = [];
  for (const a of arrays) {
    if (a.layer === undefined) continue;
    const L = layers[a.layer] || (layers[a.layer] = {});
    L[a.name] = nest(a.data, a.shape);
  }
  for (const L of layers) {
    // dz_sum is Σ over the batch of ∂L/∂z = the mean per-example δ (server/frames.py).
    if (L.dz_sum) L.dz_mean = L.dz_sum;
  }
  const top = (name) => {
    const a = arrays.find((x) => x.name === name && x.layer === undefined);
    return a ? nest(a.data, a.shape) : null;
  };
  return { step: header.step, applied: header.applied, phase: header.phase ?? null, layers,
    per_example_loss: top("per_example_loss"), yhat: top("yhat"), target: top("target") };
}

// Server → client, as store actions

function metricsOf(m) {
  return { step: m.step, epoch: m.epoch, loss: m.loss, accuracy: m.accuracy, grad_norms: m.grad_norms,
    compare: m.compare ?? null };
}

/** A `room` message (or hello.room) → the store's room. */
function roomOf(r) {
  if (!r || !r.code) return null;
  return { code: r.code, role: r.role, followers: r.followers, presenterOnline: r.presenter_online,
    joinPath: r.join_path, joinUrls: r.join_urls || [], qr: r.qr || null, token: r.token || null };
}

function stoppedOf(reason, message) {
  return reason ? { reason, message: message || "" } : null;
}

/**
 * Turns server messages into store actions. A `step` message is held until its record frame
 * arrives, so the record reaches the store whole.
 */
export class Decoder {
  constructor() { this.pendingStep = null; }

  /** Actions for one JSON message. */
  text(m) {
    switch (m.type) {
      case "hello":
        return [{ type: "hello", protocol: m.protocol, sessionId: m.session, resumed: m.resumed,
          limits: m.limits || {}, defaults: m.defaults, schema: m.schema, tasks: m.tasks,
          heads: m.heads, liveFields: m.live_fields, featureLabels: m.feature_labels,
          role: m.role || "solo", room: roomOf(m.room) }];
      case "state":
        return [{ type: "state", config: m.config, params: m.params, metrics: m.metrics,
          playing: m.playing, speed: m.speed, rate: m.rate, phase: m.phase, stopped: stoppedOf(m.stopped, m.stop_message),
          canStepBack: m.can_step_back, view: m.view, points: m.points ?? null, history: m.history ?? null,
          compare: m.compare ?? null }];
      case "step": {
        const head = { record_step: m.record_step, applied: m.applied, phase: m.phase, batch: m.batch,
          batch_loss: m.batch_loss, penalty: m.penalty, update_ratios: m.update_ratios };
        const action = { type: "step", metrics: metricsOf(m), phase: m.phase, count: m.count,
          stopped: m.stopped ? undefined : null, head, record: null };
        if (m.batch && m.batch.length) { this.pendingStep = action; return []; }
        return [action];
      }
      case "metrics":
        return [{ type: "metrics", metrics: metricsOf(m), playing: m.playing }];
      case "stopped":
        return [{ type: "stopped", reason: m.reason, message: m.message }];
      case "error":
        return [{ type: "serverError", code: m.code, message: m.message, field: m.field, re: m.re }];
      case "inspection":
        return [{ type: "inspect", result: m.result }];
      case "snapshot":
        return [{ type: "exported", snapshot: m.snapshot }];
      case "gradcheck":
        return [{ type: "gradcheck", result: m.result }];
      case "room":
        return [{ type: "room", room: roomOf(m), role: m.role }];
      case "room_ui":
        return [{ type: "roomUi", ui: m.ui }];
      case "forked":
        return [{ type: "forked", session: m.session, step: m.step }];
      default:
        return [];
    }
  }

  /** Actions for one binary frame. */
  binary(buf) {
    const frame = unpackFrame(buf);
    if (frame.header.kind === "frame") {
      const f = decodeHeatmapFrame(frame);
      return [{ type: "heatmaps", heatmaps: f.heatmaps, params: f.params, grads: f.grads, step: f.step }];
    }
    if (frame.header.kind === "features") {
      const a = frame.arrays.find((x) => x.name === "features");
      if (!a) return [];
      const [units, n] = a.shape;
      return [{ type: "featureMaps", names: frame.header.names,
        maps: { units, n, codes: a.data, lo: a.lo, hi: a.hi } }];
    }
    if (frame.header.kind === "record") {
      const rec = decodeRecordFrame(frame);
      const action = this.pendingStep || { type: "step", metrics: null, phase: rec.phase, head: {} };
      this.pendingStep = null;
      action.record = { ...action.head, ...rec };
      action.animate = true;
      return [action];
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
    if (this.join) return `?room=${encodeURIComponent(this.join)}`;
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
    const url = `${proto}//${location.host}/ws${this._query()}`;
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

  /** Send `leave`: the server ends this session and closes with 4002 (no reconnect). */
  leave() { return this.send(messages.leave()); }

  close() { this.closed = true; clearTimeout(this.timer); if (this.ws) this.ws.close(); }
}

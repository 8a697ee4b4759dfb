// The WebSocket protocol, mirrored once from server/protocol.py (PROTOCOL_VERSION 1) and
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

export const CloseCode = { SHUTTING_DOWN: 4000, REPLACED: 4001, LEFT: 4002, SERVER_FULL: 4003 };

/** Builders for every client → server message (server/protocol.py, "client → server"). */
export const messages = {
  configure: (config) => ({ type: "configure", config }),
  set: (config) => ({ type: "set", config }),
  /** A bare {"type": "step"} is exactly one update. */
  step: (unit = "update", count = 1) => (unit === "update" && count === 1
    ? { type: "step" } : { type: "step", unit, count }),
  play: (speed) => ({ type: "play", speed }),
  pause: () => ({ type: "pause" }),
  reset: () => ({ type: "reset" }),
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

/** A "frame" (heatmaps + weights) → {step, epoch, heatmaps, params}. */
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
  return {
    step: header.step, epoch: header.epoch,
    heatmaps: { inputs: map(input), neurons, output: map(output), focus },
    params: weightsOf(arrays),
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
  return { step: m.step, epoch: m.epoch, loss: m.loss, accuracy: m.accuracy, grad_norms: m.grad_norms };
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
          heads: m.heads, liveFields: m.live_fields, featureLabels: m.feature_labels }];
      case "state":
        return [{ type: "state", config: m.config, params: m.params, metrics: m.metrics,
          playing: m.playing, speed: m.speed, phase: m.phase, stopped: stoppedOf(m.stopped, m.stop_message),
          canStepBack: m.can_step_back, view: m.view, points: m.points ?? null, history: m.history ?? null }];
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
      default:
        return [];
    }
  }

  /** Actions for one binary frame. */
  binary(buf) {
    const frame = unpackFrame(buf);
    if (frame.header.kind === "frame") {
      const f = decodeHeatmapFrame(frame);
      return [{ type: "heatmaps", heatmaps: f.heatmaps, params: f.params, step: f.step }];
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

/** The WebSocket to /ws: reconnects with backoff and resumes the session kept in sessionStorage. */
export class Connection {
  constructor(dispatch) {
    this.dispatch = dispatch;
    this.decoder = new Decoder();
    this.ws = null;
    this.attempt = 0;
    this.closed = false;
    this.timer = 0;
  }

  get sessionId() { return sessionStorage.getItem(SESSION_KEY); }

  open() {
    clearTimeout(this.timer);
    const sid = this.sessionId;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${proto}//${location.host}/ws${sid ? `?session=${encodeURIComponent(sid)}` : ""}`;
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
    this.attempt += 1;
    const full = ev.code === CloseCode.SERVER_FULL;
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
          sessionStorage.setItem(SESSION_KEY, m.session);
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

  /** Forget the stored session and start a new one (after another tab took it over). */
  startNewSession() {
    sessionStorage.removeItem(SESSION_KEY);
    this.attempt = 0;
    this.open();
  }

  /** Send `leave`: the server ends this session and closes with 4002 (no reconnect). */
  leave() { return this.send(messages.leave()); }

  close() { this.closed = true; clearTimeout(this.timer); if (this.ws) this.ws.close(); }
}

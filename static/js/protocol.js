// PROVISIONAL: to be replaced by a mirror of server/protocol.py once it lands.
// The only module that builds and parses messages, including the binary heatmap frames.

export const PROTOCOL_VERSION = 1;
const SESSION_KEY = "backprop-lab-session";

export const messages = {
  configure: (config) => ({ type: "configure", config }),
  play: (speed) => ({ type: "play", speed }),
  pause: () => ({ type: "pause" }),
  step: (unit) => (unit === "update" ? { type: "step" } : { type: "step", unit }),
  stepBack: () => ({ type: "step_back" }),
  reset: () => ({ type: "reset" }),
  inspect: (sel, example) => {
    const m = { type: "inspect", layer: sel.kind === "neuron" ? sel.layer - 1 : sel.layer, j: sel.j };
    if (sel.kind === "link") m.i = sel.i;
    if (example !== null && example !== undefined) m.example = example;
    return m;
  },
  gradcheck: () => ({ type: "gradcheck" }),
  setWeight: (layer, i, j, value) => ({ type: "set_weight", layer, i, j, value }),
  setBias: (layer, j, value) => ({ type: "set_weight", layer, j, value, bias: true }),
  addPoint: (x1, x2, label) => ({ type: "add_point", x1, x2, label, split: "train" }),
  removePoint: (split, index) => ({ type: "remove_point", split, index }),
  exportState: () => ({ type: "export" }),
  importState: (snapshot) => ({ type: "import", snapshot }),
};

/** Decode a binary heatmap frame. */
export function decodeHeatmaps(buf) {
  const dv = new DataView(buf);
  const n = dv.getUint16(0, true);
  const nLayers = dv.getUint8(2);
  let off = 4;
  const widths = [];
  for (let l = 0; l < nLayers; l++) { widths.push(dv.getUint8(off)); off += 1; }
  off = (off + 3) & ~3;
  const lo = dv.getFloat32(off, true), hi = dv.getFloat32(off + 4, true);
  off += 8;
  const bytes = new Uint8Array(buf);
  const inputWidth = widths[0];
  const inputs = bytes.subarray(off, off + n * n * inputWidth); off += n * n * inputWidth;
  const neurons = [];
  for (let l = 1; l < nLayers - 1; l++) { neurons.push(bytes.subarray(off, off + n * n * widths[l])); off += n * n * widths[l]; }
  const K = widths[nLayers - 1];
  const output = bytes.subarray(off, off + n * n * K);
  return { n, inputs, inputWidth, neurons, neuronWidths: widths.slice(1, -1), output, outputWidth: K, outputRange: [lo, hi] };
}

/** Turn a parsed server message into a store action (or null to ignore). */
export function toAction(m) {
  switch (m.type) {
    case "hello": return { type: "hello", protocol: m.protocol, sessionId: m.session, schema: m.schema,
      limits: m.limits, resumed: m.resumed };
    case "state": return { type: "state", config: m.config, params: m.params, points: m.points,
      history: m.history, metrics: m.metrics, playing: m.playing, stopped: m.stopped ? { reason: m.stopped, message: m.stop_message } : null,
      record: m.record, reset: m.reset };
    case "step": return { type: "step", record: m.record, params: m.params, phase: m.phase,
      metrics: { step: m.step, epoch: m.epoch, loss: m.loss, accuracy: m.accuracy, grad_norms: m.grad_norms }, animate: true };
    case "metrics": return { type: "metrics", metrics: m, params: m.params };
    case "stopped": return { type: "stopped", reason: m.reason, message: m.message };
    case "error": return { type: "toast", text: m.message || m.code, kind: "error" };
    case "inspect": return { type: "inspect", result: m.result };
    case "gradcheck": return { type: "gradcheck", result: m.result };
    case "export": return { type: "exported", snapshot: m.snapshot };
    case "playing": return { type: "playing", playing: m.playing };
    default: return null;
  }
}

/** The WebSocket to /ws: reconnects with backoff and resumes the session kept in sessionStorage. */
export class Connection {
  constructor(dispatch) {
    this.dispatch = dispatch;
    this.ws = null;
    this.attempt = 0;
    this.closed = false;
    this.queue = [];
  }

  open() {
    const sid = sessionStorage.getItem(SESSION_KEY);
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${proto}//${location.host}/ws${sid ? `?session=${encodeURIComponent(sid)}` : ""}`;
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.dispatch({ type: "connection", status: "connecting", attempt: this.attempt });
    ws.onmessage = (ev) => this._receive(ev.data);
    ws.onclose = (ev) => {
      if (this.closed) return;
      if (ev.code >= 4000 && ev.code < 4100 && ev.code !== 4001) {
        this.dispatch({ type: "connection", status: "refused", reason: ev.reason });
      }
      this.attempt += 1;
      this.dispatch({ type: "connection", status: "closed", attempt: this.attempt });
      setTimeout(() => this.open(), Math.min(5000, 300 * 2 ** Math.min(this.attempt, 5)));
    };
  }

  _receive(data) {
    if (data instanceof ArrayBuffer) {
      this.dispatch({ type: "heatmaps", heatmaps: decodeHeatmaps(data) });
      return;
    }
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (m.type === "hello") {
      sessionStorage.setItem(SESSION_KEY, m.session);
      this.attempt = 0;
    }
    const action = toAction(m);
    if (action) this.dispatch(action);
    if (m.type === "hello") for (const q of this.queue.splice(0)) this.send(q);
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  close() { this.closed = true; if (this.ws) this.ws.close(); }
}

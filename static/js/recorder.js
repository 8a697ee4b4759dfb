// Keeps the last MAX_FRAMES training changes as small PNGs, for GIF and ZIP exports.
//
// A capture happens once per change of the counters (or of the trainer's phase), after the
// page has drawn it: the heatmaps of that step have arrived, no phase animation is running
// and nothing is waiting for the next animation frame. Captures are at most 10 a second (the
// newest change wins) and never overlap. Each view's canvas is copied at its on-screen
// resolution, at most MAX_WIDTH pixels wide, and PNG-encoded by canvas.toBlob (off the main
// thread in browsers); memory is bounded by MAX_FRAMES frames and MAX_BYTES of PNG data.

import { canvasToPng } from "./canvas.js";

export const MAX_FRAMES = 300;
export const MAX_WIDTH = 800;           // px, of one view's frame
const MAX_BYTES = 96 * 1024 * 1024;     // PNG bytes kept over all frames
const MIN_INTERVAL_MS = 100;            // ≤ 10 captures a second
const MAPS_WAIT_MS = 500;               // capture anyway when a step's heatmaps never come
const CHANGES = new Set(["step", "metrics", "state"]);

/**
 * A frame: {time (ms), step, epoch, layout (snapshots.readPageLayout, or null), images:
 * {name: {blob (image/png), width, height}}} with one image per canvas given to the recorder.
 */
export class Recorder {
  /**
   * surfaces: {name: HiDPICanvas} to capture; settled(): true when nothing waits to be drawn;
   * layout(): where things are on the page (for the whole-page export); onChange(count) after
   * the number of buffered frames changed.
   */
  constructor(surfaces, { settled, layout, onChange }) {
    this.surfaces = surfaces;
    this.settled = settled;
    this.layout = layout;
    this.onChange = onChange || (() => {});
    this.buffer = [];
    this.bytes = 0;
    this.key = null;          // counters of the last change seen
    this.pending = null;      // {since, state} a change not captured yet
    this.mapsStep = null;     // step of the newest heatmaps
    this.lastCapture = -Infinity;
    this.busy = false;
    this.raf = 0;
    this.scratch = document.createElement("canvas");
  }

  get count() { return this.buffer.length; }

  /** The last `n` frames, oldest first. */
  frames(n) { return this.buffer.slice(Math.max(0, this.buffer.length - n)); }

  /** Feed every store action here: training changes start a capture, heatmaps complete it. */
  note(action, state) {
    if (action.type === "heatmaps") this.mapsStep = action.step;
    if (!CHANGES.has(action.type) || !state.config) return;
    const c = state.counters;
    const key = `${c.step}/${c.epoch}/${state.phase ?? ""}`;
    if (key === this.key) return;
    this.key = key;
    this.pending = { since: performance.now(), state };
    this._poll();
  }

  _poll() {
    if (!this.raf) this.raf = requestAnimationFrame(() => { this.raf = 0; this._tick(); });
  }

  _tick() {
    const p = this.pending;
    if (!p) return;
    const now = performance.now();
    const s = p.state;
    const maps = this.mapsStep === s.counters.step || now - p.since > MAPS_WAIT_MS;
    if (this.busy || !maps || now - this.lastCapture < MIN_INTERVAL_MS) { this._poll(); return; }
    // After this frame's callbacks, where the store draws: capture if nothing is left to draw.
    setTimeout(() => {
      if (this.pending !== p || this.busy) return;
      if (!this.settled()) { this._poll(); return; }
      this.pending = null;
      this._capture(s);
    }, 0);
  }

  async _capture(state) {
    this.busy = true;
    this.lastCapture = performance.now();
    const frame = { time: this.lastCapture, step: state.counters.step, epoch: state.counters.epoch,
      layout: this.layout ? this.layout() : null, images: {} };
    try {
      // a hidden canvas (run B's plot outside compare mode) is not in the frame
      const shown = Object.entries(this.surfaces).filter(([, surface]) => !surface.canvas.hidden);
      const jobs = shown.map(([name, surface]) => {
        const image = this._copy(surface);
        return canvasToPng(this.scratch).then((blob) => { frame.images[name] = { blob, ...image }; });
      });
      await Promise.all(jobs);
      this._push(frame);
    } catch (err) {
      console.warn("recorder: a capture failed", err);
    } finally {
      this.busy = false;
      if (this.pending) this._poll();
    }
  }

  /** Draws `surface` into the scratch canvas at the frame's scale; returns {width, height}. */
  _copy(surface) {
    const scale = Math.min(surface.dpr, MAX_WIDTH / surface.width);
    const width = Math.max(1, Math.round(surface.width * scale));
    const height = Math.max(1, Math.round(surface.height * scale));
    const c = this.scratch;
    c.width = width; c.height = height;
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, width, height);
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(surface.canvas, 0, 0, width, height);
    return { width, height };
  }

  _push(frame) {
    const size = (f) => Object.values(f.images).reduce((n, im) => n + im.blob.size, 0);
    this.buffer.push(frame);
    this.bytes += size(frame);
    while (this.buffer.length > MAX_FRAMES || (this.bytes > MAX_BYTES && this.buffer.length > 1)) {
      this.bytes -= size(this.buffer.shift());
    }
    this.onChange(this.buffer.length);
  }
}

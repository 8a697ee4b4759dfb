// Keeps the last MAX_FRAMES training changes as small PNGs, for GIF and ZIP exports.
//
// A capture happens once per change of the counters (or of the trainer's phase), after the
// page has drawn it: the heatmaps of that step have arrived and nothing is waiting for the
// next animation frame; the newest change wins. `every` chooses the pace: "time" keeps at
// most 10 frames a second and waits for a step's animation to end (Play), "update" keeps
// every change, drawn as it stands once its animation is over (one frame per Step press,
// however quickly they come). Each view's canvas is copied at its on-screen resolution, at
// most MAX_WIDTH pixels wide, and PNG-encoded by canvas.toBlob (off the main thread in
// browsers), in order; memory is bounded by MAX_FRAMES frames and MAX_BYTES of PNG data.

import { canvasToPng } from "./canvas.js";

export const MAX_FRAMES = 300;
export const MAX_WIDTH = 800;           // px, of one view's frame
const MAX_BYTES = 96 * 1024 * 1024;     // PNG bytes kept over all frames
const MIN_INTERVAL_MS = 100;            // ≤ 10 captures a second
const MAPS_WAIT_MS = 500;               // capture anyway when a step's heatmaps never come
const CHANGES = new Set(["step", "metrics", "state"]);

/**
 * A frame: {time (ms), step, epoch, layout (page_image.readPageLayout, or null), images:
 * {name: {blob (image/png), width, height}}} with one image per canvas given to the recorder.
 */
export class Recorder {
  /**
   * surfaces: {name: HiDPICanvas} to capture; settled(): true when nothing waits to be drawn;
   * drawn(): true when the newest change is drawn, its animation perhaps still running;
   * finish(): draws the views as they stand once the animation is over (a frame per update
   * cannot wait for it: the next Step may come first); layout(): where things are on the
   * page (for the whole-page export); onChange(count) after the number of buffered frames
   * changed.
   */
  constructor(surfaces, { settled, drawn, finish, layout, onChange }) {
    this.surfaces = surfaces;
    this.settled = settled;
    this.drawn = drawn;
    this.finish = finish;
    this.layout = layout;
    this.onChange = onChange || (() => {});
    this.buffer = [];
    this.bytes = 0;
    this.every = "time";      // "time" or "update": the Record panel's "keep" select
    this.missed = 0;          // changes replaced by a newer one before their capture
    this.key = null;          // counters of the last change seen
    this.pending = null;      // {since, state} a change not captured yet
    this.mapsStep = null;     // step of the newest heatmaps
    this.lastCapture = -Infinity;
    this.raf = 0;
    this.scratch = document.createElement("canvas");
  }

  get count() { return this.buffer.length; }

  /** Start again: no frames, no missed changes (the Record panel's pace changed). */
  clear() {
    this.buffer = [];
    this.bytes = 0;
    this.missed = 0;
    this.onChange(0);
  }

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
    if (this.pending) this.missed += 1;
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
    const gap = this.every === "update" ? 0 : MIN_INTERVAL_MS;
    if (!maps || now - this.lastCapture < gap) { this._poll(); return; }
    // After this frame's callbacks, where the store draws: capture if nothing is left to draw.
    setTimeout(() => {
      if (this.pending !== p) return;
      const perUpdate = this.every === "update";
      if (!(perUpdate ? this.drawn() : this.settled())) { this._poll(); return; }
      if (perUpdate) this.finish();
      this.pending = null;
      this._capture(s);
    }, 0);
  }

  /** Copies every shown canvas now (toBlob snapshots the scratch canvas when called); the
   *  PNG encoding runs on, in order, while the next change may be captured already. */
  _capture(state) {
    this.lastCapture = performance.now();
    const frame = { time: this.lastCapture, step: state.counters.step, epoch: state.counters.epoch,
      layout: this.layout ? this.layout() : null, images: {} };
    let jobs;
    try {
      // a hidden canvas (run B's plot outside compare mode) is not in the frame
      const shown = Object.entries(this.surfaces).filter(([, surface]) => !surface.canvas.hidden);
      jobs = shown.map(([name, surface]) => {
        const image = this._copy(surface);
        return canvasToPng(this.scratch).then((blob) => { frame.images[name] = { blob, ...image }; });
      });
    } catch (err) {
      console.warn("recorder: a capture failed", err);
      return;
    }
    this.encoding = (this.encoding || Promise.resolve())
      .then(() => Promise.all(jobs))
      .then(() => this._push(frame), (err) => console.warn("recorder: a capture failed", err));
    if (this.pending) this._poll();
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

// The "Record" popover in the top bar: pick a target, a format, which frames to keep (at
// most 10 a second, or one per update when stepping) and how many of the buffered frames to
// save, then encode them (recording_export.js) and download the file.

import { saveBlob } from "./canvas.js";
import { MAX_FRAMES } from "./recorder.js";
import { encodeRecording } from "./recording_export.js";

const NAMES = { page: "page", network: "network", boundary: "output", charts: "charts" };

export class RecordPanel {
  /** button toggles `panel`, which holds the fields (by data-record=…); dispatch shows toasts. */
  constructor(button, panel, recorder, dispatch) {
    this.button = button;
    this.panel = panel;
    this.recorder = recorder;
    this.dispatch = dispatch;
    const field = (name) => panel.querySelector(`[data-record="${name}"]`);
    this.target = field("target");
    this.format = field("format");
    this.count = field("count");
    this.buffered = field("buffered");
    this.span = field("span");
    this.every = field("every");
    this.every.addEventListener("change", () => {
      recorder.every = this.every.value;
      recorder.clear();  // a recording of one pace, not a mix
    });
    this.save = field("save");
    this.count.max = String(MAX_FRAMES);
    button.addEventListener("click", () => this.toggle());
    this.save.addEventListener("click", () => this.run());
    panel.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { this.toggle(false); button.focus(); } });
    document.addEventListener("pointerdown", (ev) => {
      if (!panel.hidden && !panel.contains(ev.target) && !button.contains(ev.target)) this.toggle(false);
    });
    this.showCount(recorder.count);
  }

  toggle(open = this.panel.hidden) {
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open) this.target.focus();
  }

  /** Called by the recorder when the number of buffered frames changed. */
  showCount(n) {
    this.buffered.textContent = String(n);
    const frames = this.recorder.frames(n);
    this.span.textContent = frames.length
      ? `, steps ${frames[0].step}–${frames[frames.length - 1].step}` : "";
  }

  async run() {
    const want = Math.max(1, Math.min(MAX_FRAMES, Math.round(Number(this.count.value)) || 1));
    this.count.value = String(want);
    const frames = this.recorder.frames(want);
    if (!frames.length) {
      this.dispatch({ type: "toast", text: "Nothing recorded yet: press Step or Play first.", kind: "info" });
      return;
    }
    const target = this.target.value, format = this.format.value;
    const what = format === "gif" ? "an animated GIF" : "a ZIP of PNGs";
    this.save.disabled = true;
    this.dispatch({ type: "toast", key: "recording", text: `Encoding ${frames.length} frames of the ${NAMES[target]} as ${what}…`, kind: "info" });
    try {
      const { blob, width, height } = await encodeRecording(frames, target, format);
      const first = frames[0].step, last = frames[frames.length - 1].step;
      const name = `backprop-lab-${target}-steps${first}-${last}.${format}`;
      saveBlob(blob, name);
      this.dispatch({ type: "toast", kind: "info", key: "recording",
        text: `Saved ${name}: ${frames.length} frames, ${width}×${height}, ${(blob.size / 1e6).toFixed(1)} MB.` });
    } catch (err) {
      this.dispatch({ type: "toast", key: "recording", text: `Could not save the recording: ${err.message}`, kind: "error" });
    } finally {
      this.save.disabled = false;
    }
  }
}

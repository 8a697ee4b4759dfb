// Turns recorded frames (recorder.js) into one file: an animated GIF or a ZIP of PNGs of the
// whole page or of one view. Frames are composed one at a time, so memory holds one decoded
// frame, never the whole recording.

import { canvasToPng } from "./canvas.js";
import { READOUT_CHARTS } from "./charts_view.js";
import { GifWriter, medianCutPalette } from "./gif.js";
import { drawPage } from "./page_image.js";
import { ZipWriter } from "./zip.js";

/** Which recorded images make each target (a chart's image is named by its key); charts are
 *  stacked top to bottom. */
const CHART_IMAGES = READOUT_CHARTS.map((c) => c.key);
export const TARGETS = {
  page: ["network", "boundary", "boundaryB", ...CHART_IMAGES],
  network: ["network"],
  boundary: ["boundary"],
  charts: CHART_IMAGES,
};
const PAGE_MAX_WIDTH = 1280;  // px of a whole-page frame
const PALETTE_SAMPLES = 6;    // frames whose colours make the GIF's palette
const DELAY_MS = [100, 500];  // a frame shows for its real gap to the next, within these bounds
const LAST_DELAY_MS = 1500;   // the last frame holds before the loop starts again

/** Output size {width, height} of `frame` for `target`. */
export function frameSize(frame, target) {
  if (target === "page") {
    const L = frame.layout;
    const scale = Math.min(1, PAGE_MAX_WIDTH / L.width);
    return { width: Math.round(L.width * scale), height: Math.round(L.height * scale) };
  }
  const ims = TARGETS[target].map((n) => frame.images[n]).filter(Boolean);
  return { width: Math.max(...ims.map((im) => im.width)), height: ims.reduce((h, im) => h + im.height, 0) };
}

/** Draws `frame` for `target` on `ctx`, whose canvas is `size` (the recording's size). */
async function compose(ctx, frame, target, size) {
  const names = TARGETS[target].filter((n) => frame.images[n]);  // boundaryB: compare mode only
  const bitmaps = {};
  await Promise.all(names.map(async (n) => { bitmaps[n] = await createImageBitmap(frame.images[n].blob); }));
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, size.width, size.height);
  if (target === "page") {
    drawPage(ctx, frame.layout, bitmaps, size.width / frame.layout.width);
  } else {
    // Stacked at the frame's own size, stretched to the recording's if a resize changed it.
    const own = frameSize(frame, target);
    ctx.scale(size.width / own.width, size.height / own.height);
    let y = 0;
    for (const n of names) { ctx.drawImage(bitmaps[n], 0, y); y += frame.images[n].height; }
  }
  for (const b of Object.values(bitmaps)) b.close();
}

const nextTask = () => new Promise((r) => setTimeout(r, 0));

/** Display time of frame k in hundredths of a second, from the capture times. */
function delayCs(frames, k) {
  if (k === frames.length - 1) return LAST_DELAY_MS / 10;
  const gap = frames[k + 1].time - frames[k].time;
  return Math.round(Math.min(DELAY_MS[1], Math.max(DELAY_MS[0], gap)) / 10);
}

/**
 * frames: recorder frames, oldest first; target: a TARGETS key; format: "gif" | "zip".
 * Resolves to {blob, width, height}; the size is the newest frame's. `progress(done, total)`
 * is called after each frame.
 */
export async function encodeRecording(frames, target, format, progress = () => {}) {
  if (!TARGETS[target]) throw new Error(`unknown target ${target}`);
  if (!frames.length) throw new Error("no frames recorded yet");
  const size = frameSize(frames[frames.length - 1], target);
  const canvas = document.createElement("canvas");
  canvas.width = size.width; canvas.height = size.height;
  const ctx = canvas.getContext("2d", { willReadFrequently: format === "gif" });
  const pixels = async (f) => { await compose(ctx, f, target, size); return ctx.getImageData(0, 0, size.width, size.height).data; };
  let blob;
  if (format === "gif") {
    const picks = [...new Set(Array.from({ length: PALETTE_SAMPLES },
      (_, i) => Math.round((i * (frames.length - 1)) / Math.max(1, PALETTE_SAMPLES - 1))))];
    const samples = [];
    for (const k of picks) samples.push(await pixels(frames[k]));
    const stride = Math.max(1, Math.floor((samples.length * size.width * size.height) / 2e6));
    const gif = new GifWriter(size.width, size.height, medianCutPalette(samples, 256, stride));
    samples.length = 0;
    for (let k = 0; k < frames.length; k++) {
      gif.addFrame(await pixels(frames[k]), delayCs(frames, k));
      progress(k + 1, frames.length);
      await nextTask();
    }
    blob = gif.finish();
  } else if (format === "zip") {
    // toBlob copies the canvas at once and encodes elsewhere: a few encodings run while the
    // next frames are composed; members are still added in order.
    const zip = new ZipWriter();
    const digits = String(frames.length).length;
    const inFlight = [];
    const addOldest = async () => {
      const { k, png } = inFlight.shift();
      zip.add(`frame-${String(k + 1).padStart(digits, "0")}-step-${frames[k].step}.png`,
        new Uint8Array(await (await png).arrayBuffer()));
      progress(k + 1, frames.length);
    };
    for (let k = 0; k < frames.length; k++) {
      const f = frames[k];
      const own = frameSize(f, target);
      const single = TARGETS[target].length === 1 && own.width === size.width && own.height === size.height;
      if (single) inFlight.push({ k, png: f.images[TARGETS[target][0]].blob });
      else { await compose(ctx, f, target, size); inFlight.push({ k, png: canvasToPng(canvas) }); }
      if (inFlight.length >= 4) await addOldest();
    }
    while (inFlight.length) await addOldest();
    blob = zip.blob();
  } else {
    throw new Error(`unknown format ${format}`);
  }
  return { blob, ...size };
}

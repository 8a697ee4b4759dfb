// An animated GIF89a encoder: a median-cut palette shared by every frame, LZW-compressed
// frames, the NETSCAPE2.0 loop extension and a delay per frame. Each frame after the first
// is cropped to the rectangle that changed (disposal "leave in place"), so long recordings of
// a mostly still page stay small.

const MAX_CODE = 4096;   // LZW codes are at most 12 bits
const HASH_SIZE = 5003;  // open-addressing table of the LZW dictionary (a prime > 4096)

/** Bin of an RGB colour at 5 bits a channel: 0 … 32767. */
const bin5 = (r, g, b) => ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);

/**
 * A palette of ≤ `size` colours for `images` (RGBA byte arrays, alpha ignored), by median cut
 * over a 5-bit-per-channel histogram; each colour is the mean of the pixels it stands for.
 * Returns a Uint8Array of 3·k bytes (r, g, b, …), k ≤ size.
 */
export function medianCutPalette(images, size = 256, stride = 1) {
  const count = new Float64Array(32768);
  const sum = new Float64Array(32768 * 3);
  for (const px of images) {
    for (let i = 0; i < px.length; i += 4 * stride) {
      const k = bin5(px[i], px[i + 1], px[i + 2]);
      count[k]++; sum[3 * k] += px[i]; sum[3 * k + 1] += px[i + 1]; sum[3 * k + 2] += px[i + 2];
    }
  }
  const used = [];
  for (let k = 0; k < 32768; k++) if (count[k]) used.push(k);
  const channel = (k, c) => (k >> (10 - 5 * c)) & 31;
  const boxOf = (bins) => {
    const lo = [31, 31, 31], hi = [0, 0, 0];
    let n = 0;
    for (const k of bins) {
      for (let c = 0; c < 3; c++) { const v = channel(k, c); if (v < lo[c]) lo[c] = v; if (v > hi[c]) hi[c] = v; }
      n += count[k];
    }
    const spans = hi.map((h, c) => h - lo[c]);
    const axis = spans.indexOf(Math.max(...spans));
    return { bins, n, axis, span: spans[axis] };
  };
  const boxes = [boxOf(used)];
  while (boxes.length < size) {
    // Split the box with the most pixels among those that still span more than one bin.
    let best = -1;
    boxes.forEach((b, i) => { if (b.span > 0 && (best < 0 || b.n * b.span > boxes[best].n * boxes[best].span)) best = i; });
    if (best < 0) break;
    const { bins, n, axis } = boxes[best];
    bins.sort((a, b) => channel(a, axis) - channel(b, axis));
    let acc = 0, cut = 1;
    for (; cut < bins.length - 1; cut++) { acc += count[bins[cut - 1]]; if (acc >= n / 2) break; }
    boxes.splice(best, 1, boxOf(bins.slice(0, cut)), boxOf(bins.slice(cut)));
  }
  const palette = new Uint8Array(boxes.length * 3);
  boxes.forEach((b, i) => {
    let r = 0, g = 0, bl = 0;
    for (const k of b.bins) { r += sum[3 * k]; g += sum[3 * k + 1]; bl += sum[3 * k + 2]; }
    palette[3 * i] = Math.round(r / b.n); palette[3 * i + 1] = Math.round(g / b.n); palette[3 * i + 2] = Math.round(bl / b.n);
  });
  return palette;
}

/** Maps RGBA pixels to the nearest palette index, memoised per 5-bit colour bin. */
class PaletteMap {
  constructor(palette) {
    this.palette = palette;
    this.cache = new Int16Array(32768).fill(-1);
  }

  /** rgba: w·h·4 bytes → a new Uint8Array of w·h indices. */
  indices(rgba) {
    const out = new Uint8Array(rgba.length / 4);
    for (let i = 0, p = 0; p < out.length; i += 4, p++) {
      const k = bin5(rgba[i], rgba[i + 1], rgba[i + 2]);
      let c = this.cache[k];
      if (c < 0) c = this.cache[k] = this._nearest(rgba[i], rgba[i + 1], rgba[i + 2]);
      out[p] = c;
    }
    return out;
  }

  _nearest(r, g, b) {
    const pal = this.palette;
    let best = 0, bestD = Infinity;
    for (let j = 0; j < pal.length; j += 3) {
      const dr = pal[j] - r, dg = pal[j + 1] - g, db = pal[j + 2] - b;
      const d = 2 * dr * dr + 4 * dg * dg + 3 * db * db;  // rough perceptual weights
      if (d < bestD) { bestD = d; best = j / 3; }
    }
    return best;
  }
}

/** A growable byte buffer. */
class Bytes {
  constructor() { this.buf = new Uint8Array(1 << 16); this.length = 0; }
  byte(b) {
    if (this.length === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf); this.buf = next;
    }
    this.buf[this.length++] = b;
  }
  u16(v) { this.byte(v & 255); this.byte((v >> 8) & 255); }
  ascii(s) { for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i)); }
  array(a) { for (const b of a) this.byte(b); }
  take() { const out = this.buf.slice(0, this.length); this.length = 0; return out; }
}

/**
 * GIF LZW of `indices` (one byte per pixel, each < 2^minCodeSize), written to `out` as
 * the min-code-size byte and data sub-blocks of ≤ 255 bytes ending with a 0 block.
 * Variable code width from minCodeSize+1 up to 12 bits; a clear code when the table is full.
 */
function writeLzw(out, indices, minCodeSize) {
  const clear = 1 << minCodeSize, eoi = clear + 1;
  const hashKeys = new Int32Array(HASH_SIZE).fill(-1);
  const hashCodes = new Int32Array(HASH_SIZE);
  let next = clear + 2, width = minCodeSize + 1, limit = (1 << width) - 1, clearing = false;
  const block = new Uint8Array(255);
  let blockLen = 0, acc = 0, bits = 0;
  out.byte(minCodeSize);
  const flushBlock = () => { if (blockLen) { out.byte(blockLen); out.array(block.subarray(0, blockLen)); blockLen = 0; } };
  const emit = (code) => {
    acc |= code << bits; bits += width;
    while (bits >= 8) { block[blockLen++] = acc & 255; acc >>>= 8; bits -= 8; if (blockLen === 255) flushBlock(); }
    // The decoder widens its codes one entry later than the encoder adds them: follow it.
    if (clearing) { width = minCodeSize + 1; limit = (1 << width) - 1; clearing = false; }
    else if (next > limit && width < 12) { width++; limit = width === 12 ? MAX_CODE : (1 << width) - 1; }
  };
  emit(clear);
  let prefix = indices[0];
  for (let p = 1; p < indices.length; p++) {
    const c = indices[p];
    const key = (c << 12) + prefix;
    let h = ((c << 4) ^ prefix) % HASH_SIZE;
    const step = h === 0 ? 1 : HASH_SIZE - h;
    let found = false;
    while (hashKeys[h] >= 0) {
      if (hashKeys[h] === key) { prefix = hashCodes[h]; found = true; break; }
      h -= step; if (h < 0) h += HASH_SIZE;
    }
    if (found) continue;
    emit(prefix);
    prefix = c;
    if (next < MAX_CODE) { hashCodes[h] = next++; hashKeys[h] = key; }
    else { hashKeys.fill(-1); next = clear + 2; clearing = true; emit(clear); }
  }
  emit(prefix);
  emit(eoi);
  if (bits > 0) { block[blockLen++] = acc & 255; if (blockLen === 255) flushBlock(); }
  flushBlock();
  out.byte(0);
}

/** The smallest rectangle where `a` and `b` (w×h index arrays) differ, or null. */
function changedRect(a, b, w, h) {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (a[row + x] !== b[row + x]) {
        if (x < x0) x0 = x; if (x > x1) x1 = x;
        if (y < y0) y0 = y; y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

function crop(indices, w, r) {
  const out = new Uint8Array(r.w * r.h);
  for (let y = 0; y < r.h; y++) out.set(indices.subarray((r.y + y) * w + r.x, (r.y + y) * w + r.x + r.w), y * r.w);
  return out;
}

/**
 * Writes an animated GIF of `width`×`height` frames with one global `palette` (from
 * medianCutPalette). `addFrame(rgba, delayCs)` takes width·height·4 bytes and a delay in
 * hundredths of a second; `finish()` returns the file as a Blob of type image/gif.
 */
export class GifWriter {
  constructor(width, height, palette, { loop = 0 } = {}) {
    if (!(width > 0 && height > 0 && width < 65536 && height < 65536)) throw new Error(`bad GIF size ${width}×${height}`);
    this.width = width; this.height = height;
    this.map = new PaletteMap(palette);
    this.previous = null;
    this.frames = 0;
    this.parts = [];
    this.out = new Bytes();
    const bits = Math.max(1, Math.ceil(Math.log2(palette.length / 3)));  // table of 2^bits colours
    this.tableBits = bits;
    const o = this.out;
    o.ascii("GIF89a");
    o.u16(width); o.u16(height);
    o.byte(0x80 | ((bits - 1) << 4) | (bits - 1));  // global table, colour resolution, size
    o.byte(0); o.byte(0);                            // background index, aspect ratio
    const table = new Uint8Array(3 << bits);
    table.set(palette);
    o.array(table);
    o.byte(0x21); o.byte(0xff); o.byte(11); o.ascii("NETSCAPE2.0");
    o.byte(3); o.byte(1); o.u16(loop); o.byte(0);   // loop count, 0 = for ever
    this.parts.push(o.take());
  }

  addFrame(rgba, delayCs) {
    const w = this.width, h = this.height;
    if (rgba.length !== w * h * 4) throw new Error(`frame has ${rgba.length} bytes, expected ${w * h * 4}`);
    const indices = this.map.indices(rgba);
    let rect = { x: 0, y: 0, w, h };
    if (this.previous) rect = changedRect(this.previous, indices, w, h) || { x: 0, y: 0, w: 1, h: 1 };
    this.previous = indices;
    const o = this.out;
    o.byte(0x21); o.byte(0xf9); o.byte(4);
    o.byte(1 << 2);                                   // disposal: leave in place; no transparency
    o.u16(Math.max(0, Math.min(65535, Math.round(delayCs))));
    o.byte(0); o.byte(0);
    o.byte(0x2c); o.u16(rect.x); o.u16(rect.y); o.u16(rect.w); o.u16(rect.h); o.byte(0);
    writeLzw(o, rect.w === w && rect.h === h ? indices : crop(indices, w, rect), Math.max(2, this.tableBits));
    this.parts.push(o.take());
    this.frames++;
  }

  finish() {
    this.out.byte(0x3b);
    this.parts.push(this.out.take());
    return new Blob(this.parts, { type: "image/gif" });
  }
}

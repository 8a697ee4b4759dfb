// A canvas whose backing store follows its CSS size × devicePixelRatio (or a forced scale for
// exports), plus PNG downloads.

export class HiDPICanvas {
  /** Wraps `canvas`; `onResize()` is called after the backing store changed size. */
  constructor(canvas, onResize) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.width = 0;   // CSS pixels
    this.height = 0;
    this.onResize = onResize;
    this._observer = new ResizeObserver(() => this.fit());
    this._observer.observe(canvas);
    this.fit();
  }

  /** Match the backing store to the element; returns true when the size changed. */
  fit() {
    const rect = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(rect.width)), h = Math.max(1, Math.round(rect.height));
    if (w === this.width && h === this.height && this.dpr === dpr) return false;
    this.width = w; this.height = h; this.dpr = dpr;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    if (this.onResize) this.onResize();
    return true;
  }

  /**
   * Calls `draw()` with the backing store at `scale` backing pixels per CSS pixel (whatever
   * the screen's devicePixelRatio) and returns a copy of the result, round(width·scale) ×
   * round(height·scale); the screen's backing store and picture are then put back as they were.
   */
  renderAt(scale, draw) {
    const screen = { scale: this.dpr, picture: copyCanvas(this.canvas) };
    this._setScale(scale);
    try {
      draw();
      return copyCanvas(this.canvas);
    } finally {
      this._setScale(screen.scale);
      this.ctx.drawImage(screen.picture, 0, 0);
    }
  }

  _setScale(scale) {
    this.dpr = scale;
    this.canvas.width = Math.round(this.width * scale);
    this.canvas.height = Math.round(this.height * scale);
  }

  /** Context reset to CSS-pixel coordinates and cleared. */
  begin(background = null) {
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    if (background) { ctx.fillStyle = background; ctx.fillRect(0, 0, this.width, this.height); }
    else ctx.clearRect(0, 0, this.width, this.height);
    return ctx;
  }

  /** Mouse event → CSS-pixel coordinates inside the canvas. */
  pointer(ev) {
    const r = this.canvas.getBoundingClientRect();
    return { x: ev.clientX - r.left, y: ev.clientY - r.top };
  }
}

function copyCanvas(canvas) {
  const copy = document.createElement("canvas");
  copy.width = canvas.width; copy.height = canvas.height;
  copy.getContext("2d").drawImage(canvas, 0, 0);
  return copy;
}

/** Download `canvas` as a PNG named `name` (a white background is put behind it). */
export function savePng(canvas, name) {
  const out = document.createElement("canvas");
  out.width = canvas.width; out.height = canvas.height;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(canvas, 0, 0);
  canvasToPng(out).then((blob) => saveBlob(blob, name));
}

/** The canvas's pixels at the time of the call (toBlob copies them at once) as a PNG Blob. */
export function canvasToPng(canvas) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("toBlob gave no PNG"))), "image/png");
  });
}

/** Download `blob` as a file named `name`, through a temporary <a download>. */
export function saveBlob(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** The canvases stacked top to bottom on white, as wide as the widest: one image for slides. */
export function stackCanvases(canvases) {
  const out = document.createElement("canvas");
  out.width = Math.max(1, ...canvases.map((c) => c.width));
  out.height = Math.max(1, canvases.reduce((h, c) => h + c.height, 0));
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, out.width, out.height);
  let y = 0;
  for (const c of canvases) { ctx.drawImage(c, 0, y); y += c.height; }
  return out;
}

/** A small offscreen canvas holding an n×n image, reused while n stays the same. */
export class Thumb {
  constructor() { this.canvas = document.createElement("canvas"); this.img = null; }
  image(n) {
    if (!this.img || this.img.width !== n) {
      this.canvas.width = n; this.canvas.height = n;
      this.img = this.canvas.getContext("2d").createImageData(n, n);
    }
    return this.img;
  }
  commit() { this.canvas.getContext("2d").putImageData(this.img, 0, 0); }
}

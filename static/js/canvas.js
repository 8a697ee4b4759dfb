// A canvas whose backing store follows its CSS size × devicePixelRatio, plus PNG export.

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

/** Download `canvas` as a PNG named `name` (a white background is put behind it). */
export function savePng(canvas, name) {
  const out = document.createElement("canvas");
  out.width = canvas.width; out.height = canvas.height;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(canvas, 0, 0);
  out.toBlob((blob) => {
    if (!blob) return;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }, "image/png");
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

/** Format a number for display: 4 significant digits, '—' for missing. */
export function fmt(x, digits = 4) {
  if (x === null || x === undefined) return "—";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : x < 0 ? "−∞" : "NaN";
  if (x === 0) return "0";
  const a = Math.abs(x);
  const s = a >= 1e5 || a < 1e-4 ? x.toExponential(digits - 1) : x.toPrecision(digits);
  return (s.includes("e") ? s.replace(/\.?0+e/, "e") : s.replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "")).replace("-", "−");
}

// Small schematic pictures of the data sets for the data-set picker. They are icons drawn
// from a fixed recipe, not the data: the real points come from the server.

import { CLASS_COLORS, NEG, POS, divergingCss, rgbCss } from "./colors.js";

const O = rgbCss(NEG), B = rgbCss(POS);

function dots(ctx, pts, r = 1.6) {
  for (const [x, y, c] of pts) { ctx.fillStyle = c; ctx.beginPath(); ctx.arc(x, y, r, 0, 7); ctx.fill(); }
}

// A fixed pseudo-random sequence so icons look the same on every load.
function lcg(seed) { let s = seed; return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648); }

const RECIPES = {
  circle(ctx, S, rnd) {
    const p = [];
    for (let k = 0; k < 70; k++) {
      const inner = k % 2 === 0, r = inner ? rnd() * 0.22 : 0.32 + rnd() * 0.14, a = rnd() * 6.3;
      p.push([S / 2 + r * S * Math.cos(a), S / 2 + r * S * Math.sin(a), inner ? B : O]);
    }
    dots(ctx, p);
  },
  xor(ctx, S, rnd) {
    const p = [];
    for (let k = 0; k < 80; k++) {
      const x = rnd() * 2 - 1, y = rnd() * 2 - 1;
      p.push([S / 2 + x * S * 0.44, S / 2 + y * S * 0.44, x * y >= 0 ? B : O]);
    }
    dots(ctx, p);
  },
  gaussian(ctx, S, rnd) {
    const p = [];
    for (let k = 0; k < 70; k++) {
      const c = k % 2 ? 0.3 : 0.7, g = () => (rnd() + rnd() + rnd() - 1.5) * 0.18;
      p.push([S * (c + g()), S * (c + g()), k % 2 ? O : B]);
    }
    dots(ctx, p);
  },
  spiral(ctx, S, rnd, k = 2, colors = [B, O]) {
    const p = [];
    for (let c = 0; c < k; c++) {
      for (let i = 0; i < 36; i++) {
        const r = (i / 36) * 0.45, t = (1.75 * i / 36) * 2 * Math.PI + (c * 2 * Math.PI) / k;
        p.push([S / 2 + r * S * Math.sin(t) + (rnd() - 0.5) * 2, S / 2 + r * S * Math.cos(t) + (rnd() - 0.5) * 2, colors[c]]);
      }
    }
    dots(ctx, p);
  },
  moons(ctx, S, rnd) {
    const p = [];
    for (let i = 0; i < 36; i++) {
      const t = (i / 35) * Math.PI;
      p.push([S * (0.32 + 0.25 * Math.cos(t)), S * (0.52 - 0.25 * Math.sin(t)), B]);
      p.push([S * (0.57 + 0.25 * Math.cos(t + Math.PI)), S * (0.45 - 0.25 * Math.sin(t + Math.PI)), O]);
    }
    dots(ctx, p);
  },
  checkerboard(ctx, S) {
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
      ctx.fillStyle = (i + j) % 2 ? O : B;
      ctx.fillRect(4 + (i * (S - 8)) / 4 + 2, 4 + (j * (S - 8)) / 4 + 2, (S - 8) / 4 - 4, (S - 8) / 4 - 4);
    }
  },
  custom(ctx, S) {
    ctx.strokeStyle = "#666"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(S / 2, S * 0.3); ctx.lineTo(S / 2, S * 0.7);
    ctx.moveTo(S * 0.3, S / 2); ctx.lineTo(S * 0.7, S / 2); ctx.stroke();
  },
  plane(ctx, S) {
    for (let i = 0; i < S; i += 2) { ctx.fillStyle = divergingCss((i / S) * 2 - 1); ctx.fillRect(i, 0, 2, S); }
  },
  multi_gaussian(ctx, S) {
    const c = [[0.2, 0.3, 1], [0.5, 0.3, -1], [0.8, 0.3, 1], [0.2, 0.7, -1], [0.5, 0.7, 1], [0.8, 0.7, -1]];
    for (const [x, y, s] of c) {
      const g = ctx.createRadialGradient(x * S, y * S, 0, x * S, y * S, S * 0.16);
      g.addColorStop(0, divergingCss(s)); g.addColorStop(1, "rgba(255,255,255,0)");
      ctx.fillStyle = g; ctx.fillRect(0, 0, S, S);
    }
  },
  blobs(ctx, S, rnd) {
    const p = [];
    for (let c = 0; c < 3; c++) {
      const a = -Math.PI / 2 + (c * 2 * Math.PI) / 3;
      for (let i = 0; i < 22; i++) {
        const g = () => (rnd() + rnd() - 1) * 0.12;
        p.push([S * (0.5 + 0.27 * Math.cos(a) + g()), S * (0.5 + 0.27 * Math.sin(a) + g()), CLASS_COLORS[c]]);
      }
    }
    dots(ctx, p);
  },
  multi_spiral(ctx, S, rnd) { RECIPES.spiral(ctx, S, rnd, 3, CLASS_COLORS.slice(0, 3)); },
  // a sheet of rows: a CSV file's data, whatever its task
  your_data(ctx, S) {
    ctx.fillStyle = "#fff"; ctx.strokeStyle = "#666"; ctx.lineWidth = 1.5;
    ctx.fillRect(S * 0.22, S * 0.14, S * 0.56, S * 0.72); ctx.strokeRect(S * 0.22, S * 0.14, S * 0.56, S * 0.72);
    for (let r = 0; r < 5; r++) {
      ctx.fillStyle = r % 2 ? O : B;
      ctx.fillRect(S * 0.3, S * (0.24 + r * 0.12), S * 0.4, S * 0.05);
    }
  },
  your_data_classes(ctx, S, rnd) { RECIPES.your_data(ctx, S, rnd); },
  your_data_regression(ctx, S, rnd) { RECIPES.your_data(ctx, S, rnd); },
};

/** A canvas of CSS size `size` with the icon of data set `name` (blank if unknown). */
export function datasetIcon(name, size = 44) {
  const c = document.createElement("canvas");
  const dpr = window.devicePixelRatio || 1;
  c.width = Math.round(size * dpr); c.height = Math.round(size * dpr);
  c.style.width = `${size}px`; c.style.height = `${size}px`;
  const ctx = c.getContext("2d");
  ctx.scale(dpr, dpr);
  ctx.fillStyle = "#f4f5f6"; ctx.fillRect(0, 0, size, size);
  const recipe = RECIPES[name];
  if (recipe) recipe(ctx, size, lcg(name.length * 7919 + 17));
  return c;
}

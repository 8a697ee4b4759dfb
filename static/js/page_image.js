// The whole page as one image, for recordings: read where the boxes, canvases, texts and
// form controls are on screen, then draw them again on a canvas. Texts are read a line at a
// time (a wrapped paragraph is one text node over several lines) and clipped to the card
// they scroll in; a control is drawn as what it shows: a select's chosen option, a field's
// value, a tick, a slider's track and knob.

const BOXES = ".topbar, .card, .panel, .room-bar:not([hidden])";
const CONTROLS = "button, select, input";
const SKIP = "select, option, script, style, canvas, [hidden], [aria-hidden='true']";

const rectOf = (r) => ({ x: r.left, y: r.top, w: r.width, h: r.height });
const fontOf = (cs) => `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;

function intersect(a, b) {
  const x = Math.max(a.x, b.x), y = Math.max(a.y, b.y);
  return { x, y, w: Math.min(a.x + a.w, b.x + b.w) - x, h: Math.min(a.y + a.h, b.y + b.h) - y };
}

/** The part of the viewport `el` is seen in: its scrolling ancestors' boxes, intersected
 * (memoised in `memo` for one reading of the page). */
function clipOf(el, memo) {
  const p = el.parentElement;
  if (!p || p === document.body) return { x: 0, y: 0, w: window.innerWidth, h: window.innerHeight };
  let clip = memo.get(p);
  if (!clip) {
    clip = clipOf(p, memo);
    if (getComputedStyle(p).overflowY !== "visible") clip = intersect(clip, rectOf(p.getBoundingClientRect()));
    memo.set(p, clip);
  }
  return clip;
}

const inside = (r, clip) => r.y >= clip.y - 1 && r.y + r.h <= clip.y + clip.h + 1
  && r.x >= clip.x - 1 && r.x + r.w <= clip.x + clip.w + 1;

/** A text node's lines: [{x, y, w, h, text}], one per line box it is laid out in. */
function linesOf(node, range) {
  range.selectNodeContents(node);
  const boxes = range.getClientRects();
  if (boxes.length === 1) {  // one line (most nodes): no need to find where each word went
    const r = boxes[0];
    return r.width >= 1 && r.height >= 1 ? [{ x: r.left, y: r.top, w: r.width, h: r.height, text: node.textContent.trim() }] : [];
  }
  const lines = [];
  const s = node.textContent;
  const words = /\S+/g;
  let line = null;
  for (let m = words.exec(s); m; m = words.exec(s)) {
    range.setStart(node, m.index);
    range.setEnd(node, m.index + m[0].length);
    const r = range.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    if (line && Math.abs(r.top - line.y) < r.height / 2) {
      line.text += ` ${m[0]}`;
      line.w = r.right - line.x;
    } else {
      line = { x: r.left, y: r.top, w: r.width, h: r.height, text: m[0] };
      lines.push(line);
    }
  }
  return lines;
}

function boxOf(el, cs) {
  const all = parseFloat(cs.borderTopWidth) > 0;
  const border = all ? "all" : parseFloat(cs.borderBottomWidth) > 0 ? "bottom" : null;
  return { ...rectOf(el.getBoundingClientRect()), fill: cs.backgroundColor, border,
    line: all ? cs.borderTopColor : cs.borderBottomColor, radius: parseFloat(cs.borderTopLeftRadius) || 0 };
}

/** A form control as something to draw: a box and the text it shows, or a tick or a slider. */
function controlOf(el) {
  const cs = getComputedStyle(el);
  const r = rectOf(el.getBoundingClientRect());
  const pad = parseFloat(cs.paddingLeft) || 4;
  const text = (t, color = cs.color) => ({ x: r.x + pad, y: r.y, w: r.w - 2 * pad, h: r.h, text: t, font: fontOf(cs), color });
  if (el instanceof HTMLSelectElement) {
    const opt = el.selectedOptions[0];
    return { box: boxOf(el, cs), texts: opt ? [text(`${opt.text} ▾`)] : [] };
  }
  if (el instanceof HTMLInputElement) {
    if (el.type === "checkbox" || el.type === "radio") {
      return { tick: { ...r, on: el.checked, round: el.type === "radio", color: cs.accentColor !== "auto" ? cs.accentColor : "#1a73e8" } };
    }
    if (el.type === "range") {
      const lo = parseFloat(el.min || "0"), hi = parseFloat(el.max || "100");
      return { slider: { ...r, t: hi > lo ? (parseFloat(el.value) - lo) / (hi - lo) : 0 } };
    }
    if (el.type === "file" || el.type === "hidden") return null;
    return { box: boxOf(el, cs), texts: el.value ? [text(el.value)] : el.placeholder ? [text(el.placeholder, "#999")] : [] };
  }
  return { box: boxOf(el, cs), texts: [] };  // a button: its label is read as text
}

/**
 * Where things are now, in CSS pixels of the viewport: {width, height, background, boxes:
 * [{x, y, w, h, fill, border: all|bottom|null, line, radius}], texts: [{x, y, w, h, text,
 * font, color}], ticks: [{x, y, w, h, on, round, color}], sliders: [{x, y, w, h, t}],
 * canvases: {name: {x, y, w, h}}} for `canvases`, a {name: HTMLCanvasElement}.
 */
export function readPageLayout(canvases) {
  const shown = (el) => el.getClientRects().length > 0 && !el.closest("[hidden]");
  const boxes = [...document.querySelectorAll(BOXES)].filter(shown).map((el) => boxOf(el, getComputedStyle(el)));
  const texts = [], ticks = [], sliders = [];
  const memo = new Map();
  for (const el of document.querySelectorAll(CONTROLS)) {
    if (!shown(el)) continue;
    const c = controlOf(el);
    if (!c) continue;
    const clip = clipOf(el, memo);
    const r = c.box || c.tick || c.slider;
    if (!inside(r, clip)) continue;
    if (c.box) { boxes.push(c.box); texts.push(...c.texts); }
    if (c.tick) ticks.push(c.tick);
    if (c.slider) sliders.push(c.slider);
  }
  const range = document.createRange();
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    const el = node.parentElement;
    if (!el || !node.textContent.trim() || el.closest(SKIP)) continue;
    const lines = linesOf(node, range);
    if (!lines.length) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === "hidden" || cs.opacity === "0") continue;
    const clip = clipOf(el, memo);
    for (const line of lines) {
      if (inside(line, clip)) texts.push({ ...line, font: fontOf(cs), color: cs.color });
    }
  }
  for (const li of document.querySelectorAll("li")) {  // list markers are not text nodes
    const cs = getComputedStyle(li);
    if (cs.listStyleType === "none" || !shown(li)) continue;
    const r = li.getClientRects()[0];
    const lh = parseFloat(cs.lineHeight) || r.height;
    const bullet = { x: r.left - 12, y: r.top, w: 10, h: Math.min(r.height, lh), text: "•", font: fontOf(cs), color: cs.color };
    if (inside(bullet, clipOf(li, memo))) texts.push(bullet);
  }
  const rects = {};
  for (const [name, canvas] of Object.entries(canvases)) rects[name] = rectOf(canvas.getBoundingClientRect());
  return { width: window.innerWidth, height: window.innerHeight,
    background: getComputedStyle(document.body).backgroundColor, boxes, texts, ticks, sliders, canvases: rects };
}

function drawBox(ctx, b) {
  ctx.fillStyle = b.fill;
  ctx.strokeStyle = b.line;
  ctx.beginPath();
  ctx.roundRect(b.x + 0.5, b.y + 0.5, b.w - 1, b.h - 1, b.radius);
  ctx.fill();
  if (b.border === "all") ctx.stroke();
  if (b.border === "bottom") {
    ctx.beginPath(); ctx.moveTo(b.x, b.y + b.h - 0.5); ctx.lineTo(b.x + b.w, b.y + b.h - 0.5); ctx.stroke();
  }
}

function drawTick(ctx, t) {
  const s = Math.min(t.w, t.h, 14), x = t.x + (t.w - s) / 2, y = t.y + (t.h - s) / 2;
  ctx.beginPath();
  if (t.round) ctx.arc(x + s / 2, y + s / 2, s / 2 - 0.5, 0, 2 * Math.PI); else ctx.roundRect(x + 0.5, y + 0.5, s - 1, s - 1, 2);
  ctx.fillStyle = t.on ? t.color : "#fff";
  ctx.strokeStyle = t.on ? t.color : "#767676";
  ctx.fill();
  ctx.stroke();
  if (t.on && !t.round) {
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(x + s * 0.22, y + s * 0.52); ctx.lineTo(x + s * 0.42, y + s * 0.72); ctx.lineTo(x + s * 0.78, y + s * 0.3); ctx.stroke();
    ctx.lineWidth = 1;
  } else if (t.on) {
    ctx.fillStyle = "#fff"; ctx.beginPath(); ctx.arc(x + s / 2, y + s / 2, s / 5, 0, 2 * Math.PI); ctx.fill();
  }
}

function drawSlider(ctx, s) {
  const r = Math.min(8, s.h / 2), y = s.y + s.h / 2, x0 = s.x + r, x1 = s.x + s.w - r;
  const x = x0 + Math.max(0, Math.min(1, s.t)) * (x1 - x0);
  ctx.lineWidth = 4; ctx.lineCap = "round";
  ctx.strokeStyle = "#1a73e8"; ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x, y); ctx.stroke();
  ctx.strokeStyle = "#c4c7cc"; ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x1, y); ctx.stroke();
  ctx.lineWidth = 1; ctx.lineCap = "butt";
  ctx.fillStyle = "#1a73e8"; ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.fill();
}

/**
 * Draws `layout` (readPageLayout) on `ctx` at `scale` output pixels per CSS pixel, with
 * `images[name]` (any CanvasImageSource) stretched over each canvas's rectangle.
 */
export function drawPage(ctx, layout, images, scale) {
  ctx.save();
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  ctx.fillStyle = layout.background;
  ctx.fillRect(0, 0, layout.width, layout.height);
  ctx.lineWidth = 1;
  for (const b of layout.boxes) drawBox(ctx, b);
  ctx.imageSmoothingQuality = "high";
  for (const [name, r] of Object.entries(layout.canvases)) {
    if (images[name]) ctx.drawImage(images[name], r.x, r.y, r.w, r.h);
  }
  for (const t of layout.ticks || []) drawTick(ctx, t);
  for (const s of layout.sliders || []) drawSlider(ctx, s);
  ctx.textBaseline = "middle";
  for (const t of layout.texts) {
    ctx.font = t.font;
    ctx.fillStyle = t.color;
    ctx.fillText(t.text, t.x, t.y + t.h / 2, Math.max(t.w, 1) + 2);  // never past its line box
  }
  ctx.restore();
}

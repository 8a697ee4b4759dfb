// The whole page as one image, for recordings: read where the boxes, canvases and texts are
// on screen, then draw them again on a canvas. Form controls are not drawn; the texts a
// slide needs (the title, the status line with step, epoch and losses, the card titles and
// the network's labels) are.

const BOXES = ".topbar, .card, .panel";
const TEXTS = ".brand, .status, .card-head h2, .net-overlay, .stop-line:not([hidden])";

const rectOf = (r) => ({ x: r.left, y: r.top, w: r.width, h: r.height });

/**
 * Where things are now, in CSS pixels of the viewport: {width, height, background, boxes:
 * [{x, y, w, h, fill, border: all|bottom|null, line, radius}], texts: [{x, y, w, h, text, font, color}],
 * canvases: {name: {x, y, w, h}}} for `canvases`, a {name: HTMLCanvasElement}.
 */
export function readPageLayout(canvases) {
  const shown = (el) => el.getClientRects().length > 0;
  const boxes = [...document.querySelectorAll(BOXES)].filter(shown).map((el) => {
    const cs = getComputedStyle(el);
    const all = parseFloat(cs.borderTopWidth) > 0;
    const border = all ? "all" : parseFloat(cs.borderBottomWidth) > 0 ? "bottom" : null;
    return { ...rectOf(el.getBoundingClientRect()), fill: cs.backgroundColor, border,
      line: all ? cs.borderTopColor : cs.borderBottomColor, radius: parseFloat(cs.borderTopLeftRadius) || 0 };
  });
  const texts = [];
  const range = document.createRange();
  for (const root of document.querySelectorAll(TEXTS)) {
    const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      const text = node.textContent.trim();
      const el = node.parentElement;
      if (!text || !el || el.closest("select, [hidden]")) continue;
      range.selectNodeContents(node);
      const r = range.getBoundingClientRect();
      if (r.width < 1 || r.height < 1) continue;
      const cs = getComputedStyle(el);
      texts.push({ ...rectOf(r), text,
        font: `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`, color: cs.color });
    }
  }
  const rects = {};
  for (const [name, canvas] of Object.entries(canvases)) rects[name] = rectOf(canvas.getBoundingClientRect());
  return { width: window.innerWidth, height: window.innerHeight,
    background: getComputedStyle(document.body).backgroundColor, boxes, texts, canvases: rects };
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
  for (const b of layout.boxes) {
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
  ctx.imageSmoothingQuality = "high";
  for (const [name, r] of Object.entries(layout.canvases)) {
    if (images[name]) ctx.drawImage(images[name], r.x, r.y, r.w, r.h);
  }
  ctx.textBaseline = "middle";
  for (const t of layout.texts) {
    ctx.font = t.font;
    ctx.fillStyle = t.color;
    ctx.fillText(t.text, t.x, t.y + t.h / 2);
  }
  ctx.restore();
}

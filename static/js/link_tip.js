// @ts-check
// The diagram's direct manipulation, as in Playground: hovering a link shows its weight (and
// ∂L/∂w in the backward view) in a tooltip beside the pointer; clicking a link opens a small
// editor at the link to type a new weight (Enter applies, Esc cancels). The values come from
// the network view (the engine's weights and gradients as drawn); the edit goes out through
// `on.setWeight`, as the inspector's "set to" box does.

import { formatNumber } from "./format.js";

export class LinkTip {
  /** wrap: the positioned element around the diagram's canvas; on: {setWeight(layer, i, j,
   *  value), canEdit(): boolean}. */
  constructor(wrap, on) {
    this.on = on;
    this.tip = document.createElement("div");
    Object.assign(this.tip, { className: "link-tip", hidden: true });
    this.tip.dataset.testid = "link-tip";
    this.tip.setAttribute("role", "tooltip");
    this.editor = document.createElement("input");
    Object.assign(this.editor, { className: "link-editor", hidden: true, type: "number", step: "any" });
    this.editor.dataset.testid = "link-editor";
    this.editor.setAttribute("aria-label", "New weight for this link (Enter applies, Esc cancels)");
    this.link = null;
    this.editor.addEventListener("keydown", (ev) => {
      ev.stopPropagation();  // not the page's shortcuts
      if (ev.key === "Escape") this.close();
      else if (ev.key === "Enter") {
        const v = Number(this.editor.value);
        if (this.editor.value.trim() !== "" && Number.isFinite(v) && this.link) {
          const { layer, i, j } = this.link;
          this.on.setWeight(layer, i, j, v);
        }
        this.close();
      }
    });
    this.editor.addEventListener("blur", () => this.close());
    wrap.append(this.tip, this.editor);
  }

  /** Show `w` (and `grad`, ∂L/∂w, when not null) beside the pointer at (x, y) in the wrap. */
  show(x, y, w, grad) {
    const lines = [`w = ${formatNumber(w, 4)}`];
    if (grad !== null && grad !== undefined) lines.push(`∂L/∂w = ${formatNumber(grad, 4)}`);
    this.tip.textContent = lines.join("\n");
    this.tip.style.whiteSpace = "pre";
    this.tip.hidden = false;
    const wrap = /** @type {HTMLElement} */ (this.tip.parentElement);
    const left = Math.min(x + 14, wrap.clientWidth - this.tip.offsetWidth - 2);
    const top = y + 14 + this.tip.offsetHeight > wrap.clientHeight ? y - this.tip.offsetHeight - 10 : y + 14;
    Object.assign(this.tip.style, { left: `${Math.max(0, left)}px`, top: `${Math.max(0, top)}px` });
  }

  hide() { this.tip.hidden = true; }

  /** Open the editor at (x, y) for link {layer, i, j}, holding its weight `w`. */
  open(link, x, y, w) {
    if (!this.on.canEdit()) return;
    this.link = link;
    this.hide();
    this.editor.value = String(Number(w.toPrecision(6)));
    this.editor.hidden = false;
    const wrap = /** @type {HTMLElement} */ (this.editor.parentElement);
    const left = Math.min(Math.max(0, x - this.editor.offsetWidth / 2), wrap.clientWidth - this.editor.offsetWidth);
    Object.assign(this.editor.style, { left: `${left}px`, top: `${Math.max(0, y - this.editor.offsetHeight - 6)}px` });
    this.editor.focus();
    this.editor.select();
  }

  close() {
    if (this.editor.hidden) return;
    this.editor.hidden = true;
    this.link = null;
  }
}

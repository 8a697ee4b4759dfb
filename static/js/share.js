// Share links: a URL that holds the configuration and, optionally, the exact weights.
//   ?dataset=xor&hidden=4,2&…&w=<base64url of every weight, then every bias, float64 LE>
// The weights are float64, so a shared network is the sender's to the last bit; their
// shapes come from the configuration, which the page applies first.

import { h } from "./dom.js";
import { encodeConfig, withPageParams } from "./url.js";

/** base64url of the float64 little-endian bytes of all weights (layer by layer, row-major), then all biases. */
export function encodeWeights(params) {
  const flat = [...params.weights.flat(2), ...params.biases.flat()];
  const bytes = new Uint8Array(new Float64Array(flat).buffer);  // little-endian on every browser platform
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The Float64Array of `encodeWeights`, or null when `text` is not one. */
export function decodeWeights(text) {
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    if (bin.length % 8) return null;
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new Float64Array(bytes.buffer);
  } catch {
    return null;
  }
}

/** {weights, biases} shaped like `like` (state.params) from a flat array, or null on a size mismatch. */
export function shapeWeights(flat, like) {
  let k = 0;
  const take = (n) => Array.from(flat.subarray(k, (k += n)));
  const count = like.weights.reduce((n, W) => n + W.length * W[0].length, 0)
    + like.biases.reduce((n, b) => n + b.length, 0);
  if (!flat || flat.length !== count) return null;
  const weights = like.weights.map((W) => W.map((row) => take(row.length)));
  const biases = like.biases.map((b) => take(b.length));
  return { weights, biases };
}

/** The share link of state `s`: config (and lesson), and with `withWeights` the exact
 *  weights, or null while the page holds only a frame's float32 copy of them. */
export function shareLink(s, withWeights) {
  if (!s.config) return "";
  let q = withPageParams(encodeConfig(s.config, s.schema), { lesson: s.ui.lesson, projector: false });
  if (withWeights) {
    if (s.paramsStep !== s.counters.step || !s.params) return null;
    q += `&w=${encodeWeights(s.params)}`;
  }
  return `${location.origin}${location.pathname}?${q}`;
}

/** The share popover: the link, whether it carries the weights, and a copy button. */
export class SharePanel {
  /** The link is read off `store`'s state, again after each state; refresh() asks for a
   *  state (the exact weights). */
  constructor(button, panel, store, refresh) {
    this.panel = panel;
    this.button = button;
    this.link = (withWeights) => shareLink(store.state, withWeights);
    store.on(["state"], () => this.update());
    this.refresh = refresh;
    this.withWeights = false;
    this.input = h("input", { type: "text", readonly: true, "aria-label": "Share link", "data-testid": "share-url",
      onfocus: (e) => e.target.select() });
    this.check = h("input", { type: "checkbox", id: "share-weights",
      onchange: (e) => { this.withWeights = e.target.checked; if (this.withWeights) refresh(); this.update(); } });
    panel.replaceChildren(
      h("div", { className: "panel-title" }, "Share this setup"),
      h("label", { className: "check" }, this.check, " include the current weights (exact)"),
      this.input,
      h("div", { className: "room-actions" },
        h("button", { type: "button", onclick: () => navigator.clipboard && navigator.clipboard.writeText(this.input.value) }, "Copy"),
        h("button", { type: "button", onclick: () => this.toggle(false) }, "Close")));
    button.addEventListener("click", () => this.toggle(panel.hidden));
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !panel.hidden) this.toggle(false); });
  }

  toggle(open) {
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open && this.withWeights) this.refresh();
    this.update();
  }

  /** Re-read the link (after a state); cheap when the panel is closed. */
  update() {
    if (this.panel.hidden) return;
    const url = this.link(this.withWeights);
    this.input.value = url || "reading the exact weights…";
  }
}

// @ts-check
// Your own data: a CSV file chosen in the Data panel or dropped on the output plot is read
// here as UTF-8 (bytes that are not UTF-8 become U+FFFD, which the server refuses as a binary
// file), sent for a preview (rows read, classes and their mapping, ranges: nothing changes),
// and trained on only when Import is pressed; Cancel sends nothing. The server's parser
// (engine/csv_points.py) is the one judge of a file: this module carries the text and shows
// the answer, and keeps the text between the preview and Import (it is not page state).

import { BINARY_CLASS_COLORS, CLASS_COLORS } from "./colors.js";
import { formatNumber } from "./format.js";
import { h } from "./dom.js";

const AXES = ["x₁", "x₂", "y"];

/** "x₁ length (cm): 10–308 mapped to −5…5", one line per scale of a `source` or preview. */
export function scaleLines(source) {
  return source.scales.map((s, i) => `${AXES[i]} ${s.column}: ${num(s.lo)}–${num(s.hi)} mapped to `
    + `${num(s.to[0])}…${num(s.to[1])}`);
}

const num = (v) => formatNumber(v, 4);

/** A class swatch and its name: "● setosa". */
function classChip(task, k, name, count) {
  const colors = task === "binary" ? BINARY_CLASS_COLORS : CLASS_COLORS;
  const dot = h("span", { className: "chip-dot", "aria-hidden": "true" });
  dot.style.background = colors[k % colors.length];
  return h("li", { dataset: { cls: String(k) } }, dot, `${name} → class ${k}`,
    count === undefined ? "" : ` (${count} rows)`);
}

export class CsvImport {
  /**
   * dialog: the preview's element; drop: where a file may be dropped;
   * on: {preview(name, text), apply(name, text), cancel(), refuse(name, message), limit(): bytes}
   */
  constructor(dialog, drop, on) {
    this.dialog = dialog;
    this.on = on;
    /** @type {{name: string, text: string} | null} the file between its preview and Import */
    this.pending = null;
    /** @type {Element | null} where focus goes back when the dialog closes */
    this.returnFocus = null;
    this.key = "";
    drop.addEventListener("dragover", (e) => {
      if (!e.dataTransfer || ![...e.dataTransfer.types].includes("Files")) return;
      e.preventDefault();
      drop.classList.add("dropping");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("dropping"));
    drop.addEventListener("drop", (e) => {
      drop.classList.remove("dropping");
      const file = e.dataTransfer && e.dataTransfer.files[0];
      if (!file) return;
      e.preventDefault();
      this.read(file);
    });
    dialog.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.stopPropagation(); this.cancel(); } });
  }

  /** Read `file` and ask the server for its preview (a file over the import cap is refused here). */
  async read(file) {
    const limit = this.on.limit();
    if (file.size > limit) {
      this.pending = null;
      return this.on.refuse(file.name, `The file is ${formatNumber(file.size / 1024, 3)} KiB; files up to ${formatNumber(limit / 1024, 3)} KiB can be imported.`);
    }
    this.returnFocus = document.activeElement;  // the file input, if it was chosen there
    const text = new TextDecoder("utf-8").decode(await file.arrayBuffer());
    this.pending = { name: file.name || "data.csv", text };
    this.on.preview(this.pending.name, text);
  }

  cancel() {
    this.pending = null;
    this.on.cancel();
  }

  render(state) {
    const csv = state.csv;
    const key = `${csv.status}:${csv.name}:${csv.error}:${csv.preview ? csv.preview.rows : ""}`;
    if (key === this.key) return;
    this.key = key;
    const d = this.dialog;
    const wasOpen = !d.hidden;
    d.hidden = csv.status === "idle";
    if (d.hidden) {
      d.replaceChildren();
      const back = this.returnFocus;
      this.returnFocus = null;
      if (wasOpen && back instanceof HTMLElement && back.isConnected) back.focus();
      return;
    }
    const cancel = h("button", { type: "button", "data-testid": "csv-cancel", onclick: () => this.cancel() },
      csv.status === "refused" ? "Close" : "Cancel");
    if (csv.status === "refused") {
      d.replaceChildren(h("h2", { id: "csv-title" }, `Could not import ${csv.name}`),
        h("p", { className: "csv-error", "data-testid": "csv-error", role: "alert" }, csv.error || ""),
        h("p", { className: "hint" }, "Nothing was changed."),
        h("div", { className: "csv-buttons" }, cancel));
      cancel.focus();
      return;
    }
    if (csv.status === "reading" || !csv.preview) {
      d.replaceChildren(h("h2", { id: "csv-title" }, `Reading ${csv.name}…`), h("div", { className: "csv-buttons" }, cancel));
      return;
    }
    const p = csv.preview;
    const apply = h("button", { type: "button", className: "primary", "data-testid": "csv-apply",
      disabled: csv.status === "applying",
      onclick: () => { if (this.pending) this.on.apply(this.pending.name, this.pending.text); } }, "Import");
    const cols = p.header ? `columns ${p.columns.join(", ")}` : "no header row";
    const what = p.task === "regression"
      ? h("p", {}, "A regression target (a number per point).")
      : h("ul", { className: "csv-classes", "aria-label": "Classes and their mapping" },
        p.class_names.map((name, k) => classChip(p.task, k, name, p.class_counts[k])));
    const split = p.split ? `Split from the file: ${p.split.train} train, ${p.split.test} test.`
      : `Split by the seed and the train share (${Math.round(state.config ? state.config.train_fraction * 100 : 50)}% train).`;
    d.replaceChildren(
      h("h2", { id: "csv-title" }, `Import ${p.name}?`),
      h("p", { "data-testid": "csv-rows" }, `${p.rows} rows read (${p.delimiter} separated; ${cols}).`),
      what,
      h("ul", { className: "csv-scales", "aria-label": "Ranges" }, scaleLines(p).map((t) => h("li", {}, t))),
      h("p", {}, split),
      h("p", { className: "hint" }, "Importing replaces the data and starts from fresh weights; Cancel changes nothing."),
      h("div", { className: "csv-buttons" }, cancel, apply));
    apply.focus();
  }
}

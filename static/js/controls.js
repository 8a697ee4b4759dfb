// The controls: the configuration panel built from the engine's field table (sent in the
// server's hello), the play controls, the status line, the boundary's tools and the keyboard.
// Controls only call `act` (commands to the server) or `dispatch` (client state); they never
// change state themselves.

import { formatNumber } from "./format.js";
import { DEFAULT_LIMITS, OPTIMIZER_FIELDS } from "./contract.js";
import { BINARY_CLASS_COLORS, CLASS_COLORS } from "./colors.js";
import { datasetIcon } from "./dataset_icons.js";
import { h } from "./dom.js";
import { GROUP_LABELS, STOP_REASONS, choiceLabel, datasetTileLabel, fieldLabel } from "./labels.js";
import { PLAY_RATES, taskOf } from "./state.js";
import { scaleLines } from "./csv_import.js";

// Presets offered for the rates (a URL can still carry any value in range).
const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const SLIDERS = { noise: 0.05, train_fraction: 0.1, dropout: 0.05 };
// The hyperparameters some optimizers use and others not (contract.js OPTIMIZER_FIELDS, from
// engine/optimizers.py): each shown only while the chosen optimizer uses it.
const OPTIMIZER_HYPER = new Set(Object.values(OPTIMIZER_FIELDS).flat()
  .filter((name) => !Object.values(OPTIMIZER_FIELDS).every((used) => used.includes(name))));
// Drawn elsewhere: features are the diagram's input nodes, hidden widths its +/− buttons.
const IN_DIAGRAM = new Set(["features", "hidden"]);
// A CSV file's data sets (engine/config.py IMPORTED_DATASETS): one tile, shown while in use.
const IMPORTED = new Set(["your_data", "your_data_classes", "your_data_regression"]);
// The hyperparameters a lecture changes most, in the bar under the top bar as in
// Playground (in view at every size); the rest stay in the panel, by group.
export const BAR_FIELDS = ["learning_rate", "activation", "regularization", "regularization_rate", "batch_size"];

const $ = (id) => document.getElementById(id);

export class Controls {
  /**
   * act: {configure(changes), play(), pause(), step(unit), stepBack(), reset(), exportState(),
   * importState(obj)}; dispatch: the store's dispatch.
   */
  constructor(act, dispatch) {
    this.act = act;
    this.dispatch = dispatch;
    this.panel = $("config-panel");
    this.bar = $("hyper-bar");
    this.inputs = new Map();   // field name → {el, set(value)}
    this.rows = new Map();     // field name → row element
    this.schemaKey = "";
    this._wireStatic();
  }

  _wireStatic() {
    const act = this.act;
    $("btn-play").addEventListener("click", () => (this.playing ? act.pause() : act.play()));
    $("btn-step").addEventListener("click", () => act.step());
    $("btn-step-back").addEventListener("click", () => act.stepBack());
    $("btn-reset").addEventListener("click", () => act.reset());
    $("step-unit").addEventListener("change", (e) => this.dispatch({ type: "setUi", patch: { stepUnit: e.target.value } }));
    $("speed").addEventListener("input", (e) => this.dispatch({ type: "setUi", patch: { rate: PLAY_RATES[Number(e.target.value)] } }));
    $("speed").addEventListener("change", (e) => act.setSpeed(PLAY_RATES[Number(e.target.value)]));
    $("view-forward").addEventListener("click", () => this.dispatch({ type: "setView", view: "forward" }));
    $("view-backward").addEventListener("click", () => this.dispatch({ type: "setView", view: "backward" }));
    $("btn-export").addEventListener("click", () => act.exportState());
    $("btn-import-label").addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("file-import").click(); }
    });
    $("file-import").addEventListener("change", async (e) => {
      const file = e.target.files[0];
      e.target.value = "";
      if (!file) return;
      try { act.importState(JSON.parse(await file.text())); } catch (err) {
        this.dispatch({ type: "toast", text: `That file is not a Backprop Lab export (${err.message}).` });
      }
    });
    $("btn-projector").addEventListener("click", () => this._toggleProjector());
    $("btn-help").addEventListener("click", (e) => {
      const help = $("help");
      help.hidden = !help.hidden;
      e.target.setAttribute("aria-expanded", String(!help.hidden));
    });
    $("show-test").addEventListener("change", (e) => this.dispatch({ type: "setUi", patch: { showTest: e.target.checked } }));
    $("discretize").addEventListener("change", (e) => this.dispatch({ type: "setUi", patch: { discretize: e.target.checked } }));
    $("click-mode").addEventListener("change", (e) => this.dispatch({ type: "setUi", patch: { clickMode: e.target.value } }));
    $("loss-scale").addEventListener("change", (e) => this.dispatch({ type: "setUi", patch: { lossScale: e.target.value } }));
    document.addEventListener("keydown", (e) => this._key(e));
  }

  _key(e) {
    const t = e.target;
    const typing = t instanceof HTMLInputElement && !["checkbox", "radio", "range", "button"].includes(t.type)
      || t instanceof HTMLTextAreaElement;
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    // A focused select keeps its own keys (↑ ↓, letters), but ← and → are the step
    // shortcuts there too: they must not quietly change a setting the user only chose.
    if (t instanceof HTMLSelectElement && e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    // Space plays/pauses everywhere except on buttons outside the play toolbar, which it
    // activates as usual (after clicking Step, space must not step again).
    const onOtherButton = (t instanceof HTMLButtonElement || (t instanceof HTMLElement && t.getAttribute("role") === "button"))
      && !t.closest(".play");
    if (e.key === " " && !onOtherButton) { e.preventDefault(); this.playing ? this.act.pause() : this.act.play(); }
    else if (e.key === "ArrowRight" && !(t instanceof HTMLInputElement)) { e.preventDefault(); this.act.step(); }
    else if (e.key === "ArrowLeft" && !(t instanceof HTMLInputElement)) { e.preventDefault(); this.act.stepBack(); }
    else if (e.key === "f") this.dispatch({ type: "setView", view: "forward" });
    else if (e.key === "b") this.dispatch({ type: "setView", view: "backward" });
    else if (e.key === "p") this._toggleProjector();
    else if (e.key === "Escape") {  // closes the popovers and clears the selection
      this.dispatch({ type: "setUi", patch: { roomPanel: false, comparePanel: false } });
      this.dispatch({ type: "select", selection: null });
    }
  }

  _toggleProjector() { this.dispatch({ type: "setUi", patch: { projector: !this.projector } }); }

  render(state) {
    this.playing = state.playing;
    this.projector = state.ui.projector;
    const key = state.schema.map((f) => f.name).join();
    if (key && key !== this.schemaKey) { this.schemaKey = key; this._build(state); }
    if (state.config) this._sync(state);
    this._status(state);
    this._play(state);
    this._classPicker(state);
  }

  _build(state) {
    this.inputs.clear();
    this.rows.clear();
    const groups = new Map();
    const bar = [];
    for (const f of state.schema) {
      if (IN_DIAGRAM.has(f.name)) continue;
      if (BAR_FIELDS.includes(f.name)) { bar.push(f); continue; }
      if (!groups.has(f.group)) groups.set(f.group, []);
      groups.get(f.group).push(f);
    }
    const sections = [];
    for (const [group, fields] of groups) {
      const body = h("div", { className: "group-body" });
      for (const f of fields) {
        const row = this._control(f, state);
        if (row) {
          body.appendChild(row);
          this.rows.set(f.name, row);
        }
      }
      if (group === "data") {
        body.appendChild(h("button", { type: "button", className: "wide", "aria-label": "Regenerate data with a new seed",
          onclick: () => this.act.configure({ seed: ((this.config && this.config.seed) || 0) + 1 }) }, "Regenerate data"));
        body.appendChild(this._csvRow());
      }
      // the data open; the rest one click away, for a calm first look (layout.js unfolds a
      // lesson's groups)
      sections.push(h("details", { open: group === "data", className: "group" },
        h("summary", {}, GROUP_LABELS[group] || group), body));
    }
    this.panel.replaceChildren(...sections);
    const order = (f) => BAR_FIELDS.indexOf(f.name);
    this.bar.replaceChildren(...bar.sort((a, b) => order(a) - order(b)).map((f) => {
      const row = this._control(f, state);
      row.classList.add("bar-field");
      this.rows.set(f.name, row);
      return row;
    }));
  }

  _control(f, state) {
    const id = `cfg-${f.name}`;
    const label = h("label", { for: id }, fieldLabel(f.name));
    const send = (v) => this.act.configure({ [f.name]: v });
    let el, set;
    if (f.name === "dataset") return this._datasetPicker(f);
    if (f.kind === "bool") {
      el = h("input", { type: "checkbox", id });
      el.addEventListener("change", () => send(el.checked));
      set = (v) => { el.checked = !!v; };
      const row = h("div", { className: "row check" }, h("label", { for: id }, el, " ", fieldLabel(f.name)));
      row.title = f.help || "";
      this.inputs.set(f.name, { el, set });
      return row;
    }
    if (f.kind === "choice" || f.kind === "per_layer") {
      el = h("select", { id });
      if (f.kind === "per_layer") el.appendChild(new Option("per layer", "__per_layer", false, false));
      for (const c of f.choices) el.appendChild(new Option(choiceLabel(c), c));
      el.addEventListener("change", () => { if (el.value !== "__per_layer") send(el.value); });
      set = (v) => { el.value = Array.isArray(v) ? (new Set(v).size === 1 ? v[0] : "__per_layer") : v; };
    } else if (f.name === "learning_rate" || f.name === "regularization_rate") {
      el = h("select", { id });
      const presets = f.name === "learning_rate" ? LEARNING_RATES : REG_RATES;
      for (const v of presets) el.appendChild(new Option(String(v), String(v)));
      el.addEventListener("change", () => send(Number(el.value)));
      set = (v) => {
        if (![...el.options].some((o) => Number(o.value) === v)) el.appendChild(new Option(String(v), String(v)));
        el.value = [...el.options].find((o) => Number(o.value) === v).value;
      };
    } else if (f.name in SLIDERS) {
      el = h("input", { type: "range", id, min: f.lo, max: f.hi, step: SLIDERS[f.name] });
      const out = h("output", { for: id });
      el.addEventListener("input", () => { out.textContent = el.value; });
      el.addEventListener("change", () => send(Number(el.value)));
      set = (v) => { el.value = String(v); out.textContent = formatNumber(v, 3); };
      const row = h("div", { className: "row" }, label, h("span", { className: "slider" }, el, out));
      row.title = f.help || "";
      this.inputs.set(f.name, { el, set });
      return row;
    } else {
      el = h("input", { type: "number", id, min: f.lo ?? undefined, max: f.hi ?? undefined,
        step: f.kind === "int" ? 1 : "any", placeholder: f.optional ? "off" : "" });
      el.addEventListener("change", () => {
        if (el.value === "" && f.optional) return send(null);
        const v = Number(el.value);
        if (el.value === "" || !Number.isFinite(v)) return;
        send(f.kind === "int" ? Math.round(v) : v);
      });
      set = (v) => { if (document.activeElement !== el) el.value = v === null || v === undefined ? "" : String(v); };
    }
    this.inputs.set(f.name, { el, set });
    const row = h("div", { className: "row" }, label, el);
    row.title = f.help || "";
    return row;
  }

  /** Your own data: a CSV file in (csv_import.js previews it), the points out, and what
   *  the file's columns were mapped to. */
  _csvRow() {
    const input = h("input", { type: "file", className: "visually-hidden", "data-testid": "csv-input",
      accept: ".csv,.tsv,.txt,text/csv,text/tab-separated-values,text/plain",
      "aria-label": "Import your own data: a CSV file of points (x₁, x₂, label)" });
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      input.value = "";
      if (file) this.act.readCsv(file);
    });
    this.dataSource = h("div", { className: "data-source", "data-testid": "data-source", hidden: true });
    return h("div", { className: "csv-box" },
      h("div", { className: "csv-row" },
        h("label", { className: "button", title: "Two feature columns and a label (or a number to regress); "
          + "a header is optional; comma, semicolon or tab separated. You can also drop the file on the output plot." },
        "Import CSV…", input),
        h("button", { type: "button", "data-testid": "csv-export", title: "The points, train and test with the split, as CSV",
          onclick: () => this.act.exportPoints() }, "Export points")),
      this.dataSource);
  }

  _datasetPicker(f) {
    const box = h("div", { className: "datasets", role: "radiogroup", "aria-label": "Data set" });
    const buttons = f.choices.map((name) => {
      const b = h("button", { type: "button", role: "radio", className: "dataset", title: choiceLabel(name),
        "aria-label": `Data set ${choiceLabel(name)}`, dataset: { dataset: name },
        onclick: () => this.act.configure({ dataset: name }) }, datasetIcon(name, 38),
      h("span", {}, datasetTileLabel(name)));
      box.appendChild(b);
      return b;
    });
    // your own data's tile shows only while it is the data, with the file's name
    this.inputs.set("dataset", { el: box, set: (v) => buttons.forEach((b) => {
      const on = b.dataset.dataset === v;
      b.classList.toggle("on", on);
      b.setAttribute("aria-checked", String(on));
      if (IMPORTED.has(b.dataset.dataset)) {
        b.hidden = !on;
        const file = on && this.source ? this.source.name : "";
        b.title = file ? `your data: ${file}` : choiceLabel(b.dataset.dataset);
        b.setAttribute("aria-label", `Data set your data${file ? `, ${file}` : ""}`);
        b.querySelector("span").replaceChildren(datasetTileLabel(b.dataset.dataset),
          ...(file ? [h("small", { className: "file", "data-testid": "dataset-file" }, file)] : []));
      }
    }) });
    return h("div", { className: "row stack" }, h("span", { className: "label" }, "Data set"), box);
  }

  _sync(state) {
    const c = state.config;
    this.config = c;
    this.source = state.points ? state.points.source : null;
    for (const [name, { set }] of this.inputs) if (name in c) set(c[name]);
    const task = taskOf(state);
    const used = new Set(OPTIMIZER_FIELDS[c.optimizer] || []);
    for (const [name, row] of this.rows) {
      let show = true;
      if (OPTIMIZER_HYPER.has(name)) show = used.has(name);
      if (name === "n_classes") show = task === "multiclass";
      if (name === "regularization_rate") show = c.regularization !== "none";
      if (name === "n_points" || name === "noise") show = !IMPORTED.has(c.dataset);  // the file decides
      row.hidden = !show;
    }
    if (this.dataSource) {
      const src = this.source;
      this.dataSource.hidden = !src;
      if (src) {
        this.dataSource.replaceChildren(h("b", {}, `Your data: ${src.name}`),
          ...scaleLines(src).map((t) => h("div", {}, t)));
      }
    }
    this._heads(state.heads[task], c);
    this._residual(state);
  }

  /** Residual adds a skip where a layer's input and output widths match, below the output
   *  (engine/network.py `skips`). Where none does, ticking it would change nothing: the box
   *  is disabled, and says why beside it. */
  _residual(state) {
    const box = this.inputs.get("residual");
    const row = this.rows.get("residual");
    if (!box || !row || !state.model) return;
    const sizes = state.model.sizes;
    const fits = sizes.slice(0, -2).some((n, l) => n === sizes[l + 1]);
    box.el.disabled = !fits && !box.el.checked;
    let why = row.nextElementSibling;
    if (!why || !why.classList.contains("why")) {
      why = h("div", { className: "hint why", "data-testid": "residual-why" });
      row.after(why);
    }
    why.hidden = fits;
    why.textContent = fits ? "" : `No skip fits the widths ${sizes.join(", ")}: a skip joins two `
      + "adjacent layers of equal width (e.g. hidden 4, 4).";
  }

  /** Offer only the hello's valid (output activation, loss) pairs for the task: choices the
   *  task never uses are left out, losses that do not pair with the current output
   *  activation are greyed out. */
  _heads(heads, c) {
    if (!heads) return;
    const loss = this.inputs.get("loss");
    const outAct = this.inputs.get("output_activation");
    if (loss) {
      for (const o of loss.el.options) {
        o.hidden = !heads.some(([, l]) => l === o.value);
        o.disabled = !heads.some(([a, l]) => a === c.output_activation && l === o.value);
      }
    }
    if (outAct) {
      for (const o of outAct.el.options) o.hidden = o.disabled = !heads.some(([a]) => a === o.value);
    }
  }

  _status(state) {
    const q = (sel) => document.querySelector(`[data-testid="${sel}"]`);
    q("step-count").textContent = String(state.counters.step);
    q("epoch").textContent = String(state.counters.epoch);
    const { loss, accuracy } = state.metrics;
    q("loss-train").textContent = formatNumber(loss?.train, 4);
    q("loss-test").textContent = formatNumber(loss?.test, 4);
    // the optimizer minimises the data loss plus the L1/L2 penalty; these read-outs are the
    // data loss alone, which the page says whenever a penalty is on
    q("loss-penalty").hidden = !(state.config && state.config.regularization !== "none"
      && state.config.regularization_rate > 0);
    const pct = (a) => (a === null || a === undefined ? "—" : `${(a * 100).toFixed(1)}%`);
    q("accuracy-train").textContent = pct(accuracy?.train);
    q("accuracy-test").textContent = pct(accuracy?.test);
    const line = $("stop-line");
    const st = state.stopped;
    line.hidden = !st;
    line.classList.toggle("diverged", !!st && st.reason === "diverged");
    if (st) {
      const lead = st.reason === "diverged" ? STOP_REASONS.diverged : "";
      line.textContent = st.message && st.message !== st.reason ? st.message : lead || STOP_REASONS[st.reason] || st.reason;
      if (st.reason === "diverged" && !/infinite/.test(line.textContent)) line.textContent = `${lead} ${line.textContent}`;
      line.dataset.reason = st.reason;
    }
  }

  _play(state) {
    const b = $("btn-play");
    b.textContent = state.playing ? "Pause" : "Play";
    b.setAttribute("aria-pressed", String(state.playing));
    const open = state.connection.status === "open" && !!state.config;
    for (const id of ["btn-play", "btn-step", "btn-step-back", "btn-reset", "btn-export"]) $(id).disabled = !open;
    $("step-unit").value = state.ui.stepUnit;
    const top = (state.limits.max_speed || DEFAULT_LIMITS.max_speed) * (state.limits.frame_rate || DEFAULT_LIMITS.frame_rate);
    const rates = PLAY_RATES.filter((r) => r <= top);
    if ($("speed").max !== String(rates.length - 1)) $("speed").max = String(rates.length - 1);
    const k = rates.reduce((best, r, i) => (Math.abs(Math.log(r / state.ui.rate)) < Math.abs(Math.log(rates[best] / state.ui.rate)) ? i : best), 0);
    $("speed").value = String(k);
    const n = state.points ? state.points.train.x.length : 0;
    const perEpoch = state.config && n ? Math.max(1, Math.ceil(n / state.config.batch_size)) : null;
    const rate = state.ui.rate >= 1 ? String(Math.round(state.ui.rate)) : formatNumber(state.ui.rate, 2);
    $("speed-out").textContent = `${rate}/s`;
    $("speed-out").title = perEpoch ? `${rate} updates a second: about ${formatNumber(state.ui.rate / perEpoch, 2)} epochs a second (an epoch is ${perEpoch} updates)` : "updates a second";
    const fwd = state.ui.view === "forward";
    $("view-forward").setAttribute("aria-checked", String(fwd));
    $("view-backward").setAttribute("aria-checked", String(!fwd));
  }

  _classPicker(state) {
    const box = $("class-picker");
    const task = taskOf(state);
    const k = task === "multiclass" ? (state.config ? state.config.n_classes : 3) : task === "binary" ? 2 : 0;
    const names = this.source ? this.source.class_names.join() : "";
    const key = `${task}:${k}:${state.ui.classPick}:${state.ui.regressionValue}:${names}`;
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    if (task === "regression") {
      const input = h("input", { type: "range", min: -1, max: 1, step: 0.1, value: state.ui.regressionValue,
        "aria-label": "Value of added points" });
      input.addEventListener("change", () => this.dispatch({ type: "setUi", patch: { regressionValue: Number(input.value) } }));
      box.replaceChildren(h("span", {}, "value "), input, h("span", {}, formatNumber(state.ui.regressionValue, 2)));
      return;
    }
    const colors = task === "binary" ? BINARY_CLASS_COLORS : CLASS_COLORS;
    const buttons = [];
    for (let c = 0; c < k; c++) {
      const on = Math.min(state.ui.classPick, k - 1) === c;
      const name = this.source && this.source.class_names[c] !== undefined ? ` (${this.source.class_names[c]})` : "";
      const swatch = h("button", { type: "button", role: "radio", className: `swatch${on ? " on" : ""}`,
        "aria-checked": String(on), "aria-label": `Add points of class ${c}${name}`, title: `class ${c}${name}`,
        dataset: { cls: String(c) },
        onclick: () => this.dispatch({ type: "setUi", patch: { classPick: c } }) }, String(c));
      swatch.style.background = colors[c];  // CSSOM, which the page's style-src 'self' allows
      buttons.push(swatch);
    }
    box.replaceChildren(h("span", {}, "class "), ...buttons);
  }
}

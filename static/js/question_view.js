// @ts-check
// Ask the class: the strip under the top bar where a presenter asks a question about the next
// update, the class answers from its phones, and the engine's answer is revealed.
//
// The presenter sees the ask buttons (about the inspector's selection, the loss, or a point
// clicked on the Output plot), then the question, a live histogram of the answers (counts
// only, as the server sends them at most twice a second), how many joined and answered, and
// Reveal. A follower sees the question with large buttons (or a number field) it may change
// until the reveal. After the reveal everyone sees the engine's answer, the distribution
// with the right answer highlighted, and where the number came from (the inspector opens on
// the link or neuron, main.js). Renders `state.question`, `state.role`, `state.room`.

import { formatNumber } from "./format.js";
import { h } from "./dom.js";

/** A number as the question card prints it: the page's one format (format.js). */
export function fmtAnswer(x) {
  return typeof x === "number" ? formatNumber(x, 4) : String(x);
}

/** Rows of the histogram: [{label, count, right}] for the choices, or one per bin for a
 *  number (right: the bin meets the tolerance band around the truth). */
export function histogramRows(q, counts, bins, reveal) {
  if (q.choices) {
    return q.choices.map((c, k) => ({ label: q.labels ? q.labels[k] : c, count: counts[k] || 0,
      right: !!reveal && reveal.truth === c, mine: q.answer === c }));
  }
  if (!bins) return [];
  return counts.map((n, k) => {
    const lo = bins[k], hi = bins[k + 1];
    const right = !!reveal && hi >= reveal.truth - q.tolerance && lo <= reveal.truth + q.tolerance;
    const mine = typeof q.answer === "number" && q.answer >= lo && (q.answer < hi || k === counts.length - 1);
    return { label: `${fmtAnswer(lo)} … ${fmtAnswer(hi)}`, count: n, right, mine };
  });
}

export class QuestionView {
  /** on: {ask(question), answer(id, value), reveal(), pickPoint(), dismiss()} */
  constructor(card, on) {
    this.card = card;
    this.on = on;
    this.key = "";
    this.bars = null;  // the histogram's element, refreshed on every tally
    this.tolerance = "";
  }

  render(state) {
    const q = state.question;
    const role = state.room ? state.role : "solo";
    const show = role === "presenter" || (role === "follower" && !!q);
    this.card.hidden = !show;
    if (!show) { this.key = ""; return; }
    const sel = state.ui.selection;
    const key = JSON.stringify([role, q && q.id, q && q.answer, q && !!q.reveal, role === "presenter" && sel,
      state.ui.clickMode === "ask", state.ui.projector]);
    if (key !== this.key) {
      this.key = key;
      this.card.replaceChildren(...(role === "presenter" ? this._presenter(state) : this._follower(state)));
    }
    if (q && this.bars) this._bars(q, state);
  }

  _presenter(state) {
    const q = state.question;
    // while the class answers, the card is the question alone (a projector's rows are few);
    // Close or the reveal brings the ask buttons back
    const out = !q || q.reveal ? [this._askBar(state)] : [];
    if (q) {
      out.push(h("p", { className: "q-prompt", "data-testid": "question-prompt" }, q.prompt));
      const actions = h("div", { className: "q-actions" },
        h("span", { className: "q-count", "data-testid": "question-count" }),
        q.reveal ? null : h("button", { type: "button", className: "primary q-reveal", "data-testid": "question-reveal",
          onclick: () => this.on.reveal() }, "Reveal the engine's answer"),
        h("button", { type: "button", className: "ghost", title: "Hide this question (the class keeps its card)",
          onclick: () => this.on.dismiss() }, "Close"));
      out.push(h("div", { className: "q-body" }, this._histogram(), q.reveal ? this._truth(q) : null, actions));
    }
    return out;
  }

  _askBar(state) {
    const sel = state.ui.selection;
    const link = !!sel && sel.kind === "link";
    const valued = link || (!!sel && sel.kind === "neuron" && sel.layer > 0);
    const target = sel ? { kind: sel.kind, layer: sel.layer, j: sel.j, ...(link ? { i: sel.i } : {}) } : null;
    const tolerance = h("input", { type: "number", min: "0", step: "any", className: "q-tolerance",
      placeholder: "±10 %", "aria-label": "Tolerance of a right numeric answer", value: this.tolerance,
      oninput: (ev) => { this.tolerance = ev.target.value; } });
    const tol = () => { const t = Number(this.tolerance); return this.tolerance !== "" && t > 0 ? { tolerance: t } : {}; };
    const picking = state.ui.clickMode === "ask";
    return h("div", { className: "q-ask", role: "group", "aria-label": "Ask the class" },
      h("b", {}, "Ask the class:"),
      h("button", { type: "button", "data-testid": "ask-update-sign", disabled: !link,
        title: link ? "Will this weight go up or down in the next update?" : "Select a link in the diagram first",
        onclick: () => this.on.ask({ kind: "update_sign", target }) }, "↑↓ this link's next update"),
      h("button", { type: "button", "data-testid": "ask-delta", disabled: !valued,
        title: valued ? (link ? "∂ℓ/∂w of this link on the traced example" : "δ of this neuron on the traced example")
          : "Select a hidden or output neuron, or a link, first",
        onclick: () => this.on.ask({ kind: "delta_value", target, ...tol() }) },
      sel && sel.kind === "neuron" ? "its δ" : "its ∂ℓ/∂w"), tolerance,
      h("button", { type: "button", "data-testid": "ask-loss", onclick: () => this.on.ask({ kind: "loss_direction" }) },
        "loss ↑↓ next update"),
      h("button", { type: "button", "data-testid": "ask-point", "aria-pressed": String(picking),
        onclick: () => this.on.pickPoint() }, picking ? "click a point on the Output plot…" : "class of a point"));
  }

  _follower(state) {
    const q = state.question;
    const out = [h("p", { className: "q-prompt", "data-testid": "question-prompt" }, q.prompt)];
    if (!q.reveal) {
      if (q.choices) {
        out.push(h("div", { className: "q-choices", role: "group", "aria-label": "Your answer" },
          q.choices.map((c, k) => h("button", { type: "button", className: q.answer === c ? "q-choice chosen" : "q-choice",
            "aria-pressed": String(q.answer === c), dataset: { choice: c }, "data-testid": `answer-${c}`,
            onclick: () => this.on.answer(q.id, c) }, q.labels ? q.labels[k] : c))));
      } else {
        const field = h("input", { type: "number", step: "any", inputmode: "decimal", className: "q-number",
          "aria-label": "Your answer, a number", "data-testid": "answer-number",
          value: typeof q.answer === "number" ? String(q.answer) : "" });
        const send = () => { const v = Number(field.value); if (field.value !== "" && Number.isFinite(v)) this.on.answer(q.id, v); };
        field.addEventListener("keydown", (ev) => { if (ev.key === "Enter") send(); });
        out.push(h("div", { className: "q-choices" }, field,
          h("button", { type: "button", className: "q-choice primary", "data-testid": "answer-send", onclick: send }, "Send")));
      }
      out.push(h("p", { className: "q-mine", "data-testid": "question-mine", role: "status" },
        q.answer === null || q.answer === undefined ? "Answer before the presenter reveals."
          : `Your answer: ${this._label(q, q.answer)}. You can change it until the reveal.`));
      this.bars = null;
      return out;
    }
    out.push(h("div", { className: "q-body" }, this._histogram(), this._truth(q)));
    return out;
  }

  _label(q, v) {
    if (q.choices && q.labels) return q.labels[q.choices.indexOf(v)] || String(v);
    return fmtAnswer(v);
  }

  _truth(q) {
    const r = q.reveal;
    const mine = q.answer === null || q.answer === undefined ? null
      : (q.choices ? q.answer === r.truth : Math.abs(q.answer - r.truth) <= q.tolerance);
    return h("div", { className: "q-truth", "data-testid": "question-truth", role: "status" },
      h("div", {}, "The engine: ", h("b", { "data-testid": "question-truth-value" }, r.truthLabel)),
      h("div", { className: "q-detail" }, r.detail),
      mine === null ? null : h("div", { className: mine ? "q-right" : "q-wrong", "data-testid": "question-verdict" },
        mine ? "You were right." : `You said ${this._label(q, q.answer)}.`),
      h("div", { className: "q-detail" }, `${r.right} of ${r.answered} answered right.`));
  }

  _histogram() {
    this.bars = h("div", { className: "q-bars", "data-testid": "question-bars", role: "img" });
    return this.bars;
  }

  _bars(q, state) {
    const t = q.reveal || q.tally;
    const counts = t ? t.counts : q.choices ? q.choices.map(() => 0) : [];
    const rows = histogramRows(q, counts, t ? t.bins : null, q.reveal);
    const top = Math.max(1, ...rows.map((r) => r.count));
    this.bars.setAttribute("aria-label", rows.map((r) => `${r.label}: ${r.count}`).join(", ") || "no answers yet");
    this.bars.classList.toggle("q-numbers", !q.choices);
    if (!q.choices) this._columns(rows, top, t ? t.bins : null, q.reveal);
    else this.bars.replaceChildren(...rows.map((r) => {
      const fill = h("span", { className: "q-fill" });
      fill.style.width = `${(100 * r.count) / top}%`;  // CSSOM: the page's CSP allows no style attributes
      return h("div", { className: `q-row${r.right ? " q-is-right" : ""}${r.mine ? " q-is-mine" : ""}`, dataset: { count: String(r.count) } },
        h("span", { className: "q-label" }, r.label, r.right ? " ✓" : "", r.mine ? " (you)" : ""),
        h("span", { className: "q-track" }, fill),
        h("b", { className: "q-n" }, String(r.count)));
    }));
    this._count(t, state);
  }

  /** A number's histogram as columns (a row per bin would fill a projector's screen), the
   *  range under it and, once revealed, the engine's number marked. */
  _columns(rows, top, bins, reveal) {
    const cols = h("div", { className: "q-cols" }, rows.map((r) => {
      const fill = h("span", { className: "q-fill" });
      fill.style.height = `${(100 * r.count) / top}%`;
      return h("div", { className: `q-col${r.right ? " q-is-right" : ""}${r.mine ? " q-is-mine" : ""}`,
        dataset: { count: String(r.count) }, title: `${r.label}: ${r.count}` },
      h("b", { className: "q-n" }, r.count ? String(r.count) : ""), h("span", { className: "q-track" }, fill));
    }));
    const axis = bins ? h("div", { className: "q-axis" }, h("span", {}, fmtAnswer(bins[0])),
      reveal ? h("span", { className: "q-mark" }, `engine ${fmtAnswer(reveal.truth)}`) : null,
      h("span", {}, fmtAnswer(bins[bins.length - 1]))) : h("div", { className: "q-axis" }, "no answers yet");
    this.bars.replaceChildren(cols, axis);
  }

  _count(t, state) {
    const count = this.card.querySelector(".q-count");
    if (count) {
      const followers = state.room ? state.room.followers : 0;
      const answered = t ? t.answered : 0;
      count.textContent = `${answered} answered · ${t && "followers" in t ? t.followers : followers} joined`;
    }
  }
}

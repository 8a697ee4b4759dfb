// Guided lessons: the Lessons menu in the top bar and the lesson card above the
// configuration panel. The lessons themselves come from the server (server/lessons.py),
// rendered into the page as JSON; which one is open is `state.ui.lesson`.

import { h } from "./dom.js";
import { configDiff } from "./url.js";

/** The lessons embedded in the page: [{id, title, config, explanation, watch, try, rate,
 *  charts, compare?, question?: {spec, moment}}]. */
export function readLessons(doc = document) {
  const el = doc.getElementById("lessons-data");
  if (!el) return [];
  try {
    const list = JSON.parse(el.textContent);
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

/** The config fields to send so the session runs `lesson` exactly: the engine defaults, under
 *  the lesson's config, under `overrides` (e.g. from the URL), minus what `current` already
 *  has. Empty when the session is already there. */
export function lessonChanges(lesson, defaults, current, overrides = {}) {
  return configDiff({ ...(defaults || {}), ...lesson.config, ...overrides }, current);
}

/** The lesson called `id` in `lessons`, or null. */
export function lessonById(lessons, id) {
  return lessons.find((l) => l.id === id) || null;
}

/**
 * Open lesson `id`: its pace and the chart it is about, then its full config (engine
 * defaults under the lesson's fields under `overrides`) and fresh weights on its own data
 * (points added by hand go), and its compare run; `onlyIfChanged` leaves a session that is
 * already there. `act`: {configure, setSpeed, reset, compare} (actions.js).
 */
export function openLesson(lessons, id, { overrides = {}, onlyIfChanged = false } = {}, { state, dispatch, act }) {
  const lesson = lessonById(lessons, id);
  if (!lesson) {
    dispatch({ type: "setUi", patch: { lesson: null } });
    dispatch({ type: "toast", text: `There is no lesson called “${id}”.`, kind: "info" });
    return;
  }
  dispatch({ type: "setUi", patch: { lesson: id, rate: lesson.rate, charts: null, chartFocus: lesson.charts } });
  act.setSpeed(lesson.rate);
  const changes = lessonChanges(lesson, state.defaults, state.config, overrides);
  if (onlyIfChanged && !Object.keys(changes).length) return;
  if (Object.keys(changes).length) act.configure(changes, true);  // the lesson card says what changes
  act.reset(true);
  if (lesson.compare || state.compare) act.compare(lesson.compare || null);
}

export class LessonsView {
  /** button opens `menu` (the top bar's list of lessons, full titles); card: the lesson
   *  card's element; on: {open(id), close(), ask(question)}: a lesson's question is asked of
   *  the class of the room this tab presents. */
  constructor(button, menu, card, lessons, on) {
    this.button = button;
    this.menu = menu;
    this.card = card;
    this.lessons = lessons;
    this.on = on;
    this.shown = undefined;
    this.items = lessons.map((l, k) => h("button", { type: "button", role: "menuitemradio", "aria-checked": "false",
      dataset: { lesson: l.id }, onclick: () => { this.toggle(false); on.open(l.id); } },
    h("span", { className: "lesson-n" }, `${k + 1}.`), h("span", { className: "lesson-name" }, l.title)));
    menu.replaceChildren(...this.items);
    button.addEventListener("click", () => this.toggle(menu.hidden));
    menu.addEventListener("keydown", (ev) => {
      const at = this.items.indexOf(document.activeElement);
      if (ev.key === "Escape") { this.toggle(false); button.focus(); }
      else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        ev.stopPropagation();  // not the step shortcuts
        const n = this.items.length;
        this.items[(at + (ev.key === "ArrowDown" ? 1 : n - 1)) % n].focus();
      }
    });
    document.addEventListener("pointerdown", (ev) => {
      if (!menu.hidden && !menu.contains(ev.target) && !button.contains(ev.target)) this.toggle(false);
    });
  }

  byId(id) { return lessonById(this.lessons, id); }

  toggle(open) {
    this.menu.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open) (this.items.find((b) => b.getAttribute("aria-checked") === "true") || this.items[0])?.focus();
  }

  render(state) {
    const id = state.ui.lesson;
    for (const b of this.items) b.setAttribute("aria-checked", String(b.dataset.lesson === id));
    const lesson = this.byId(id);
    this.button.textContent = lesson ? `Lesson ${this.lessons.indexOf(lesson) + 1} ▾` : "Lessons ▾";
    const presenting = state.role === "presenter" && !!state.room;
    if (id === this.shown && presenting === this.presenting) return;
    this.shown = id;
    this.presenting = presenting;
    this.card.hidden = !lesson;
    this.card.replaceChildren(...(lesson ? this._card(lesson, presenting) : []));
  }

  _card(lesson, presenting) {
    const q = lesson.question;
    const ask = q ? h("div", { className: "lesson-ask" },
      h("h3", {}, "Ask the class"), h("p", {}, q.moment),
      h("button", { type: "button", "data-testid": "lesson-ask", disabled: !presenting,
        title: presenting ? "Ask the room's class; the engine answers at the reveal" : "Press Present first: the class answers from its phones",
        onclick: () => this.on.ask(q.spec) }, presenting ? "Ask now" : "Ask (present first)")) : null;
    const body = h("div", { className: "lesson-body", id: "lesson-body" },
      h("p", { className: "lesson-text" }, lesson.explanation),
      // "Try this" before "Watch": what to do stays in view without scrolling on a projector
      h("h3", {}, "Try this"), h("ul", { "data-testid": "lesson-try" }, lesson.try.map((t) => h("li", {}, t))),
      h("h3", {}, "Watch"), h("ul", { "data-testid": "lesson-watch" }, lesson.watch.map((t) => h("li", {}, t))),
      ask,
      h("button", { type: "button", className: "restart", title: "Start the lesson again: its configuration and fresh weights",
        onclick: () => this.on.open(lesson.id) }, "Restart the lesson"));
    const fold = h("button", { type: "button", className: "ghost fold", "aria-expanded": "true",
      "aria-controls": "lesson-body", title: "Fold the lesson card", "aria-label": "Fold the lesson card" }, "▾");
    fold.addEventListener("click", () => {
      body.hidden = !body.hidden;
      fold.setAttribute("aria-expanded", String(!body.hidden));
      fold.textContent = body.hidden ? "▸" : "▾";
    });
    const head = h("div", { className: "lesson-head" },
      fold,
      h("h2", { "data-testid": "lesson-title" }, lesson.title),
      h("button", { type: "button", className: "ghost", "aria-label": "Close the lesson", title: "Close the lesson",
        onclick: () => this.on.close() }, "×"));
    return [head, body];
  }
}

// @ts-check
// The page's layout state, kept off the stage: the network card has the centre column to
// itself at every size, so nothing that opens (the inspector's walk, a lesson, a selection)
// moves or shrinks it. What opens goes into the left column: the inspector, a strip until
// something is selected, takes the configuration panel's place while it is. Advanced controls
// sit one click away (More in the top bar opens a menu over the page, so it moves nothing;
// the panel's groups other than Data start folded, and a lesson unfolds the groups of the
// fields it sets). On a phone, a top-bar row that
// scrolls sideways fades at the edge where more controls wait.

import { nodeLayerOf } from "./selection.js";

const ROWS = ".topbar > .play, .topbar > .hyper-bar, .topbar > .classroom, .topbar > .file";

export class PageLayout {
  /** more: the top bar's More button; menu: the menu it opens; panel: the configuration
   *  panel; lessonConfig(id): the config fields lesson `id` sets, or null. */
  constructor(more, menu, panel, lessonConfig) {
    this.more = more;
    this.menu = menu;
    this.panel = panel;
    this.lessonConfig = lessonConfig;
    this.lesson = undefined;
    this.panelBuilt = null;
    more.addEventListener("click", () => this.showAdvanced(menu.hidden));
    menu.addEventListener("click", (ev) => {  // an item opens its own panel or dialog
      if (ev.target instanceof Element && ev.target.closest("button, label")) this.showAdvanced(false);
    });
    menu.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { this.showAdvanced(false); more.focus(); } });
    document.addEventListener("pointerdown", (ev) => {
      if (!menu.hidden && ev.target instanceof Node && !menu.contains(ev.target) && !more.contains(ev.target)) {
        this.showAdvanced(false);
      }
    });
    for (const row of document.querySelectorAll(ROWS)) {
      row.addEventListener("scroll", () => this._hint(row), { passive: true });
    }
    new ResizeObserver(() => this.hintScroll()).observe(document.body);
    // a top-bar popover opens inside the window, wherever its group has wrapped to
    const opened = new MutationObserver((changes) => {
      for (const c of changes) if (!(/** @type {HTMLElement} */ (c.target)).hidden) keepInWindow(/** @type {HTMLElement} */ (c.target));
    });
    for (const p of document.querySelectorAll(".topbar .popover, .topbar .record-panel")) {
      opened.observe(p, { attributes: true, attributeFilter: ["hidden"] });
    }
  }

  /** Open or close the More menu (Compare, Export, Import, Record). */
  showAdvanced(open) {
    this.menu.hidden = !open;
    this.more.setAttribute("aria-expanded", String(open));
  }

  render(state) {
    const sel = state.ui.selection;
    document.body.classList.toggle("inspecting", Boolean(sel && nodeLayerOf(sel) > 0));
    const built = this.panel.querySelector("details.group");
    if (built !== this.panelBuilt) { this.panelBuilt = built; this.lesson = undefined; }  // rebuilt folded
    if (built && state.ui.lesson !== this.lesson) {
      this.lesson = state.ui.lesson;
      this._unfold(state);
    }
    this.hintScroll();
  }

  /** Unfold the panel's groups that hold a field the open lesson sets. */
  _unfold(state) {
    const config = state.ui.lesson ? this.lessonConfig(state.ui.lesson) : null;
    for (const name of Object.keys(config || {})) {
      const el = document.getElementById(`cfg-${name}`);
      const group = el && el.closest("details.group");
      if (group) /** @type {HTMLDetailsElement} */ (group).open = true;
    }
  }

  /** Mark each top-bar row that hides controls past its right edge. */
  hintScroll() {
    for (const row of document.querySelectorAll(ROWS)) this._hint(/** @type {HTMLElement} */ (row));
  }

  _hint(row) {
    row.classList.toggle("more-right", row.scrollLeft + row.clientWidth < row.scrollWidth - 2);
  }
}

/** Shift an absolutely placed popover sideways so it lies inside the window (measured once,
 *  as it opens, from its place before any shift). */
function keepInWindow(el) {
  el.style.right = "";
  el.style.left = "";
  const cs = getComputedStyle(el);
  if (cs.position !== "absolute") return;
  const r = el.getBoundingClientRect();
  const margin = 8;
  const shift = r.left < margin ? margin - r.left : r.right > innerWidth - margin ? innerWidth - margin - r.right : 0;
  if (shift) {
    el.style.left = `${parseFloat(cs.left) + shift}px`;
    el.style.right = "auto";
  }
}

// The connection banner and short, non-blocking toasts for server errors.

import { paramsOf } from "./weights.js";

const TOAST_MS = 6000;

export class Notices {
  /**
   * newSession(): forget the stored session id and open a new one; putBack(params): give the
   * current session these weights (a lost session's, which the page still shows).
   */
  constructor(banner, toasts, dispatch, newSession, putBack) {
    this.newSession = newSession;
    this.putBack = putBack;
    this.banner = banner;
    this.toasts = toasts;
    this.dispatch = dispatch;
    this.timers = new Map();
  }

  render(state) {
    const c = state.connection;
    const b = this.banner;
    const lost = c.status === "open" ? state.lost : null;
    const key = `${c.status}:${c.attempt}:${lost ? lost.reason : ""}`;
    if (b.dataset.key !== key) {
      b.dataset.key = key;
      b.hidden = (c.status === "open" && !lost) || (c.status === "connecting" && c.attempt === 0);
      if (lost) {
        const buttons = [];
        const params = paramsOf(lost.weights);
        if (params) {
          const back = document.createElement("button");
          back.type = "button";
          back.textContent = `Import the weights this page still has${lost.step !== null ? ` (step ${lost.step})` : ""}`;
          back.onclick = () => { this.putBack(params); this.dispatch({ type: "dismissLost" }); };
          buttons.push(back);
        }
        const ok = document.createElement("button");
        ok.type = "button";
        ok.textContent = "Start afresh";
        ok.onclick = () => this.dispatch({ type: "dismissLost" });
        buttons.push(ok);
        b.replaceChildren(`Reconnected, but your session could not be restored: ${lost.reason}. `
          + "A new session started with the same configuration. ", ...buttons);
      } else if (c.status === "replaced") {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "Start a new session here";
        button.onclick = () => this.newSession();
        b.replaceChildren("This session is now open in another tab. ", button);
      } else if (c.status === "left") {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "Start a new session";
        button.onclick = () => this.newSession();
        b.replaceChildren("This session has ended. ", button);
      } else if (c.status === "room_gone") {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "Start a session of my own";
        button.onclick = () => this.newSession();
        b.replaceChildren(`The room has ended (${c.reason || "it closed"}). `, button);
      } else if (c.status === "outdated") {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = "Reload the page";
        button.onclick = () => location.reload();
        b.replaceChildren(`This page is out of date for the server (${c.reason || "another protocol"}). `, button);
      } else if (c.status === "full") {
        b.textContent = `The server is full (${c.reason || "too many sessions"}); retrying…`;
      } else {
        b.textContent = `Connection lost — reconnecting${c.attempt > 1 ? ` (attempt ${c.attempt})` : ""}…`;
      }
    }
    const shown = new Set();
    for (const t of state.toasts) {
      shown.add(t.id);
      if (this.timers.has(t.id)) continue;
      const el = document.createElement("div");
      el.className = `toast ${t.kind}`;
      el.setAttribute("role", t.kind === "error" ? "alert" : "status");
      el.dataset.toast = String(t.id);
      const text = document.createElement("span");
      text.textContent = t.text;
      const close = document.createElement("button");
      close.type = "button";
      close.textContent = "×";
      close.setAttribute("aria-label", "Dismiss");
      close.onclick = () => this.dispatch({ type: "dismissToast", id: t.id });
      el.append(text, close);
      this.toasts.appendChild(el);
      this.timers.set(t.id, setTimeout(() => this.dispatch({ type: "dismissToast", id: t.id }), TOAST_MS));
    }
    for (const [id, timer] of this.timers) {
      if (shown.has(id)) continue;
      clearTimeout(timer);
      this.timers.delete(id);
      const el = this.toasts.querySelector(`[data-toast="${id}"]`);
      if (el) el.remove();
    }
  }
}

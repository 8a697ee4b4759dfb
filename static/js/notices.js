// The connection banner and short, non-blocking toasts for server errors.

const TOAST_MS = 6000;

export class Notices {
  constructor(banner, toasts, dispatch) {
    this.banner = banner;
    this.toasts = toasts;
    this.dispatch = dispatch;
    this.timers = new Map();
  }

  render(state) {
    const c = state.connection;
    const b = this.banner;
    if (c.status === "open") b.hidden = true;
    else if (c.status === "connecting" && c.attempt === 0) b.hidden = true;
    else {
      b.hidden = false;
      b.textContent = c.status === "refused"
        ? `The server refused the connection: ${c.reason || "try again later"}.`
        : `Connection lost — reconnecting${c.attempt > 1 ? ` (attempt ${c.attempt})` : ""}… your session will resume.`;
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

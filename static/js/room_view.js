// Rooms on the page: the top bar's room button, the presenter's room panel (join code, join
// URL, QR code, followers) and the follower's bar (following, fork, follow again).
// Renders `state.role`, `state.room` and `state.forkOf`; commands go through `on`.

import { h } from "./dom.js";

const QUIET_ZONE = 4;  // modules of white around a QR code, as the standard asks

/** Draw QR `rows` ("0101…" per module row) on `canvas`, `px` CSS pixels a side. */
export function drawQr(canvas, rows, px) {
  const n = rows.length + 2 * QUIET_ZONE;
  const dpr = window.devicePixelRatio || 1;
  const scale = Math.max(1, Math.floor((px * dpr) / n));
  canvas.width = canvas.height = n * scale;
  canvas.style.width = canvas.style.height = `${(n * scale) / dpr}px`;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#000";
  rows.forEach((row, y) => {
    for (let x = 0; x < row.length; x++) {
      if (row[x] === "1") ctx.fillRect((x + QUIET_ZONE) * scale, (y + QUIET_ZONE) * scale, scale, scale);
    }
  });
}

/** The address followers open: the LAN URL when the server gave one, else this page's origin. */
export function joinUrl(room) {
  return room.joinUrls && room.joinUrls.length ? room.joinUrls[0] : `${location.origin}${room.joinPath}`;
}

export class RoomView {
  /** on: {open(), close(), fork(), followAgain(), togglePanel(open)} */
  constructor(button, panel, bar, on) {
    this.button = button;
    this.panel = panel;
    this.bar = bar;
    this.on = on;
    this.key = "";
    button.addEventListener("click", () => {
      if (this.role === "solo") on.open();
      else if (this.role === "presenter") on.togglePanel(this.panel.hidden);
    });
  }

  render(state) {
    const room = state.room;
    this.role = state.role;
    document.body.classList.toggle("following", state.role === "follower");
    const open = state.connection.status === "open";
    const b = this.button;
    b.disabled = !open || state.role === "follower";
    b.textContent = state.role === "presenter" && room ? `Room ${room.code} · ${room.followers}`
      : state.role === "follower" && room ? `Following ${room.code}` : "Present";
    b.title = state.role === "solo" ? "Let a class follow this session live (opens a room with a join code)"
      : state.role === "presenter" ? `${room ? room.followers : 0} following: show the join code, link and QR code`
        : "This tab follows a room";
    b.setAttribute("aria-expanded", String(!this.panel.hidden));
    b.classList.toggle("live", state.role === "presenter");
    const key = JSON.stringify([state.role, room, state.forkOf, state.ui.roomPanel, state.ui.projector, open]);
    if (key === this.key) return;
    this.key = key;
    this._panel(state);
    this._bar(state);
  }

  _panel(state) {
    const room = state.room;
    const show = state.role === "presenter" && !!room && !!state.ui.roomPanel;
    this.panel.hidden = !show;
    if (!show) return;
    const url = joinUrl(room);
    const children = [
      h("div", { className: "room-code-label" }, "Join code"),
      h("div", { className: "room-code", "data-testid": "room-code" }, room.code),
      h("a", { className: "room-url", href: url, target: "_blank", rel: "noopener", "data-testid": "room-url" }, url),
    ];
    if (room.qr) {
      const canvas = h("canvas", { className: "room-qr", role: "img", "aria-label": `QR code for ${url}` });
      drawQr(canvas, room.qr, state.ui.projector ? 280 : 180);  // scannable from the back rows
      children.push(canvas);
    }
    children.push(
      h("div", { className: "room-people" },
        `${room.followers} following`, room.presenterOnline ? "" : " · you are offline"),
      h("p", { className: "hint" }, `Students ${room.qr ? "scan the code or " : ""}open the link and see every step, `
        + "phase and selection live, read-only. Each can fork a private copy to experiment."),
      h("div", { className: "room-actions" },
        h("button", { type: "button", onclick: () => navigator.clipboard && navigator.clipboard.writeText(url) }, "Copy link"),
        h("button", { type: "button", onclick: () => this.on.togglePanel(false) }, "Hide"),
        h("button", { type: "button", className: "danger", onclick: () => this.on.close() }, "Close room")));
    this.panel.replaceChildren(...children);
  }

  _bar(state) {
    const bar = this.bar;
    const room = state.room;
    if (state.role === "follower" && room) {
      bar.hidden = false;
      bar.className = "room-bar following";
      bar.replaceChildren(
        h("span", {}, h("b", {}, `Following room ${room.code}`),
          room.relay === "reconnecting" ? " — reconnecting to the room; the presenter's steps resume here once it is back."
            : room.presenterOnline ? " — the presenter's steps appear here live; the controls are read-only."
              : " — the presenter is offline; the room waits for them."),
        h("button", { type: "button", className: "primary", "data-testid": "fork",
          onclick: () => this.on.fork() }, "Fork: experiment on my own copy"));
    } else if (state.forkOf && state.role === "solo") {
      bar.hidden = false;
      bar.className = "room-bar forked";
      bar.replaceChildren(
        h("span", {}, h("b", {}, "Your own copy"), ` of room ${state.forkOf}: change anything, nobody else sees it.`),
        h("button", { type: "button", "data-testid": "follow-again",
          onclick: () => this.on.followAgain() }, `Follow room ${state.forkOf} again`));
    } else {
      bar.hidden = true;
      bar.replaceChildren();
    }
  }
}

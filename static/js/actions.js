// What the page's controls ask for: each intent as the message it sends (protocol.js
// `messages`) or the store action it dispatches. The views call these through their `on`
// callbacks. A config change always goes out as `configure`: the server decides whether it
// keeps the weights and says so in its reply.

import { walkGoesOn } from "./backward_walk.js";
import { messages } from "./protocol.js";
import { openLesson } from "./lessons.js";

/**
 * The page's actions. `send`: the follower-gated send (follower_messages.js); `conn`: the
 * connection (following a room again reconnects); `lessons`: the lessons in the page.
 * `readCsv` is set once the CSV dialog exists (main.js).
 */
export function pageActions({ state, dispatch, send, conn, lessons }) {
  const act = {
    // `quiet`: a change the page makes itself (a URL's or a lesson's config), whose effect
    // goes unsaid; a person's change is answered with what the server did (state.js).
    configure: (changes, quiet = false) => {
      if (send(messages.configure(changes)) && !quiet) dispatch({ type: "configureSent", fields: Object.keys(changes) });
    },
    play: () => send(messages.play(state.ui.rate)),
    pause: () => send(messages.pause()),
    setSpeed: (rate) => { if (state.playing) send(messages.play(rate)); },
    step: () => (walkGoesOn(state) ? dispatch({ type: "reveal" }) : send(messages.step(state.ui.stepUnit))),
    stepBack: () => send(messages.stepBack()),
    reset: (data = false) => send(messages.reset(data)),
    exportState: () => send(messages.exportState()),
    importState: (snapshot) => send(messages.importState(snapshot)),
    readCsv: (file) => {},
    exportPoints: () => send(messages.exportPoints()),
    openLesson: (id, opts = {}) => openLesson(lessons, id, opts, { state, dispatch, act }),
    closeLesson: () => dispatch({ type: "setUi", patch: { lesson: null } }),
    openRoom: () => { send(messages.openRoom()); dispatch({ type: "setUi", patch: { roomPanel: true } }); },
    closeRoom: () => { send(messages.closeRoom()); dispatch({ type: "setUi", patch: { roomPanel: false } }); },
    fork: () => send(messages.fork()),
    // Back to the room: the fork ends (its slot freed) and the tab follows again.
    followAgain: () => {
      const code = state.forkOf;
      if (!code) return;
      conn.send(messages.leave());
      dispatch({ type: "unfork" });
      conn.follow(code);
    },
    compare: (changes) => { send(messages.compare(changes)); dispatch({ type: "setUi", patch: { comparePanel: false } }); },
    ask: (question) => { send(messages.ask(question)); if (state.ui.clickMode === "ask") dispatch({ type: "setUi", patch: { clickMode: "add" } }); },
    setWeight: (layer, i, j, value) => send(messages.setWeight(layer, i, j, value)),
    setBias: (layer, j, value) => send(messages.setBias(layer, j, value)),
    setParams: (params) => send(messages.setParams(params.weights, params.biases)),
    addPoint: (x1, x2, label) => send(messages.addPoint(x1, x2, label)),
    removePoint: (split, index) => send(messages.removePoint(split, index)),
    // The diagram's header controls: a feature on or off (one stays), a layer's activation.
    toggleFeature: (name) => {
      const on = new Set(state.config.features);
      if (on.has(name)) {
        if (on.size === 1) return dispatch({ type: "toast", text: "Keep at least one input feature.", kind: "info" });
        on.delete(name);
      } else on.add(name);
      act.configure({ features: [...on] });
    },
    setLayerActivation: (l, name) => {
      const n = state.config.hidden.length;
      const cur = state.config.activation;
      const acts = Array.isArray(cur) ? [...cur] : Array(n).fill(cur);
      acts[l] = name;
      act.configure({ activation: new Set(acts).size === 1 ? acts[0] : acts });
    },
  };
  return act;
}

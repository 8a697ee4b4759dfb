// When the page asks the server for an inspection (the inspector's computation graph): on a
// new selection or traced example at once, and after the weights move at most four times a
// second while playing. An input neuron has nothing to inspect.

import { messages } from "./protocol.js";
import { nodeLayerOf } from "./selection.js";

const PLAYING_MS = 250;

/** send: the page's send (a follower's inspections are its own). */
export function wireInspect(store, send) {
  const state = store.state;
  let last = 0;
  let timer = 0;
  const inspect = () => {
    const sel = state.ui.selection;
    if (!sel || !state.config) return;
    if (nodeLayerOf(sel) === 0) return;  // an input
    send(messages.inspect(sel, state.ui.example));
  };
  store.on(["select", "setExample"], () => inspect());
  store.on(["state", "step", "metrics"], (a, s) => {
    if (!s.ui.selection) return;
    const wait = s.playing ? PLAYING_MS - (performance.now() - last) : 0;
    clearTimeout(timer);
    timer = setTimeout(() => { last = performance.now(); inspect(); }, Math.max(0, wait));
  });
}

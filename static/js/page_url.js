// The page's URL, both ways. Once, when the session is there: the config and lesson it asks
// for (sent after the first state, so the server's defaults are known) and a share link's
// exact weights (once that config is in). Always: the page's config, settings and room part
// written back, so a reload or a copied address opens the same thing. A follower's URL
// carries only the room: the room's config rules.

import { messages } from "./protocol.js";
import { decodeWeights, shapeWeights } from "./share.js";
import { configDiff, decodeConfig, pageQuery, readPageParams, urlHasConfig } from "./url.js";

/** act: {configure(changes), openLesson(id, opts)} (actions.js); send: the page's send. */
export function wirePageUrl(store, act, send) {
  const dispatch = (a) => store.dispatch(a);
  let urlConfig = null;  // {config, bad, lesson} the URL asks for, until the first state
  let urlWeights = new URLSearchParams(location.search).get("w");

  store.on(["hello"], (a, s) => {
    if (s.role === "follower") { urlConfig = urlWeights = null; return; }
    const { lesson } = readPageParams(location.search);
    urlConfig = urlHasConfig(location.search, s.schema) || lesson
      ? { ...decodeConfig(location.search, s.schema), lesson } : null;
  });
  store.on(["state", "setUi", "room", "hello"], (a, s) => {
    if (a.type === "state" && urlConfig) {
      const { config, bad, lesson } = urlConfig;
      urlConfig = null;
      if (bad.length) dispatch({ type: "toast", text: `Ignored unreadable URL values: ${bad.join(", ")}` });
      // A lesson in the URL takes the URL's config fields as overrides, so the two never fight;
      // the URL keeps what it asks for until the state that has it.
      if (lesson) { act.openLesson(lesson, { overrides: config, onlyIfChanged: true }); return; }
      const diff = configDiff(config, s.config);
      if (Object.keys(diff).length) { act.configure(diff, true); return; }
    }
    if (a.type === "state" && urlWeights) {  // a share link's weights, once its config is in
      const shaped = shapeWeights(decodeWeights(urlWeights), s.params);
      urlWeights = null;
      if (shaped) send(messages.setParams(shaped.weights, shaped.biases));
      else dispatch({ type: "toast", text: "The link's weights do not fit its network; they were ignored." });
    }
    if (!s.config || !s.schema.length) return;
    const q = pageQuery(s);
    if (location.search.slice(1) !== q) history.replaceState(null, "", `${location.pathname}?${q}`);
  });
}

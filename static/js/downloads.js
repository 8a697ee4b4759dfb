// Files the server sends for saving: a snapshot (export) as JSON, the points as CSV.

import { saveBlob } from "./canvas.js";

/** Save `text` as file `name` of MIME `type`. */
export function saveText(text, name, type) {
  saveBlob(new Blob([text], { type }), name);
}

export function wireDownloads(store) {
  store.on(["exported"], (a, s) => {
    saveText(JSON.stringify(a.snapshot), `backprop-lab-step${s.counters.step}.json`, "application/json");
  });
  store.on(["pointsCsv"], (a) => saveText(a.csv, `${a.name.replace(/\.[^.]*$/, "")}-points.csv`, "text/csv"));
}

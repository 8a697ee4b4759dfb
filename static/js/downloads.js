// Files the server sends for saving: a snapshot (export) as JSON, the points as CSV.

/** Save `text` as file `name` of MIME `type` (a click on a temporary link). */
export function saveText(text, name, type) {
  const blob = new Blob([text], { type });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function wireDownloads(store) {
  store.on(["exported"], (a, s) => {
    saveText(JSON.stringify(a.snapshot), `backprop-lab-step${s.counters.step}.json`, "application/json");
  });
  store.on(["pointsCsv"], (a) => saveText(a.csv, `${a.name.replace(/\.[^.]*$/, "")}-points.csv`, "text/csv"));
}

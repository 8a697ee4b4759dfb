// The store's heatmaps: made in the page (heatmaps.js) from the newest complete weights
// (weights.js), at most once an animation frame; the hovered neuron's full map comes from the
// same pass (no round trip). The input features' maps, for the diagram's feature pickers,
// once the hello names the features.

import { MapMaker, NEURON_GRID, NEURON_RANGE, featureGrid, mapOf } from "./heatmaps.js";

/** Every input feature's map: {names, maps}. */
function featureMapsOf(s) {
  const field = s.schema.find((f) => f.name === "features");
  const names = field && field.choices ? field.choices : [];
  return { names, maps: mapOf(featureGrid(names, NEURON_GRID), NEURON_GRID, NEURON_RANGE) };
}

/** boundary: the Output plot (its size in device pixels bounds the grid). Returns the maker. */
export function wireMaps(store, boundary) {
  const dispatch = (a) => store.dispatch(a);
  const maps = new MapMaker((heatmaps, step) => dispatch({ type: "heatmaps", heatmaps, step }));
  store.on(["weights", "state"], (a, s) => {
    const w = s.weights;
    if (!w || !w.complete || !s.model) return;
    maps.want({ model: w.model, params: w.flat, compare: w.compare, step: w.step, pixels: boundary.plotPixels() });
  });
  store.on(["hello"], (a, s) => { if (s.schema.length) dispatch({ type: "featureMaps", ...featureMapsOf(s) }); });
  return maps;
}

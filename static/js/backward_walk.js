// @ts-check
// The inspector's walk back through the computation graph in the backward phase: each press
// of Step shows one more step, from the loss toward the weight, with the gradients of the
// nodes it computes, and the diagram shows only the δ the walk has reached (`reached`). The
// walk's order is the engine's (engine/graph.py): the output's δ first (for a hidden neuron,
// every output neuron's, "delta_out_k", as one step), then the equations below, in the order
// backprop evaluates them.

const ORDER = ["delta_out", "grad_a", "grad_h", "grad_u", "delta", "grad_w_example", "grad_w_data",
  "grad_w_penalty", "grad_w"];
// the graph nodes whose gradient each step gives
const REVEALS = { grad_a: ["a", "drop"], grad_h: ["h"], grad_u: ["u"], delta: ["z", "u", "yhat", "a", "h"],
  grad_w_example: ["w"] };

/** The step an equation id belongs to ("delta_out_2" → "delta_out"). */
const stepOf = (id) => (id.startsWith("delta_out_") ? "delta_out" : id);

/** Whether equation `id` is a backward one, which the walk reveals. */
export function isBackward(id) { return ORDER.includes(stepOf(id)); }

/** The backward steps of an inspection, in the order of the walk. */
export function walkSteps(result) {
  if (!result || !result.graph) return [];
  const steps = new Set(result.graph.equations.map((e) => stepOf(e.id)));
  return ORDER.filter((id) => steps.has(id));
}

/** What `reveal` steps of the walk show: {equations, nodes} sets, or null for everything. */
export function revealed(result, reveal) {
  if (reveal === null || reveal === undefined) return null;
  const steps = walkSteps(result);
  if (reveal >= steps.length) return null;
  const done = new Set(steps.slice(0, reveal));
  const equations = new Set(result.graph.equations.map((e) => e.id).filter((id) => done.has(stepOf(id))));
  const nodes = new Set();
  for (const id of done) for (const n of REVEALS[id] || []) nodes.add(n);
  return { equations, nodes, steps: done, step: reveal, of: steps.length };
}

/** Whether a press of Step goes one step further along the walk rather than to the update. */
export function walkGoesOn(state) {
  return state.ui.stepUnit === "phase" && state.phase === "backward" && state.ui.reveal !== null
    && state.inspect !== null && state.ui.reveal < walkSteps(state.inspect).length;
}

/**
 * Whether the walk has reached the δ of neuron j in node layer c (1 = the first hidden
 * layer), for a diagram of nLayers node layers: the output layer's from its first step, the
 * layers above the inspected neuron's once its output's gradient is summed from them
 * (grad_a), the inspected neuron itself once its δ is found; below it, never. `walk`:
 * revealed()'s answer (null: not walking, so everything).
 */
export function reached(walk, result, c, j, nLayers) {
  if (!walk) return true;
  const own = result.neuron.layer + 1;  // the inspected neuron's node layer
  if (c === nLayers - 1 && (walk.steps.has("delta_out") || (own === c && walk.steps.has("delta")))) return true;
  if (c > own) return walk.steps.has("grad_a");
  return c === own && j === result.neuron.neuron && walk.steps.has("delta");
}

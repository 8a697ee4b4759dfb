// The inspector's walk back through the computation graph in the backward phase: each press
// of Step shows one more equation, from the loss toward the weight, with the gradients of the
// nodes it computes. The walk's order is the engine's (engine/graph.py): the equation ids
// below are the backward ones it can send, in the order backprop evaluates them.

const ORDER = ["grad_a", "grad_h", "grad_u", "delta", "grad_w_example", "grad_w_data",
  "grad_w_penalty", "grad_w"];
// the graph nodes whose gradient each equation gives
const REVEALS = { grad_a: ["a", "drop"], grad_h: ["h"], grad_u: ["u"], delta: ["z", "u", "yhat", "a", "h"],
  grad_w_example: ["w"] };

/** The backward equations of an inspection, in the order of the walk. */
export function walkSteps(result) {
  if (!result || !result.graph) return [];
  const ids = new Set(result.graph.equations.map((e) => e.id));
  return ORDER.filter((id) => ids.has(id));
}

/** What `reveal` steps of the walk show: {equations, nodes} sets, or null for everything. */
export function revealed(result, reveal) {
  if (reveal === null || reveal === undefined) return null;
  const steps = walkSteps(result);
  if (reveal >= steps.length) return null;
  const equations = new Set(steps.slice(0, reveal));
  const nodes = new Set();
  for (const id of equations) for (const n of REVEALS[id] || []) nodes.add(n);
  return { equations, nodes, step: reveal, of: steps.length };
}

/** Whether a press of Step goes one step further along the walk rather than to the update. */
export function walkGoesOn(state) {
  return state.ui.stepUnit === "phase" && state.phase === "backward" && state.ui.reveal !== null
    && state.inspect !== null && state.ui.reveal < walkSteps(state.inspect).length;
}

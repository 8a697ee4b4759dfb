// The four phases of one update, as phase stepping shows them: which one the diagram draws
// at a given moment (the running animation's, else the held one) and in which view. Pure
// functions of the state, shared by the store (a phase step switches to its phase's view)
// and the network view (which draws it).

export const PHASES = ["forward", "loss", "backward", "update"];

/** The legend's name of each phase. */
export const PHASE_NAMES = {
  forward: "1 forward pass",
  loss: "2 loss",
  backward: "3 backward pass (δ flows right to left)",
  update: "4 update w ← w + Δw",
};

/** The view a held phase is drawn in: the backward pass backward, the others forward. */
export const phaseView = (phase) => (phase === "backward" ? "backward" : "forward");

/**
 * The phase the diagram shows at `now` (a performance.now() time): {phase, t, running,
 * stepped}, or null. t in [0, 1] is the animation's progress; `stepped` is true for a phase
 * step's phase (animating or held) and false inside an update-by-update step's animation of
 * all four. A running animation wins; otherwise a phase step's phase stays on screen while
 * its record is there and the page is in that phase's view (switching the view shows the
 * other view of the same step instead).
 */
export function shownPhase(state, now) {
  const anim = state.ui.anim;
  if (!anim) {
    const p = state.phase;
    if (p && state.record && state.ui.view === phaseView(p)) return { phase: p, t: 1, running: false, stepped: true };
    return null;
  }
  const t = Math.min(1, (now - anim.start) / anim.duration);
  if (anim.phase === "all") {  // an update-by-update step: the four phases in a row
    const k = Math.min(3, Math.floor(t * 4));
    return { phase: PHASES[k], t: Math.min(1, t * 4 - k), running: t < 1, stepped: false };
  }
  return { phase: anim.phase, t, running: t < 1, stepped: true };
}

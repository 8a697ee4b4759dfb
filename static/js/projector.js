// Projector mode: large type, high contrast, thicker lines, advanced controls hidden. The
// flag is `state.ui.projector`; the page's CSS keys off `body.projector`, and the canvas
// views multiply their line widths and label sizes by `drawScale(state)`.

export const PROJECTOR_LINE = 1.8;   // line widths ×
export const PROJECTOR_FONT = 1.4;   // canvas label sizes ×

/** {line, font} factors for the canvas views: 1 normally, larger in projector mode. */
export function drawScale(state) {
  return state.ui.projector ? { line: PROJECTOR_LINE, font: PROJECTOR_FONT } : { line: 1, font: 1 };
}

/** Put the body class and the toggle button in line with `state.ui.projector`. */
export function renderProjector(state, button) {
  const on = !!state.ui.projector;
  document.body.classList.toggle("projector", on);
  if (button) button.setAttribute("aria-pressed", String(on));
}

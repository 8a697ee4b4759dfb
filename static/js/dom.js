// @ts-check
// The one DOM helper the views build their elements with (no framework: a page of a few
// panels does not need one).

/**
 * Build an element: h("div", {className: "x"}, "text", child, ...). Attributes: `dataset`,
 * `on<event>` listeners, className/textContent/value as properties, the rest as attributes
 * (true: present, false or null: absent).
 * @param {string} tag @param {Object<string, any>} [attrs] @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "className" || k === "textContent" || k === "value") /** @type {any} */ (el)[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return el;
}

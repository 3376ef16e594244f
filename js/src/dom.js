// Small DOM helpers: elements with attributes, SVG elements, text that is never parsed as HTML
// (every user string reaches the page through textContent or an attribute, never innerHTML).

const SVG_NS = "http://www.w3.org/2000/svg";

/** An HTML element with attributes (class, style, dataset as "data-*", others as attributes). */
export function html(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

/** An SVG element with attributes. */
export function svg(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

export function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) node.removeAttribute(k);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** Sizes a stage: its canvas in device pixels (sharp on any screen), the SVG over it in CSS
 * pixels. Returns the device pixel ratio. */
export function sizeStage(stage, canvas, overlay, width, height) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  overlay.setAttribute("width", width);
  overlay.setAttribute("height", height);
  stage.style.height = `${height}px`;
  return dpr;
}

/** A number rounded for an SVG attribute (fewer characters, same picture). */
export function px(v) {
  return Math.round(v * 10) / 10;
}

/** An SVG path through (x, y) pairs, broken where a value is not finite. */
export function linePath(xs, ys) {
  let d = "";
  let pen = false;
  for (let i = 0; i < xs.length; i += 1) {
    const x = xs[i];
    const y = ys[i];
    if (Number.isFinite(x) && Number.isFinite(y)) {
      d += `${pen ? "L" : "M"}${px(x)} ${px(y)}`;
      pen = true;
    } else pen = false;
  }
  return d;
}

/** Markers as one path: a zero-length segment per point, drawn round by stroke-linecap
 * (every finite point, or those of `only`, a list of indices). */
export function dotsPath(xs, ys, only = null) {
  let d = "";
  for (const i of only ?? xs.keys()) {
    if (Number.isFinite(xs[i]) && Number.isFinite(ys[i])) d += `M${px(xs[i])} ${px(ys[i])}h0`;
  }
  return d;
}

const finite = (xs, ys, i) => i >= 0 && i < xs.length && Number.isFinite(xs[i]) && Number.isFinite(ys[i]);

/** The indices of finite points with no finite neighbour: `linePath` draws nothing there (a
 * measure estimated at a few checkpoints, a point between two failed ones). */
export function isolated(xs, ys) {
  const out = [];
  for (let i = 0; i < xs.length; i += 1) {
    if (finite(xs, ys, i) && !finite(xs, ys, i - 1) && !finite(xs, ys, i + 1)) out.push(i);
  }
  return out;
}

/** Straight segments across the gaps of a curve: from each finite point to the next finite
 * one when missing points lie between them (drawn dashed: nothing was measured there). */
export function gapPath(xs, ys) {
  let d = "";
  let last = -1;
  for (let i = 0; i < xs.length; i += 1) {
    if (!finite(xs, ys, i)) continue;
    if (last >= 0 && i > last + 1) d += `M${px(xs[last])} ${px(ys[last])}L${px(xs[i])} ${px(ys[i])}`;
    last = i;
  }
  return d;
}

/** Vertical error bars at the points `only` (where a band has no width to be drawn). */
export function whiskerPath(xs, lower, upper, only) {
  let d = "";
  for (const i of only) {
    if ([xs[i], lower[i], upper[i]].every(Number.isFinite)) {
      d += `M${px(xs[i] - 3)} ${px(lower[i])}h6M${px(xs[i])} ${px(lower[i])}V${px(upper[i])}M${px(xs[i] - 3)} ${px(upper[i])}h6`;
    }
  }
  return d;
}

/** A closed band between a lower and an upper line (for error bars), broken at gaps. */
export function bandPath(xs, lower, upper) {
  let d = "";
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      d += `M${run.map((i) => `${px(xs[i])} ${px(upper[i])}`).join("L")}`;
      d += `L${run.slice().reverse().map((i) => `${px(xs[i])} ${px(lower[i])}`).join("L")}Z`;
    }
    run = [];
  };
  for (let i = 0; i < xs.length; i += 1) {
    if ([xs[i], lower[i], upper[i]].every(Number.isFinite)) run.push(i);
    else flush();
  }
  flush();
  return d;
}

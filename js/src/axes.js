// Axes drawn into an SVG group: ticks, labels, grid lines. The tick choice is scale.js's.
import { svg, px } from "./dom.js";

const TICK = 4;

/**
 * A horizontal axis at y = `y`: `ticks` ({major: [{position, label}], minor: [{position}]}) mapped
 * by `x`; labels only if `labels`, grid lines from `gridTop` down to y if given.
 */
export function bottomAxis(group, { x, y, ticks, labels = true, gridTop = null, lo = -Infinity, hi = Infinity }) {
  const inside = (p) => p >= lo - 0.5 && p <= hi + 0.5;
  svg("line", { x1: px(lo), x2: px(hi), y1: px(y), y2: px(y), class: "rs-axis-line" }, group);
  for (const t of ticks.minor) {
    const p = x(t.position);
    if (inside(p)) svg("line", { x1: px(p), x2: px(p), y1: px(y), y2: px(y + TICK / 2), class: "rs-tick" }, group);
  }
  for (const t of ticks.major) {
    const p = x(t.position);
    if (!inside(p)) continue;
    if (gridTop !== null) svg("line", { x1: px(p), x2: px(p), y1: px(gridTop), y2: px(y), class: "rs-grid" }, group);
    svg("line", { x1: px(p), x2: px(p), y1: px(y), y2: px(y + TICK), class: "rs-tick" }, group);
    if (labels) svg("text", { x: px(p), y: px(y + TICK + 11), class: "rs-tick-label rs-x-tick", "text-anchor": "middle" }, group, t.label);
  }
}

/** A vertical axis at x = `x0`: ticks [{value, label}] mapped by `y`, grid lines to `gridRight`. */
export function leftAxis(group, { y, x0, ticks, minor = [], gridRight = null, lo = -Infinity, hi = Infinity }) {
  const top = Math.min(lo, hi);
  const bottom = Math.max(lo, hi);
  const inside = (p) => p >= top - 0.5 && p <= bottom + 0.5;
  svg("line", { x1: px(x0), x2: px(x0), y1: px(top), y2: px(bottom), class: "rs-axis-line" }, group);
  for (const v of minor) {
    const p = y(v);
    if (inside(p)) svg("line", { x1: px(x0 - TICK / 2), x2: px(x0), y1: px(p), y2: px(p), class: "rs-tick" }, group);
  }
  for (const t of ticks) {
    const p = y(t.value);
    if (!inside(p)) continue;
    if (gridRight !== null) svg("line", { x1: px(x0), x2: px(gridRight), y1: px(p), y2: px(p), class: "rs-grid" }, group);
    svg("line", { x1: px(x0 - TICK), x2: px(x0), y1: px(p), y2: px(p), class: "rs-tick" }, group);
    svg("text", { x: px(x0 - TICK - 3), y: px(p + 3.5), class: "rs-tick-label rs-y-tick", "text-anchor": "end" }, group, t.label);
  }
}

// Curves over steps (the "lines" drawer): one row per chosen measure of the layer shown
// (source "measures", with error bands and the phases shaded), per chosen training scalar
// (source "scalars"), or per series a panel sends itself (source "series"). A step moves the
// cursor and the readouts only; the rows are redrawn when the data, the layer, the choice or the
// size change.
import { bottomAxis, leftAxis } from "../axes.js";
import { RUN_COLOURS, phaseColour } from "../colors.js";
import { bandPath, clear, dotsPath, gapPath, html, isolated, linePath, px, svg, whiskerPath } from "../dom.js";
import { extent, formatValue, linearLabels, linearMap, linearTicks, stepPosition, stepTicks } from "../scale.js";
import { atOrBefore, nearestOnLogAxis } from "../steps.js";

const ROW = 92; // plot height of one row
const TITLE = 20; // the row's title line above it
const GAP = 8;
const PHASE_STRIP = 18;
const BOTTOM = 34;
const MARKERS_UP_TO = 80; // points per series drawn with markers

function seriesOf(frame, spec, row) {
  const out = [];
  frame.runs.forEach((run, r) => {
    const colour = RUN_COLOURS[r % RUN_COLOURS.length];
    if (row.kind === "measure") {
      const m = run.measures.names.indexOf(row.name);
      const l = run.layers.indexOf(frame.layer);
      if (m < 0 || l < 0) return;
      const [, L, S] = run.measures.values.shape;
      const slice = (a) => (a ? a.subarray((m * L + l) * S, (m * L + l + 1) * S) : null);
      out.push({ r, colour, name: run.name, steps: run.steps, values: slice(run.measures.values),
        lower: slice(run.measures.lower), upper: slice(run.measures.upper) });
    } else if (row.kind === "scalar") {
      const s = (run.panels.training?.scalars ?? []).find((x) => x.name === row.name);
      if (s) out.push({ r, colour, name: run.name, steps: s.steps, values: s.values });
    } else {
      const s = (run.panels[spec.name]?.series ?? []).find((x) => x.name === row.name);
      if (s) out.push({ r, colour, name: run.name, steps: s.steps, values: s.values, lower: s.lower, upper: s.upper });
    }
  });
  return out;
}

/** The rows this panel shows: [{name, label, kind}] in the order chosen. */
/** A row's title and its readout share one line: where they would overlap (a narrow view,
 * two runs with intervals), the title drops its band note (its tooltip keeps it), then the
 * readout its intervals, then the title is cut with an ellipsis. */
function fitTitleAndReadout(rb, readout, withoutIntervals, room) {
  const GAP = 12;
  const width = (node) => (typeof node.getComputedTextLength === "function" ? node.getComputedTextLength() : 0);
  const fits = () => width(rb.title) + width(readout) + GAP <= room;
  rb.title.textContent = rb.titleText;
  if (width(readout) === 0 || fits()) return;
  rb.title.textContent = rb.row.label;
  if (fits()) return;
  readout.textContent = withoutIntervals();
  if (fits()) return;
  const label = rb.row.label;
  for (let n = label.length - 1; n > 1; n -= 1) {
    rb.title.textContent = `${label.slice(0, n)}…`;
    if (fits()) return;
  }
}

export function rowsOf(frame, spec) {
  const source = spec.options?.source ?? "measures";
  if (source === "series") {
    const names = [];
    for (const run of frame.runs) for (const s of run.panels[spec.name]?.series ?? []) {
      if (!names.some((n) => n.name === s.name)) names.push({ name: s.name, label: s.label ?? s.name, kind: "series" });
    }
    return names;
  }
  const kind = source === "scalars" ? "scalar" : "measure";
  return frame.measures
    .map((name) => frame.curve(name))
    .filter((c) => c && c.kind === kind)
    .map((c) => ({ name: c.name, label: c.axis ?? c.label, short: c.label, kind, band: c.band }));
}

export function createLines(box, spec, view) {
  const title = html("div", { class: "rs-panel-title" }, box);
  const svgNode = svg("svg", { class: "rs-lines" }, box);
  const rowsGroup = svg("g", {}, svgNode);
  const cursorGroup = svg("g", { class: "rs-cursor" }, svgNode);
  const hoverLine = svg("line", { class: "rs-hover-line", visibility: "hidden" }, svgNode);
  const overlay = svg("rect", { class: "rs-overlay" }, svgNode);
  let layout = null; // what the last full draw laid out, for the cursor and the mouse

  function fullDraw(frame) {
    const rows = rowsOf(frame, spec);
    box.style.display = rows.length ? "" : "none";
    clear(rowsGroup);
    layout = null;
    if (!rows.length) return;
    title.textContent = spec.title ?? "";
    title.style.display = spec.title ? "" : "none";
    const width = Math.max(box.clientWidth, 200);
    const { left, right } = frame.margin;
    const x = linearMap(frame.xDomain[0], frame.xDomain[1], left, width - right);
    const showPhases = spec.options?.phases !== false;
    const phases = showPhases ? frame.phases() : [];
    const top0 = phases.length ? PHASE_STRIP : 4;
    const height = top0 + rows.length * (TITLE + ROW + GAP) + BOTTOM;
    svgNode.setAttribute("width", width);
    svgNode.setAttribute("height", height);
    const rowBoxes = [];
    rows.forEach((row, k) => {
      const top = top0 + k * (TITLE + ROW + GAP) + TITLE;
      const bottom = top + ROW;
      const series = seriesOf(frame, spec, row);
      const all = [];
      for (const s of series) {
        for (const a of [s.values, s.lower, s.upper]) if (a) for (const v of a) all.push(v);
      }
      const [lo, hi] = extent(all);
      const y = linearMap(lo, hi, bottom, top);
      const g = svg("g", { class: "rs-row", "data-name": row.name }, rowsGroup);
      for (const p of phases) {
        const x0 = Math.max(left, x(stepPosition(p.start)));
        const x1 = Math.min(width - right, x(stepPosition(p.end)));
        if (x1 > x0) svg("rect", { x: px(x0), width: px(x1 - x0), y: px(top), height: ROW, fill: phaseColour(p.name), class: "rs-phase" }, g);
      }
      const ticks = linearTicks(lo, hi, 4);
      const labels = linearLabels(ticks);
      leftAxis(g, { y, x0: left, ticks: ticks.map((value, i) => ({ value, label: labels[i] })), gridRight: width - right, lo: top, hi: bottom });
      const last = k === rows.length - 1;
      bottomAxis(g, { x, y: bottom, ticks: stepTicks(frame.steps[0] ?? 0, frame.steps[frame.steps.length - 1] ?? 1, width - left - right), labels: last, lo: left, hi: width - right });
      const banded = series.some((s) => s.lower && s.upper && Array.from(s.lower).some(Number.isFinite));
      const titleText = banded ? `${row.label}  ·  band: ${row.band ?? "90 % interval"}` : row.label;
      const titleGroup = svg("g", {}, g); // its <title>: the whole text on hover, when it is cut
      svg("title", {}, titleGroup, titleText);
      const title = svg("text", { x: left, y: top - 6, class: "rs-row-title" }, titleGroup, titleText);
      for (const s of series) {
        const xs = Array.from(s.steps, (v) => x(stepPosition(v)));
        if (s.lower && s.upper) {
          svg("path", { d: bandPath(xs, Array.from(s.lower, y), Array.from(s.upper, y)), fill: s.colour, class: "rs-band" }, g);
        }
        const ys = Array.from(s.values, y);
        svg("path", { d: linePath(xs, ys), stroke: s.colour, class: "rs-line" }, g);
        svg("path", { d: gapPath(xs, ys), stroke: s.colour, class: "rs-gap" }, g);
        const lone = isolated(xs, ys); // no line through them: always a marker, and a bar
        if (s.lower && s.upper && lone.length) {
          svg("path", { d: whiskerPath(xs, Array.from(s.lower, y), Array.from(s.upper, y), lone), stroke: s.colour, class: "rs-whisker" }, g);
        }
        const dots = s.steps.length <= MARKERS_UP_TO ? dotsPath(xs, ys) : dotsPath(xs, ys, lone);
        if (dots) svg("path", { d: dots, stroke: s.colour, class: "rs-dots" }, g);
      }
      rowBoxes.push({ row, top, bottom, y, series, title, titleText, left });
    });
    if (phases.length) {
      for (const p of phases) {
        const x0 = Math.max(left, x(stepPosition(p.start)));
        const x1 = Math.min(width - right, x(stepPosition(p.end)));
        if (x1 - x0 < 4) continue;
        const label = svg("text", { x: px((x0 + x1) / 2), y: 13, class: "rs-phase-label", "text-anchor": "middle" }, rowsGroup, p.label ?? p.name);
        const t = svg("title", {}, label, p.description ?? p.label ?? p.name);
        void t;
      }
    }
    if (rows.length) {
      svg("text", { x: px((left + width - right) / 2), y: height - 4, class: "rs-axis-title", "text-anchor": "middle" }, rowsGroup, "step (log scale)");
    }
    for (const [k, v] of Object.entries({ x: left, y: top0, width: Math.max(width - left - right, 1), height: height - top0 - BOTTOM })) overlay.setAttribute(k, v);
    layout = { x, rows: rowBoxes, top: top0, bottom: height - BOTTOM, left, right: width - right };
  }

  function drawCursor(frame) {
    clear(cursorGroup);
    if (!layout) return;
    const cx = layout.x(stepPosition(frame.step));
    svg("line", { x1: px(cx), x2: px(cx), y1: layout.top, y2: layout.bottom, class: "rs-cursor-line" }, cursorGroup);
    for (const rb of layout.rows) {
      const readout = (intervals) =>
        rb.series
          .map((s) => {
            const i = atOrBefore(s.steps, frame.step);
            const v = i >= 0 ? s.values[i] : NaN;
            let text = formatValue(v);
            if (intervals && s.lower && s.upper && i >= 0 && Number.isFinite(s.lower[i])) text += ` (${formatValue(s.lower[i])}–${formatValue(s.upper[i])})`;
            return rb.series.length > 1 ? `${s.name}: ${text}` : text;
          })
          .join(" · ");
      for (const s of rb.series) {
        const i = atOrBefore(s.steps, frame.step);
        const v = i >= 0 ? s.values[i] : NaN;
        if (i >= 0 && Number.isFinite(v)) svg("circle", { cx: px(layout.x(stepPosition(s.steps[i]))), cy: px(rb.y(v)), r: 3.5, fill: s.colour, class: "rs-cursor-dot" }, cursorGroup);
      }
      const text = svg("text", { x: layout.right, y: rb.top - 6, class: "rs-readout", "text-anchor": "end" }, cursorGroup, readout(true));
      fitTitleAndReadout(rb, text, () => readout(false), layout.right - rb.left);
    }
  }

  function hoverAt(frame, event) {
    if (!layout) return;
    const rect = svgNode.getBoundingClientRect();
    const mx = event.clientX - rect.left;
    const i = nearestOnLogAxis(frame.steps, layout.x.invert(mx));
    if (i < 0) return;
    const step = frame.steps[i];
    const hx = layout.x(stepPosition(step));
    hoverLine.setAttribute("x1", px(hx));
    hoverLine.setAttribute("x2", px(hx));
    hoverLine.setAttribute("y1", layout.top);
    hoverLine.setAttribute("y2", layout.bottom);
    hoverLine.setAttribute("visibility", "visible");
    const lines = [`step ${step.toLocaleString("en-US")}`];
    for (const rb of layout.rows) {
      for (const s of rb.series) {
        const j = atOrBefore(s.steps, step);
        const who = rb.series.length > 1 ? ` (${s.name})` : "";
        lines.push(`${rb.row.short ?? rb.row.label}${who}: ${formatValue(j >= 0 ? s.values[j] : NaN)}`);
      }
    }
    for (const p of frame.phases()) if (step >= p.start && step <= p.end) lines.push(`phase: ${p.label ?? p.name}`);
    view.tooltip.show(event, lines);
    return step;
  }

  overlay.addEventListener("mousemove", (event) => hoverAt(view.frame(), event));
  overlay.addEventListener("mouseleave", () => {
    hoverLine.setAttribute("visibility", "hidden");
    view.tooltip.hide();
  });
  overlay.addEventListener("click", (event) => {
    const step = hoverAt(view.frame(), event);
    if (step !== undefined) view.setState({ step });
  });

  return {
    draw(frame, changed) {
      if (["size", "runs", "layer", "measures", "data"].some((c) => changed.has(c))) fullDraw(frame);
      drawCursor(frame);
    },
    destroy() {},
  };
}

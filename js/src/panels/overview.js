// Every layer at every step at a glance: a heatmap of one measure (the first measure chosen),
// layers as rows (the first at the bottom), steps on the log-step axis. The step shown is a line,
// the layer shown a box; a click on a cell goes there.
import { bottomAxis } from "../axes.js";
import { viridis } from "../colors.js";
import { clear, html, px, sizeStage, svg } from "../dom.js";
import { formatValue, linearMap, stepTicks } from "../scale.js";
import { cellEdges, nearestOnLogAxis } from "../steps.js";

const ROW = 18;
const MIN_ROW = 5;
const MIN_PLOT = 40; // a run of one or two layers still gets a readable strip
const MAX_HEIGHT = 460;
const TOP = 6;
const BOTTOM = 34;
const BAR = 10; // colour bar width

export function createOverview(box, spec, view) {
  const title = html("div", { class: "rs-panel-title" }, box);
  const help = html("div", { class: "rs-panel-help" }, box);
  const stage = html("div", { class: "rs-stage" }, box);
  const canvas = html("canvas", { class: "rs-heatmap" }, stage);
  const overlay = svg("svg", { class: "rs-overlay-svg" }, stage);
  const axes = svg("g", {}, overlay);
  const marks = svg("g", {}, overlay);
  let layout = null;

  function measureOf(frame) {
    const run = frame.runs[0];
    if (!run) return null;
    const chosen = frame.measures.find((m) => run.measures.names.includes(m));
    return chosen ?? (run.measures.names.includes("effective_rank") ? "effective_rank" : run.measures.names[0]) ?? null;
  }

  function fullDraw(frame) {
    const run = frame.runs[0];
    const measure = measureOf(frame);
    layout = null;
    clear(axes);
    if (!run || !measure || run.layers.length === 0) {
      box.style.display = "none";
      return;
    }
    box.style.display = "";
    const curve = frame.curve(measure);
    title.textContent = `all layers: ${curve ? curve.label : measure}`;
    help.textContent = spec.options?.help ?? "";
    const width = Math.max(box.clientWidth, 200);
    const { left, right } = frame.margin;
    const L = run.layers.length;
    const rowH = Math.max(MIN_ROW, Math.min(Math.max(ROW, MIN_PLOT / L), (MAX_HEIGHT - TOP - BOTTOM) / L));
    const plotH = rowH * L;
    const height = TOP + plotH + BOTTOM;
    const dpr = sizeStage(stage, canvas, overlay, width, height);
    const x = linearMap(frame.xDomain[0], frame.xDomain[1], left, width - right);
    const m = run.measures.names.indexOf(measure);
    const [, , S] = run.measures.values.shape;
    const values = run.measures.values.subarray(m * L * S, (m + 1) * L * S);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    const span = hi > lo ? hi - lo : 1;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const edges = cellEdges(run.steps).map(x);
    for (let l = 0; l < L; l += 1) {
      const y0 = TOP + (L - 1 - l) * rowH;
      for (let s = 0; s < S; s += 1) {
        const v = values[l * S + s];
        const x0 = Math.max(left, edges[s]);
        const x1 = Math.min(width - right, edges[s + 1]);
        if (x1 <= x0) continue;
        if (Number.isFinite(v)) {
          const [r, g, b] = viridis((v - lo) / span);
          ctx.fillStyle = `rgb(${r},${g},${b})`;
        } else ctx.fillStyle = "#eee";
        ctx.fillRect(x0, y0, x1 - x0 + 0.6, rowH + 0.6);
      }
    }
    // colour bar, in the right margin
    const barX = width - right + 12;
    for (let i = 0; i < plotH; i += 1) {
      const [r, g, b] = viridis(1 - i / plotH);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(barX, TOP + i, BAR, 1.5);
    }
    svg("text", { x: barX + BAR + 3, y: TOP + 8, class: "rs-tick-label" }, axes, formatValue(hi));
    svg("text", { x: barX + BAR + 3, y: TOP + plotH, class: "rs-tick-label" }, axes, formatValue(lo));
    // layer names: every one that fits
    const every = Math.max(1, Math.ceil(12 / rowH));
    frame.shortLayers(0).forEach((name, l) => {
      if (l % every !== 0 && l !== L - 1) return;
      const label = svg("text", { x: left - 6, y: px(TOP + (L - 1 - l) * rowH + rowH / 2 + 3.5), class: "rs-tick-label", "text-anchor": "end" }, axes, name);
      svg("title", {}, label, run.layers[l]);
    });
    bottomAxis(axes, { x, y: TOP + plotH, ticks: stepTicks(frame.steps[0] ?? 0, frame.steps[frame.steps.length - 1] ?? 1, width - left - right), lo: left, hi: width - right });
    svg("text", { x: px((left + width - right) / 2), y: height - 4, class: "rs-axis-title", "text-anchor": "middle" }, axes, "step (log scale)");
    layout = { x, rowH, L, left, right: width - right, top: TOP, plotH, run, values, S, measure };
  }

  function drawMarks(frame) {
    clear(marks);
    if (!layout) return;
    const { x, rowH, L, left, right, top, plotH, run } = layout;
    const cx = x(Math.log10(frame.step + 1));
    svg("line", { x1: px(cx), x2: px(cx), y1: top, y2: top + plotH, class: "rs-overview-step" }, marks);
    const l = run.layers.indexOf(frame.layer);
    if (l >= 0) svg("rect", { x: left, width: right - left, y: px(top + (L - 1 - l) * rowH), height: px(rowH), class: "rs-overview-layer" }, marks);
  }

  function cellAt(event) {
    if (!layout) return null;
    const rect = overlay.getBoundingClientRect();
    const mx = event.clientX - rect.left;
    const my = event.clientY - rect.top;
    const { x, rowH, L, left, right, top, plotH, run } = layout;
    if (mx < left || mx > right || my < top || my > top + plotH) return null;
    const l = L - 1 - Math.min(L - 1, Math.max(0, Math.floor((my - top) / rowH)));
    const s = nearestOnLogAxis(run.steps, x.invert(mx));
    return s < 0 ? null : { layer: run.layers[l], step: run.steps[s], value: layout.values[l * layout.S + s] };
  }

  overlay.addEventListener("mousemove", (event) => {
    const cell = cellAt(event);
    if (!cell) return view.tooltip.hide();
    const curve = view.frame().curve(layout.measure);
    view.tooltip.show(event, [cell.layer, `step ${cell.step.toLocaleString("en-US")}`, `${curve ? curve.label : layout.measure}: ${formatValue(cell.value)}`]);
  });
  overlay.addEventListener("mouseleave", () => view.tooltip.hide());
  overlay.addEventListener("click", (event) => {
    const cell = cellAt(event);
    if (cell) view.setState({ layer: cell.layer, step: cell.step });
  });

  return {
    draw(frame, changed) {
      if (["size", "runs", "measures", "data"].some((c) => changed.has(c))) fullDraw(frame);
      drawMarks(frame);
    },
    destroy() {},
  };
}

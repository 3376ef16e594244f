// The probe inputs in 2-D at the step shown: each checkpoint's points on their first two
// principal axes, aligned step to step (orthogonal Procrustes, done in Python), drawn in WebGL.
// Coloured by label; several runs are drawn side by side, one plot each. Drag a lasso to select
// inputs (the selection is the widget's `selected` state and stays highlighted at every step); a
// click clears it.
import { bottomAxis, leftAxis } from "../axes.js";
import { RUN_COLOURS, labelRgb, LABEL_COLOURS, MAX_LABEL_COLOURS, rgb } from "../colors.js";
import { clear, html, px, sizeStage, svg } from "../dom.js";
import { drawWithCanvas, sharedRenderer } from "../gl.js";
import { selectInPolygon } from "../lasso.js";
import { linearLabels, linearMap, linearTicks } from "../scale.js";

const HEIGHT = 330;
const M = { top: 8, bottom: 34, left: 46, right: 10 };
const GAP = 12;
const UNSELECTED_ALPHA = 0.13;

/** Point size in CSS pixels for n points: big when few, small when many. */
export function pointSize(n) {
  if (n <= 2000) return 5;
  if (n <= 20000) return 3.5;
  if (n <= 100000) return 2.5;
  return 2;
}

/** RGBA bytes per drawn point: its label's colour (or the run's), dimmed when not selected. */
export function pointColours(points, runColour, selected) {
  const n = points.shown.length;
  const out = new Uint8Array(4 * n);
  const count = points.names ? points.names.length : 0;
  const base = rgb(runColour);
  const any = selected && selected.size > 0;
  for (let i = 0; i < n; i += 1) {
    const c = points.codes ? labelRgb(points.codes[i], count) : base;
    const alpha = any ? (selected.has(points.shown[i]) ? 0.95 : UNSELECTED_ALPHA) : 0.8;
    out.set([c[0], c[1], c[2], Math.round(alpha * 255)], 4 * i);
  }
  return out;
}

export function createPoints(box, spec, view) {
  const title = html("div", { class: "rs-panel-title rs-points-title" }, box);
  const legend = html("div", { class: "rs-legend" }, box);
  const stage = html("div", { class: "rs-stage" }, box);
  const canvas = html("canvas", { class: "rs-points-canvas" }, stage);
  const overlay = svg("svg", { class: "rs-overlay-svg" }, stage);
  const axes = svg("g", {}, overlay);
  const lassoPath = svg("path", { class: "rs-lasso" }, overlay);
  const note = html("div", { class: "rs-panel-note" }, box);
  let layout = null; // per run: {x, y, left, top, width, height, range}
  let colours = []; // per run
  let lasso = null;
  const xyNow = []; // per run: the interleaved coordinates drawn, and n

  function plots(frame, width) {
    const R = frame.runs.length;
    const each = (width - GAP * (R - 1)) / Math.max(R, 1);
    return frame.runs.map((run, r) => {
      const range = frame.head(r)?.panels?.points?.range ?? null;
      const left = r * (each + GAP) + M.left;
      const right = r * (each + GAP) + each - M.right;
      return {
        r,
        range,
        left,
        top: M.top,
        width: Math.max(right - left, 10),
        height: HEIGHT - M.top - M.bottom,
        x: range ? linearMap(range[0], range[1], left, right) : null,
        y: range ? linearMap(range[2], range[3], HEIGHT - M.bottom, M.top) : null,
      };
    });
  }

  function drawLegend(frame) {
    clear(legend);
    const run = frame.runs[0];
    const points = run?.panels?.points;
    if (!points) return;
    if (frame.runs.length > 1) {
      frame.runs.forEach((rr, r) => {
        const chip = html("span", { class: "rs-chip" }, legend);
        html("span", { class: "rs-swatch", style: `background:${RUN_COLOURS[r % RUN_COLOURS.length]}` }, chip);
        html("span", {}, chip, `${rr.name} (${r === 0 ? "left" : r === frame.runs.length - 1 ? "right" : `plot ${r + 1}`})`);
      });
    }
    if (points.names) {
      if (points.names.length <= MAX_LABEL_COLOURS) {
        html("span", { class: "rs-legend-title" }, legend, "colour: label");
        points.names.forEach((name, c) => {
          const chip = html("span", { class: "rs-chip" }, legend);
          html("span", { class: "rs-swatch", style: `background:${LABEL_COLOURS[c % LABEL_COLOURS.length]}` }, chip);
          html("span", {}, chip, name);
        });
      } else html("span", { class: "rs-legend-title" }, legend, `colour: label (${points.names.length} labels, on a continuous scale)`);
    }
  }

  function drawAxes(frame) {
    clear(axes);
    const width = Math.max(box.clientWidth, 160);
    sizeStage(stage, canvas, overlay, width, HEIGHT);
    layout = plots(frame, width);
    for (const p of layout) {
      if (!p.range) continue;
      const xt = linearTicks(p.range[0], p.range[1], Math.max(2, Math.floor(p.width / 90)));
      const yt = linearTicks(p.range[2], p.range[3], 4);
      const xl = linearLabels(xt);
      const yl = linearLabels(yt);
      bottomAxis(axes, { x: p.x, y: HEIGHT - M.bottom, ticks: { major: xt.map((v, i) => ({ position: v, label: xl[i] })), minor: [] }, lo: p.left, hi: p.left + p.width });
      leftAxis(axes, { y: p.y, x0: p.left, ticks: yt.map((value, i) => ({ value, label: yl[i] })), lo: p.top, hi: p.top + p.height });
      svg("text", { x: px(p.left + p.width / 2), y: HEIGHT - 4, class: "rs-axis-title", "text-anchor": "middle" }, axes, "PC 1");
      svg("text", { x: px(p.left - 34), y: px(p.top + p.height / 2), class: "rs-axis-title", "text-anchor": "middle", transform: `rotate(-90 ${px(p.left - 34)} ${px(p.top + p.height / 2)})` }, axes, "PC 2");
      if (frame.runs.length > 1) svg("text", { x: px(p.left + 4), y: p.top + 12, class: "rs-run-caption", fill: RUN_COLOURS[p.r % RUN_COLOURS.length] }, axes, frame.runs[p.r].name);
    }
  }

  function drawPoints(frame) {
    const dpr = window.devicePixelRatio || 1;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const renderer = sharedRenderer();
    const notes = [];
    let waiting = false;
    title.textContent = `step ${frame.step} · layer ${frame.layer}`;
    frame.runs.forEach((run, r) => {
      const p = layout?.[r];
      const points = run.panels?.points;
      const who = frame.runs.length > 1 ? `${run.name}: ` : "";
      xyNow[r] = null;
      if (!p || !p.range || !points) {
        if (frame.head(r) && !frame.head(r).panels?.points?.range) notes.push(`${who}no 2-D points stored for this layer (scanned by an older repscope, or not activations)`);
        return;
      }
      const at = frame.stepData(r, "points");
      const why = frame.missing(r);
      if (why) {
        notes.push(`${who}${why}`);
        return;
      }
      if (!at) {
        notes.push(`${who}loading…`);
        waiting = true;
        return;
      }
      if (!at.data.has[at.offset]) {
        notes.push(`${who}no 2-D points stored at step ${frame.runStep(r)}`);
        return;
      }
      const n = points.shown.length;
      const xy = at.data.xy.subarray(at.offset * 2 * n, (at.offset + 1) * 2 * n);
      xyNow[r] = xy;
      const options = { xy, colours: colours[r], n, range: p.range, size: pointSize(n), width: p.width, height: p.height, dpr, dx: p.left, dy: p.top };
      if (renderer) renderer.draw(ctx, options);
      else {
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        drawWithCanvas(ctx, options);
        ctx.setTransform(1, 0, 0, 1, 0, 0);
      }
      if (frame.runStep(r) !== frame.step) notes.push(`${who}showing step ${frame.runStep(r)}, its last checkpoint before ${frame.step}`);
    });
    for (const run of frame.runs) if (run.panels?.points?.capped) notes.push(run.panels.points.capped);
    note.textContent = notes.join(" · ");
    // for tests and benchmarks: the step whose points are on screen (a step still loading is
    // marked pending instead)
    if (waiting) box.dataset.pending = String(frame.step);
    else {
      delete box.dataset.pending;
      box.dataset.drawn = String(frame.step);
    }
  }

  function recolour(frame) {
    colours = frame.runs.map((run, r) => (run.panels?.points ? pointColours(run.panels.points, RUN_COLOURS[r % RUN_COLOURS.length], frame.selectedSet()) : null));
  }

  function plotAt(mx) {
    return layout?.find((p) => p.range && mx >= p.left && mx <= p.left + p.width) ?? null;
  }

  function local(event) {
    const rect = overlay.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  overlay.addEventListener("pointerdown", (event) => {
    const [mx, my] = local(event);
    const p = plotAt(mx);
    if (!p || event.button !== 0) return;
    lasso = { p, polygon: [[mx, my]] };
    overlay.setPointerCapture?.(event.pointerId);
    event.preventDefault();
  });
  overlay.addEventListener("pointermove", (event) => {
    const [mx, my] = local(event);
    if (lasso) {
      lasso.polygon.push([mx, my]);
      lassoPath.setAttribute("d", `M${lasso.polygon.map(([a, b]) => `${px(a)} ${px(b)}`).join("L")}Z`);
      return;
    }
    hover(mx, my, event);
  });
  overlay.addEventListener("pointerleave", () => view.tooltip.hide());
  overlay.addEventListener("pointerup", () => {
    if (!lasso) return;
    const { p, polygon } = lasso;
    lasso = null;
    lassoPath.setAttribute("d", "");
    const frame = view.frame();
    const xy = xyNow[p.r];
    const points = frame.runs[p.r]?.panels?.points;
    const w = Math.max(...polygon.map((q) => q[0])) - Math.min(...polygon.map((q) => q[0]));
    const h = Math.max(...polygon.map((q) => q[1])) - Math.min(...polygon.map((q) => q[1]));
    if (polygon.length < 3 || w * h < 16 || !xy || !points) {
      if (frame.selected.length) view.setState({ selected: [] });
      return;
    }
    const inData = polygon.map(([a, b]) => [p.x.invert(a), p.y.invert(b)]);
    const positions = selectInPolygon(xy, inData);
    const chosen = Array.from(new Set(positions.map((i) => points.shown[i]))).sort((a, b) => a - b);
    view.setState({ selected: chosen });
  });

  function hover(mx, my, event) {
    const p = plotAt(mx);
    const frame = view.frame();
    const xy = p ? xyNow[p.r] : null;
    const points = p ? frame.runs[p.r]?.panels?.points : null;
    if (!p || !xy || !points) return view.tooltip.hide();
    let best = -1;
    let gap = 64; // squared pixels: 8 px
    for (let i = 0; i < xy.length / 2; i += 1) {
      const dx = p.x(xy[2 * i]) - mx;
      const dy = p.y(xy[2 * i + 1]) - my;
      const d = dx * dx + dy * dy;
      if (d < gap) {
        gap = d;
        best = i;
      }
    }
    if (best < 0) return view.tooltip.hide();
    const index = points.shown[best];
    const lines = [`probe input ${index}`];
    if (points.codes && points.names) lines.push(`label ${points.names[points.codes[best]]}`);
    if (points.texts) lines.push(points.texts[best]);
    view.tooltip.show(event, lines);
  }

  return {
    draw(frame, changed) {
      if (["size", "runs", "layer", "data"].some((c) => changed.has(c))) drawAxes(frame);
      if (["runs", "selected", "layer", "data"].some((c) => changed.has(c)) || colours.length !== frame.runs.length) recolour(frame);
      if (changed.has("runs")) drawLegend(frame);
      drawPoints(frame);
    },
    destroy() {},
  };
}

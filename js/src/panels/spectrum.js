// The eigenspectrum at the step shown: normalised eigenvalues λᵢ/Σλ against rank i on log-log
// axes, and the power-law fit of α-ReQ drawn over them in a contrasting colour. The y-axis stops
// at the numerical floor: eigenvalues below it are marked on the bottom edge, not plotted, so one
// numerically zero eigenvalue does not squeeze the rest into a corner.
import { bottomAxis, leftAxis } from "../axes.js";
import { RUN_COLOURS } from "../colors.js";
import { clear, dotsPath, html, linePath, px, svg } from "../dom.js";
import { compact, formatValue, linearMap, logTicks, powerOfTen } from "../scale.js";

const HEIGHT = 330;
const M = { top: 10, bottom: 40, left: 58, right: 14 };
const FIT_COLOURS = ["#d62728", "#111111"]; // one run: red over blue markers; several: black

export function createSpectrum(box, spec, view) {
  const title = html("div", { class: "rs-panel-title" }, box);
  const info = html("div", { class: "rs-panel-help rs-spectrum-fit" }, box);
  const svgNode = svg("svg", { class: "rs-spectrum" }, box);
  const axes = svg("g", {}, svgNode);
  const data = svg("g", {}, svgNode);
  const note = html("div", { class: "rs-panel-note" }, box);
  let layout = null;

  function frameOf(frame) {
    const heads = frame.runs.map((_, r) => frame.head(r)?.panels?.spectrum).filter(Boolean);
    if (!heads.length) return null;
    return {
      lo: Math.min(...heads.map((h) => h.range[0])),
      hi: Math.max(...heads.map((h) => h.range[1])),
      kmax: Math.max(...heads.map((h) => h.kmax)),
      floor: Math.min(...heads.map((h) => h.floor)),
      kind: heads[0].kind,
    };
  }

  function drawAxes(frame) {
    clear(axes);
    layout = null;
    const f = frameOf(frame);
    const width = Math.max(box.clientWidth, 160);
    svgNode.setAttribute("width", width);
    svgNode.setAttribute("height", HEIGHT);
    title.textContent = f ? `eigenspectrum (${f.kind})` : "eigenspectrum";
    if (!f) return;
    const x = linearMap(0, Math.log10(Math.max(f.kmax, 2)) + 0.04, M.left, width - M.right);
    const y = linearMap(Math.log10(f.lo), Math.log10(f.hi), HEIGHT - M.bottom, M.top);
    const xt = logTicks(1, Math.max(f.kmax, 2), width - M.left - M.right, compact);
    bottomAxis(axes, {
      x,
      y: HEIGHT - M.bottom,
      ticks: { major: xt.major.map((t) => ({ position: Math.log10(t.value), label: t.label })), minor: xt.minor.map((v) => ({ position: Math.log10(v) })) },
      gridTop: M.top,
      lo: M.left,
      hi: width - M.right,
    });
    const yt = logTicks(f.lo, f.hi, HEIGHT - M.top - M.bottom, powerOfTen, 22);
    leftAxis(axes, {
      y: (v) => y(Math.log10(v)),
      x0: M.left,
      ticks: yt.major,
      minor: yt.minor,
      gridRight: width - M.right,
      lo: M.top,
      hi: HEIGHT - M.bottom,
    });
    svg("text", { x: px((M.left + width - M.right) / 2), y: HEIGHT - 5, class: "rs-axis-title", "text-anchor": "middle" }, axes, "rank i (log scale)");
    svg("text", { x: 12, y: px((M.top + HEIGHT - M.bottom) / 2), class: "rs-axis-title", "text-anchor": "middle", transform: `rotate(-90 12 ${px((M.top + HEIGHT - M.bottom) / 2)})` }, axes, "λᵢ / Σλ (log scale)");
    layout = { x, y, f, width };
  }

  function drawStep(frame) {
    clear(data);
    const fits = [];
    let below = 0;
    let missing = 0;
    if (!layout) {
      info.textContent = "";
      note.textContent = frame.runs.length ? "loading…" : "";
      return;
    }
    const { x, y, f } = layout;
    const many = frame.runs.length > 1;
    frame.runs.forEach((run, r) => {
      const at = frame.stepData(r, "spectrum");
      if (!at) {
        missing += 1;
        return;
      }
      const K = at.data.values.shape[1];
      const values = at.data.values.subarray(at.offset * K, (at.offset + 1) * K);
      const xs = [];
      const ys = [];
      const floorXs = [];
      for (let i = 0; i < K; i += 1) {
        const v = values[i];
        if (!Number.isFinite(v)) continue;
        if (v < f.lo) {
          floorXs.push(x(Math.log10(i + 1)));
          below += 1;
          continue;
        }
        xs.push(x(Math.log10(i + 1)));
        ys.push(y(Math.log10(v)));
      }
      const colour = RUN_COLOURS[r % RUN_COLOURS.length];
      svg("path", { d: dotsPath(xs, ys), stroke: colour, class: "rs-spectrum-dots" }, data);
      if (floorXs.length) {
        const base = HEIGHT - M.bottom - 2;
        const d = floorXs.map((fx) => `M${px(fx - 3)} ${base}L${px(fx + 3)} ${base}L${px(fx)} ${base - 5}Z`).join("");
        svg("path", { d, fill: colour, class: "rs-floor-marks" }, data);
      }
      const [alpha, r2, intercept, first, last] = at.data.fit.subarray(at.offset * 5, at.offset * 5 + 5);
      const who = many ? `${run.name}: ` : "";
      const shownStep = frame.runStep(r);
      const when = shownStep !== frame.step ? ` (step ${shownStep})` : "";
      if (Number.isFinite(alpha) && Number.isFinite(intercept)) {
        const fx = [];
        const fy = [];
        for (let i = first; i <= last; i += Math.max(1, (last - first) / 60)) {
          fx.push(x(Math.log10(i)));
          fy.push(y(intercept / Math.LN10 - alpha * Math.log10(i)));
        }
        const d = linePath(fx, fy);
        svg("path", { d, class: "rs-fit-halo" }, data);
        svg("path", { d, stroke: FIT_COLOURS[many ? 1 : 0], class: "rs-fit", "stroke-dasharray": many ? `${6 + 3 * r} 3` : null }, data);
        fits.push(`${who}α = ${formatValue(alpha)}, R² = ${formatValue(r2)} over ranks ${first}–${last}${when}`);
      } else fits.push(`${who}no power-law fit${when}`);
    });
    info.textContent = fits.join("; ");
    const notes = [];
    if (below) notes.push(`${below} eigenvalue(s) below the numerical floor (${powerOfTen(f.floor)}) are marked ▲ on the bottom edge.`);
    if (missing) notes.push(missing === frame.runs.length ? "no spectrum at this step" : `${missing} run(s) have no spectrum at this step`);
    note.textContent = notes.join(" ");
  }

  return {
    draw(frame, changed) {
      if (["size", "runs", "layer", "data"].some((c) => changed.has(c))) drawAxes(frame);
      drawStep(frame);
    },
    destroy() {},
    get layout() {
      return layout;
    },
  };
}

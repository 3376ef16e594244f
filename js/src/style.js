// The scrubber's styles, added to the page once (the widget and the exported page alike).
const CSS = `
.repscope { position: relative; font: 12px/1.35 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; background: #fff; width: 100%; box-sizing: border-box; padding: 4px 2px; }
.repscope *, .repscope *::before, .repscope *::after { box-sizing: border-box; }
.repscope:focus { outline: none; }
.repscope .rs-controls { display: flex; align-items: center; gap: 10px; width: 100%; flex-wrap: wrap; }
.repscope .rs-play { width: 34px; height: 26px; border: 1px solid #bbb; border-radius: 4px; background: #f6f6f6; cursor: pointer; font-size: 13px; }
.repscope .rs-play:hover { background: #eaeaea; }
.repscope .rs-step { flex: 1 1 300px; min-width: 160px; accent-color: #1f77b4; }
.repscope .rs-step-label { min-width: 150px; font-variant-numeric: tabular-nums; white-space: nowrap; }
.repscope .rs-layer-box { display: flex; align-items: center; gap: 4px; white-space: nowrap; }
.repscope select { max-width: 320px; font: inherit; padding: 2px; }
.repscope .rs-measures { display: flex; flex-wrap: wrap; gap: 3px 4px; align-items: center; margin: 6px 0 2px; }
.repscope .rs-group-title { color: #666; margin: 0 2px 0 6px; }
.repscope .rs-group-title:first-child { margin-left: 0; }
.repscope .rs-measure { display: inline-flex; align-items: center; gap: 3px; border: 1px solid #ddd; border-radius: 10px; padding: 1px 7px 1px 3px; cursor: pointer; user-select: none; white-space: nowrap; }
.repscope .rs-measure:has(input:checked) { background: #eaf2fb; border-color: #9bbfe0; }
.repscope .rs-measure input { margin: 0; }
.repscope .rs-status { display: flex; gap: 10px; align-items: center; color: #555; min-height: 16px; flex-wrap: wrap; }
.repscope .rs-status progress { width: 160px; height: 10px; }
.repscope .rs-clear { border: none; background: none; color: #1f77b4; cursor: pointer; padding: 0; font: inherit; text-decoration: underline; }
.repscope .rs-notes { color: #8a4b00; margin: 2px 0; }
.repscope .rs-notes div { margin: 1px 0; }
.repscope .rs-panels { display: flex; flex-wrap: wrap; width: 100%; column-gap: 12px; }
.repscope .rs-panel { position: relative; min-width: 0; margin-top: 8px; }
.repscope .rs-panel-title { font-weight: 600; font-size: 12.5px; margin: 0 0 1px 2px; overflow-wrap: anywhere; }
.repscope .rs-panel-help, .repscope .rs-panel-note { color: #555; margin: 0 0 2px 2px; overflow-wrap: anywhere; }
.repscope .rs-panel-note { color: #8a4b00; min-height: 15px; }
.repscope .rs-stage { position: relative; width: 100%; }
.repscope .rs-stage canvas, .repscope .rs-stage .rs-overlay-svg { position: absolute; left: 0; top: 0; }
.repscope svg { display: block; overflow: visible; }
.repscope .rs-axis-line { stroke: #888; stroke-width: 1; }
.repscope .rs-tick { stroke: #888; stroke-width: 1; }
.repscope .rs-grid { stroke: #eee; stroke-width: 1; }
.repscope .rs-tick-label { fill: #444; font-size: 10.5px; }
.repscope .rs-axis-title { fill: #555; font-size: 11px; }
.repscope .rs-row-title { fill: #222; font-size: 11.5px; font-weight: 600; }
.repscope .rs-readout { fill: #333; font-size: 11px; font-variant-numeric: tabular-nums; }
.repscope .rs-line { fill: none; stroke-width: 1.6; stroke-linejoin: round; }
.repscope .rs-dots { fill: none; stroke-width: 4.5; stroke-linecap: round; }
.repscope .rs-gap { fill: none; stroke-width: 1.2; stroke-dasharray: 3 3; opacity: 0.55; }
.repscope .rs-whisker { fill: none; stroke-width: 1.2; opacity: 0.6; }
.repscope .rs-band { opacity: 0.18; stroke: none; }
.repscope .rs-phase-label { fill: #333; font-size: 10.5px; }
.repscope .rs-cursor-line { stroke: #333; stroke-width: 1.3; stroke-dasharray: 3 2; }
.repscope .rs-cursor-dot { stroke: #fff; stroke-width: 1; }
.repscope .rs-hover-line { stroke: #999; stroke-width: 1; }
.repscope .rs-overlay { fill: transparent; cursor: pointer; }
.repscope .rs-overlay-svg { cursor: crosshair; }
.repscope .rs-overview-step { stroke: #fff; stroke-width: 2; stroke-dasharray: 3 2; }
.repscope .rs-overview-layer { fill: none; stroke: #fff; stroke-width: 2; }
.repscope .rs-spectrum-dots { fill: none; stroke-width: 4; stroke-linecap: round; opacity: 0.85; }
.repscope .rs-fit-halo { fill: none; stroke: #fff; stroke-width: 4; opacity: 0.7; }
.repscope .rs-fit { fill: none; stroke-width: 2.2; }
.repscope .rs-lasso { fill: rgba(31, 119, 180, 0.08); stroke: #1f77b4; stroke-width: 1; stroke-dasharray: 4 2; }
.repscope .rs-legend { display: flex; flex-wrap: wrap; gap: 2px 8px; margin: 0 0 2px 2px; }
.repscope .rs-legend-title { color: #666; }
.repscope .rs-chip { display: inline-flex; align-items: center; gap: 3px; white-space: nowrap; }
.repscope .rs-swatch { display: inline-block; width: 9px; height: 9px; border-radius: 50%; }
.repscope .rs-run-caption { font-size: 11px; font-weight: 600; }
.repscope .rs-tooltip { position: fixed; z-index: 1000; pointer-events: none; background: rgba(255,255,255,0.96); border: 1px solid #bbb; border-radius: 3px; padding: 3px 6px; font-size: 11px; max-width: 360px; display: none; box-shadow: 0 1px 3px rgba(0,0,0,0.15); white-space: pre-line; overflow-wrap: anywhere; }
`;

export function addStyles(doc = document) {
  if (doc.getElementById("repscope-styles")) return;
  const style = doc.createElement("style");
  style.id = "repscope-styles";
  style.textContent = CSS;
  doc.head.appendChild(style);
}

// Colours: runs, labels and the heatmap's scale. Pure.

/** One colour per run (d3's category10). */
export const RUN_COLOURS = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];

/** One colour per label (Tableau 10, then lighter ones). */
export const LABEL_COLOURS = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
  "#a6cee3", "#b2df8a", "#fb9a99", "#fdbf6f", "#cab2d6", "#ffff99",
];

/** Labels beyond this many are coloured on a continuous scale instead. */
export const MAX_LABEL_COLOURS = LABEL_COLOURS.length;

/** Phase bands, by the detector's names (others: grey). */
export const PHASE_COLOURS = {
  "warmup collapse": "rgba(214, 39, 40, 0.13)",
  "entropy-seeking": "rgba(44, 160, 44, 0.13)",
  "compression-seeking": "rgba(31, 119, 180, 0.13)",
};

/** A phase's band colour: the paper's phases their own; any other phase by the direction of
 * RankMe (a phase is a monotone stretch of it), red where it falls, green where it rises — α's
 * arrow, which points the other way in an expansion, does not count. */
export function phaseColour(name) {
  if (PHASE_COLOURS[name]) return PHASE_COLOURS[name];
  const rank = /RankMe\s*([↑↓])/u.exec(name);
  const direction = rank ? rank[1] : /collapse|compress|fall/.test(name) ? "↓" : /expan|rise/.test(name) ? "↑" : "";
  if (direction === "↓") return "rgba(214, 39, 40, 0.09)";
  if (direction === "↑") return "rgba(44, 160, 44, 0.09)";
  return "rgba(120, 120, 120, 0.10)";
}

// viridis, 9 stops (matplotlib's), linearly interpolated
const VIRIDIS = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

/** [r, g, b] (0-255) of viridis at t in [0, 1]. */
export function viridis(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
}

/** [r, g, b] of a "#rrggbb" colour. */
export function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The colour of label code `code` of `count` labels, as [r, g, b]. */
export function labelRgb(code, count) {
  if (count <= MAX_LABEL_COLOURS) return rgb(LABEL_COLOURS[code % LABEL_COLOURS.length]);
  return viridis(count > 1 ? code / (count - 1) : 0);
}

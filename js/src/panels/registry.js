// Drawers by name. A panel (Python: repscope.widgets.panels) names the drawer that shows it; a
// panel that brings its own drawer sends its source (an ES module whose default export is a
// create(box, spec, view) function), loaded here once per page.
import { createLines } from "./lines.js";
import { createOverview } from "./overview.js";
import { createPoints } from "./points.js";
import { createSpectrum } from "./spectrum.js";

export const DRAWERS = {
  lines: createLines,
  overview: createOverview,
  spectrum: createSpectrum,
  points: createPoints,
};

const loaded = new Map();

/** The drawer of a panel spec: a built-in one, or the one its own module exports. */
export async function drawerOf(spec) {
  if (spec.esm) {
    if (!loaded.has(spec.esm)) {
      const url = URL.createObjectURL(new Blob([spec.esm], { type: "text/javascript" }));
      loaded.set(spec.esm, import(/* webpackIgnore: true */ url).then((m) => m.default ?? m.create));
    }
    return loaded.get(spec.esm);
  }
  const drawer = DRAWERS[spec.drawer];
  if (!drawer) throw new Error(`repscope: no drawer named ${JSON.stringify(spec.drawer)} (panel ${spec.name})`);
  return drawer;
}

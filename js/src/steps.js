// Steps: finding a checkpoint by step or by position on the log-step axis. Pure.
import { stepPosition } from "./scale.js";

/** Index of the last element of ascending `steps` that is <= `step`, or -1. */
export function atOrBefore(steps, step) {
  let lo = 0;
  let hi = steps.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] <= step) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Index of the element of ascending `steps` nearest to `step` (ties: the earlier), or -1. */
export function nearestIndex(steps, step) {
  if (steps.length === 0) return -1;
  const i = atOrBefore(steps, step);
  if (i < 0) return 0;
  if (i === steps.length - 1) return i;
  return step - steps[i] <= steps[i + 1] - step ? i : i + 1;
}

/** Index of the step nearest to a position on the log-step axis (log10(step + 1)). */
export function nearestOnLogAxis(steps, position) {
  let best = -1;
  let gap = Infinity;
  for (let i = 0; i < steps.length; i += 1) {
    const d = Math.abs(stepPosition(steps[i]) - position);
    if (d < gap) {
      gap = d;
      best = i;
    }
  }
  return best;
}

/** The sorted union of several ascending step lists. */
export function unionSteps(lists) {
  const all = new Set();
  for (const l of lists) for (const s of l) all.add(Number(s));
  return Float64Array.from([...all].sort((a, b) => a - b));
}

/** Cell edges on the log-step axis: midpoints between neighbouring steps, padded at the ends. */
export function cellEdges(steps) {
  const x = Array.from(steps, stepPosition);
  if (x.length === 0) return [];
  if (x.length === 1) return [x[0] - 0.5, x[0] + 0.5];
  const edges = [x[0] - (x[1] - x[0]) / 2];
  for (let i = 0; i < x.length - 1; i += 1) edges.push((x[i] + x[i + 1]) / 2);
  edges.push(x[x.length - 1] + (x[x.length - 1] - x[x.length - 2]) / 2);
  return edges;
}

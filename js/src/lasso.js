// Lasso selection: which points lie inside a drawn polygon. Pure.

/** Whether (x, y) is inside `polygon` ([[x, y], ...]), by the even-odd rule. */
export function insidePolygon(x, y, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Positions (0..n-1) of the points inside `polygon`. `xy` holds the points interleaved
 * (x0, y0, x1, y1, ...) in the polygon's coordinates; NaN points are never inside.
 */
export function selectInPolygon(xy, polygon) {
  if (polygon.length < 3) return [];
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const [x, y] of polygon) {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const out = [];
  for (let i = 0; i < xy.length / 2; i += 1) {
    const x = xy[2 * i];
    const y = xy[2 * i + 1];
    if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && insidePolygon(x, y, polygon)) out.push(i);
  }
  return out;
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { insidePolygon, selectInPolygon } from "../src/lasso.js";

test("points inside a square and a concave polygon", () => {
  const square = [[0, 0], [2, 0], [2, 2], [0, 2]];
  assert.ok(insidePolygon(1, 1, square));
  assert.ok(!insidePolygon(3, 1, square));
  // a U shape: the notch is outside
  const u = [[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3]];
  assert.ok(insidePolygon(0.5, 2, u));
  assert.ok(!insidePolygon(1.5, 2, u));
});

test("select returns the positions inside, in order, and skips NaN", () => {
  const xy = new Float32Array([0.5, 0.5, 5, 5, 1.5, 1.5, NaN, 1]);
  assert.deepEqual(selectInPolygon(xy, [[0, 0], [2, 0], [2, 2], [0, 2]]), [0, 2]);
  assert.deepEqual(selectInPolygon(xy, [[0, 0], [1, 1]]), []);
});

test("agrees with a brute-force count on random points", () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const xy = new Float32Array(2000).map(() => rand() * 10);
  const tri = [[1, 1], [9, 2], [4, 8]];
  const area = (a, b, c) => (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1]);
  const expected = [];
  for (let i = 0; i < 1000; i += 1) {
    const p = [xy[2 * i], xy[2 * i + 1]];
    const s = [area(tri[0], tri[1], p), area(tri[1], tri[2], p), area(tri[2], tri[0], p)];
    if (s.every((v) => v > 0) || s.every((v) => v < 0)) expected.push(i);
  }
  assert.deepEqual(selectInPolygon(xy, tri), expected);
});

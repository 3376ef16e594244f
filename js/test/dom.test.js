import { test } from "node:test";
import assert from "node:assert/strict";
import { dotsPath, gapPath, isolated, linePath, whiskerPath } from "../src/dom.js";

const N = NaN;

test("a point with no finite neighbour is isolated: the line draws nothing there", () => {
  const xs = [0, 1, 2, 3, 4, 5, 6];
  const ys = [5, N, 7, 8, N, 9, N];
  assert.deepEqual(isolated(xs, ys), [0, 5]);
  // a lone point is a move with no line from it: only the pair of neighbours is drawn
  assert.equal(linePath(xs, ys), "M0 5M2 7L3 8M5 9");
  assert.deepEqual(isolated([0], [1]), [0]);
  assert.deepEqual(isolated([0, 1], [1, 2]), []);
});

test("the gaps of a curve are bridged from each finite point to the next across missing ones", () => {
  const xs = [0, 1, 2, 3, 4, 5];
  const ys = [5, N, N, 8, 9, N];
  assert.equal(gapPath(xs, ys), "M0 5L3 8"); // 3→4 are neighbours (the line's), 5 is missing
  assert.equal(gapPath([0, 1, 2], [1, 2, 3]), "");
  assert.equal(gapPath([0, 1], [N, N]), "");
});

test("markers at every finite point, or at the ones asked for", () => {
  assert.equal(dotsPath([0, 1, 2], [4, N, 6]), "M0 4h0M2 6h0");
  assert.equal(dotsPath([0, 1, 2], [4, 5, 6], [1]), "M1 5h0");
});

test("an error bar spans lower to upper with a cap at each end, only where both are finite", () => {
  const d = whiskerPath([10, 20], [8, N], [2, 3], [0, 1]);
  assert.equal(d, "M7 8h6M10 8V2M7 2h6");
  assert.equal(whiskerPath([10], [8], [2], []), "");
});

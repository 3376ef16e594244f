import { test } from "node:test";
import assert from "node:assert/strict";
import { atOrBefore, cellEdges, nearestIndex, nearestOnLogAxis, unionSteps } from "../src/steps.js";

const steps = [0, 1, 2, 4, 8, 16, 100];

test("at or before: the latest checkpoint not after the step", () => {
  assert.equal(atOrBefore(steps, 5), 3);
  assert.equal(atOrBefore(steps, 8), 4);
  assert.equal(atOrBefore(steps, -1), -1);
  assert.equal(atOrBefore(steps, 1e9), 6);
  assert.equal(atOrBefore([], 3), -1);
});

test("nearest step, and nearest on the log axis", () => {
  assert.equal(nearestIndex(steps, 50), 5);
  assert.equal(nearestIndex(steps, 60), 6);
  // on the log axis, 40 is nearer 16 than 100? log10(41)=1.61, log10(17)=1.23, log10(101)=2.0
  assert.equal(nearestOnLogAxis(steps, Math.log10(41)), 5);
  assert.equal(nearestOnLogAxis(steps, Math.log10(70)), 6);
});

test("union of runs' steps", () => {
  assert.deepEqual(Array.from(unionSteps([[0, 10, 20], [5, 10, 30]])), [0, 5, 10, 20, 30]);
});

test("cells tile the log axis without gaps", () => {
  const e = cellEdges(steps);
  assert.equal(e.length, steps.length + 1);
  for (let i = 0; i < steps.length; i += 1) {
    const x = Math.log10(steps[i] + 1);
    assert.ok(e[i] < x && x < e[i + 1]);
  }
});

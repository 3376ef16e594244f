import { test } from "node:test";
import assert from "node:assert/strict";
import { compact, formatValue, linearLabels, linearTicks, logTicks, powerOfTen, stepPosition, stepTicks } from "../src/scale.js";

const labels = (ticks) => ticks.major.map((t) => t.label);

test("step ticks over many decades: decades labelled 0, 10, 100, 1k, minors unlabelled", () => {
  const t = stepTicks(0, 143000, 900);
  assert.deepEqual(labels(t).slice(0, 2), ["0", "1"]);
  assert.ok(labels(t).includes("10") && labels(t).includes("100") && labels(t).includes("1k") && labels(t).includes("100k"));
  assert.ok(t.minor.length > 20);
  assert.ok(t.minor.every((m) => !t.major.some((j) => j.step === m.step)));
  // positions are log10(step + 1)
  for (const m of t.major) assert.equal(m.position, stepPosition(m.step));
});

test("step ticks over a Trainer's 5..50: read as steps, never '2 3 4' meaning 20 30 40", () => {
  const got = labels(stepTicks(5, 50, 1100));
  assert.deepEqual(got, ["5", "10", "20", "50"]);
  const narrow = labels(stepTicks(5, 50, 200));
  assert.ok(narrow.length >= 2 && narrow.length <= 6, narrow.join(" "));
  for (const l of narrow) assert.ok([5, 10, 20, 50].includes(Number(l)), l);
});

test("a narrow range gets linear ticks in range", () => {
  const got = stepTicks(100, 160, 600).major.map((t) => t.step);
  assert.ok(got.length >= 2);
  assert.ok(got.every((s) => s >= 100 && s <= 160));
});

test("labels never overlap: no more labels than the width holds", () => {
  for (const width of [120, 300, 700, 1600]) {
    const t = stepTicks(0, 1e6, width);
    assert.ok(t.major.length * 36 <= width + 2 * 36, `${width}: ${labels(t)}`);
  }
});

test("compact counts", () => {
  assert.deepEqual([0, 7, 950, 1000, 1500, 20000, 143000, 1e6, 2.5e9].map(compact), ["0", "7", "950", "1k", "1.5k", "20k", "143k", "1M", "2.5G"]);
});

test("one style of power of ten", () => {
  assert.equal(powerOfTen(1e-3), "10⁻³");
  assert.equal(powerOfTen(2.5e-12), "2.5×10⁻¹²");
  assert.equal(powerOfTen(1e5), "10⁵");
  assert.equal(powerOfTen(0.09999999), "10⁻¹");
  const t = logTicks(1e-9, 1, 300, powerOfTen, 22);
  assert.ok(t.major.every((m) => /^(\d(\.\d)?×)?10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+$/.test(m.label)), t.major.map((m) => m.label).join(" "));
});

test("values read with four significant digits", () => {
  assert.equal(formatValue(12.345678), "12.35");
  assert.equal(formatValue(-0.5), "−0.5");
  assert.equal(formatValue(NaN), "–");
  assert.equal(formatValue(3e-7), "3×10⁻⁷");
  assert.equal(formatValue(128.01), "128");
});

test("linear ticks are round and cover the range", () => {
  const t = linearTicks(0.13, 0.97, 4);
  assert.deepEqual(t, [0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(linearLabels(t), ["0.2", "0.4", "0.6", "0.8"]);
  assert.deepEqual(linearTicks(-3, 3, 3), [-2, 0, 2]);
  assert.deepEqual(linearLabels([-2, 0, 2]), ["−2", "0", "2"]);
});

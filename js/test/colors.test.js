import { test } from "node:test";
import assert from "node:assert/strict";
import { LABEL_COLOURS, PHASE_COLOURS, labelRgb, phaseColour, rgb, viridis } from "../src/colors.js";
import { pointColours, pointSize } from "../src/panels/points.js";

test("viridis ends and middle", () => {
  assert.deepEqual(viridis(0), [68, 1, 84]);
  assert.deepEqual(viridis(1), [253, 231, 37]);
  assert.deepEqual(viridis(0.5), [33, 144, 141]);
  assert.deepEqual(viridis(NaN), [68, 1, 84]);
});

test("labels get distinct colours up to the palette, then a scale", () => {
  const few = new Set(Array.from({ length: 10 }, (_, i) => labelRgb(i, 10).join()));
  assert.equal(few.size, 10);
  assert.deepEqual(labelRgb(0, 10), rgb(LABEL_COLOURS[0]));
  assert.deepEqual(labelRgb(99, 100), viridis(1));
});

test("point colours: by label, dimmed when not selected", () => {
  const points = { shown: Int32Array.from([0, 5, 9]), codes: Int32Array.from([0, 1, 0]), names: ["a", "b"] };
  const none = pointColours(points, "#1f77b4", new Set());
  assert.deepEqual(Array.from(none.slice(0, 3)), rgb(LABEL_COLOURS[0]));
  assert.deepEqual(Array.from(none.slice(4, 7)), rgb(LABEL_COLOURS[1]));
  const some = pointColours(points, "#1f77b4", new Set([5]));
  assert.ok(some[7] > 200 && some[3] < 50 && some[11] < 50);
  const bare = pointColours({ shown: Int32Array.from([0, 1]), codes: null, names: null }, "#ff0000", new Set());
  assert.deepEqual(Array.from(bare.slice(0, 3)), [255, 0, 0]);
});

test("points get smaller as they get many", () => {
  assert.ok(pointSize(1000) > pointSize(10000) && pointSize(10000) > pointSize(50000) && pointSize(50000) > pointSize(1e6));
});

test("phase bands: the paper's colours, else RankMe's direction (never alpha's arrow)", () => {
  const falls = "rgba(214, 39, 40, 0.09)";
  const rises = "rgba(44, 160, 44, 0.09)";
  assert.equal(phaseColour("entropy-seeking"), PHASE_COLOURS["entropy-seeking"]);
  assert.equal(phaseColour("collapse: RankMe ↓, α ↑"), falls);
  assert.equal(phaseColour("expansion: RankMe ↑, α ↓"), rises); // once drawn red: α's ↓
  assert.equal(phaseColour("RankMe ↑, α flat"), rises);
  assert.equal(phaseColour("RankMe ↓, α ↓"), falls);
  assert.notEqual(phaseColour("something else"), falls);
});

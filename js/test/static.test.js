import { test } from "node:test";
import assert from "node:assert/strict";
import { StaticModel } from "../src/static.js";

const b64 = (floats) => Buffer.from(new Float32Array(floats).buffer).toString("base64");

test("the page's model answers requests from its recording and signals state changes", async () => {
  const recording = {
    messages: [
      { content: { type: "runs", runs: [] }, buffers: [] },
      { content: { type: "layer", run: 0, layer: "a" }, buffers: [] },
      { content: { type: "block", run: 0, layer: "a", block: 2, xy: { $buffer: 0, dtype: "float32", shape: [2] } }, buffers: [b64([1, 2])] },
    ],
  };
  const model = new StaticModel({ step: 0 }, recording);
  const got = [];
  model.on("msg:custom", (content, buffers) => got.push([content.type, buffers.length]));
  const changes = [];
  model.on("change:step", () => changes.push(model.get("step")));
  model.set("step", 5);
  model.set("step", 5); // unchanged: no event
  model.send({ type: "hello" });
  model.send({ type: "block", run: 0, layer: "a", block: 2 });
  model.send({ type: "block", run: 0, layer: "a", block: 9 }); // not recorded: no answer
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(changes, [5]);
  assert.deepEqual(got, [["runs", 0], ["block", 1]]);
});

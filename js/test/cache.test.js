import { test } from "node:test";
import assert from "node:assert/strict";
import { Cache } from "../src/cache.js";
import { decode, sizeOf } from "../src/decode.js";

function block(start, count, bytes) {
  return { start, count, panels: { points: { xy: new Float32Array(bytes / 4) } } };
}

test("a block is found by step index; bytes are counted", () => {
  const c = new Cache(1e9);
  c.putHead(0, "a", { blocks: { size: 10, count: 3 } });
  c.putBlock(0, "a", 1, block(10, 10, 4000));
  assert.equal(c.block(0, "a", 15).start, 10);
  assert.equal(c.block(0, "a", 5), null);
  assert.equal(c.bytes, 4000);
  c.putBlock(0, "a", 1, block(10, 10, 400));
  assert.equal(c.bytes, 400);
});

test("over budget, the blocks farthest from the step shown go first; kept ones stay", () => {
  const c = new Cache(3 * 1000);
  c.putHead(0, "a", { blocks: { size: 1, count: 10 } });
  c.putHead(0, "b", { blocks: { size: 1, count: 10 } });
  for (let b = 0; b < 4; b += 1) c.putBlock(0, "a", b, block(b, 1, 1000));
  c.putBlock(0, "b", 0, block(0, 1, 1000));
  const dropped = c.evict("a", 3, new Set(["0\u0000a\u00003"]));
  // the other layer's block first, then block 0 (farthest from step 3)
  assert.deepEqual(dropped, ["0\u0000b\u00000", "0\u0000a\u00000"]);
  assert.equal(c.bytes, 3000);
  assert.ok(c.blocks.has("0\u0000a\u00003"));
});

test("1000 steps × 100k points stay within the budget", () => {
  const c = new Cache(256 * 2 ** 20);
  const perStep = 100000 * 8;
  const size = Math.floor((4 * 2 ** 20) / perStep);
  c.putHead(0, "a", { blocks: { size, count: Math.ceil(1000 / size) } });
  for (let b = 0; b < Math.ceil(1000 / size); b += 1) {
    c.putBlock(0, "a", b, { start: b * size, count: size, panels: { points: { xy: { byteLength: perStep * size, length: 0 } } } });
    c.evict("a", b * size, new Set([`0\u0000a\u0000${b}`]));
    assert.ok(c.bytes <= c.budget, `${c.bytes}`);
  }
});

test("a new run version marks its data stale, kept to draw meanwhile", () => {
  const c = new Cache();
  c.setRuns([{ version: "1" }]);
  c.putHead(0, "a", { blocks: { size: 5, count: 1 } });
  c.putBlock(0, "a", 0, block(0, 5, 40));
  c.setRuns([{ version: "2" }]);
  assert.equal(c.head(0, "a").stale, true);
  assert.equal(c.block(0, "a", 0).stale, true);
});

test("requests are claimed once", () => {
  const c = new Cache();
  assert.ok(c.claim("block", 0, "a", 1));
  assert.ok(!c.claim("block", 0, "a", 1));
  c.forgetPending();
  assert.ok(c.claim("block", 0, "a", 1));
});

test("decode puts typed arrays in place, aligned or not", () => {
  const floats = new Float32Array([1.5, -2, 3]);
  const raw = new Uint8Array(1 + floats.byteLength);
  raw.set(new Uint8Array(floats.buffer), 1); // unaligned at offset 1
  const message = decode(
    { type: "x", a: { $buffer: 0, dtype: "float32", shape: [3] }, b: [{ $buffer: 1, dtype: "int32", shape: [1, 2] }] },
    [new DataView(raw.buffer, 1, floats.byteLength), new DataView(new Int32Array([4, 5]).buffer)],
  );
  assert.deepEqual(Array.from(message.a), [1.5, -2, 3]);
  assert.deepEqual(message.b[0].shape, [1, 2]);
  assert.deepEqual(Array.from(message.b[0]), [4, 5]);
  assert.equal(sizeOf(message), 12 + 8);
});

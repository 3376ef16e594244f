import { test } from "node:test";
import assert from "node:assert/strict";
import { shortNames } from "../src/names.js";

test("a common prefix goes, the word before a number stays", () => {
  const names = ["bert.embeddings", ...Array.from({ length: 6 }, (_, i) => `bert.encoder.layer.${i}`)];
  assert.deepEqual(shortNames(names), ["embeddings", ...Array.from({ length: 6 }, (_, i) => `encoder.layer.${i}`)]);
  assert.deepEqual(shortNames(["bert.encoder.layer.0", "bert.encoder.layer.11"]), ["layer.0", "layer.11"]);
});

test("short names that are only a number keep their word", () => {
  assert.deepEqual(shortNames(["h.0", "h.1"]), ["h.0", "h.1"]);
});

test("a common suffix goes too", () => {
  assert.deepEqual(shortNames(["gpt_neox.layers.0.mlp", "gpt_neox.layers.5.mlp"]), ["layers.0", "layers.5"]);
  assert.deepEqual(shortNames(["model/block_a/out", "model/block_b/out"]), ["block_a", "block_b"]);
});

test("one name stays whole; different names stay different", () => {
  assert.deepEqual(shortNames(["transformer.ln_f"]), ["transformer.ln_f"]);
  assert.deepEqual(shortNames([]), []);
  const names = ["a.b.x", "a.c.x", "a.b.y"];
  const out = shortNames(names);
  assert.equal(new Set(out).size, 3);
  assert.ok(out.every((n) => n.length > 0));
});

test("a name that is the common prefix of another never becomes empty", () => {
  const out = shortNames(["enc", "enc.1", "enc.2"]);
  assert.ok(out.every((n) => n.length > 0));
  assert.equal(new Set(out).size, 3);
});

// What the browser holds of a run: the run's own data (steps, measures, labels: small), each
// layer's head (axis ranges, phases) and the per-step data of a layer (spectra, points) in blocks
// of consecutive steps. Blocks are the big part; they are kept within a byte budget, the ones
// farthest from the step shown going first. Pure (no DOM); unit-tested in js/test/cache.test.js.
import { sizeOf } from "./decode.js";

/** The default budget for blocks, per view: 256 MiB (1000 steps × 100k points would be 800 MB). */
export const DEFAULT_BUDGET = 256 * 2 ** 20;

const key = (...parts) => parts.join("\u0000");

export class Cache {
  constructor(budget = DEFAULT_BUDGET) {
    this.budget = budget;
    this.runs = [];
    this.heads = new Map(); // run, layer -> head
    this.blocks = new Map(); // run, layer, block -> {data, bytes, start, count}
    this.pending = new Set(); // requests sent and not answered
    this.bytes = 0;
  }

  setRuns(runs) {
    // a run whose data changed (a live run grew): its layers and blocks are stale, kept to draw
    // until the new ones arrive
    for (let r = 0; r < runs.length; r += 1) {
      const old = this.runs[r];
      if (old && old.version !== runs[r].version) this.markStale(r);
    }
    this.runs = runs;
  }

  markStale(run) {
    for (const [k, v] of this.heads) if (k.startsWith(`${run}\u0000`)) v.stale = true;
    for (const [k, v] of this.blocks) if (k.startsWith(`${run}\u0000`)) v.stale = true;
  }

  head(run, layer) {
    return this.heads.get(key(run, layer)) ?? null;
  }

  putHead(run, layer, head) {
    this.heads.set(key(run, layer), head);
    this.pending.delete(key("layer", run, layer));
  }

  /** The block of step index `index` (its data and where it starts), or null. */
  block(run, layer, index) {
    const head = this.head(run, layer);
    if (!head) return null;
    const b = Math.floor(index / head.blocks.size);
    return this.blocks.get(key(run, layer, b)) ?? null;
  }

  putBlock(run, layer, b, block) {
    const k = key(run, layer, b);
    const old = this.blocks.get(k);
    if (old) this.bytes -= old.bytes;
    const entry = { ...block, bytes: sizeOf(block.panels), layer, run, index: b };
    this.blocks.set(k, entry);
    this.bytes += entry.bytes;
    this.pending.delete(key("block", run, layer, b));
  }

  /**
   * Drops blocks until the held bytes fit the budget: those of other layers first, then the ones
   * farthest from `near` (a step index of `layer`). Never the blocks in `keep`.
   */
  evict(layer, near, keep = new Set()) {
    if (this.bytes <= this.budget) return [];
    const order = [...this.blocks.entries()]
      .filter(([k]) => !keep.has(k))
      .map(([k, v]) => {
        const head = this.head(v.run, v.layer);
        const size = head ? head.blocks.size : 1;
        const distance = v.layer === layer ? Math.abs(v.index * size + size / 2 - near) : Infinity;
        return [k, v, distance];
      })
      .sort((a, b) => b[2] - a[2]);
    const dropped = [];
    for (const [k, v] of order) {
      if (this.bytes <= this.budget) break;
      this.blocks.delete(k);
      this.bytes -= v.bytes;
      dropped.push(k);
    }
    return dropped;
  }

  /** Whether a request is out (so that it is sent once); marks it out if not. */
  claim(...parts) {
    const k = key(...parts);
    if (this.pending.has(k)) return false;
    this.pending.add(k);
    return true;
  }

  /** Forget the requests still out (after a reconnect, they are sent again). */
  forgetPending() {
    this.pending.clear();
  }
}

export { key };

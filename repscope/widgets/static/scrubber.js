// Built from js/src by js/build.mjs (esbuild); edit the sources, then `npm run build` in js/.

// src/decode.js
var TYPES = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint8: Uint8Array
};
function typed(ref, buffer) {
  const Type = TYPES[ref.dtype];
  if (!Type) throw new Error(`repscope: unknown array type ${ref.dtype}`);
  const view = buffer instanceof ArrayBuffer ? new DataView(buffer) : buffer;
  const bytes = view.byteLength;
  let array;
  if (view.byteOffset % Type.BYTES_PER_ELEMENT === 0) {
    array = new Type(view.buffer, view.byteOffset, bytes / Type.BYTES_PER_ELEMENT);
  } else {
    array = new Type(view.buffer.slice(view.byteOffset, view.byteOffset + bytes));
  }
  array.shape = ref.shape;
  return array;
}
function decode(content, buffers = []) {
  const walk = (value) => {
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === "object") {
      if ("$buffer" in value) return typed(value, buffers[value.$buffer]);
      const out = {};
      for (const [k, v] of Object.entries(value)) out[k] = walk(v);
      return out;
    }
    return value;
  };
  return walk(content);
}
function sizeOf(value) {
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (Array.isArray(value)) return value.reduce((n, v) => n + sizeOf(v), 0);
  if (value && typeof value === "object") {
    return Object.values(value).reduce((n, v) => n + sizeOf(v), 0);
  }
  return 0;
}
function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return new DataView(out.buffer);
}

// src/static.js
var StaticModel = class _StaticModel {
  constructor(state, recording) {
    this.state = { ...state };
    this.handlers = /* @__PURE__ */ new Map();
    this.answers = /* @__PURE__ */ new Map();
    for (const message of recording.messages) this.answers.set(_StaticModel.keyOf(message.content), message);
  }
  static keyOf(content) {
    if (content.type === "runs") return "hello";
    if (content.type === "layer") return `layer\0${content.run}\0${content.layer}`;
    if (content.type === "block") return `block\0${content.run}\0${content.layer}\0${content.block}`;
    return `other\0${content.type}`;
  }
  get(name) {
    return this.state[name];
  }
  set(name, value) {
    if (this.state[name] === value) return;
    this.state[name] = value;
    this.emit(`change:${name}`);
  }
  save_changes() {
  }
  on(event, callback) {
    if (!this.handlers.has(event)) this.handlers.set(event, /* @__PURE__ */ new Set());
    this.handlers.get(event).add(callback);
  }
  off(event, callback) {
    this.handlers.get(event)?.delete(callback);
  }
  emit(event, ...args) {
    for (const callback of [...this.handlers.get(event) ?? []]) callback(...args);
  }
  send(request) {
    const k = request.type === "hello" ? "hello" : _StaticModel.keyOf(request);
    const answer = this.answers.get(k);
    if (!answer) return;
    setTimeout(() => {
      if (!answer.decoded) answer.decoded = answer.buffers.map(fromBase64);
      this.emit("msg:custom", answer.content, answer.decoded);
    }, 0);
  }
};

// src/cache.js
var DEFAULT_BUDGET = 256 * 2 ** 20;
var key = (...parts) => parts.join("\0");
var Cache = class {
  constructor(budget = DEFAULT_BUDGET) {
    this.budget = budget;
    this.runs = [];
    this.heads = /* @__PURE__ */ new Map();
    this.blocks = /* @__PURE__ */ new Map();
    this.pending = /* @__PURE__ */ new Set();
    this.bytes = 0;
  }
  setRuns(runs) {
    for (let r = 0; r < runs.length; r += 1) {
      const old = this.runs[r];
      if (old && old.version !== runs[r].version) this.markStale(r);
    }
    this.runs = runs;
  }
  markStale(run) {
    for (const [k, v] of this.heads) if (k.startsWith(`${run}\0`)) v.stale = true;
    for (const [k, v] of this.blocks) if (k.startsWith(`${run}\0`)) v.stale = true;
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
  evict(layer, near, keep = /* @__PURE__ */ new Set()) {
    if (this.bytes <= this.budget) return [];
    const order = [...this.blocks.entries()].filter(([k]) => !keep.has(k)).map(([k, v]) => {
      const head = this.head(v.run, v.layer);
      const size = head ? head.blocks.size : 1;
      const distance = v.layer === layer ? Math.abs(v.index * size + size / 2 - near) : Infinity;
      return [k, v, distance];
    }).sort((a, b) => b[2] - a[2]);
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
};

// src/dom.js
var SVG_NS = "http://www.w3.org/2000/svg";
function html(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}
function svg(tag, attrs = {}, parent = null, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  if (text !== null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}
function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === void 0 || v === false) node.removeAttribute(k);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  return node;
}
function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}
function sizeStage(stage, canvas, overlay, width, height) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  overlay.setAttribute("width", width);
  overlay.setAttribute("height", height);
  stage.style.height = `${height}px`;
  return dpr;
}
function px(v) {
  return Math.round(v * 10) / 10;
}
function linePath(xs, ys) {
  let d = "";
  let pen = false;
  for (let i = 0; i < xs.length; i += 1) {
    const x = xs[i];
    const y = ys[i];
    if (Number.isFinite(x) && Number.isFinite(y)) {
      d += `${pen ? "L" : "M"}${px(x)} ${px(y)}`;
      pen = true;
    } else pen = false;
  }
  return d;
}
function dotsPath(xs, ys, only = null) {
  let d = "";
  for (const i of only ?? xs.keys()) {
    if (Number.isFinite(xs[i]) && Number.isFinite(ys[i])) d += `M${px(xs[i])} ${px(ys[i])}h0`;
  }
  return d;
}
var finite = (xs, ys, i) => i >= 0 && i < xs.length && Number.isFinite(xs[i]) && Number.isFinite(ys[i]);
function isolated(xs, ys) {
  const out = [];
  for (let i = 0; i < xs.length; i += 1) {
    if (finite(xs, ys, i) && !finite(xs, ys, i - 1) && !finite(xs, ys, i + 1)) out.push(i);
  }
  return out;
}
function gapPath(xs, ys) {
  let d = "";
  let last = -1;
  for (let i = 0; i < xs.length; i += 1) {
    if (!finite(xs, ys, i)) continue;
    if (last >= 0 && i > last + 1) d += `M${px(xs[last])} ${px(ys[last])}L${px(xs[i])} ${px(ys[i])}`;
    last = i;
  }
  return d;
}
function whiskerPath(xs, lower, upper, only) {
  let d = "";
  for (const i of only) {
    if ([xs[i], lower[i], upper[i]].every(Number.isFinite)) {
      d += `M${px(xs[i] - 3)} ${px(lower[i])}h6M${px(xs[i])} ${px(lower[i])}V${px(upper[i])}M${px(xs[i] - 3)} ${px(upper[i])}h6`;
    }
  }
  return d;
}
function bandPath(xs, lower, upper) {
  let d = "";
  let run = [];
  const flush = () => {
    if (run.length > 1) {
      d += `M${run.map((i) => `${px(xs[i])} ${px(upper[i])}`).join("L")}`;
      d += `L${run.slice().reverse().map((i) => `${px(xs[i])} ${px(lower[i])}`).join("L")}Z`;
    }
    run = [];
  };
  for (let i = 0; i < xs.length; i += 1) {
    if ([xs[i], lower[i], upper[i]].every(Number.isFinite)) run.push(i);
    else flush();
  }
  flush();
  return d;
}

// src/names.js
var SEPARATORS = /([./:])/;
function tokens(name) {
  return name.split(SEPARATORS).filter((t) => t !== "");
}
function commonPrefix(lists) {
  let n = 0;
  for (; ; ) {
    const t = lists[0][n];
    if (t === void 0 || !lists.every((l) => l[n] === t)) return n;
    n += 1;
  }
}
function shortNames(names) {
  if (names.length < 2) return names.slice();
  const split = names.map(tokens);
  let start = commonPrefix(split);
  const reversed = split.map((l) => l.slice().reverse());
  let end = commonPrefix(reversed);
  const shortest = Math.min(...split.map((l) => l.length));
  if (start + end >= shortest) {
    end = Math.max(0, shortest - start - 1);
    if (start >= shortest) start = shortest - 1;
  }
  const bare = (l) => /^[0-9]+$/.test(l[start] ?? "");
  while (start > 0 && split.some(bare)) {
    start -= 1;
    while (start > 0 && SEPARATORS.test(split[0][start])) start -= 1;
    if (!split.some(bare)) break;
  }
  const out = split.map((l) => {
    const kept = l.slice(start, l.length - end);
    while (kept.length > 1 && SEPARATORS.test(kept[0])) kept.shift();
    while (kept.length > 1 && SEPARATORS.test(kept[kept.length - 1])) kept.pop();
    return kept.join("");
  });
  return new Set(out).size === new Set(names).size ? out : names.slice();
}

// src/axes.js
var TICK = 4;
function bottomAxis(group, { x, y, ticks, labels = true, gridTop = null, lo = -Infinity, hi = Infinity }) {
  const inside = (p) => p >= lo - 0.5 && p <= hi + 0.5;
  svg("line", { x1: px(lo), x2: px(hi), y1: px(y), y2: px(y), class: "rs-axis-line" }, group);
  for (const t of ticks.minor) {
    const p = x(t.position);
    if (inside(p)) svg("line", { x1: px(p), x2: px(p), y1: px(y), y2: px(y + TICK / 2), class: "rs-tick" }, group);
  }
  for (const t of ticks.major) {
    const p = x(t.position);
    if (!inside(p)) continue;
    if (gridTop !== null) svg("line", { x1: px(p), x2: px(p), y1: px(gridTop), y2: px(y), class: "rs-grid" }, group);
    svg("line", { x1: px(p), x2: px(p), y1: px(y), y2: px(y + TICK), class: "rs-tick" }, group);
    if (labels) svg("text", { x: px(p), y: px(y + TICK + 11), class: "rs-tick-label rs-x-tick", "text-anchor": "middle" }, group, t.label);
  }
}
function leftAxis(group, { y, x0, ticks, minor = [], gridRight = null, lo = -Infinity, hi = Infinity }) {
  const top = Math.min(lo, hi);
  const bottom = Math.max(lo, hi);
  const inside = (p) => p >= top - 0.5 && p <= bottom + 0.5;
  svg("line", { x1: px(x0), x2: px(x0), y1: px(top), y2: px(bottom), class: "rs-axis-line" }, group);
  for (const v of minor) {
    const p = y(v);
    if (inside(p)) svg("line", { x1: px(x0 - TICK / 2), x2: px(x0), y1: px(p), y2: px(p), class: "rs-tick" }, group);
  }
  for (const t of ticks) {
    const p = y(t.value);
    if (!inside(p)) continue;
    if (gridRight !== null) svg("line", { x1: px(x0), x2: px(gridRight), y1: px(p), y2: px(p), class: "rs-grid" }, group);
    svg("line", { x1: px(x0 - TICK), x2: px(x0), y1: px(p), y2: px(p), class: "rs-tick" }, group);
    svg("text", { x: px(x0 - TICK - 3), y: px(p + 3.5), class: "rs-tick-label rs-y-tick", "text-anchor": "end" }, group, t.label);
  }
}

// src/colors.js
var RUN_COLOURS = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf"
];
var LABEL_COLOURS = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
  "#a6cee3",
  "#b2df8a",
  "#fb9a99",
  "#fdbf6f",
  "#cab2d6",
  "#ffff99"
];
var MAX_LABEL_COLOURS = LABEL_COLOURS.length;
var PHASE_COLOURS = {
  "warmup collapse": "rgba(214, 39, 40, 0.13)",
  "entropy-seeking": "rgba(44, 160, 44, 0.13)",
  "compression-seeking": "rgba(31, 119, 180, 0.13)"
};
function phaseColour(name) {
  if (PHASE_COLOURS[name]) return PHASE_COLOURS[name];
  const rank = /RankMe\s*([↑↓])/u.exec(name);
  const direction = rank ? rank[1] : /collapse|compress|fall/.test(name) ? "↓" : /expan|rise/.test(name) ? "↑" : "";
  if (direction === "↓") return "rgba(214, 39, 40, 0.09)";
  if (direction === "↑") return "rgba(44, 160, 44, 0.09)";
  return "rgba(120, 120, 120, 0.10)";
}
var VIRIDIS = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37]
];
function viridis(t) {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
}
function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [n >> 16 & 255, n >> 8 & 255, n & 255];
}
function labelRgb(code, count) {
  if (count <= MAX_LABEL_COLOURS) return rgb(LABEL_COLOURS[code % LABEL_COLOURS.length]);
  return viridis(count > 1 ? code / (count - 1) : 0);
}

// src/scale.js
var SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };
function stepPosition(step) {
  return Math.log10(Math.max(step, 0) + 1);
}
function compact(value) {
  const abs = Math.abs(value);
  for (const [size, unit] of [[1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
    if (abs >= size) return `${trim((value / size).toPrecision(3))}${unit}`;
  }
  return trim(Number.isInteger(value) ? String(value) : value.toPrecision(3));
}
function trim(text) {
  return text.includes(".") && !text.includes("e") ? text.replace(/\.?0+$/, "") : text;
}
function formatValue(value) {
  if (value === null || value === void 0 || Number.isNaN(value)) return "–";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return powerOfTen(value, 3);
  return trim(value.toPrecision(4)).replace("-", "−");
}
function powerOfTen(value, digits = 2) {
  if (value === 0) return "0";
  const sign = value < 0 ? "−" : "";
  let exponent = Math.floor(Math.log10(Math.abs(value)));
  let mantissa = Math.abs(value) / 10 ** exponent;
  if (Number(mantissa.toPrecision(digits)) >= 10) {
    exponent += 1;
    mantissa /= 10;
  }
  const power = `10${String(exponent).replace(/[-0-9]/g, (c) => SUPERSCRIPT[c])}`;
  const m = trim(mantissa.toPrecision(digits));
  return m === "1" ? `${sign}${power}` : `${sign}${m}×${power}`;
}
function linearTicks(lo, hi, count = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(count, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const err = raw / power;
  const step = power * (err >= 7.07 ? 10 : err >= 3.16 ? 5 : err >= 1.41 ? 2 : 1);
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return out;
}
function linearLabels(ticks) {
  if (ticks.length === 0) return [];
  const spacing = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(ticks[0]) || 1;
  const big = Math.max(...ticks.map(Math.abs));
  if (big >= 1e5 || big > 0 && big < 1e-3) return ticks.map((t) => t === 0 ? "0" : powerOfTen(t, 3));
  const decimals = Math.max(0, -Math.floor(Math.log10(spacing) + 1e-9));
  return ticks.map((t) => t.toFixed(decimals).replace("-", "−"));
}
function multiples(lo, hi, mantissas) {
  const out = [];
  const first = Math.floor(Math.log10(Math.max(lo, 1e-300)));
  const last = Math.ceil(Math.log10(Math.max(hi, 1e-300)));
  for (let k = first; k <= last; k += 1) {
    for (const m of mantissas) {
      const v = Number((m * 10 ** k).toPrecision(12));
      if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12)) out.push(v);
    }
  }
  return out;
}
var DENSE = [1, 2, 3, 4, 5, 6, 7, 8, 9];
function logTicks(lo, hi, width = 600, format = compact, labelWidth = 34) {
  if (!(lo > 0) || !(hi > 0)) return { major: [], minor: [] };
  if (hi < lo) [lo, hi] = [hi, lo];
  const room = Math.max(1, Math.floor(width / labelWidth));
  let major = multiples(lo, hi, [1]);
  for (const mantissas of [[1, 2, 5], DENSE]) {
    const denser = multiples(lo, hi, mantissas);
    if (major.length < 2 || denser.length <= room && major.length < 4) major = denser;
    else break;
  }
  if (major.length < 2) major = linearTicks(lo, hi, Math.min(room, 4)).filter((v) => v > 0);
  if (major.length > room) major = major.filter((_, i) => i % Math.ceil(major.length / room) === 0);
  const majors = new Set(major);
  const minor = multiples(lo, hi, DENSE).filter((v) => !majors.has(v));
  return { major: major.map((value) => ({ value, label: format(value) })), minor };
}
function stepTicks(first, last, width = 600) {
  const lo = Math.max(first, 1);
  const hi = Math.max(last, 1);
  const ticks = logTicks(lo, hi, width, compact, 36);
  const major = ticks.major.map(({ value, label }) => ({ step: value, position: stepPosition(value), label }));
  if (first <= 0) major.unshift({ step: 0, position: 0, label: "0" });
  const minor = ticks.minor.map((step) => ({ step, position: stepPosition(step) }));
  return { major, minor };
}
function linearMap(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  const f = (v) => r0 + (v - d0) / span * (r1 - r0);
  f.invert = (p) => d0 + (p - r0) / (r1 - r0 || 1) * span;
  return f;
}
function extent(values, pad = 0.06) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo === Infinity) return [0, 1];
  if (hi === lo) {
    const d2 = Math.abs(lo) * 0.05 || 0.5;
    return [lo - d2, hi + d2];
  }
  const d = (hi - lo) * pad;
  return [lo - d, hi + d];
}

// src/steps.js
function atOrBefore(steps, step) {
  let lo = 0;
  let hi = steps.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = lo + hi >> 1;
    if (steps[mid] <= step) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
function nearestIndex(steps, step) {
  if (steps.length === 0) return -1;
  const i = atOrBefore(steps, step);
  if (i < 0) return 0;
  if (i === steps.length - 1) return i;
  return step - steps[i] <= steps[i + 1] - step ? i : i + 1;
}
function nearestOnLogAxis(steps, position) {
  let best = -1;
  let gap = Infinity;
  for (let i = 0; i < steps.length; i += 1) {
    const d = Math.abs(stepPosition(steps[i]) - position);
    if (d < gap) {
      gap = d;
      best = i;
    }
  }
  return best;
}
function unionSteps(lists) {
  const all = /* @__PURE__ */ new Set();
  for (const l of lists) for (const s of l) all.add(Number(s));
  return Float64Array.from([...all].sort((a, b) => a - b));
}
function cellEdges(steps) {
  const x = Array.from(steps, stepPosition);
  if (x.length === 0) return [];
  if (x.length === 1) return [x[0] - 0.5, x[0] + 0.5];
  const edges = [x[0] - (x[1] - x[0]) / 2];
  for (let i = 0; i < x.length - 1; i += 1) edges.push((x[i] + x[i + 1]) / 2);
  edges.push(x[x.length - 1] + (x[x.length - 1] - x[x.length - 2]) / 2);
  return edges;
}

// src/panels/lines.js
var ROW = 92;
var TITLE = 20;
var GAP = 8;
var PHASE_STRIP = 18;
var BOTTOM = 34;
var MARKERS_UP_TO = 80;
function seriesOf(frame, spec, row) {
  const out = [];
  frame.runs.forEach((run, r) => {
    const colour = RUN_COLOURS[r % RUN_COLOURS.length];
    if (row.kind === "measure") {
      const m = run.measures.names.indexOf(row.name);
      const l = run.layers.indexOf(frame.layer);
      if (m < 0 || l < 0) return;
      const [, L, S] = run.measures.values.shape;
      const slice = (a) => a ? a.subarray((m * L + l) * S, (m * L + l + 1) * S) : null;
      out.push({
        r,
        colour,
        name: run.name,
        steps: run.steps,
        values: slice(run.measures.values),
        lower: slice(run.measures.lower),
        upper: slice(run.measures.upper)
      });
    } else if (row.kind === "scalar") {
      const s = (run.panels.training?.scalars ?? []).find((x) => x.name === row.name);
      if (s) out.push({ r, colour, name: run.name, steps: s.steps, values: s.values });
    } else {
      const s = (run.panels[spec.name]?.series ?? []).find((x) => x.name === row.name);
      if (s) out.push({ r, colour, name: run.name, steps: s.steps, values: s.values, lower: s.lower, upper: s.upper });
    }
  });
  return out;
}
function fitTitleAndReadout(rb, readout, withoutIntervals, room) {
  const GAP3 = 12;
  const width = (node) => typeof node.getComputedTextLength === "function" ? node.getComputedTextLength() : 0;
  const fits = () => width(rb.title) + width(readout) + GAP3 <= room;
  rb.title.textContent = rb.titleText;
  if (width(readout) === 0 || fits()) return;
  rb.title.textContent = rb.row.label;
  if (fits()) return;
  readout.textContent = withoutIntervals();
  if (fits()) return;
  const label = rb.row.label;
  for (let n = label.length - 1; n > 1; n -= 1) {
    rb.title.textContent = `${label.slice(0, n)}…`;
    if (fits()) return;
  }
}
function rowsOf(frame, spec) {
  const source = spec.options?.source ?? "measures";
  if (source === "series") {
    const names = [];
    for (const run of frame.runs) for (const s of run.panels[spec.name]?.series ?? []) {
      if (!names.some((n) => n.name === s.name)) names.push({ name: s.name, label: s.label ?? s.name, kind: "series" });
    }
    return names;
  }
  const kind = source === "scalars" ? "scalar" : "measure";
  return frame.measures.map((name) => frame.curve(name)).filter((c) => c && c.kind === kind).map((c) => ({ name: c.name, label: c.axis ?? c.label, short: c.label, kind, band: c.band }));
}
function createLines(box, spec, view) {
  const title = html("div", { class: "rs-panel-title" }, box);
  const svgNode = svg("svg", { class: "rs-lines" }, box);
  const rowsGroup = svg("g", {}, svgNode);
  const cursorGroup = svg("g", { class: "rs-cursor" }, svgNode);
  const hoverLine = svg("line", { class: "rs-hover-line", visibility: "hidden" }, svgNode);
  const overlay = svg("rect", { class: "rs-overlay" }, svgNode);
  let layout = null;
  function fullDraw(frame) {
    const rows = rowsOf(frame, spec);
    box.style.display = rows.length ? "" : "none";
    clear(rowsGroup);
    layout = null;
    if (!rows.length) return;
    title.textContent = spec.title ?? "";
    title.style.display = spec.title ? "" : "none";
    const width = Math.max(box.clientWidth, 200);
    const { left, right } = frame.margin;
    const x = linearMap(frame.xDomain[0], frame.xDomain[1], left, width - right);
    const showPhases = spec.options?.phases !== false;
    const phases = showPhases ? frame.phases() : [];
    const top0 = phases.length ? PHASE_STRIP : 4;
    const height = top0 + rows.length * (TITLE + ROW + GAP) + BOTTOM;
    svgNode.setAttribute("width", width);
    svgNode.setAttribute("height", height);
    const rowBoxes = [];
    rows.forEach((row, k) => {
      const top = top0 + k * (TITLE + ROW + GAP) + TITLE;
      const bottom = top + ROW;
      const series = seriesOf(frame, spec, row);
      const all = [];
      for (const s of series) {
        for (const a of [s.values, s.lower, s.upper]) if (a) for (const v of a) all.push(v);
      }
      const [lo, hi] = extent(all);
      const y = linearMap(lo, hi, bottom, top);
      const g = svg("g", { class: "rs-row", "data-name": row.name }, rowsGroup);
      for (const p of phases) {
        const x0 = Math.max(left, x(stepPosition(p.start)));
        const x1 = Math.min(width - right, x(stepPosition(p.end)));
        if (x1 > x0) svg("rect", { x: px(x0), width: px(x1 - x0), y: px(top), height: ROW, fill: phaseColour(p.name), class: "rs-phase" }, g);
      }
      const ticks = linearTicks(lo, hi, 4);
      const labels = linearLabels(ticks);
      leftAxis(g, { y, x0: left, ticks: ticks.map((value, i) => ({ value, label: labels[i] })), gridRight: width - right, lo: top, hi: bottom });
      const last = k === rows.length - 1;
      bottomAxis(g, { x, y: bottom, ticks: stepTicks(frame.steps[0] ?? 0, frame.steps[frame.steps.length - 1] ?? 1, width - left - right), labels: last, lo: left, hi: width - right });
      const banded = series.some((s) => s.lower && s.upper && Array.from(s.lower).some(Number.isFinite));
      const titleText = banded ? `${row.label}  ·  band: ${row.band ?? "90 % interval"}` : row.label;
      const titleGroup = svg("g", {}, g);
      svg("title", {}, titleGroup, titleText);
      const title2 = svg("text", { x: left, y: top - 6, class: "rs-row-title" }, titleGroup, titleText);
      for (const s of series) {
        const xs = Array.from(s.steps, (v) => x(stepPosition(v)));
        if (s.lower && s.upper) {
          svg("path", { d: bandPath(xs, Array.from(s.lower, y), Array.from(s.upper, y)), fill: s.colour, class: "rs-band" }, g);
        }
        const ys = Array.from(s.values, y);
        svg("path", { d: linePath(xs, ys), stroke: s.colour, class: "rs-line" }, g);
        svg("path", { d: gapPath(xs, ys), stroke: s.colour, class: "rs-gap" }, g);
        const lone = isolated(xs, ys);
        if (s.lower && s.upper && lone.length) {
          svg("path", { d: whiskerPath(xs, Array.from(s.lower, y), Array.from(s.upper, y), lone), stroke: s.colour, class: "rs-whisker" }, g);
        }
        const dots = s.steps.length <= MARKERS_UP_TO ? dotsPath(xs, ys) : dotsPath(xs, ys, lone);
        if (dots) svg("path", { d: dots, stroke: s.colour, class: "rs-dots" }, g);
      }
      rowBoxes.push({ row, top, bottom, y, series, title: title2, titleText, left });
    });
    if (phases.length) {
      for (const p of phases) {
        const x0 = Math.max(left, x(stepPosition(p.start)));
        const x1 = Math.min(width - right, x(stepPosition(p.end)));
        if (x1 - x0 < 4) continue;
        const label = svg("text", { x: px((x0 + x1) / 2), y: 13, class: "rs-phase-label", "text-anchor": "middle" }, rowsGroup, p.label ?? p.name);
        const t = svg("title", {}, label, p.description ?? p.label ?? p.name);
        void t;
      }
    }
    if (rows.length) {
      svg("text", { x: px((left + width - right) / 2), y: height - 4, class: "rs-axis-title", "text-anchor": "middle" }, rowsGroup, "step (log scale)");
    }
    for (const [k, v] of Object.entries({ x: left, y: top0, width: Math.max(width - left - right, 1), height: height - top0 - BOTTOM })) overlay.setAttribute(k, v);
    layout = { x, rows: rowBoxes, top: top0, bottom: height - BOTTOM, left, right: width - right };
  }
  function drawCursor(frame) {
    clear(cursorGroup);
    if (!layout) return;
    const cx = layout.x(stepPosition(frame.step));
    svg("line", { x1: px(cx), x2: px(cx), y1: layout.top, y2: layout.bottom, class: "rs-cursor-line" }, cursorGroup);
    for (const rb of layout.rows) {
      const readout = (intervals) => rb.series.map((s) => {
        const i = atOrBefore(s.steps, frame.step);
        const v = i >= 0 ? s.values[i] : NaN;
        let text2 = formatValue(v);
        if (intervals && s.lower && s.upper && i >= 0 && Number.isFinite(s.lower[i])) text2 += ` (${formatValue(s.lower[i])}–${formatValue(s.upper[i])})`;
        return rb.series.length > 1 ? `${s.name}: ${text2}` : text2;
      }).join(" · ");
      for (const s of rb.series) {
        const i = atOrBefore(s.steps, frame.step);
        const v = i >= 0 ? s.values[i] : NaN;
        if (i >= 0 && Number.isFinite(v)) svg("circle", { cx: px(layout.x(stepPosition(s.steps[i]))), cy: px(rb.y(v)), r: 3.5, fill: s.colour, class: "rs-cursor-dot" }, cursorGroup);
      }
      const text = svg("text", { x: layout.right, y: rb.top - 6, class: "rs-readout", "text-anchor": "end" }, cursorGroup, readout(true));
      fitTitleAndReadout(rb, text, () => readout(false), layout.right - rb.left);
    }
  }
  function hoverAt(frame, event) {
    if (!layout) return;
    const rect = svgNode.getBoundingClientRect();
    const mx = event.clientX - rect.left;
    const i = nearestOnLogAxis(frame.steps, layout.x.invert(mx));
    if (i < 0) return;
    const step = frame.steps[i];
    const hx = layout.x(stepPosition(step));
    hoverLine.setAttribute("x1", px(hx));
    hoverLine.setAttribute("x2", px(hx));
    hoverLine.setAttribute("y1", layout.top);
    hoverLine.setAttribute("y2", layout.bottom);
    hoverLine.setAttribute("visibility", "visible");
    const lines = [`step ${step.toLocaleString("en-US")}`];
    for (const rb of layout.rows) {
      for (const s of rb.series) {
        const j = atOrBefore(s.steps, step);
        const who = rb.series.length > 1 ? ` (${s.name})` : "";
        lines.push(`${rb.row.short ?? rb.row.label}${who}: ${formatValue(j >= 0 ? s.values[j] : NaN)}`);
      }
    }
    for (const p of frame.phases()) if (step >= p.start && step <= p.end) lines.push(`phase: ${p.label ?? p.name}`);
    view.tooltip.show(event, lines);
    return step;
  }
  overlay.addEventListener("mousemove", (event) => hoverAt(view.frame(), event));
  overlay.addEventListener("mouseleave", () => {
    hoverLine.setAttribute("visibility", "hidden");
    view.tooltip.hide();
  });
  overlay.addEventListener("click", (event) => {
    const step = hoverAt(view.frame(), event);
    if (step !== void 0) view.setState({ step });
  });
  return {
    draw(frame, changed) {
      if (["size", "runs", "layer", "measures", "data"].some((c) => changed.has(c))) fullDraw(frame);
      drawCursor(frame);
    },
    destroy() {
    }
  };
}

// src/panels/overview.js
var ROW2 = 18;
var MIN_ROW = 5;
var MIN_PLOT = 40;
var MAX_HEIGHT = 460;
var TOP = 6;
var BOTTOM2 = 34;
var BAR = 10;
function createOverview(box, spec, view) {
  const title = html("div", { class: "rs-panel-title" }, box);
  const help = html("div", { class: "rs-panel-help" }, box);
  const stage = html("div", { class: "rs-stage" }, box);
  const canvas = html("canvas", { class: "rs-heatmap" }, stage);
  const overlay = svg("svg", { class: "rs-overlay-svg" }, stage);
  const axes = svg("g", {}, overlay);
  const marks = svg("g", {}, overlay);
  let layout = null;
  function measureOf(frame) {
    const run = frame.runs[0];
    if (!run) return null;
    const chosen = frame.measures.find((m) => run.measures.names.includes(m));
    return chosen ?? (run.measures.names.includes("effective_rank") ? "effective_rank" : run.measures.names[0]) ?? null;
  }
  function fullDraw(frame) {
    const run = frame.runs[0];
    const measure = measureOf(frame);
    layout = null;
    clear(axes);
    if (!run || !measure || run.layers.length === 0) {
      box.style.display = "none";
      return;
    }
    box.style.display = "";
    const curve = frame.curve(measure);
    title.textContent = `all layers: ${curve ? curve.label : measure}`;
    help.textContent = spec.options?.help ?? "";
    const width = Math.max(box.clientWidth, 200);
    const { left, right } = frame.margin;
    const L = run.layers.length;
    const rowH = Math.max(MIN_ROW, Math.min(Math.max(ROW2, MIN_PLOT / L), (MAX_HEIGHT - TOP - BOTTOM2) / L));
    const plotH = rowH * L;
    const height = TOP + plotH + BOTTOM2;
    const dpr = sizeStage(stage, canvas, overlay, width, height);
    const x = linearMap(frame.xDomain[0], frame.xDomain[1], left, width - right);
    const m = run.measures.names.indexOf(measure);
    const [, , S] = run.measures.values.shape;
    const values = run.measures.values.subarray(m * L * S, (m + 1) * L * S);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    const span = hi > lo ? hi - lo : 1;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const edges = cellEdges(run.steps).map(x);
    for (let l = 0; l < L; l += 1) {
      const y0 = TOP + (L - 1 - l) * rowH;
      for (let s = 0; s < S; s += 1) {
        const v = values[l * S + s];
        const x0 = Math.max(left, edges[s]);
        const x1 = Math.min(width - right, edges[s + 1]);
        if (x1 <= x0) continue;
        if (Number.isFinite(v)) {
          const [r, g, b] = viridis((v - lo) / span);
          ctx.fillStyle = `rgb(${r},${g},${b})`;
        } else ctx.fillStyle = "#eee";
        ctx.fillRect(x0, y0, x1 - x0 + 0.6, rowH + 0.6);
      }
    }
    const barX = width - right + 12;
    for (let i = 0; i < plotH; i += 1) {
      const [r, g, b] = viridis(1 - i / plotH);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(barX, TOP + i, BAR, 1.5);
    }
    svg("text", { x: barX + BAR + 3, y: TOP + 8, class: "rs-tick-label" }, axes, formatValue(hi));
    svg("text", { x: barX + BAR + 3, y: TOP + plotH, class: "rs-tick-label" }, axes, formatValue(lo));
    const every = Math.max(1, Math.ceil(12 / rowH));
    frame.shortLayers(0).forEach((name, l) => {
      if (l % every !== 0 && l !== L - 1) return;
      const label = svg("text", { x: left - 6, y: px(TOP + (L - 1 - l) * rowH + rowH / 2 + 3.5), class: "rs-tick-label", "text-anchor": "end" }, axes, name);
      svg("title", {}, label, run.layers[l]);
    });
    bottomAxis(axes, { x, y: TOP + plotH, ticks: stepTicks(frame.steps[0] ?? 0, frame.steps[frame.steps.length - 1] ?? 1, width - left - right), lo: left, hi: width - right });
    svg("text", { x: px((left + width - right) / 2), y: height - 4, class: "rs-axis-title", "text-anchor": "middle" }, axes, "step (log scale)");
    layout = { x, rowH, L, left, right: width - right, top: TOP, plotH, run, values, S, measure };
  }
  function drawMarks(frame) {
    clear(marks);
    if (!layout) return;
    const { x, rowH, L, left, right, top, plotH, run } = layout;
    const cx = x(Math.log10(frame.step + 1));
    svg("line", { x1: px(cx), x2: px(cx), y1: top, y2: top + plotH, class: "rs-overview-step" }, marks);
    const l = run.layers.indexOf(frame.layer);
    if (l >= 0) svg("rect", { x: left, width: right - left, y: px(top + (L - 1 - l) * rowH), height: px(rowH), class: "rs-overview-layer" }, marks);
  }
  function cellAt(event) {
    if (!layout) return null;
    const rect = overlay.getBoundingClientRect();
    const mx = event.clientX - rect.left;
    const my = event.clientY - rect.top;
    const { x, rowH, L, left, right, top, plotH, run } = layout;
    if (mx < left || mx > right || my < top || my > top + plotH) return null;
    const l = L - 1 - Math.min(L - 1, Math.max(0, Math.floor((my - top) / rowH)));
    const s = nearestOnLogAxis(run.steps, x.invert(mx));
    return s < 0 ? null : { layer: run.layers[l], step: run.steps[s], value: layout.values[l * layout.S + s] };
  }
  overlay.addEventListener("mousemove", (event) => {
    const cell = cellAt(event);
    if (!cell) return view.tooltip.hide();
    const curve = view.frame().curve(layout.measure);
    view.tooltip.show(event, [cell.layer, `step ${cell.step.toLocaleString("en-US")}`, `${curve ? curve.label : layout.measure}: ${formatValue(cell.value)}`]);
  });
  overlay.addEventListener("mouseleave", () => view.tooltip.hide());
  overlay.addEventListener("click", (event) => {
    const cell = cellAt(event);
    if (cell) view.setState({ layer: cell.layer, step: cell.step });
  });
  return {
    draw(frame, changed) {
      if (["size", "runs", "measures", "data"].some((c) => changed.has(c))) fullDraw(frame);
      drawMarks(frame);
    },
    destroy() {
    }
  };
}

// src/gl.js
var VERTEX = `#version 300 es
in vec2 a_xy;
in vec4 a_colour;
uniform vec4 u_range;
uniform float u_size;
out vec4 v_colour;
void main() {
  vec2 p = (a_xy - u_range.xz) / (u_range.yw - u_range.xz) * 2.0 - 1.0;
  gl_Position = vec4(p, 0.0, 1.0);
  gl_PointSize = u_size;
  v_colour = a_colour;
}`;
var FRAGMENT = `#version 300 es
precision mediump float;
in vec4 v_colour;
out vec4 colour;
void main() {
  vec2 d = gl_PointCoord - 0.5;
  float r = dot(d, d);
  if (r > 0.25) discard;
  float edge = smoothstep(0.25, 0.16, r);
  colour = vec4(v_colour.rgb, 1.0) * v_colour.a * edge;
}`;
function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader));
  return shader;
}
var SharedRenderer = class {
  constructor() {
    this.canvas = document.createElement("canvas");
    this.lost = false;
    this.canvas.addEventListener("webglcontextlost", (e) => {
      e.preventDefault();
      this.lost = true;
    });
    this.canvas.addEventListener("webglcontextrestored", () => {
      this.lost = false;
      this.setup();
    });
    this.gl = this.canvas.getContext("webgl2", { antialias: false, premultipliedAlpha: true, preserveDrawingBuffer: true, alpha: true });
    if (this.gl) this.setup();
    this.draws = 0;
  }
  setup() {
    const gl = this.gl;
    const program = gl.createProgram();
    gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(program));
    this.program = program;
    this.xy = gl.createBuffer();
    this.colours = gl.createBuffer();
    this.coloursFor = null;
    this.aXY = gl.getAttribLocation(program, "a_xy");
    this.aColour = gl.getAttribLocation(program, "a_colour");
    this.uRange = gl.getUniformLocation(program, "u_range");
    this.uSize = gl.getUniformLocation(program, "u_size");
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
  }
  get ok() {
    return Boolean(this.gl) && !this.lost;
  }
  /**
   * Draws `n` points (xy interleaved, colours as RGBA bytes) into a width × height (CSS px) frame
   * and copies it onto `target` (a 2-D canvas context) at (dx, dy).
   */
  draw(target, { xy, colours, n, range, size, width, height, dpr, dx = 0, dy = 0 }) {
    const gl = this.gl;
    const w = Math.max(1, Math.round(width * dpr));
    const h = Math.max(1, Math.round(height * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    gl.viewport(0, 0, w, h);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.useProgram(this.program);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.xy);
    gl.bufferData(gl.ARRAY_BUFFER, xy.subarray(0, 2 * n), gl.DYNAMIC_DRAW);
    gl.enableVertexAttribArray(this.aXY);
    gl.vertexAttribPointer(this.aXY, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.colours);
    if (this.coloursFor !== colours) {
      gl.bufferData(gl.ARRAY_BUFFER, colours, gl.DYNAMIC_DRAW);
      this.coloursFor = colours;
    }
    gl.enableVertexAttribArray(this.aColour);
    gl.vertexAttribPointer(this.aColour, 4, gl.UNSIGNED_BYTE, true, 0, 0);
    gl.uniform4f(this.uRange, range[0], range[1], range[2], range[3]);
    gl.uniform1f(this.uSize, size * dpr);
    gl.drawArrays(gl.POINTS, 0, n);
    target.drawImage(this.canvas, 0, 0, w, h, dx * dpr, dy * dpr, w, h);
    this.draws += 1;
  }
};
function sharedRenderer() {
  const holder = globalThis;
  if (!holder.__repscopeRenderer) {
    try {
      holder.__repscopeRenderer = new SharedRenderer();
    } catch (error) {
      console.warn("repscope: no WebGL2, points drawn on a 2-D canvas", error);
      holder.__repscopeRenderer = { ok: false };
    }
  }
  const r = holder.__repscopeRenderer;
  return r.ok ? r : null;
}
function drawWithCanvas(ctx, { xy, colours, n, range, size, width, height, dx = 0, dy = 0 }) {
  const sx = width / (range[1] - range[0]);
  const sy = height / (range[3] - range[2]);
  const half = size / 2;
  let style = "";
  for (let i = 0; i < n; i += 1) {
    const a = colours[4 * i + 3] / 255;
    const next = `rgba(${colours[4 * i]},${colours[4 * i + 1]},${colours[4 * i + 2]},${a})`;
    if (next !== style) {
      ctx.fillStyle = next;
      style = next;
    }
    ctx.fillRect(dx + (xy[2 * i] - range[0]) * sx - half, dy + height - (xy[2 * i + 1] - range[2]) * sy - half, size, size);
  }
}

// src/lasso.js
function insidePolygon(x, y, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
function selectInPolygon(xy, polygon) {
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

// src/panels/points.js
var HEIGHT = 330;
var M = { top: 8, bottom: 34, left: 46, right: 10 };
var GAP2 = 12;
var UNSELECTED_ALPHA = 0.13;
function pointSize(n) {
  if (n <= 2e3) return 5;
  if (n <= 2e4) return 3.5;
  if (n <= 1e5) return 2.5;
  return 2;
}
function pointColours(points, runColour, selected) {
  const n = points.shown.length;
  const out = new Uint8Array(4 * n);
  const count = points.names ? points.names.length : 0;
  const base = rgb(runColour);
  const any = selected && selected.size > 0;
  for (let i = 0; i < n; i += 1) {
    const c = points.codes ? labelRgb(points.codes[i], count) : base;
    const alpha = any ? selected.has(points.shown[i]) ? 0.95 : UNSELECTED_ALPHA : 0.8;
    out.set([c[0], c[1], c[2], Math.round(alpha * 255)], 4 * i);
  }
  return out;
}
function createPoints(box, spec, view) {
  const title = html("div", { class: "rs-panel-title rs-points-title" }, box);
  const legend = html("div", { class: "rs-legend" }, box);
  const stage = html("div", { class: "rs-stage" }, box);
  const canvas = html("canvas", { class: "rs-points-canvas" }, stage);
  const overlay = svg("svg", { class: "rs-overlay-svg" }, stage);
  const axes = svg("g", {}, overlay);
  const lassoPath = svg("path", { class: "rs-lasso" }, overlay);
  const note = html("div", { class: "rs-panel-note" }, box);
  let layout = null;
  let colours = [];
  let lasso = null;
  const xyNow = [];
  function plots(frame, width) {
    const R = frame.runs.length;
    const each = (width - GAP2 * (R - 1)) / Math.max(R, 1);
    return frame.runs.map((run, r) => {
      const range = frame.head(r)?.panels?.points?.range ?? null;
      const left = r * (each + GAP2) + M.left;
      const right = r * (each + GAP2) + each - M.right;
      return {
        r,
        range,
        left,
        top: M.top,
        width: Math.max(right - left, 10),
        height: HEIGHT - M.top - M.bottom,
        x: range ? linearMap(range[0], range[1], left, right) : null,
        y: range ? linearMap(range[2], range[3], HEIGHT - M.bottom, M.top) : null
      };
    });
  }
  function drawLegend(frame) {
    clear(legend);
    const run = frame.runs[0];
    const points = run?.panels?.points;
    if (!points) return;
    if (frame.runs.length > 1) {
      frame.runs.forEach((rr, r) => {
        const chip = html("span", { class: "rs-chip" }, legend);
        html("span", { class: "rs-swatch", style: `background:${RUN_COLOURS[r % RUN_COLOURS.length]}` }, chip);
        html("span", {}, chip, `${rr.name} (${r === 0 ? "left" : r === frame.runs.length - 1 ? "right" : `plot ${r + 1}`})`);
      });
    }
    if (points.names) {
      if (points.names.length <= MAX_LABEL_COLOURS) {
        html("span", { class: "rs-legend-title" }, legend, "colour: label");
        points.names.forEach((name, c) => {
          const chip = html("span", { class: "rs-chip" }, legend);
          html("span", { class: "rs-swatch", style: `background:${LABEL_COLOURS[c % LABEL_COLOURS.length]}` }, chip);
          html("span", {}, chip, name);
        });
      } else html("span", { class: "rs-legend-title" }, legend, `colour: label (${points.names.length} labels, on a continuous scale)`);
    }
  }
  function drawAxes(frame) {
    clear(axes);
    const width = Math.max(box.clientWidth, 160);
    sizeStage(stage, canvas, overlay, width, HEIGHT);
    layout = plots(frame, width);
    for (const p of layout) {
      if (!p.range) continue;
      const xt = linearTicks(p.range[0], p.range[1], Math.max(2, Math.floor(p.width / 90)));
      const yt = linearTicks(p.range[2], p.range[3], 4);
      const xl = linearLabels(xt);
      const yl = linearLabels(yt);
      bottomAxis(axes, { x: p.x, y: HEIGHT - M.bottom, ticks: { major: xt.map((v, i) => ({ position: v, label: xl[i] })), minor: [] }, lo: p.left, hi: p.left + p.width });
      leftAxis(axes, { y: p.y, x0: p.left, ticks: yt.map((value, i) => ({ value, label: yl[i] })), lo: p.top, hi: p.top + p.height });
      svg("text", { x: px(p.left + p.width / 2), y: HEIGHT - 4, class: "rs-axis-title", "text-anchor": "middle" }, axes, "PC 1");
      svg("text", { x: px(p.left - 34), y: px(p.top + p.height / 2), class: "rs-axis-title", "text-anchor": "middle", transform: `rotate(-90 ${px(p.left - 34)} ${px(p.top + p.height / 2)})` }, axes, "PC 2");
      if (frame.runs.length > 1) svg("text", { x: px(p.left + 4), y: p.top + 12, class: "rs-run-caption", fill: RUN_COLOURS[p.r % RUN_COLOURS.length] }, axes, frame.runs[p.r].name);
    }
  }
  function drawPoints(frame) {
    const dpr = window.devicePixelRatio || 1;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const renderer = sharedRenderer();
    const notes = [];
    let waiting = false;
    title.textContent = `step ${frame.step} · layer ${frame.layer}`;
    frame.runs.forEach((run, r) => {
      const p = layout?.[r];
      const points = run.panels?.points;
      const who = frame.runs.length > 1 ? `${run.name}: ` : "";
      xyNow[r] = null;
      if (!p || !p.range || !points) {
        if (frame.head(r) && !frame.head(r).panels?.points?.range) notes.push(`${who}no 2-D points stored for this layer (scanned by an older repscope, or not activations)`);
        return;
      }
      const at = frame.stepData(r, "points");
      const why = frame.missing(r);
      if (why) {
        notes.push(`${who}${why}`);
        return;
      }
      if (!at) {
        notes.push(`${who}loading…`);
        waiting = true;
        return;
      }
      if (!at.data.has[at.offset]) {
        notes.push(`${who}no 2-D points stored at step ${frame.runStep(r)}`);
        return;
      }
      const n = points.shown.length;
      const xy = at.data.xy.subarray(at.offset * 2 * n, (at.offset + 1) * 2 * n);
      xyNow[r] = xy;
      const options = { xy, colours: colours[r], n, range: p.range, size: pointSize(n), width: p.width, height: p.height, dpr, dx: p.left, dy: p.top };
      if (renderer) renderer.draw(ctx, options);
      else {
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        drawWithCanvas(ctx, options);
        ctx.setTransform(1, 0, 0, 1, 0, 0);
      }
      if (frame.runStep(r) !== frame.step) notes.push(`${who}showing step ${frame.runStep(r)}, its last checkpoint before ${frame.step}`);
    });
    for (const run of frame.runs) if (run.panels?.points?.capped) notes.push(run.panels.points.capped);
    note.textContent = notes.join(" · ");
    if (waiting) box.dataset.pending = String(frame.step);
    else {
      delete box.dataset.pending;
      box.dataset.drawn = String(frame.step);
    }
  }
  function recolour(frame) {
    colours = frame.runs.map((run, r) => run.panels?.points ? pointColours(run.panels.points, RUN_COLOURS[r % RUN_COLOURS.length], frame.selectedSet()) : null);
  }
  function plotAt(mx) {
    return layout?.find((p) => p.range && mx >= p.left && mx <= p.left + p.width) ?? null;
  }
  function local(event) {
    const rect = overlay.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }
  overlay.addEventListener("pointerdown", (event) => {
    const [mx, my] = local(event);
    const p = plotAt(mx);
    if (!p || event.button !== 0) return;
    lasso = { p, polygon: [[mx, my]] };
    overlay.setPointerCapture?.(event.pointerId);
    event.preventDefault();
  });
  overlay.addEventListener("pointermove", (event) => {
    const [mx, my] = local(event);
    if (lasso) {
      lasso.polygon.push([mx, my]);
      lassoPath.setAttribute("d", `M${lasso.polygon.map(([a, b]) => `${px(a)} ${px(b)}`).join("L")}Z`);
      return;
    }
    hover(mx, my, event);
  });
  overlay.addEventListener("pointerleave", () => view.tooltip.hide());
  overlay.addEventListener("pointerup", () => {
    if (!lasso) return;
    const { p, polygon } = lasso;
    lasso = null;
    lassoPath.setAttribute("d", "");
    const frame = view.frame();
    const xy = xyNow[p.r];
    const points = frame.runs[p.r]?.panels?.points;
    const w = Math.max(...polygon.map((q) => q[0])) - Math.min(...polygon.map((q) => q[0]));
    const h = Math.max(...polygon.map((q) => q[1])) - Math.min(...polygon.map((q) => q[1]));
    if (polygon.length < 3 || w * h < 16 || !xy || !points) {
      if (frame.selected.length) view.setState({ selected: [] });
      return;
    }
    const inData = polygon.map(([a, b]) => [p.x.invert(a), p.y.invert(b)]);
    const positions = selectInPolygon(xy, inData);
    const chosen = Array.from(new Set(positions.map((i) => points.shown[i]))).sort((a, b) => a - b);
    view.setState({ selected: chosen });
  });
  function hover(mx, my, event) {
    const p = plotAt(mx);
    const frame = view.frame();
    const xy = p ? xyNow[p.r] : null;
    const points = p ? frame.runs[p.r]?.panels?.points : null;
    if (!p || !xy || !points) return view.tooltip.hide();
    let best = -1;
    let gap = 64;
    for (let i = 0; i < xy.length / 2; i += 1) {
      const dx = p.x(xy[2 * i]) - mx;
      const dy = p.y(xy[2 * i + 1]) - my;
      const d = dx * dx + dy * dy;
      if (d < gap) {
        gap = d;
        best = i;
      }
    }
    if (best < 0) return view.tooltip.hide();
    const index = points.shown[best];
    const lines = [`probe input ${index}`];
    if (points.codes && points.names) lines.push(`label ${points.names[points.codes[best]]}`);
    if (points.texts) lines.push(points.texts[best]);
    view.tooltip.show(event, lines);
  }
  return {
    draw(frame, changed) {
      if (["size", "runs", "layer", "data"].some((c) => changed.has(c))) drawAxes(frame);
      if (["runs", "selected", "layer", "data"].some((c) => changed.has(c)) || colours.length !== frame.runs.length) recolour(frame);
      if (changed.has("runs")) drawLegend(frame);
      drawPoints(frame);
    },
    destroy() {
    }
  };
}

// src/panels/spectrum.js
var HEIGHT2 = 330;
var M2 = { top: 10, bottom: 40, left: 58, right: 14 };
var FIT_COLOURS = ["#d62728", "#111111"];
function createSpectrum(box, spec, view) {
  const title = html("div", { class: "rs-panel-title" }, box);
  const info = html("div", { class: "rs-panel-help rs-spectrum-fit" }, box);
  const svgNode = svg("svg", { class: "rs-spectrum" }, box);
  const axes = svg("g", {}, svgNode);
  const data = svg("g", {}, svgNode);
  const note = html("div", { class: "rs-panel-note" }, box);
  let layout = null;
  function frameOf(frame) {
    const heads = frame.runs.map((_, r) => frame.head(r)?.panels?.spectrum).filter(Boolean);
    if (!heads.length) return null;
    return {
      lo: Math.min(...heads.map((h) => h.range[0])),
      hi: Math.max(...heads.map((h) => h.range[1])),
      kmax: Math.max(...heads.map((h) => h.kmax)),
      floor: Math.min(...heads.map((h) => h.floor)),
      kind: heads[0].kind
    };
  }
  function drawAxes(frame) {
    clear(axes);
    layout = null;
    const f = frameOf(frame);
    const width = Math.max(box.clientWidth, 160);
    svgNode.setAttribute("width", width);
    svgNode.setAttribute("height", HEIGHT2);
    title.textContent = f ? `eigenspectrum (${f.kind})` : "eigenspectrum";
    if (!f) return;
    const x = linearMap(0, Math.log10(Math.max(f.kmax, 2)) + 0.04, M2.left, width - M2.right);
    const y = linearMap(Math.log10(f.lo), Math.log10(f.hi), HEIGHT2 - M2.bottom, M2.top);
    const xt = logTicks(1, Math.max(f.kmax, 2), width - M2.left - M2.right, compact);
    bottomAxis(axes, {
      x,
      y: HEIGHT2 - M2.bottom,
      ticks: { major: xt.major.map((t) => ({ position: Math.log10(t.value), label: t.label })), minor: xt.minor.map((v) => ({ position: Math.log10(v) })) },
      gridTop: M2.top,
      lo: M2.left,
      hi: width - M2.right
    });
    const yt = logTicks(f.lo, f.hi, HEIGHT2 - M2.top - M2.bottom, powerOfTen, 22);
    leftAxis(axes, {
      y: (v) => y(Math.log10(v)),
      x0: M2.left,
      ticks: yt.major,
      minor: yt.minor,
      gridRight: width - M2.right,
      lo: M2.top,
      hi: HEIGHT2 - M2.bottom
    });
    svg("text", { x: px((M2.left + width - M2.right) / 2), y: HEIGHT2 - 5, class: "rs-axis-title", "text-anchor": "middle" }, axes, "rank i (log scale)");
    svg("text", { x: 12, y: px((M2.top + HEIGHT2 - M2.bottom) / 2), class: "rs-axis-title", "text-anchor": "middle", transform: `rotate(-90 12 ${px((M2.top + HEIGHT2 - M2.bottom) / 2)})` }, axes, "λᵢ / Σλ (log scale)");
    layout = { x, y, f, width };
  }
  function drawStep(frame) {
    clear(data);
    const fits = [];
    let below = 0;
    let missing = 0;
    if (!layout) {
      info.textContent = "";
      note.textContent = frame.runs.length ? "loading…" : "";
      return;
    }
    const { x, y, f } = layout;
    const many = frame.runs.length > 1;
    frame.runs.forEach((run, r) => {
      const at = frame.stepData(r, "spectrum");
      if (!at) {
        missing += 1;
        return;
      }
      const K = at.data.values.shape[1];
      const values = at.data.values.subarray(at.offset * K, (at.offset + 1) * K);
      const xs = [];
      const ys = [];
      const floorXs = [];
      for (let i = 0; i < K; i += 1) {
        const v = values[i];
        if (!Number.isFinite(v)) continue;
        if (v < f.lo) {
          floorXs.push(x(Math.log10(i + 1)));
          below += 1;
          continue;
        }
        xs.push(x(Math.log10(i + 1)));
        ys.push(y(Math.log10(v)));
      }
      const colour = RUN_COLOURS[r % RUN_COLOURS.length];
      svg("path", { d: dotsPath(xs, ys), stroke: colour, class: "rs-spectrum-dots" }, data);
      if (floorXs.length) {
        const base = HEIGHT2 - M2.bottom - 2;
        const d = floorXs.map((fx) => `M${px(fx - 3)} ${base}L${px(fx + 3)} ${base}L${px(fx)} ${base - 5}Z`).join("");
        svg("path", { d, fill: colour, class: "rs-floor-marks" }, data);
      }
      const [alpha, r2, intercept, first, last] = at.data.fit.subarray(at.offset * 5, at.offset * 5 + 5);
      const who = many ? `${run.name}: ` : "";
      const shownStep = frame.runStep(r);
      const when = shownStep !== frame.step ? ` (step ${shownStep})` : "";
      if (Number.isFinite(alpha) && Number.isFinite(intercept)) {
        const fx = [];
        const fy = [];
        for (let i = first; i <= last; i += Math.max(1, (last - first) / 60)) {
          fx.push(x(Math.log10(i)));
          fy.push(y(intercept / Math.LN10 - alpha * Math.log10(i)));
        }
        const d = linePath(fx, fy);
        svg("path", { d, class: "rs-fit-halo" }, data);
        svg("path", { d, stroke: FIT_COLOURS[many ? 1 : 0], class: "rs-fit", "stroke-dasharray": many ? `${6 + 3 * r} 3` : null }, data);
        fits.push(`${who}α = ${formatValue(alpha)}, R² = ${formatValue(r2)} over ranks ${first}–${last}${when}`);
      } else fits.push(`${who}no power-law fit${when}`);
    });
    info.textContent = fits.join("; ");
    const notes = [];
    if (below) notes.push(`${below} eigenvalue(s) below the numerical floor (${powerOfTen(f.floor)}) are marked ▲ on the bottom edge.`);
    if (missing) notes.push(missing === frame.runs.length ? "no spectrum at this step" : `${missing} run(s) have no spectrum at this step`);
    note.textContent = notes.join(" ");
  }
  return {
    draw(frame, changed) {
      if (["size", "runs", "layer", "data"].some((c) => changed.has(c))) drawAxes(frame);
      drawStep(frame);
    },
    destroy() {
    },
    get layout() {
      return layout;
    }
  };
}

// src/panels/registry.js
var DRAWERS = {
  lines: createLines,
  overview: createOverview,
  spectrum: createSpectrum,
  points: createPoints
};
var loaded = /* @__PURE__ */ new Map();
async function drawerOf(spec) {
  if (spec.esm) {
    if (!loaded.has(spec.esm)) {
      const url = URL.createObjectURL(new Blob([spec.esm], { type: "text/javascript" }));
      loaded.set(spec.esm, import(
        /* webpackIgnore: true */
        url
      ).then((m) => m.default ?? m.create));
    }
    return loaded.get(spec.esm);
  }
  const drawer = DRAWERS[spec.drawer];
  if (!drawer) throw new Error(`repscope: no drawer named ${JSON.stringify(spec.drawer)} (panel ${spec.name})`);
  return drawer;
}

// src/style.js
var CSS = `
.repscope { position: relative; font: 12px/1.35 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; background: #fff; width: 100%; box-sizing: border-box; padding: 4px 2px; }
.repscope *, .repscope *::before, .repscope *::after { box-sizing: border-box; }
.repscope:focus { outline: none; }
.repscope .rs-controls { display: flex; align-items: center; gap: 10px; width: 100%; flex-wrap: wrap; }
.repscope .rs-play { width: 34px; height: 26px; border: 1px solid #bbb; border-radius: 4px; background: #f6f6f6; cursor: pointer; font-size: 13px; }
.repscope .rs-play:hover { background: #eaeaea; }
.repscope .rs-step { flex: 1 1 300px; min-width: 160px; accent-color: #1f77b4; }
.repscope .rs-step-label { min-width: 150px; font-variant-numeric: tabular-nums; white-space: nowrap; }
.repscope .rs-layer-box { display: flex; align-items: center; gap: 4px; white-space: nowrap; }
.repscope select { max-width: 320px; font: inherit; padding: 2px; }
.repscope .rs-measures { display: flex; flex-wrap: wrap; gap: 3px 4px; align-items: center; margin: 6px 0 2px; }
.repscope .rs-group-title { color: #666; margin: 0 2px 0 6px; }
.repscope .rs-group-title:first-child { margin-left: 0; }
.repscope .rs-measure { display: inline-flex; align-items: center; gap: 3px; border: 1px solid #ddd; border-radius: 10px; padding: 1px 7px 1px 3px; cursor: pointer; user-select: none; white-space: nowrap; }
.repscope .rs-measure:has(input:checked) { background: #eaf2fb; border-color: #9bbfe0; }
.repscope .rs-measure input { margin: 0; }
.repscope .rs-status { display: flex; gap: 10px; align-items: center; color: #555; min-height: 16px; flex-wrap: wrap; }
.repscope .rs-status progress { width: 160px; height: 10px; }
.repscope .rs-clear { border: none; background: none; color: #1f77b4; cursor: pointer; padding: 0; font: inherit; text-decoration: underline; }
.repscope .rs-notes { color: #8a4b00; margin: 2px 0; }
.repscope .rs-notes div { margin: 1px 0; }
.repscope .rs-panels { display: flex; flex-wrap: wrap; width: 100%; column-gap: 12px; }
.repscope .rs-panel { position: relative; min-width: 0; margin-top: 8px; }
.repscope .rs-panel-title { font-weight: 600; font-size: 12.5px; margin: 0 0 1px 2px; overflow-wrap: anywhere; }
.repscope .rs-panel-help, .repscope .rs-panel-note { color: #555; margin: 0 0 2px 2px; overflow-wrap: anywhere; }
.repscope .rs-panel-note { color: #8a4b00; min-height: 15px; }
.repscope .rs-stage { position: relative; width: 100%; }
.repscope .rs-stage canvas, .repscope .rs-stage .rs-overlay-svg { position: absolute; left: 0; top: 0; }
.repscope svg { display: block; overflow: visible; }
.repscope .rs-axis-line { stroke: #888; stroke-width: 1; }
.repscope .rs-tick { stroke: #888; stroke-width: 1; }
.repscope .rs-grid { stroke: #eee; stroke-width: 1; }
.repscope .rs-tick-label { fill: #444; font-size: 10.5px; }
.repscope .rs-axis-title { fill: #555; font-size: 11px; }
.repscope .rs-row-title { fill: #222; font-size: 11.5px; font-weight: 600; }
.repscope .rs-readout { fill: #333; font-size: 11px; font-variant-numeric: tabular-nums; }
.repscope .rs-line { fill: none; stroke-width: 1.6; stroke-linejoin: round; }
.repscope .rs-dots { fill: none; stroke-width: 4.5; stroke-linecap: round; }
.repscope .rs-gap { fill: none; stroke-width: 1.2; stroke-dasharray: 3 3; opacity: 0.55; }
.repscope .rs-whisker { fill: none; stroke-width: 1.2; opacity: 0.6; }
.repscope .rs-band { opacity: 0.18; stroke: none; }
.repscope .rs-phase-label { fill: #333; font-size: 10.5px; }
.repscope .rs-cursor-line { stroke: #333; stroke-width: 1.3; stroke-dasharray: 3 2; }
.repscope .rs-cursor-dot { stroke: #fff; stroke-width: 1; }
.repscope .rs-hover-line { stroke: #999; stroke-width: 1; }
.repscope .rs-overlay { fill: transparent; cursor: pointer; }
.repscope .rs-overlay-svg { cursor: crosshair; }
.repscope .rs-overview-step { stroke: #fff; stroke-width: 2; stroke-dasharray: 3 2; }
.repscope .rs-overview-layer { fill: none; stroke: #fff; stroke-width: 2; }
.repscope .rs-spectrum-dots { fill: none; stroke-width: 4; stroke-linecap: round; opacity: 0.85; }
.repscope .rs-fit-halo { fill: none; stroke: #fff; stroke-width: 4; opacity: 0.7; }
.repscope .rs-fit { fill: none; stroke-width: 2.2; }
.repscope .rs-lasso { fill: rgba(31, 119, 180, 0.08); stroke: #1f77b4; stroke-width: 1; stroke-dasharray: 4 2; }
.repscope .rs-legend { display: flex; flex-wrap: wrap; gap: 2px 8px; margin: 0 0 2px 2px; }
.repscope .rs-legend-title { color: #666; }
.repscope .rs-chip { display: inline-flex; align-items: center; gap: 3px; white-space: nowrap; }
.repscope .rs-swatch { display: inline-block; width: 9px; height: 9px; border-radius: 50%; }
.repscope .rs-run-caption { font-size: 11px; font-weight: 600; }
.repscope .rs-tooltip { position: fixed; z-index: 1000; pointer-events: none; background: rgba(255,255,255,0.96); border: 1px solid #bbb; border-radius: 3px; padding: 3px 6px; font-size: 11px; max-width: 360px; display: none; box-shadow: 0 1px 3px rgba(0,0,0,0.15); white-space: pre-line; overflow-wrap: anywhere; }
`;
function addStyles(doc = document) {
  if (doc.getElementById("repscope-styles")) return;
  const style = doc.createElement("style");
  style.id = "repscope-styles";
  style.textContent = CSS;
  doc.head.appendChild(style);
}

// src/view.js
var PLAY_INTERVAL = 250;
var NARROW = 720;
var STATE = ["step", "layer", "measures", "selected", "playing"];
var Tooltip = class {
  constructor(root) {
    this.node = html("div", { class: "rs-tooltip" }, root);
  }
  show(event, lines) {
    this.node.textContent = lines.join("\n");
    this.node.style.display = "block";
    const w = this.node.offsetWidth;
    const x = event.clientX + 14 + w > window.innerWidth ? event.clientX - w - 10 : event.clientX + 14;
    this.node.style.left = `${x}px`;
    this.node.style.top = `${event.clientY + 12}px`;
  }
  hide() {
    this.node.style.display = "none";
  }
};
var ScrubberView = class {
  constructor(el, model) {
    addStyles(el.ownerDocument);
    this.el = el;
    this.model = model;
    this.cache = new Cache(model.get("_budget") || DEFAULT_BUDGET);
    this.spec = null;
    this.steps = new Float64Array(0);
    this.panels = [];
    this.changed = /* @__PURE__ */ new Set(["runs"]);
    this.scheduled = false;
    this.saveScheduled = false;
    this.timer = null;
    this.destroyed = false;
    this.selectedCache = { list: null, set: /* @__PURE__ */ new Set() };
    this.build();
    this.listeners = [];
    for (const name of STATE) this.listen(`change:${name}`, () => this.onState(name));
    this.listen("msg:custom", (content, buffers) => this.onMessage(content, buffers));
    this.resize = new ResizeObserver(() => {
      const narrow = this.root.clientWidth < NARROW;
      this.root.classList.toggle("rs-narrow", narrow);
      this.layoutPanels();
      this.invalidate("size");
    });
    this.resize.observe(this.root);
    this.notice("loading…");
    this.waiting = setTimeout(() => {
      if (!this.spec) this.notice("waiting for the kernel: it is busy with another cell, or not running (then run this cell again)");
    }, 4e3);
    this.model.send({ type: "hello" });
  }
  listen(event, callback) {
    this.model.on(event, callback);
    this.listeners.push([event, callback]);
  }
  // -- the page ------------------------------------------------------------------------------
  build() {
    const root = html("div", { class: "repscope", tabindex: "0", "data-lm-suppress-shortcuts": "true" }, this.el);
    this.root = root;
    const controls = html("div", { class: "rs-controls" }, root);
    this.playButton = html("button", { class: "rs-play", type: "button", title: "play / pause (space)" }, controls, "▶");
    this.slider = html("input", { class: "rs-step", type: "range", min: 0, max: 0, step: 1, value: 0, "aria-label": "step" }, controls);
    this.stepLabel = html("span", { class: "rs-step-label" }, controls);
    const layerBox = html("label", { class: "rs-layer-box" }, controls, "layer ");
    this.layerSelect = html("select", { class: "rs-layer", "aria-label": "layer" }, layerBox);
    this.measureBox = html("div", { class: "rs-measures" }, root);
    this.status = html("div", { class: "rs-status" }, root);
    this.progress = html("progress", { max: 1, value: 0 }, this.status);
    this.progressLabel = html("span", { class: "rs-progress-label" }, this.status);
    this.selectionLabel = html("span", { class: "rs-selection" }, this.status);
    this.notes = html("div", { class: "rs-notes" }, root);
    this.panelBox = html("div", { class: "rs-panels" }, root);
    this.tooltip = new Tooltip(root);
    this.guard(root);
    this.playButton.addEventListener("click", () => this.togglePlay());
    this.slider.addEventListener("input", () => {
      this.stopPlaying();
      const step = this.steps[Number(this.slider.value)];
      if (step !== void 0) this.setState({ step });
    });
    this.layerSelect.addEventListener("change", () => this.setState({ layer: this.layerSelect.value }));
    root.addEventListener("keydown", (event) => this.onKey(event));
  }
  /** Marks the view's focusable elements so that the notebook's own shortcuts leave their keys
   * alone. Lumino skips a binding only when the attribute sits on the focused element itself
   * (or between it and a matching element); a binding whose selector ends in ":focus" matches
   * the element itself (Notebook 7 and JupyterLab take ArrowRight that way in command mode). */
  guard(root) {
    const mark = () => {
      for (const node of root.querySelectorAll("input, select, button, [tabindex]")) node.setAttribute("data-lm-suppress-shortcuts", "true");
    };
    mark();
    this.guardObserver = new MutationObserver(mark);
    this.guardObserver.observe(root, { childList: true, subtree: true });
  }
  onKey(event) {
    const target = event.target;
    if (target === this.slider || target.tagName === "SELECT" || target.tagName === "INPUT") {
      if (event.key === " " && target === this.slider) {
        event.preventDefault();
        this.togglePlay();
      }
      return;
    }
    const i = Number(this.slider.value);
    const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: this.steps.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      this.stopPlaying();
      const j = Math.min(this.steps.length - 1, Math.max(0, moves[event.key]));
      if (this.steps.length) this.setState({ step: this.steps[j] });
    } else if (event.key === " ") {
      event.preventDefault();
      this.togglePlay();
    }
  }
  notice(text) {
    clear(this.notes);
    if (text) html("div", {}, this.notes, text);
  }
  // -- state -----------------------------------------------------------------------------------
  get state() {
    const out = {};
    for (const name of STATE) out[name] = this.model.get(name);
    return out;
  }
  setState(patch) {
    for (const [k, v] of Object.entries(patch)) this.model.set(k, v);
    if (!this.saveScheduled) {
      this.saveScheduled = true;
      requestAnimationFrame(() => {
        this.saveScheduled = false;
        this.model.save_changes();
      });
    }
  }
  onState(name) {
    if (name === "playing") return this.model.get("playing") ? this.startPlaying() : this.stopPlaying(false);
    if (name === "layer" || name === "measures") this.syncControls();
    this.invalidate(name);
  }
  togglePlay() {
    this.setState({ playing: !this.model.get("playing") });
  }
  startPlaying() {
    if (this.timer !== null || !this.steps.length) return;
    this.playButton.textContent = "❚❚";
    if (nearestIndex(this.steps, this.model.get("step")) >= this.steps.length - 1) {
      this.setState({ step: this.steps[0] });
    }
    this.timer = setInterval(() => {
      const j = nearestIndex(this.steps, this.model.get("step")) + 1;
      if (j >= this.steps.length) return this.stopPlaying();
      this.setState({ step: this.steps[j] });
    }, PLAY_INTERVAL);
  }
  stopPlaying(sync = true) {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.playButton.textContent = "▶";
    if (sync && this.model.get("playing")) this.setState({ playing: false });
  }
  // -- messages --------------------------------------------------------------------------------
  onMessage(content, buffers) {
    if (this.destroyed || !content || typeof content !== "object") return;
    try {
      const message = decode(content, buffers ?? []);
      if (message.type === "runs") {
        this.runsDone = (this.runsDone ?? Promise.resolve()).then(() => this.onRuns(message)).catch((error) => {
          this.notice(`repscope could not show the runs: ${error.message}`);
          console.error(error);
        });
      } else if (message.type === "layer") {
        this.cache.putHead(message.run, message.layer, message);
        this.invalidate("data");
      } else if (message.type === "block") {
        this.cache.putBlock(message.run, message.layer, message.block, message);
        this.invalidate("data");
      } else if (message.type === "error") this.notice(message.text);
    } catch (error) {
      this.notice(`repscope could not read the data: ${error.message}`);
      console.error(error);
    }
  }
  async onRuns(message) {
    clearTimeout(this.waiting);
    const before = this.steps.length;
    const wasLast = before > 0 && this.model.get("step") === this.steps[before - 1];
    this.cache.setRuns(message.runs);
    this.spec = message;
    this.steps = unionSteps(message.runs.map((r) => r.steps));
    await this.syncPanels(message.panels);
    this.syncControls(true);
    const step = this.model.get("step");
    const last = this.steps[this.steps.length - 1];
    if (this.steps.length > before && (wasLast || before === 0 && message.live)) this.setState({ step: last });
    else if (this.steps.length && !this.steps.includes(step)) this.setState({ step: this.steps[nearestIndex(this.steps, step)] });
    this.invalidate("runs");
  }
  /** Lays out the panels the kernel names, in its order: a panel already drawn keeps its box and
   * its drawer (a live run gains panels as data arrives; nothing is rebuilt). */
  async syncPanels(specs) {
    const held = new Map(this.panels.map((p) => [p.spec.name, p]));
    const next = [];
    for (const spec of specs) {
      let panel = held.get(spec.name);
      if (!panel) {
        const box = html("div", { class: `rs-panel rs-panel-${spec.name}`, "data-panel": spec.name });
        panel = { spec, box, drawer: null };
        try {
          const create = await drawerOf(spec);
          panel.drawer = create(box, spec, this);
        } catch (error) {
          html("div", { class: "rs-panel-note" }, box, `panel ${spec.name}: ${error.message}`);
        }
      }
      next.push(panel);
    }
    for (const [name, panel] of held) {
      if (!next.includes(panel)) {
        panel.drawer?.destroy?.();
        panel.box.remove();
        held.delete(name);
      }
    }
    next.forEach((panel, i) => {
      if (this.panelBox.children[i] !== panel.box) this.panelBox.insertBefore(panel.box, this.panelBox.children[i] ?? null);
    });
    this.panels = next.filter((p) => p.drawer);
    this.layoutPanels();
  }
  layoutPanels() {
    const narrow = this.root.classList.contains("rs-narrow");
    for (const { spec, box } of this.panels) {
      const share = narrow ? 1 : spec.width ?? 1;
      box.style.flex = `0 0 calc(${(share * 100).toFixed(3)}% - ${share < 1 ? 6 : 0}px)`;
    }
  }
  // -- controls --------------------------------------------------------------------------------
  layers() {
    const out = [];
    for (const run of this.cache.runs) for (const l of run.layers) if (!out.includes(l)) out.push(l);
    return out;
  }
  curves() {
    const out = [];
    for (const run of this.cache.runs) for (const c of run.curves) if (!out.some((o) => o.name === c.name)) out.push(c);
    return out;
  }
  syncControls(rebuild = false) {
    if (!this.spec) return;
    const layers = this.layers();
    const shorts = shortNames(layers);
    let layer = this.model.get("layer");
    if (!layers.includes(layer) && layers.length) {
      layer = layers[layers.length - 1];
      this.setState({ layer });
    }
    if (rebuild || this.layerSelect.options.length !== layers.length) {
      clear(this.layerSelect);
      layers.forEach((name, i) => html("option", { value: name, title: name }, this.layerSelect, shorts[i]));
    }
    this.layerSelect.value = layer;
    this.layerSelect.title = layer;
    this.layerSelect.disabled = layers.length < 2;
    const chosen = this.model.get("measures") || [];
    if (rebuild) {
      clear(this.measureBox);
      let kind = null;
      for (const c of this.curves()) {
        if (c.kind !== kind) {
          kind = c.kind;
          html("span", { class: "rs-group-title" }, this.measureBox, kind === "measure" ? "measures:" : "training:");
        }
        const label = html("label", { class: "rs-measure", title: c.axis ?? c.label }, this.measureBox);
        const box = html("input", { type: "checkbox", value: c.name }, label);
        html("span", {}, label, c.label);
        box.addEventListener("change", () => {
          const picked = Array.from(this.measureBox.querySelectorAll("input:checked"), (b) => b.value);
          this.setState({ measures: picked });
        });
      }
    }
    for (const box of this.measureBox.querySelectorAll("input")) box.checked = chosen.includes(box.value);
    this.slider.max = String(Math.max(this.steps.length - 1, 0));
    this.slider.disabled = this.steps.length < 2;
    this.updateStatus();
  }
  updateStatus() {
    const runs = this.cache.runs;
    const done = runs.reduce((n2, r) => n2 + r.steps.length, 0);
    const expected = runs.every((r) => r.expected) ? runs.reduce((n2, r) => n2 + r.expected, 0) : null;
    const live = runs.some((r) => r.live);
    if (expected) {
      this.progress.style.display = "";
      this.progress.max = expected;
      this.progress.value = Math.min(done, expected);
      this.progressLabel.textContent = `${Math.min(done, expected)} of ${expected} checkpoints${live && done < expected ? " (training…)" : ""}`;
    } else {
      this.progress.style.display = "none";
      this.progressLabel.textContent = `${done} checkpoint${done === 1 ? "" : "s"}${runs.length > 1 ? ` in ${runs.length} runs` : ""}${live ? " (live)" : ""}`;
    }
    const n = (this.model.get("selected") || []).length;
    clear(this.selectionLabel);
    if (n) {
      html("span", {}, this.selectionLabel, `${n} probe input${n === 1 ? "" : "s"} selected `);
      const clearButton = html("button", { class: "rs-clear", type: "button" }, this.selectionLabel, "clear");
      clearButton.addEventListener("click", () => this.setState({ selected: [] }));
    }
  }
  // -- drawing ---------------------------------------------------------------------------------
  invalidate(what) {
    this.changed.add(what);
    if (this.scheduled || this.destroyed) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.draw();
    });
  }
  /** What the drawers see: the state, the runs and accessors into what is held. */
  frame() {
    const s = this.state;
    const runs = this.cache.runs;
    const step = s.step;
    const layer = s.layer;
    const index = runs.map((run) => atOrBefore(run.steps, step));
    const view = this;
    const lo = this.steps.length ? stepPosition(this.steps[0]) : 0;
    const hi = this.steps.length ? stepPosition(this.steps[this.steps.length - 1]) : 1;
    const pad = Math.max((hi - lo) * 0.02, 0.04);
    const longest = Math.max(0, ...shortNames(this.layers()).map((n) => n.length));
    return {
      runs,
      steps: this.steps,
      step,
      layer,
      measures: s.measures || [],
      selected: s.selected || [],
      playing: s.playing,
      xDomain: [lo - pad, hi + pad],
      // right: the overview's colour bar and its labels ("−0.01143": 8 characters) fit
      margin: { left: Math.min(170, Math.max(62, 16 + 6.3 * longest)), right: 80 },
      head(r) {
        const run = runs[r];
        if (!run || !run.layers.includes(layer)) return null;
        return view.cache.head(r, layer);
      },
      runStep(r) {
        return index[r] >= 0 ? runs[r].steps[index[r]] : null;
      },
      stepData(r, panel) {
        if (index[r] < 0 || !this.head(r)) return null;
        const block = view.cache.block(r, layer, index[r]);
        if (!block || !block.panels[panel]) return null;
        return { data: block.panels[panel], offset: index[r] - block.start };
      },
      missing(r) {
        const run = runs[r];
        if (index[r] < 0) return `no checkpoint yet at step ${step}`;
        const at = run.steps[index[r]];
        const failed = run.failed?.[String(at)];
        if (failed) return `step ${at} failed: ${failed}`;
        if (!run.layers.includes(layer)) return `no layer ${layer} in this run`;
        return null;
      },
      phases() {
        return this.head(0)?.panels?.curves?.phases ?? [];
      },
      curve(name) {
        for (const run of runs) {
          const c = run.curves.find((x) => x.name === name);
          if (c) return c;
        }
        return null;
      },
      shortLayers(r) {
        return shortNames(runs[r].layers);
      },
      selectedSet() {
        const list = s.selected || [];
        if (view.selectedCache.list !== list) view.selectedCache = { list, set: new Set(list) };
        return view.selectedCache.set;
      }
    };
  }
  /** Ask for what the step shown needs and is not held: the layer's head, the step's block and
   * its neighbours (ahead while playing). */
  request(frame) {
    frame.runs.forEach((run, r) => {
      if (!run.layers.includes(frame.layer)) return;
      const head = this.cache.head(r, frame.layer);
      if (!head || head.stale) {
        if (this.cache.claim("layer", r, frame.layer, run.version)) this.model.send({ type: "layer", run: r, layer: frame.layer });
        if (!head) return;
      }
      const i = Math.max(0, atOrBefore(run.steps, frame.step));
      const b = Math.floor(i / head.blocks.size);
      const wanted = [b, b + 1, b - 1];
      if (frame.playing) wanted.push(b + 2);
      const keep = /* @__PURE__ */ new Set();
      for (const w of wanted) {
        if (w < 0 || w >= Math.ceil(run.steps.length / head.blocks.size)) continue;
        keep.add(key(r, frame.layer, w));
        const block = this.cache.blocks.get(key(r, frame.layer, w));
        if ((!block || block.stale) && this.cache.claim("block", r, frame.layer, w, run.version)) {
          this.model.send({ type: "block", run: r, layer: frame.layer, block: w });
        }
      }
      this.cache.evict(frame.layer, i, keep);
    });
  }
  draw() {
    if (this.destroyed || !this.spec) return;
    if (this.root.clientWidth === 0) return;
    const changed = this.changed;
    this.changed = /* @__PURE__ */ new Set();
    const frame = this.frame();
    this.request(frame);
    this.drawControls(frame);
    if (changed.has("runs") || changed.has("layer") || changed.has("data")) this.drawNotes(frame);
    for (const p of this.panels) {
      try {
        p.drawer.draw(frame, changed);
      } catch (error) {
        console.error(error);
        p.box.dataset.error = error.message;
      }
    }
    this.root.dataset.step = String(frame.step);
    this.root.dataset.layer = frame.layer;
  }
  drawControls(frame) {
    const i = nearestIndex(this.steps, frame.step);
    if (Number(this.slider.value) !== i) this.slider.value = String(Math.max(i, 0));
    const n = this.steps.length;
    this.stepLabel.textContent = n ? `step ${frame.step.toLocaleString("en-US")} · ${i + 1} of ${n}` : "no checkpoints yet";
    this.updateStatus();
  }
  drawNotes(frame) {
    clear(this.notes);
    const lines = [];
    for (const run of frame.runs) for (const n of run.notes ?? []) lines.push(n);
    frame.runs.forEach((_, r) => {
      const head = frame.head(r);
      for (const n of head?.notes ?? []) lines.push(n);
    });
    if (!frame.runs.some((r) => r.steps.length)) lines.push(this.spec.empty ?? "no results stored yet");
    for (const line of lines) html("div", {}, this.notes, line);
  }
  destroy() {
    this.destroyed = true;
    this.stopPlaying(false);
    clearTimeout(this.waiting);
    this.resize.disconnect();
    this.guardObserver.disconnect();
    for (const [event, callback] of this.listeners) this.model.off(event, callback);
    for (const p of this.panels) p.drawer?.destroy?.();
    this.el.removeChild(this.root);
  }
};
function mount(el, model) {
  const view = new ScrubberView(el, model);
  return () => view.destroy();
}

// src/index.js
function render({ model, el }) {
  return mount(el, model);
}
function mountStatic(el, page) {
  return mount(el, new StaticModel(page.state, page));
}
var index_default = { render };
export {
  PLAY_INTERVAL,
  StaticModel,
  index_default as default,
  mount,
  mountStatic
};

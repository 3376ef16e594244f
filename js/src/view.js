// The scrubber's view: controls, notes and panels, drawn from what the browser holds. The state
// (step, layer, measures, selected, playing) lives in the model: the widget's synchronised state in
// Jupyter, a StaticModel in an exported page. The data arrives as messages (runs, layer heads,
// blocks of steps) answering the view's requests. A step is drawn from what is held, without a
// round trip; drawing happens once per animation frame, whatever number of events came in.
import { Cache, DEFAULT_BUDGET, key } from "./cache.js";
import { decode } from "./decode.js";
import { clear, html } from "./dom.js";
import { shortNames } from "./names.js";
import { drawerOf } from "./panels/registry.js";
import { stepPosition } from "./scale.js";
import { atOrBefore, nearestIndex, unionSteps } from "./steps.js";
import { addStyles } from "./style.js";

/** Milliseconds between steps while playing (the widget and the page alike). */
export const PLAY_INTERVAL = 250;
/** Below this width (px) the panels are stacked one per row. */
const NARROW = 720;
const STATE = ["step", "layer", "measures", "selected", "playing"];

class Tooltip {
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
}

export class ScrubberView {
  constructor(el, model) {
    addStyles(el.ownerDocument);
    this.el = el;
    this.model = model;
    this.cache = new Cache(model.get("_budget") || DEFAULT_BUDGET);
    this.spec = null;
    this.steps = new Float64Array(0);
    this.panels = [];
    this.changed = new Set(["runs"]);
    this.scheduled = false;
    this.saveScheduled = false;
    this.timer = null;
    this.destroyed = false;
    this.selectedCache = { list: null, set: new Set() };
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
    }, 4000);
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
      if (step !== undefined) this.setState({ step });
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
        // one at a time, in order: a live run's next runs message waits for this one's panels
        this.runsDone = (this.runsDone ?? Promise.resolve()).then(() => this.onRuns(message)).catch((error) => {
          this.notice(`repscope could not show the runs: ${error.message}`);
          console.error(error);
        });
      }
      else if (message.type === "layer") {
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
    // following the newest step (a live run): go on following it
    if (this.steps.length > before && (wasLast || (before === 0 && message.live))) this.setState({ step: last });
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
      const share = narrow ? 1 : (spec.width ?? 1);
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
    const done = runs.reduce((n, r) => n + r.steps.length, 0);
    const expected = runs.every((r) => r.expected) ? runs.reduce((n, r) => n + r.expected, 0) : null;
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
      },
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
      const keep = new Set();
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
    if (this.root.clientWidth === 0) return; // not on the page yet: the resize observer calls back
    const changed = this.changed;
    this.changed = new Set();
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
}

/** Draws the scrubber of `model` into `el`; returns the function that takes it down. */
export function mount(el, model) {
  const view = new ScrubberView(el, model);
  return () => view.destroy();
}

// The model of an exported page: the same interface as the widget's model (get, set, on, off,
// save_changes, send), with the state in the page and the kernel's answers recorded beside it. A
// request is answered from the recording, so the page runs the widget's own code.
import { fromBase64 } from "./decode.js";

export class StaticModel {
  constructor(state, recording) {
    this.state = { ...state };
    this.handlers = new Map();
    this.answers = new Map();
    for (const message of recording.messages) this.answers.set(StaticModel.keyOf(message.content), message);
  }

  static keyOf(content) {
    if (content.type === "runs") return "hello";
    if (content.type === "layer") return `layer\u0000${content.run}\u0000${content.layer}`;
    if (content.type === "block") return `block\u0000${content.run}\u0000${content.layer}\u0000${content.block}`;
    return `other\u0000${content.type}`;
  }

  get(name) {
    return this.state[name];
  }

  set(name, value) {
    if (this.state[name] === value) return;
    this.state[name] = value;
    this.emit(`change:${name}`);
  }

  save_changes() {}

  on(event, callback) {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event).add(callback);
  }

  off(event, callback) {
    this.handlers.get(event)?.delete(callback);
  }

  emit(event, ...args) {
    for (const callback of [...(this.handlers.get(event) ?? [])]) callback(...args);
  }

  send(request) {
    const k = request.type === "hello" ? "hello" : StaticModel.keyOf(request);
    const answer = this.answers.get(k);
    if (!answer) return;
    setTimeout(() => {
      if (!answer.decoded) answer.decoded = answer.buffers.map(fromBase64);
      this.emit("msg:custom", answer.content, answer.decoded);
    }, 0);
  }
}

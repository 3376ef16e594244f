// repscope's scrubber: one ES module for both hosts. In Jupyter, anywidget calls render() with the
// widget's model; an exported page calls mountStatic() with the state and the data it holds.
import { StaticModel } from "./static.js";
import { PLAY_INTERVAL, mount } from "./view.js";

function render({ model, el }) {
  return mount(el, model);
}

/** Draws an exported view into `el` from its recorded state and data. */
export function mountStatic(el, page) {
  return mount(el, new StaticModel(page.state, page));
}

export { mount, StaticModel, PLAY_INTERVAL };
export default { render };

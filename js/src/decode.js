// Messages from the kernel (or from the exported page): JSON with binary arrays beside it. An
// array is written in the JSON as {"$buffer": i, "dtype": "float32", "shape": [...]}, where i
// indexes the message's buffers; decode() puts typed arrays in those places. Pure.

const TYPES = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint8: Uint8Array,
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
    // unaligned in the message: copy it out
    array = new Type(view.buffer.slice(view.byteOffset, view.byteOffset + bytes));
  }
  array.shape = ref.shape;
  return array;
}

/** The message with every buffer reference replaced by its typed array (arrays carry .shape). */
export function decode(content, buffers = []) {
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

/** Bytes of the typed arrays in a decoded value (what the browser holds for it). */
export function sizeOf(value) {
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (Array.isArray(value)) return value.reduce((n, v) => n + sizeOf(v), 0);
  if (value && typeof value === "object") {
    return Object.values(value).reduce((n, v) => n + sizeOf(v), 0);
  }
  return 0;
}

/** An ArrayBuffer from base64 text (how the exported page stores buffers). */
export function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return new DataView(out.buffer);
}

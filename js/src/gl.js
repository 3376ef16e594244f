// Points in WebGL2, through one context per page. Browsers allow 8-16 live WebGL contexts per
// page and drop the oldest beyond that; a notebook with a dozen scrubbers would lose plots. So
// every points view of the page draws with one shared, off-screen WebGL2 context (kept on
// globalThis: each widget loads its own copy of this module) and copies the frame onto its own
// 2-D canvas. Without WebGL2 the points are drawn with the 2-D canvas instead.

const VERTEX = `#version 300 es
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

const FRAGMENT = `#version 300 es
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

class SharedRenderer {
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
}

/** The page's one renderer (or null without WebGL2). */
export function sharedRenderer() {
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

/** The same picture with the 2-D canvas (no WebGL2): squares, one colour at a time. */
export function drawWithCanvas(ctx, { xy, colours, n, range, size, width, height, dx = 0, dy = 0 }) {
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

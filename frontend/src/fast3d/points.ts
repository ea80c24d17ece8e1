// The embedding scatter's renderer (part of static/fast3d.js, loaded by views/embedding.ts only when a page
// shows an embedding window): up to 100,000 points in 2-D or 3-D with three.js in WebGL, made cheap for
// software WebGL (SwiftShader, where headless Chromium without a GPU draws):
// - one draw call of THREE.Points with a raw shader: position (float32 x 3) and colour (uint8 x 3,
//   normalized) per vertex, a fixed point size, no texture, no discard, no lighting: the fragment shader
//   writes its colour and nothing else;
// - rotation, pan and zoom are only the camera's matrices (uniforms): no per-frame work per point on the CPU;
// - frames are drawn only on a change (a drag, a wheel, new data), at devicePixelRatio 1, into an opaque
//   canvas the size of the window's body;
// - highlighted points (search matches, the selected point and its neighbours) are a second, small Points
//   object drawn on top with larger points.
// - while the camera moves on slow WebGL, a uniform random subset of the points is drawn, and every point
//   again once the camera stops (fast3d/lod.ts, shared with the plotly windows' 3-D scatter).
// Picking (hover, click) projects the points on the CPU once per camera change, when first asked.

import {
  BufferAttribute,
  BufferGeometry,
  Color,
  OrthographicCamera,
  PerspectiveCamera,
  Points,
  RawShaderMaterial,
  Scene,
  WebGLRenderer,
  LinearSRGBColorSpace,
} from "three";
import { MovingDetail, MIN_MOVING, permuted, shuffled } from "./lod";

const VERTEX = `precision highp float;
uniform mat4 projectionMatrix;
uniform mat4 modelViewMatrix;
uniform float size;
attribute vec3 position;
attribute vec3 color;
varying lowp vec3 vColor;
void main() {
  vColor = color;
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
  gl_PointSize = size;
}`;
const FRAGMENT = `precision lowp float;
varying lowp vec3 vColor;
void main() { gl_FragColor = vec4(vColor, 1.0); }`;

function material(size: number): RawShaderMaterial {
  return new RawShaderMaterial({ vertexShader: VERTEX, fragmentShader: FRAGMENT, uniforms: { size: { value: size } } });
}

export interface PointsView {
  theta: number;
  phi: number;
  radius: number;
  zoom: number;
  panX: number;
  panY: number;
}

export class PointsScene {
  readonly canvas: HTMLCanvasElement;
  /** called after the camera moved (views move their tooltip) */
  onView: (() => void) | null = null;
  /** a click that was no drag: the point under it (-1: none) */
  onClick: ((i: number) => void) | null = null;
  private renderer: WebGLRenderer;
  private scene = new Scene();
  private persp = new PerspectiveCamera(35, 1, 0.05, 100);
  private ortho = new OrthographicCamera(-1, 1, 1, -1, -10, 10);
  private geo = new BufferGeometry();
  private points: Points;
  private hiGeo = new BufferGeometry();
  private hi: Points;
  private pos = new Float32Array(0); // the points' positions in the view box, in their order
  private gpuPos: Float32Array | null = null; // the same in the GPU's order (a random one past MIN_MOVING)
  private order: Uint32Array | null = null; // GPU slot -> point
  private n = 0;
  dims: 2 | 3 = 3;
  private v: PointsView = { theta: 0.8, phi: 0.5, radius: 3.6, zoom: 1, panX: 0, panY: 0 };
  private w = 1;
  private h = 1;
  private pending = 0;
  private drag: { x: number; y: number; moved: number } | null = null;
  private screen: Float32Array | null = null; // x, y, depth per point at the last camera (null: stale)
  /** frames drawn (tests and benchmarks) */
  frames = 0;
  /** points drawn while the camera moves (adaptive; n when frames keep up); false: always every point */
  adaptive = true;
  private detail = new MovingDetail(() => this.request());

  constructor(host: HTMLElement) {
    this.renderer = new WebGLRenderer({ antialias: false, alpha: false, stencil: false, preserveDrawingBuffer: false, powerPreference: "high-performance" });
    this.renderer.setPixelRatio(1);
    this.renderer.outputColorSpace = LinearSRGBColorSpace;
    this.canvas = this.renderer.domElement;
    this.canvas.className = "lp-embed-gl";
    host.append(this.canvas);
    this.points = new Points(this.geo, material(2));
    this.points.frustumCulled = false;
    this.hi = new Points(this.hiGeo, material(6));
    this.hi.frustumCulled = false;
    this.hi.renderOrder = 1;
    (this.hi.material as RawShaderMaterial).depthTest = false;
    this.scene.add(this.points, this.hi);
    this.persp.up.set(0, 0, 1);
    this.canvas.addEventListener("mousedown", this.onDown);
    this.canvas.addEventListener("wheel", this.onWheel, { passive: false });
    this.canvas.addEventListener("dblclick", this.onReset);
  }

  setBackground(css: string): void {
    this.renderer.setClearColor(new Color(css), 1);
    this.request();
  }

  setSize(w: number, h: number): void {
    w = Math.max(1, Math.floor(w));
    h = Math.max(1, Math.floor(h));
    if (w === this.w && h === this.h && this.canvas.width === w) return;
    this.w = w;
    this.h = h;
    this.renderer.setSize(w, h);
    this.screen = null;
    this.request();
  }

  /** New positions (n x 3, any scale: fitted into the view box) in 2 or 3 dimensions. */
  setData(coords: ArrayLike<number>, stride: number, dims: 2 | 3): void {
    const n = Math.floor(coords.length / stride);
    const pos = this.pos.length === n * 3 ? this.pos : new Float32Array(n * 3);
    const lo = [Infinity, Infinity, Infinity];
    const hi = [-Infinity, -Infinity, -Infinity];
    const use = Math.min(dims, stride);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < use; a++) {
        const v = coords[i * stride + a];
        if (v < lo[a]) lo[a] = v;
        if (v > hi[a]) hi[a] = v;
      }
    }
    // one scale for every axis (distances keep their meaning), centred
    let span = 0;
    for (let a = 0; a < use; a++) span = Math.max(span, hi[a] - lo[a]);
    const s = span > 0 ? 2 / span : 1;
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < 3; a++) pos[i * 3 + a] = a < use ? (coords[i * stride + a] - (lo[a] + hi[a]) / 2) * s : 0;
    }
    const fresh = pos !== this.pos || this.dims !== dims || this.n !== n;
    this.pos = pos;
    this.n = n;
    this.dims = dims;
    // the GPU holds the points in a fixed random order, so that its first m are a uniform sample (drawn while
    // the camera moves) and every draw is a plain one (an index buffer costs software WebGL more)
    if (this.order?.length !== n) this.order = n > MIN_MOVING ? shuffled(n) : null;
    const gpu = this.order ? permuted(pos, this.order, this.gpuPos) : pos;
    this.gpuPos = gpu;
    const attr = this.geo.getAttribute("position") as BufferAttribute | undefined;
    if (fresh || !attr || attr.array !== gpu) this.geo.setAttribute("position", new BufferAttribute(gpu, 3));
    else attr.needsUpdate = true;
    if (!this.geo.getAttribute("color") || (this.geo.getAttribute("color") as BufferAttribute).count !== n) this.geo.setAttribute("color", new BufferAttribute(new Uint8Array(n * 3).fill(90), 3, true));
    this.geo.setDrawRange(0, n);
    this.detail.reset();
    (this.points.material as RawShaderMaterial).uniforms.size.value = n > 20000 ? 2 : n > 2000 ? 3 : 4;
    (this.points.material as RawShaderMaterial).depthTest = dims === 3;
    this.screen = null;
    this.request();
  }

  /** Colours, n x 3 bytes (in the points' order). */
  setColors(rgb: Uint8Array): void {
    if (this.order && this.order.length * 3 === rgb.length) rgb = permuted(rgb, this.order);
    const attr = this.geo.getAttribute("color") as BufferAttribute | undefined;
    if (attr && attr.count * 3 === rgb.length) {
      (attr.array as Uint8Array).set(rgb);
      attr.needsUpdate = true;
    } else this.geo.setAttribute("color", new BufferAttribute(rgb, 3, true));
    this.request();
  }

  /** Points drawn larger on top, each with its colour (bytes). */
  setHighlight(index: ArrayLike<number>, rgb: Uint8Array): void {
    const m = index.length;
    const pos = new Float32Array(m * 3);
    for (let k = 0; k < m; k++) pos.set(this.pos.subarray(index[k] * 3, index[k] * 3 + 3), k * 3);
    this.hiGeo.setAttribute("position", new BufferAttribute(pos, 3));
    this.hiGeo.setAttribute("color", new BufferAttribute(rgb, 3, true));
    this.hiGeo.setDrawRange(0, m);
    this.request();
  }

  view(): PointsView {
    return { ...this.v };
  }

  setView(v: Partial<PointsView>): void {
    Object.assign(this.v, v);
    this.moved();
  }

  private moved(): void {
    this.screen = null;
    if (this.adaptive && this.order) this.detail.moved(this.n);
    this.request();
    this.onView?.();
  }

  private onDown = (e: MouseEvent): void => {
    if (e.button !== 0) return;
    e.preventDefault();
    this.drag = { x: e.clientX, y: e.clientY, moved: 0 };
    window.addEventListener("mousemove", this.onMove);
    window.addEventListener("mouseup", this.onUp);
  };
  private onMove = (e: MouseEvent): void => {
    if (!this.drag) return;
    const dx = e.clientX - this.drag.x;
    const dy = e.clientY - this.drag.y;
    this.drag.x = e.clientX;
    this.drag.y = e.clientY;
    this.drag.moved += Math.abs(dx) + Math.abs(dy);
    if (this.dims === 3) {
      this.v.theta -= dx * 0.01;
      this.v.phi = Math.max(-1.55, Math.min(1.55, this.v.phi + dy * 0.01));
    } else {
      const k = 2 / (Math.min(this.w, this.h) * this.v.zoom) * 1.1;
      this.v.panX -= dx * k;
      this.v.panY += dy * k;
    }
    this.moved();
  };
  private onUp = (e: MouseEvent): void => {
    const click = this.drag && this.drag.moved < 4;
    this.drag = null;
    window.removeEventListener("mousemove", this.onMove);
    window.removeEventListener("mouseup", this.onUp);
    if (click && this.onClick) {
      const r = this.canvas.getBoundingClientRect();
      this.onClick(this.pick(e.clientX - r.left, e.clientY - r.top));
    }
  };
  private onWheel = (e: WheelEvent): void => {
    e.preventDefault();
    const f = Math.exp(-e.deltaY * 0.001);
    if (this.dims === 3) this.v.radius = Math.max(0.5, Math.min(30, this.v.radius / f));
    else this.v.zoom = Math.max(0.2, Math.min(200, this.v.zoom * f));
    this.moved();
  };
  private onReset = (): void => {
    this.v = { theta: 0.8, phi: 0.5, radius: 3.6, zoom: 1, panX: 0, panY: 0 };
    this.moved();
  };

  /** Render on the next animation frame (once however many changes came before it). */
  request(): void {
    if (!this.pending) this.pending = requestAnimationFrame(() => this.render());
  }

  private camera(): PerspectiveCamera | OrthographicCamera {
    const aspect = this.w / this.h;
    if (this.dims === 3) {
      const { theta, phi, radius } = this.v;
      const c = Math.cos(phi);
      this.persp.aspect = aspect;
      this.persp.position.set(radius * c * Math.cos(theta), radius * c * Math.sin(theta), radius * Math.sin(phi));
      this.persp.lookAt(0, 0, 0);
      this.persp.updateProjectionMatrix();
      this.persp.updateMatrixWorld();
      return this.persp;
    }
    const half = 1.1 / this.v.zoom;
    const o = this.ortho;
    o.left = this.v.panX - half * Math.max(1, aspect);
    o.right = this.v.panX + half * Math.max(1, aspect);
    o.top = this.v.panY + half / Math.min(1, aspect);
    o.bottom = this.v.panY - half / Math.min(1, aspect);
    o.position.set(0, 0, 5);
    o.lookAt(0, 0, 0);
    o.updateProjectionMatrix();
    o.updateMatrixWorld();
    return o;
  }

  render(): void {
    if (this.pending) cancelAnimationFrame(this.pending);
    this.pending = 0;
    this.geo.setDrawRange(0, this.detail.count(this.n));
    this.renderer.render(this.scene, this.camera());
    this.frames++;
  }

  /** The point nearest to (x, y) in canvas pixels within `radius` (the front one in 3-D); -1 if none. */
  pick(x: number, y: number, radius = 6): number {
    if (!this.n) return -1;
    const s = this.screenCoords();
    let best = -1;
    let bestD = Infinity;
    const r2 = radius * radius;
    for (let i = 0; i < this.n; i++) {
      const dx = s[i * 3] - x;
      const dy = s[i * 3 + 1] - y;
      const d2 = dx * dx + dy * dy;
      if (d2 > r2) continue;
      // in 3-D the nearest to the eye among those under the pointer; in 2-D the nearest on screen
      const key = this.dims === 3 ? s[i * 3 + 2] + d2 * 1e-6 : d2;
      if (key < bestD) {
        bestD = key;
        best = i;
      }
    }
    return best;
  }

  /** Where point i is on the canvas (px), for a tooltip. */
  at(i: number): [number, number] {
    const s = this.screenCoords();
    return [s[i * 3], s[i * 3 + 1]];
  }

  private screenCoords(): Float32Array {
    if (this.screen && this.screen.length === this.n * 3) return this.screen;
    const cam = this.camera();
    const m = cam.projectionMatrix.clone().multiply(cam.matrixWorldInverse).elements;
    const out = new Float32Array(this.n * 3);
    const p = this.pos;
    const { w, h } = this;
    for (let i = 0; i < this.n; i++) {
      const x = p[i * 3];
      const y = p[i * 3 + 1];
      const z = p[i * 3 + 2];
      const cw = m[3] * x + m[7] * y + m[11] * z + m[15];
      const cx = (m[0] * x + m[4] * y + m[8] * z + m[12]) / cw;
      const cy = (m[1] * x + m[5] * y + m[9] * z + m[13]) / cw;
      const cz = (m[2] * x + m[6] * y + m[10] * z + m[14]) / cw;
      out[i * 3] = ((cx + 1) / 2) * w;
      out[i * 3 + 1] = ((1 - cy) / 2) * h;
      out[i * 3 + 2] = cz;
    }
    this.screen = out;
    return out;
  }

  /** The picture as a PNG (rendered now: the WebGL buffer is read in the same task). */
  png(): Promise<Blob | null> {
    this.render();
    const out = document.createElement("canvas");
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    out.getContext("2d")!.drawImage(this.canvas, 0, 0);
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }

  /** Points drawn in the last frame. */
  drawn(): number {
    return this.detail.count(this.n);
  }

  destroy(): void {
    this.detail.destroy();
    if (this.pending) cancelAnimationFrame(this.pending);
    this.pending = 0;
    window.removeEventListener("mousemove", this.onMove);
    window.removeEventListener("mouseup", this.onUp);
    this.geo.dispose();
    this.hiGeo.dispose();
    (this.points.material as RawShaderMaterial).dispose();
    (this.hi.material as RawShaderMaterial).dispose();
    this.renderer.dispose();
    this.renderer.forceContextLoss();
    this.canvas.remove();
  }
}

export function createPoints(host: HTMLElement): PointsScene {
  return new PointsScene(host);
}

// The fast 3-D renderer (static/fast3d.js, loaded by views/fast3d.ts only when a page shows a plotly
// window whose figure is all `surface`, `scatter3d` and `mesh3d` traces): three.js draws them in WebGL
// (a surface as one indexed triangle mesh, a 3-D scatter as one THREE.Points), where Plotly's scatter3d
// does per-point work on the CPU for every frame of a rotation. Axes, ticks, title, legend and colour bar
// are drawn on a 2-D canvas over the WebGL one; a drag orbits, the wheel zooms, a double click resets.
// A scatter of more than MIN_MOVING markers keeps them on the GPU in a fixed random order, so that while the
// camera moves on slow WebGL only a uniform random subset of them is drawn (fast3d/lod.ts; the depth test
// stays, so near points still hide far ones); every marker again once the camera stops. Colours travel with
// their points; a trace's line is drawn from its own geometry in the trace's order, always whole.
// It defines globalThis.LivepanelFast3d and nothing else (the page's CSP: no eval, no inline style).

import {
  AmbientLight,
  BufferAttribute,
  BufferGeometry,
  CanvasTexture,
  Color,
  ColorManagement,
  DirectionalLight,
  DoubleSide,
  Line,
  LineBasicMaterial,
  LineSegments,
  LinearSRGBColorSpace,
  Mesh,
  MeshBasicMaterial,
  MeshLambertMaterial,
  PerspectiveCamera,
  Points,
  PointsMaterial,
  Scene,
  Vector3,
  WebGLRenderer,
  type Material,
  type Object3D,
} from "three";
import { ConvexHull } from "three/examples/jsm/math/ConvexHull.js";
import { fmt, ticks } from "../views/common";
import { colorscaleTable, type Table } from "./colorscale";
import { createPoints, type PointsScene } from "./points";
import { MIN_MOVING, MovingDetail, permuted, shuffled } from "./lod";

type Rec = Record<string, unknown>;
export interface Fast3dTheme {
  fg: string;
  muted: string;
  grid: string;
  bg: string;
}
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const AXES = ["x", "y", "z"] as const;

/** Values as one flat array and its shape: a typed array, rows of typed arrays, or plain nested arrays. */
function flat(v: unknown): { a: ArrayLike<number>; shape: number[] } | null {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return { a: v as unknown as ArrayLike<number>, shape: [(v as unknown as ArrayLike<number>).length] };
  if (!Array.isArray(v)) return null;
  if (v.length && (Array.isArray(v[0]) || ArrayBuffer.isView(v[0]))) {
    const m = (v[0] as ArrayLike<number>).length;
    const out = new Float64Array(v.length * m).fill(NaN);
    v.forEach((row: ArrayLike<number>, i) => {
      const n = Math.min(m, row?.length ?? 0);
      for (let j = 0; j < n; j++) out[i * m + j] = row[j] == null ? NaN : Number(row[j]);
    });
    return { a: out, shape: [v.length, m] };
  }
  return { a: Float64Array.from(v, (e) => (e == null ? NaN : Number(e))), shape: [v.length] };
}

function range(a: ArrayLike<number>, lo = Infinity, hi = -Infinity): [number, number] {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

function text(v: unknown): string {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as Rec).text === "string") return (v as Rec).text as string;
  return "";
}

const tmp = new Color();
function rgb(css: unknown, fallback: string): [number, number, number] {
  try {
    tmp.setStyle(typeof css === "string" ? css : fallback);
  } catch {
    tmp.setStyle(fallback);
  }
  return [tmp.r, tmp.g, tmp.b];
}

/** A trace's data in box coordinates (each axis's range mapped to -1..1). */
interface Prepared {
  obj: Object3D;
  name: string;
  swatch: string;
  scale?: { table: Table; lo: number; hi: number };
}

class Fast3dScene {
  readonly canvas: HTMLCanvasElement;
  readonly overlay = document.createElement("canvas");
  private renderer: WebGLRenderer;
  private scene = new Scene();
  private camera = new PerspectiveCamera(30, 1, 0.1, 100);
  private content: Object3D[] = [];
  private box: LineSegments;
  private theta = Math.PI / 4;
  private phi = 0.62;
  private radius = 8.5;
  private home = { theta: this.theta, phi: this.phi, radius: this.radius };
  private w = 400;
  private h = 300;
  private pending = 0;
  private drag: { x: number; y: number } | null = null;
  private lo = [0, 0, 0];
  private hi = [1, 1, 1];
  private titles = ["x", "y", "z"];
  private title = "";
  private legend: Prepared[] = [];
  private bar: Prepared["scale"];
  private th: Fast3dTheme = { fg: "#222", muted: "#777", grid: "#ccc", bg: "#fff" };
  /** fewer markers of large scatters while the camera moves (slow WebGL); false: always every marker */
  adaptive = true;
  /** the moving level of detail (tests lower its frameMs to see the subset on any machine) */
  readonly lod = new MovingDetail(() => this.request());
  private markers: { geo: BufferGeometry; n: number; big: boolean }[] = []; // every trace's markers
  private bigTotal = 0; // markers in traces drawn by subset while moving
  private order: Uint32Array | null = null; // the last random order made (reused for clouds of its size)
  private shown = 0; // markers drawn in the last frame

  constructor(private readonly host: HTMLElement) {
    this.renderer = new WebGLRenderer({ antialias: false, alpha: false, preserveDrawingBuffer: false });
    this.renderer.setPixelRatio(1);
    this.renderer.outputColorSpace = LinearSRGBColorSpace; // colours pass as given (CSS and colour-scale bytes)
    this.canvas = this.renderer.domElement;
    this.canvas.className = "lp-fast3d-gl";
    this.overlay.className = "lp-fast3d-overlay";
    host.style.position = "relative";
    for (const c of [this.canvas, this.overlay]) {
      c.style.position = "absolute";
      c.style.left = "0";
      c.style.top = "0";
    }
    this.overlay.style.pointerEvents = "none";
    host.append(this.canvas, this.overlay);
    (host as HTMLElement & { lpScene?: Fast3dScene }).lpScene = this; // tests and benchmarks
    this.camera.up.set(0, 0, 1);
    this.scene.add(new AmbientLight(0xffffff, 1.6));
    const sun = new DirectionalLight(0xffffff, 1.6);
    sun.position.set(1, 2, 3);
    this.camera.add(sun);
    this.scene.add(this.camera);
    const edges = new Float32Array([
      -1, -1, -1, 1, -1, -1, 1, -1, -1, 1, 1, -1, 1, 1, -1, -1, 1, -1, -1, 1, -1, -1, -1, -1,
      -1, -1, 1, 1, -1, 1, 1, -1, 1, 1, 1, 1, 1, 1, 1, -1, 1, 1, -1, 1, 1, -1, -1, 1,
      -1, -1, -1, -1, -1, 1, 1, -1, -1, 1, -1, 1, 1, 1, -1, 1, 1, 1, -1, 1, -1, -1, 1, 1,
    ]);
    const g = new BufferGeometry();
    g.setAttribute("position", new BufferAttribute(edges, 3));
    this.box = new LineSegments(g, new LineBasicMaterial({ color: 0x999999 }));
    this.scene.add(this.box);
    this.canvas.addEventListener("mousedown", this.onDown);
    this.canvas.addEventListener("wheel", this.onWheel, { passive: false });
    this.canvas.addEventListener("dblclick", this.onReset);
  }

  private onDown = (e: MouseEvent): void => {
    if (e.button !== 0) return;
    e.preventDefault();
    this.drag = { x: e.clientX, y: e.clientY };
    window.addEventListener("mousemove", this.onMove);
    window.addEventListener("mouseup", this.onUp);
  };
  private onMove = (e: MouseEvent): void => {
    if (!this.drag) return;
    const dx = e.clientX - this.drag.x;
    const dy = e.clientY - this.drag.y;
    this.drag = { x: e.clientX, y: e.clientY };
    this.theta -= dx * 0.01;
    this.phi = Math.max(-1.55, Math.min(1.55, this.phi + dy * 0.01));
    this.moved();
  };
  private onUp = (): void => {
    this.drag = null;
    window.removeEventListener("mousemove", this.onMove);
    window.removeEventListener("mouseup", this.onUp);
  };
  private onWheel = (e: WheelEvent): void => {
    e.preventDefault();
    this.radius = Math.max(2, Math.min(40, this.radius * Math.exp(e.deltaY * 0.001)));
    this.moved();
  };
  private onReset = (): void => {
    Object.assign(this, this.home);
    this.moved();
  };

  private moved(): void {
    if (this.adaptive && this.bigTotal) this.lod.moved(this.bigTotal);
    this.request();
  }

  /** Markers drawn in the last frame, over every scatter trace (tests and benchmarks). */
  drawn(): number {
    return this.shown;
  }

  /** Render on the next animation frame (once however many changes came before it). */
  request(): void {
    if (!this.pending) this.pending = requestAnimationFrame(() => this.render());
  }

  /** The camera's angles (tests: a drag changes them). */
  view(): { theta: number; phi: number; radius: number } {
    return { theta: this.theta, phi: this.phi, radius: this.radius };
  }

  render(): void {
    if (this.pending) cancelAnimationFrame(this.pending);
    this.pending = 0;
    const c = Math.cos(this.phi);
    this.camera.position.set(this.radius * c * Math.cos(this.theta), this.radius * c * Math.sin(this.theta), this.radius * Math.sin(this.phi));
    this.camera.lookAt(0, 0, 0);
    this.camera.updateMatrixWorld();
    // large scatters: the same share of each one's markers (all of them at rest or when frames keep up)
    const total = this.bigTotal;
    const m = this.lod.count(total);
    let shown = 0;
    for (const p of this.markers) {
      const k = p.big && m < total ? Math.max(1, Math.floor((p.n * m) / total)) : p.n;
      if (p.big) p.geo.setDrawRange(0, k);
      shown += k;
    }
    this.shown = shown;
    this.renderer.render(this.scene, this.camera);
    this.drawOverlay();
  }

  /** Draw a figure (its data as typed arrays or rows of them) at w x h CSS pixels. */
  draw(fig: { data: Rec[]; layout: Rec }, w: number, h: number, th: Fast3dTheme): void {
    this.th = th;
    if (w !== this.w || h !== this.h || this.canvas.width !== w) {
      this.w = w;
      this.h = h;
      this.renderer.setSize(w, h);
      this.overlay.width = w;
      this.overlay.height = h;
      this.overlay.style.width = `${w}px`;
      this.overlay.style.height = `${h}px`;
      this.host.style.width = `${w}px`;
      this.host.style.height = `${h}px`;
    }
    (this.box.material as LineBasicMaterial).color.set(th.muted);
    this.renderer.setClearColor(new Color(th.bg), 1); // an opaque canvas composites faster than a transparent one
    const layout = fig.layout ?? {};
    const scene = (layout.scene as Rec | undefined) ?? {};
    this.title = text(layout.title);
    const traces = fig.data.filter((t) => t.visible !== false && t.visible !== "legendonly");
    const cols = traces.map((t) => ({ x: flat(t.x), y: flat(t.y), z: flat(t.z) }));
    // axis ranges: the scene's when given, else the data's
    for (let a = 0; a < 3; a++) {
      const ax = (scene[`${AXES[a]}axis`] as Rec | undefined) ?? {};
      this.titles[a] = text(ax.title) || AXES[a];
      const given = Array.isArray(ax.range) && ax.range.length === 2 ? (ax.range as number[]).map(Number) : null;
      let lo = Infinity;
      let hi = -Infinity;
      traces.forEach((t, k) => {
        const col = cols[k][AXES[a]];
        if (col) [lo, hi] = range(col.a, lo, hi);
        else if (t.type === "surface" && a < 2 && cols[k].z) {
          const n = cols[k].z!.shape[a === 0 ? 1 : 0] ?? 0;
          lo = Math.min(lo, 0);
          hi = Math.max(hi, n - 1);
        }
      });
      if (given && given.every(Number.isFinite)) [lo, hi] = given;
      if (!(hi > lo)) {
        lo = Number.isFinite(lo) ? lo - 0.5 : 0;
        hi = lo + 1;
      }
      this.lo[a] = lo;
      this.hi[a] = hi;
    }
    const eye = (scene.camera as Rec | undefined)?.eye as Rec | undefined;
    if (eye && [eye.x, eye.y, eye.z].every((v) => typeof v === "number")) {
      const [ex, ey, ez] = [eye.x, eye.y, eye.z] as number[];
      const r = Math.hypot(ex, ey, ez) || 1;
      this.home = { theta: Math.atan2(ey, ex), phi: Math.asin(ez / r), radius: r * 3.9 };
    } else this.home = { theta: Math.PI / 4, phi: 0.62, radius: 8.5 };
    if (!this.content.length) Object.assign(this, this.home);
    const old = this.content;
    this.content = [];
    this.legend = [];
    this.bar = undefined;
    this.markers = [];
    traces.forEach((t, k) => {
      const p = this.trace(t, cols[k], k, old[k]);
      if (!p) return;
      this.scene.add(p.obj);
      this.content.push(p.obj);
      this.legend.push(p);
      if (p.scale && t.showscale !== false && (t.type !== "scatter3d" || (t.marker as Rec)?.showscale === true)) this.bar ??= p.scale;
    });
    for (const o of old) if (!this.content.includes(o)) this.dispose(o);
    this.bigTotal = this.markers.reduce((a, p) => a + (p.big ? p.n : 0), 0);
    this.lod.reset();
    if (!(layout.showlegend === true || (layout.showlegend !== false && this.legend.length > 1))) this.legend = [];
    this.render();
  }

  private toBox(a: number, col: ArrayLike<number>, out: Float32Array, stride = 3): void {
    const lo = this.lo[a];
    const s = 2 / (this.hi[a] - this.lo[a]);
    for (let i = 0; i < col.length; i++) out[i * stride + a] = (col[i] - lo) * s - 1;
  }

  private trace(t: Rec, cols: { x: ReturnType<typeof flat>; y: ReturnType<typeof flat>; z: ReturnType<typeof flat> }, k: number, before?: Object3D): Prepared | null {
    const name = typeof t.name === "string" ? t.name : `trace ${k}`;
    const opacity = typeof t.opacity === "number" ? t.opacity : 1;
    if (t.type === "surface") return this.surface(t, cols, name, opacity, before);
    if (t.type === "mesh3d") return this.mesh(t, cols, name, opacity, k);
    return this.scatter(t, cols, name, opacity, k);
  }

  private scaleOf(t: Rec, values: ArrayLike<number>, lo?: unknown, hi?: unknown): { table: Table; lo: number; hi: number } {
    let [a, b] = range(values);
    if (typeof lo === "number" && t.cauto !== true) a = lo;
    if (typeof hi === "number" && t.cauto !== true) b = hi;
    return { table: colorscaleTable(t.colorscale, t.reversescale === true), lo: a, hi: b };
  }

  private surface(t: Rec, cols: { x: ReturnType<typeof flat>; y: ReturnType<typeof flat>; z: ReturnType<typeof flat> }, name: string, opacity: number, before?: Object3D): Prepared | null {
    const z = cols.z;
    if (!z || z.shape.length !== 2) return null;
    const [ny, nx] = z.shape;
    const n = nx * ny;
    const pos = new Float32Array(n * 3);
    const xs = cols.x;
    const ys = cols.y;
    const sx = 2 / (this.hi[0] - this.lo[0]);
    const sy = 2 / (this.hi[1] - this.lo[1]);
    for (let i = 0; i < ny; i++) {
      for (let j = 0; j < nx; j++) {
        const p = (i * nx + j) * 3;
        const xv = xs ? (xs.shape.length === 2 ? xs.a[i * nx + j] : xs.a[j]) : j;
        const yv = ys ? (ys.shape.length === 2 ? ys.a[i * nx + j] : ys.a[i]) : i;
        pos[p] = (xv - this.lo[0]) * sx - 1;
        pos[p + 1] = (yv - this.lo[1]) * sy - 1;
      }
    }
    this.toBox(2, z.a, pos);
    const scale = this.scaleOf(t, z.a, t.cmin, t.cmax);
    const col = new Uint8Array(n * 3);
    const span = scale.hi > scale.lo ? 255 / (scale.hi - scale.lo) : 0;
    let holes = false;
    for (let i = 0; i < n; i++) {
      const v = z.a[i];
      if (!Number.isFinite(v) || !Number.isFinite(pos[i * 3]) || !Number.isFinite(pos[i * 3 + 1])) {
        holes = true;
        pos[i * 3] = pos[i * 3 + 1] = pos[i * 3 + 2] = 0;
        continue;
      }
      const c = Math.max(0, Math.min(255, Math.round((v - scale.lo) * span))) * 3;
      col[i * 3] = scale.table[c];
      col[i * 3 + 1] = scale.table[c + 1];
      col[i * 3 + 2] = scale.table[c + 2];
    }
    const swatch = `rgb(${scale.table[128 * 3]},${scale.table[128 * 3 + 1]},${scale.table[128 * 3 + 2]})`;
    const grid = `${nx}x${ny}`;
    if (!holes && before instanceof Mesh && before.userData.grid === grid) {
      // new values on the same full grid (a live surface): refill its vertices, keep its triangles (their
      // 6 bytes a vertex are most of what a new geometry would send to the GPU again)
      const g = before.geometry as BufferGeometry;
      for (const [key, arr] of [["position", pos], ["color", col]] as const) {
        const attr = g.getAttribute(key) as BufferAttribute;
        (attr.array as Float32Array | Uint8Array).set(arr);
        attr.needsUpdate = true;
      }
      g.computeBoundingSphere();
      const mat = before.material as MeshBasicMaterial;
      mat.opacity = opacity;
      mat.transparent = opacity < 1;
      return { obj: before, name, swatch, scale };
    }
    const idx = new Uint32Array(Math.max(0, (nx - 1) * (ny - 1) * 6));
    let m = 0;
    const ok = (q: number) => Number.isFinite(z.a[q]);
    for (let i = 0; i < ny - 1; i++) {
      for (let j = 0; j < nx - 1; j++) {
        const a = i * nx + j;
        const b = a + 1;
        const c = a + nx;
        const d = c + 1;
        if (holes && !(ok(a) && ok(b) && ok(c) && ok(d))) continue;
        idx[m++] = a;
        idx[m++] = b;
        idx[m++] = d;
        idx[m++] = a;
        idx[m++] = d;
        idx[m++] = c;
      }
    }
    const g = new BufferGeometry();
    g.setAttribute("position", new BufferAttribute(pos, 3));
    g.setAttribute("color", new BufferAttribute(col, 3, true));
    g.setIndex(new BufferAttribute(m === idx.length ? idx : idx.slice(0, m), 1));
    const mat = new MeshBasicMaterial({ vertexColors: true, side: DoubleSide, transparent: opacity < 1, opacity });
    const mesh = new Mesh(g, mat);
    if (!holes) mesh.userData.grid = grid;
    return { obj: mesh, name, swatch, scale };
  }

  private positions(cols: { x: ReturnType<typeof flat>; y: ReturnType<typeof flat>; z: ReturnType<typeof flat> }): Float32Array | null {
    const n = Math.min(cols.x?.a.length ?? 0, cols.y?.a.length ?? 0, cols.z?.a.length ?? 0);
    if (!n) return null;
    const pos = new Float32Array(n * 3);
    for (let a = 0; a < 3; a++) this.toBox(a, (cols[AXES[a]]!.a as Float64Array).subarray(0, n), pos);
    return pos;
  }

  private colours(t: Rec, spec: unknown, n: number, scaleSrc: Rec, fallback: string): { col: Uint8Array | null; one: string; scale?: Prepared["scale"] } {
    const arr = flat(spec);
    if (Array.isArray(spec) && spec.length && typeof spec[0] === "string") {
      const col = new Uint8Array(n * 3);
      const seen = new Map<string, [number, number, number]>();
      for (let i = 0; i < n; i++) {
        const s = String(spec[i % spec.length]);
        let c = seen.get(s);
        if (!c) seen.set(s, (c = rgb(s, fallback).map((v) => Math.round(v * 255)) as [number, number, number]));
        col.set(c, i * 3);
      }
      return { col, one: String(spec[0]) };
    }
    if (arr && arr.a.length && typeof spec !== "string") {
      const scale = this.scaleOf(scaleSrc, arr.a, scaleSrc.cmin, scaleSrc.cmax);
      const span = scale.hi > scale.lo ? 255 / (scale.hi - scale.lo) : 0;
      const col = new Uint8Array(n * 3);
      for (let i = 0; i < n; i++) {
        const v = arr.a[i % arr.a.length];
        const c = (Number.isFinite(v) ? Math.max(0, Math.min(255, Math.round((v - scale.lo) * span))) : 0) * 3;
        col[i * 3] = scale.table[c];
        col[i * 3 + 1] = scale.table[c + 1];
        col[i * 3 + 2] = scale.table[c + 2];
      }
      return { col, one: fallback, scale };
    }
    void t;
    return { col: null, one: typeof spec === "string" ? spec : fallback };
  }

  private scatter(t: Rec, cols: { x: ReturnType<typeof flat>; y: ReturnType<typeof flat>; z: ReturnType<typeof flat> }, name: string, opacity: number, k: number): Prepared | null {
    const pos = this.positions(cols);
    if (!pos) return null;
    const n = pos.length / 3;
    const mode = typeof t.mode === "string" ? t.mode : "lines+markers";
    const marker = (t.marker as Rec | undefined) ?? {};
    const line = (t.line as Rec | undefined) ?? {};
    const fallback = PALETTE[k % PALETTE.length];
    const group = new Scene();
    const geo = new BufferGeometry();
    geo.setAttribute("position", new BufferAttribute(pos, 3));
    const mc = this.colours(t, marker.color, n, marker, fallback);
    if (mc.col) geo.setAttribute("color", new BufferAttribute(mc.col, 3, true));
    if (mode.includes("lines")) {
      const lc = typeof line.color === "string" ? line.color : mc.col ? fallback : mc.one;
      group.add(new Line(geo, new LineBasicMaterial({ color: new Color(lc), transparent: opacity < 1, opacity })));
    }
    if (mode.includes("markers")) {
      // a large cloud: its markers in a fixed random order (their first m are a uniform sample), colours with
      // them; the line above keeps the trace's own order
      const big = n > MIN_MOVING;
      let mgeo = geo;
      if (big) {
        if (this.order?.length !== n) this.order = shuffled(n);
        mgeo = new BufferGeometry();
        mgeo.setAttribute("position", new BufferAttribute(permuted(pos, this.order), 3));
        if (mc.col) mgeo.setAttribute("color", new BufferAttribute(permuted(mc.col, this.order), 3, true));
      }
      this.markers.push({ geo: mgeo, n, big });
      // Plotly's 3-D marker size is a diameter in pixels; an array of sizes draws at their median
      const sizes = flat(marker.size);
      let size = typeof marker.size === "number" ? marker.size : 8;
      if (sizes && sizes.a.length) size = Array.from(sizes.a).sort((a, b) => a - b)[sizes.a.length >> 1];
      const mOpacity = opacity * (typeof marker.opacity === "number" ? marker.opacity : 1);
      const mat = new PointsMaterial({
        size: Math.max(1, size),
        sizeAttenuation: false,
        vertexColors: !!mc.col,
        color: mc.col ? 0xffffff : new Color(mc.one),
        // a disc cut from each point's square; up to 4 px a square is what a disc rasterizes to anyway,
        // and the texture lookup and discard cost a third of a frame in software WebGL
        map: size > 4 ? dot() : null,
        alphaTest: size > 4 ? 0.5 : 0,
        transparent: mOpacity < 1,
        opacity: mOpacity,
      });
      group.add(new Points(mgeo, mat));
    }
    return { obj: group, name, swatch: mc.col ? fallback : mc.one, scale: mc.scale };
  }

  private mesh(t: Rec, cols: { x: ReturnType<typeof flat>; y: ReturnType<typeof flat>; z: ReturnType<typeof flat> }, name: string, opacity: number, k: number): Prepared | null {
    const pos = this.positions(cols);
    if (!pos) return null;
    const n = pos.length / 3;
    const i = flat(t.i);
    const j = flat(t.j);
    const kk = flat(t.k);
    const g = new BufferGeometry();
    if (i && j && kk) {
      const m = Math.min(i.a.length, j.a.length, kk.a.length);
      const idx = new Uint32Array(m * 3);
      let q = 0;
      for (let f = 0; f < m; f++) {
        const a = i.a[f];
        const b = j.a[f];
        const c = kk.a[f];
        if (a >= 0 && b >= 0 && c >= 0 && a < n && b < n && c < n) {
          idx[q++] = a;
          idx[q++] = b;
          idx[q++] = c;
        }
      }
      g.setAttribute("position", new BufferAttribute(pos, 3));
      g.setIndex(new BufferAttribute(idx.slice(0, q), 1));
    } else {
      // no triangles given and alphahull 0: the convex hull of the vertices (Plotly's alphahull=0 too)
      const pts: Vector3[] = [];
      for (let p = 0; p < n; p++) pts.push(new Vector3(pos[p * 3], pos[p * 3 + 1], pos[p * 3 + 2]));
      const hull = new ConvexHull().setFromPoints(pts);
      const tri: number[] = [];
      for (const face of hull.faces) {
        let e = face.edge;
        const ring: Vector3[] = [];
        do {
          ring.push(e.head().point);
          e = e.next;
        } while (e !== face.edge);
        for (let r = 1; r + 1 < ring.length; r++) for (const v of [ring[0], ring[r], ring[r + 1]]) tri.push(v.x, v.y, v.z);
      }
      g.setAttribute("position", new BufferAttribute(new Float32Array(tri), 3));
    }
    g.computeVertexNormals();
    const fallback = typeof t.color === "string" ? t.color : PALETTE[k % PALETTE.length];
    const intensity = flat(t.intensity);
    let scale: Prepared["scale"];
    const matOpts = { side: DoubleSide, transparent: opacity < 1, opacity, flatShading: t.flatshading === true };
    let mat: Material;
    if (intensity && intensity.a.length === n && g.index) {
      const c = this.colours(t, t.intensity, n, t, fallback);
      g.setAttribute("color", new BufferAttribute(c.col!, 3, true));
      scale = c.scale;
      mat = new MeshLambertMaterial({ ...matOpts, vertexColors: true });
    } else mat = new MeshLambertMaterial({ ...matOpts, color: new Color(fallback) });
    return { obj: new Mesh(g, mat), name, swatch: fallback, scale };
  }

  /** Ticks, axis titles, the title, the legend and the colour bar, over the WebGL canvas. */
  private drawOverlay(): void {
    const ctx = this.overlay.getContext("2d");
    if (!ctx) return;
    const { w, h, th } = this;
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = th.fg;
    const cam = this.camera.position;
    const v = new Vector3();
    const at = (x: number, y: number, z: number): [number, number] => {
      v.set(x, y, z).project(this.camera);
      return [((v.x + 1) / 2) * w, ((1 - v.y) / 2) * h];
    };
    // each axis along the box edge nearest the viewer (z: a vertical edge on the side)
    const sx = cam.x >= 0 ? 1 : -1;
    const sy = cam.y >= 0 ? 1 : -1;
    const edge = [
      (u: number) => at(u, sy * 1.12, -1.12),
      (u: number) => at(sx * 1.12, u, -1.12),
      (u: number) => at(sx * 1.12, -sy * 1.12, u),
    ];
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let a = 0; a < 3; a++) {
      const lo = this.lo[a];
      const hi = this.hi[a];
      for (const t of ticks(lo, hi, 5)) {
        const [px, py] = edge[a](((t - lo) / (hi - lo)) * 2 - 1);
        ctx.fillText(fmt(t), px, py);
      }
      const [px, py] = edge[a](0);
      const [qx, qy] = at(0, 0, a === 2 ? 0 : -1);
      ctx.font = "bold 12px sans-serif";
      ctx.fillText(this.titles[a], px + (px - qx) * 0.25, py + (py - qy) * 0.25);
      ctx.font = "11px sans-serif";
    }
    if (this.title) {
      ctx.font = "14px sans-serif";
      ctx.fillText(this.title, w / 2, 14);
    }
    ctx.font = "12px sans-serif";
    ctx.textAlign = "left";
    this.legend.forEach((p, i) => {
      const y = 16 + i * 18;
      ctx.fillStyle = p.swatch;
      ctx.fillRect(w - 110, y - 5, 10, 10);
      ctx.fillStyle = th.fg;
      ctx.fillText(p.name, w - 95, y);
    });
    if (this.bar) {
      const { table, lo, hi } = this.bar;
      const bx = w - 50;
      const top = Math.round(h * 0.2);
      const bh = Math.round(h * 0.6);
      for (let y = 0; y < bh; y++) {
        const c = Math.round((1 - y / Math.max(1, bh - 1)) * 255) * 3;
        ctx.fillStyle = `rgb(${table[c]},${table[c + 1]},${table[c + 2]})`;
        ctx.fillRect(bx, top + y, 12, 1);
      }
      ctx.fillStyle = th.fg;
      ctx.fillText(fmt(hi), bx + 15, top);
      ctx.fillText(fmt(lo), bx + 15, top + bh);
    }
  }

  /** The picture as a PNG: rendered now (the WebGL buffer is read in the same task), the overlay on top. */
  png(): Promise<Blob | null> {
    this.render();
    const out = document.createElement("canvas");
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const ctx = out.getContext("2d")!;
    ctx.fillStyle = this.th.bg;
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(this.canvas, 0, 0);
    ctx.drawImage(this.overlay, 0, 0);
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }

  private dispose(o: Object3D): void {
    this.scene.remove(o);
    o.traverse((c) => {
      const m = c as Mesh;
      m.geometry?.dispose();
      const mats = Array.isArray(m.material) ? m.material : m.material ? [m.material] : [];
      for (const mat of mats) mat.dispose();
    });
  }

  destroy(): void {
    if (this.pending) cancelAnimationFrame(this.pending);
    this.lod.destroy();
    delete (this.host as HTMLElement & { lpScene?: Fast3dScene }).lpScene;
    this.onUp();
    for (const o of this.content) this.dispose(o);
    this.renderer.dispose();
    this.renderer.forceContextLoss();
    this.canvas.remove();
    this.overlay.remove();
    for (const k of ["position", "width", "height"] as const) this.host.style[k] = ""; // Plotly may draw here next
  }
}

let dotTexture: CanvasTexture | null = null;
/** A round marker: a white disc that alphaTest cuts out of each point's square. */
function dot(): CanvasTexture {
  if (dotTexture) return dotTexture;
  const c = document.createElement("canvas");
  c.width = c.height = 64;
  const ctx = c.getContext("2d")!;
  ctx.fillStyle = "#fff";
  ctx.beginPath();
  ctx.arc(32, 32, 30, 0, Math.PI * 2);
  ctx.fill();
  return (dotTexture = new CanvasTexture(c));
}

export type { Fast3dScene };
export interface Fast3dLib {
  create(host: HTMLElement): Fast3dScene;
  /** the embedding window's scatter (fast3d/points.ts, views/embedding.ts) */
  points(host: HTMLElement): PointsScene;
}

ColorManagement.enabled = false;
(globalThis as typeof globalThis & { LivepanelFast3d?: Fast3dLib }).LivepanelFast3d = { create: (host) => new Fast3dScene(host), points: createPoints };

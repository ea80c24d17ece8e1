// static/graph.js: the heavy part of graph windows, loaded by views/graph.ts only when a page shows one.
// dagre (MIT) lays out the boxes shown in layers, top to bottom; a 2-D canvas draws them under one
// transform, so panning and zooming redraw from the laid-out positions without laying out again. Boxes
// and edges outside the view are skipped, and labels are left out when they would be too small to read.
// Text is drawn with fillText: user strings never reach HTML here.

import { HEAD, Layouter, type Frame } from "./layout";
import type { VEdge, VNode } from "./model";
import { shapeText } from "./model";

export interface SceneTheme {
  fg: string;
  muted: string;
  bg: string;
  node: string;
  border: string;
  accent: string;
  bad: string;
  find: string;
}

export interface SceneHooks {
  /** a box was clicked (null: the background) */
  click(key: string | null): void;
  /** a box was double-clicked (a group opens or closes) */
  dblclick(key: string): void;
  /** the pointer rests on a box (null: on none), at this client point */
  hover?(key: string | null, cx: number, cy: number): void;
}

export interface SceneStyle {
  /** fill colour per box key (absent: the default fill) */
  fill: Map<string, string>;
  /** text colour on a filled box */
  ink: Map<string, string>;
  /** boxes of layers an alert names */
  marks: Set<string>;
  /** boxes the search found */
  found: Set<string>;
  selected: string | null;
}

interface Box {
  v: VNode;
  x: number;
  y: number;
  w: number;
  h: number;
  label: string;
  sub: string;
}

interface Line {
  e: VEdge;
  pts: { x: number; y: number }[];
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

const FONT = "12px system-ui, sans-serif";
const SMALL = "10px system-ui, sans-serif";
const BOX_H = 34;
const MAX_LABEL = 34;

const cut = (t: string, n: number): string => (t.length > n ? t.slice(0, n - 1) + "…" : t);

export class Scene {
  readonly canvas = document.createElement("canvas");
  private ctx: CanvasRenderingContext2D;
  private boxes: Box[] = [];
  private byKey = new Map<string, Box>();
  private lines: Line[] = [];
  private solid = new Path2D();
  private dashed = new Path2D();
  private heads = new Path2D();
  private width = 1;
  private height = 1;
  private scale = 1;
  private tx = 0;
  private ty = 0;
  private graphW = 1;
  private graphH = 1;
  private frame = 0;
  private theme: SceneTheme = { fg: "#222", muted: "#777", bg: "#fff", node: "#f4f6f8", border: "#98a2ad", accent: "#1f77b4", bad: "#cf222e", find: "#ff9800" };
  private style: SceneStyle = { fill: new Map(), ink: new Map(), marks: new Set(), found: new Set(), selected: null };
  /** ms of the last layout and of the last draws (newest last, at most 240) */
  layoutMs = 0;
  /** the most parts one group of the last layout was laid out in (1: each at once), and its dagre runs */
  segments = 1;
  runs = 0;
  private layouter = new Layouter();
  private frames: Frame[] = [];
  /** a label for an open group's frame (its module path and type) */
  frameLabel: (path: string) => string = (path) => path;
  drawTimes: number[] = [];
  private drag: { x: number; y: number; moved: boolean; id: number } | null = null;

  constructor(host: HTMLElement, private readonly hooks: SceneHooks) {
    this.ctx = this.canvas.getContext("2d")!;
    this.canvas.className = "lp-graph-canvas";
    this.canvas.tabIndex = 0;
    host.append(this.canvas);
    this.canvas.addEventListener("pointerdown", this.onDown);
    this.canvas.addEventListener("pointermove", this.onMove);
    this.canvas.addEventListener("pointerup", this.onUp);
    this.canvas.addEventListener("pointercancel", () => (this.drag = null));
    this.canvas.addEventListener("pointerleave", (ev) => this.hooks.hover?.(null, ev.clientX, ev.clientY));
    this.canvas.addEventListener("wheel", this.onWheel, { passive: false });
    this.canvas.addEventListener("dblclick", (ev) => {
      const key = this.hitKey(ev.clientX, ev.clientY);
      if (key) this.hooks.dblclick(key);
    });
    this.canvas.addEventListener("keydown", this.onKey);
  }

  /** Forget the layouts of group structures seen so far (a new graph replaces the shown one). */
  forget(): void {
    this.layouter.forget();
  }

  setTheme(t: SceneTheme): void {
    this.theme = t;
    this.request();
  }

  setStyle(s: SceneStyle): void {
    this.style = s;
    this.request();
  }

  /** Lay out these boxes and edges; the view keeps `keep` where it was on screen (else fits the graph). */
  layout(nodes: VNode[], edges: VEdge[], keep: string | null = null): number {
    const t0 = performance.now();
    const before = keep ? this.byKey.get(keep) : undefined;
    const anchor = before ? { sx: before.x * this.scale + this.tx, sy: before.y * this.scale + this.ty } : null;
    const ctx = this.ctx;
    ctx.font = FONT;
    const boxes: Box[] = [];
    for (const v of nodes) {
      const label = cut(v.label, MAX_LABEL);
      const sub = cut(v.sub + (v.node?.shape ? "  " + shapeText(v.node.shape) : ""), 40);
      // widths in steps of 16 px: groups of the same structure get the same sizes, and one layout (layout.ts)
      const w = Math.ceil(Math.min(260, Math.max(64, Math.max(ctx.measureText(label).width, ctx.measureText(sub).width * 0.85) + 18)) / 16) * 16;
      boxes.push({ v, x: 0, y: 0, w, h: BOX_H, label, sub });
    }
    const placed = this.layouter.layout(
      boxes.map((b) => ({ key: b.v.key, w: b.w, h: b.h, parents: b.v.parents })),
      edges,
    );
    for (const b of boxes) {
      const p = placed.pos.get(b.v.key);
      if (p) [b.x, b.y] = [p.x, p.y];
    }
    this.frames = placed.frames;
    this.byKey.clear();
    for (const b of boxes) this.byKey.set(b.v.key, b);
    this.boxes = boxes;
    this.lines = [];
    this.solid = new Path2D();
    this.dashed = new Path2D();
    this.heads = new Path2D();
    edges.forEach((e, i) => {
      const pts = placed.points[i].filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
      if (pts.length < 2) return;
      const path = e.order ? this.dashed : this.solid;
      path.moveTo(pts[0].x, pts[0].y);
      for (let j = 1; j < pts.length; j++) path.lineTo(pts[j].x, pts[j].y);
      const a = pts[pts.length - 2];
      const z = pts[pts.length - 1];
      const ang = Math.atan2(z.y - a.y, z.x - a.x);
      this.heads.moveTo(z.x, z.y);
      this.heads.lineTo(z.x - 7 * Math.cos(ang - 0.4), z.y - 7 * Math.sin(ang - 0.4));
      this.heads.lineTo(z.x - 7 * Math.cos(ang + 0.4), z.y - 7 * Math.sin(ang + 0.4));
      this.heads.closePath();
      let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity; // prettier-ignore
      for (const p of pts) {
        minX = Math.min(minX, p.x);
        maxX = Math.max(maxX, p.x);
        minY = Math.min(minY, p.y);
        maxY = Math.max(maxY, p.y);
      }
      this.lines.push({ e, pts, minX, minY, maxX, maxY });
    });
    this.graphW = Math.max(1, placed.width);
    this.graphH = Math.max(1, placed.height);
    this.segments = placed.parts;
    this.runs = placed.runs;
    const after = keep ? this.byKey.get(keep) : undefined;
    if (anchor && after) {
      this.tx = anchor.sx - after.x * this.scale;
      this.ty = anchor.sy - after.y * this.scale;
    } else this.fit();
    this.layoutMs = performance.now() - t0;
    this.request();
    return this.layoutMs;
  }

  /** Show the whole graph's width (a tall graph starts at its top, readable, rather than as a thin line). */
  fit(): void {
    const sx = this.width / this.graphW;
    const sy = this.height / this.graphH;
    this.scale = Math.min(1.2, Math.max(0.05, Math.max(Math.min(sx, sy), Math.min(sx, 0.6))));
    this.tx = (this.width - this.graphW * this.scale) / 2;
    this.ty = this.graphH * this.scale <= this.height ? (this.height - this.graphH * this.scale) / 2 : 4;
    this.request();
  }

  /** Bring a box to the middle of the view (less `inset` px on the right: the details panel), readable. */
  center(key: string, inset = 0): void {
    const b = this.byKey.get(key);
    if (!b) return;
    this.scale = Math.max(this.scale, 0.8);
    this.tx = (this.width - inset) / 2 - b.x * this.scale;
    this.ty = this.height / 2 - b.y * this.scale;
    this.request();
  }

  /** Pan so that a box is not under the right `inset` px of the view (where the details panel is). */
  keepVisible(key: string, inset: number): void {
    const b = this.byKey.get(key) ?? this.frameBox(key);
    if (!b) return;
    const right = (b.x + b.w / 2) * this.scale + this.tx;
    const limit = this.width - inset - 12;
    if (right > limit) {
      this.tx -= Math.max(0, Math.min(right - limit, (b.x - b.w / 2) * this.scale + this.tx - 12)); // never past the left edge
      this.request();
    }
  }

  private frameBox(key: string): { x: number; w: number } | null {
    const f = key.startsWith("x:") ? this.frames.find((g) => g.path === key.slice(2)) : undefined;
    return f ? { x: f.x + f.w / 2, w: Math.min(f.w, 200) } : null;
  }

  resize(w: number, h: number): void {
    const dpr = window.devicePixelRatio || 1;
    const first = this.width <= 1;
    this.width = Math.max(1, Math.floor(w));
    this.height = Math.max(1, Math.floor(h));
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.canvas.style.width = this.width + "px";
    this.canvas.style.height = this.height + "px";
    if (first && this.boxes.length) this.fit();
    this.draw();
  }

  panBy(dx: number, dy: number): void {
    this.tx += dx;
    this.ty += dy;
    this.request();
  }

  zoomAt(factor: number, sx: number, sy: number): void {
    const s = Math.min(4, Math.max(0.02, this.scale * factor));
    const k = s / this.scale;
    this.tx = sx - (sx - this.tx) * k;
    this.ty = sy - (sy - this.ty) * k;
    this.scale = s;
    this.request();
  }

  /** A box's rectangle in client pixels (tests click it), or null when it is not shown. */
  screenBox(key: string): { x: number; y: number; w: number; h: number } | null {
    const b = this.byKey.get(key);
    if (!b) return null;
    const r = this.canvas.getBoundingClientRect();
    return { x: r.left + (b.x - b.w / 2) * this.scale + this.tx, y: r.top + (b.y - b.h / 2) * this.scale + this.ty, w: b.w * this.scale, h: b.h * this.scale };
  }

  get boxCount(): number {
    return this.boxes.length;
  }

  get zoom(): number {
    return this.scale;
  }

  request(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  draw(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    const t0 = performance.now();
    const ctx = this.ctx;
    const dpr = window.devicePixelRatio || 1;
    const th = this.theme;
    const st = this.style;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = th.bg;
    ctx.fillRect(0, 0, this.width, this.height);
    const s = this.scale;
    ctx.setTransform(dpr * s, 0, 0, dpr * s, dpr * this.tx, dpr * this.ty);
    // the part of the graph in view (graph coordinates)
    const x0 = -this.tx / s, y0 = -this.ty / s, x1 = (this.width - this.tx) / s, y1 = (this.height - this.ty) / s; // prettier-ignore
    // open groups: a tinted frame each (deeper ones darker), their label in the header band
    const frameText = s * 11 >= 6;
    for (const f of this.frames) {
      if (f.x > x1 || f.x + f.w < x0 || f.y > y1 || f.y + f.h < y0) continue;
      ctx.globalAlpha = Math.min(0.16, 0.05 + 0.025 * f.depth);
      ctx.fillStyle = th.accent;
      ctx.fillRect(f.x, f.y, f.w, f.h);
      ctx.globalAlpha = 1;
      const sel = st.selected === "x:" + f.path;
      ctx.lineWidth = (sel ? 2.5 : 1) / s;
      ctx.strokeStyle = sel ? th.accent : th.border;
      ctx.strokeRect(f.x, f.y, f.w, f.h);
      if (frameText) {
        ctx.fillStyle = th.muted;
        ctx.font = "600 11px system-ui, sans-serif";
        ctx.textAlign = "left";
        ctx.textBaseline = "middle";
        ctx.fillText(this.frameLabel(f.path), f.x + 6, f.y + HEAD / 2, f.w - 12);
      }
    }
    ctx.lineWidth = 1.2 / s;
    ctx.strokeStyle = th.muted;
    ctx.stroke(this.solid);
    ctx.setLineDash([4 / s, 4 / s]);
    ctx.stroke(this.dashed);
    ctx.setLineDash([]);
    ctx.fillStyle = th.muted;
    ctx.fill(this.heads);
    const text = s * 12 >= 7; // labels readable at this zoom
    if (s >= 0.75) {
      ctx.font = SMALL;
      ctx.fillStyle = th.muted;
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      for (const l of this.lines) {
        if (!l.e.shape || l.maxX < x0 || l.minX > x1 || l.maxY < y0 || l.minY > y1) continue;
        const m = l.pts[Math.floor(l.pts.length / 2)];
        ctx.fillText(shapeText(l.e.shape), m.x + 4, m.y);
      }
    }
    for (const b of this.boxes) {
      const left = b.x - b.w / 2;
      const top = b.y - b.h / 2;
      if (left > x1 || left + b.w < x0 || top > y1 || top + b.h < y0) continue;
      const key = b.v.key;
      const group = b.v.group !== null;
      ctx.fillStyle = st.fill.get(key) ?? th.node;
      ctx.beginPath();
      ctx.rect(left, top, b.w, b.h);
      ctx.fill();
      const marked = st.marks.has(key);
      const found = st.found.has(key);
      const sel = st.selected === key;
      ctx.lineWidth = (sel || marked || found ? 3 : group ? 1.6 : 1) / s;
      ctx.strokeStyle = sel ? th.accent : marked ? th.bad : found ? th.find : th.border;
      if (group && !sel && !marked && !found) ctx.setLineDash([5 / s, 2 / s]);
      ctx.stroke();
      ctx.setLineDash([]);
      if (marked) {
        ctx.fillStyle = th.bad;
        ctx.beginPath();
        ctx.arc(left + b.w, top, 7, 0, 2 * Math.PI);
        ctx.fill();
        if (text) {
          ctx.fillStyle = "#fff";
          ctx.font = "bold 11px system-ui, sans-serif";
          ctx.textAlign = "center";
          ctx.textBaseline = "middle";
          ctx.fillText("!", left + b.w, top + 0.5);
        }
      }
      if (text) {
        ctx.fillStyle = st.ink.get(key) ?? th.fg;
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.font = group ? "bold " + FONT : FONT;
        ctx.fillText(b.label, b.x, b.y - 7, b.w - 6);
        ctx.font = SMALL;
        ctx.fillText(b.sub, b.x, b.y + 8, b.w - 6);
      }
    }
    const dt = performance.now() - t0;
    this.drawTimes.push(dt);
    if (this.drawTimes.length > 240) this.drawTimes.splice(0, 120);
  }

  /** The key of what is at a client point: a box, else the innermost open group's frame ("x:" + path). */
  private hitKey(cx: number, cy: number): string | null {
    const b = this.hit(cx, cy);
    if (b) return b.v.key;
    const r = this.canvas.getBoundingClientRect();
    const x = (cx - r.left - this.tx) / this.scale;
    const y = (cy - r.top - this.ty) / this.scale;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i];
      if (x >= f.x && x <= f.x + f.w && y >= f.y && y <= f.y + f.h) return "x:" + f.path;
    }
    return null;
  }

  /** A frame's rectangle in client pixels (tests click it), or null when the group is not open. */
  screenFrame(path: string): { x: number; y: number; w: number; h: number } | null {
    const f = this.frames.find((g) => g.path === path);
    if (!f) return null;
    const r = this.canvas.getBoundingClientRect();
    return { x: r.left + f.x * this.scale + this.tx, y: r.top + f.y * this.scale + this.ty, w: f.w * this.scale, h: f.h * this.scale };
  }

  private hit(cx: number, cy: number): Box | null {
    const r = this.canvas.getBoundingClientRect();
    const x = (cx - r.left - this.tx) / this.scale;
    const y = (cy - r.top - this.ty) / this.scale;
    for (let i = this.boxes.length - 1; i >= 0; i--) {
      const b = this.boxes[i];
      if (Math.abs(x - b.x) <= b.w / 2 && Math.abs(y - b.y) <= b.h / 2) return b;
    }
    return null;
  }

  private onDown = (ev: PointerEvent): void => {
    if (ev.button !== 0) return;
    this.drag = { x: ev.clientX, y: ev.clientY, moved: false, id: ev.pointerId };
    try {
      this.canvas.setPointerCapture(ev.pointerId); // the drag goes on outside the canvas
    } catch {
      // a pointer the browser does not track (a synthetic event): the drag works inside the canvas
    }
  };

  private onMove = (ev: PointerEvent): void => {
    const d = this.drag;
    if (!d) {
      this.hooks.hover?.(this.hit(ev.clientX, ev.clientY)?.v.key ?? null, ev.clientX, ev.clientY);
      return;
    }
    const dx = ev.clientX - d.x;
    const dy = ev.clientY - d.y;
    if (!d.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    d.moved = true;
    d.x = ev.clientX;
    d.y = ev.clientY;
    this.panBy(dx, dy);
  };

  private onUp = (ev: PointerEvent): void => {
    const d = this.drag;
    this.drag = null;
    if (d && this.canvas.hasPointerCapture(d.id)) this.canvas.releasePointerCapture(d.id);
    if (d && !d.moved) this.hooks.click(this.hitKey(ev.clientX, ev.clientY));
  };

  private onWheel = (ev: WheelEvent): void => {
    ev.preventDefault();
    const r = this.canvas.getBoundingClientRect();
    this.zoomAt(Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015)), ev.clientX - r.left, ev.clientY - r.top);
  };

  private onKey = (ev: KeyboardEvent): void => {
    const step = 60;
    const moves: Record<string, [number, number]> = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[ev.key]) this.panBy(...moves[ev.key]);
    else if (ev.key === "+" || ev.key === "=") this.zoomAt(1.25, this.width / 2, this.height / 2);
    else if (ev.key === "-") this.zoomAt(0.8, this.width / 2, this.height / 2);
    else if (ev.key === "0") this.fit();
    else return;
    ev.preventDefault();
  };

  async png(): Promise<Blob | null> {
    this.draw();
    return new Promise((resolve) => this.canvas.toBlob((b) => resolve(b), "image/png"));
  }

  destroy(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.canvas.remove();
  }
}

export interface GraphLib {
  create(host: HTMLElement, hooks: SceneHooks): Scene;
}

const lib: GraphLib = { create: (host, hooks) => new Scene(host, hooks) };
(globalThis as typeof globalThis & { LivepanelGraph?: GraphLib }).LivepanelGraph = lib;

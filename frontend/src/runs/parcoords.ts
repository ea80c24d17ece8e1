// Parallel coordinates of runs: one axis per chosen config key or metric (linear, log or
// categorical), brushing an axis filters the runs, lines coloured by a chosen metric.
//
// Drawn by hand on one canvas (no library: there is no well-kept small one, and the d3-based ones
// are heavy and unmaintained). Speed, for 1,000 runs and 8 axes while a brush moves: every run's y on
// every axis is computed when the data, the axes or the size change, never per frame; a frame is
// drawn only on requestAnimationFrame, and strokes are batched into one path per colour bucket.
// Three stacked canvases, each redrawn only when what it shows changed: every run in faint grey (shown
// while something is brushed; unchanged while a brush moves), the passing runs in colour, and on top
// the axes, brushes and the focused run (a hover redraws only that one).
// Every string shown (keys, categories, env names) is user input: canvas fillText and textContent only.

import "./plots.css";
import { table as colormapTable } from "../colormap";
import { el } from "../views/common";
import type { RunRow } from "../wire";
import type { Focus } from "./model";
import { RunsPlot, safeGet } from "./plot";
import {
  brushFits,
  brushFromSpan,
  brushSpan,
  catLabel,
  fmt,
  makeScale,
  missing,
  passingIndices,
  profile,
  sameSet,
  scaleChoices,
  type Brush,
  type Profile,
  type Scale,
  type ScaleKind,
  type Value,
} from "./scales";

/** A column of the runs: a config key, a metric or a summary value. */
export interface Dim {
  key: string;
  label: string;
  get(row: RunRow): number | string | boolean | null;
  /** where the value comes from; when absent, read from the key's prefix (`config.`, `metric.`, `summary.`) */
  group?: "config" | "metric" | "summary";
}

export interface PlotOptions {
  colors: (env: string) => string;
  focus: Focus;
}

/** What tests and benchmarks read (`el.lpPlot.debug()` or `ParCoords.debug()`). */
export interface ParCoordsDebug {
  axes: { key: string; label: string; kind: ScaleKind; categories: string[]; ticks: string[]; missing: number }[];
  /** brushes by dim key: a value range or categories */
  brushes: Record<string, Brush>;
  /** the dim colouring the lines; "" : each run's own colour */
  colorBy: string;
  passing: string[] | null;
  /** runs given to setData */
  runs: number;
  /** frames drawn so far, and the time (ms) the last ones took to draw */
  frames: number;
  /** onBrush calls so far */
  told: number;
  drawMs: number[];
  /** CSS pixels inside the canvas: each axis's x, the top and bottom of the axes, the missing notch */
  geometry: { xs: number[]; top: number; bottom: number; missingY: number; width: number; height: number };
  focus: string | null;
}

export function dimGroup(d: Dim): "config" | "metric" | "summary" | "other" {
  if (d.group) return d.group;
  const dot = d.key.indexOf(".");
  const prefix = dot < 0 ? "" : d.key.slice(0, dot);
  if (prefix === "config") return "config";
  if (prefix === "metric" || prefix === "metrics") return "metric";
  if (prefix === "summary") return "summary";
  return "other";
}

/** The axes shown before a user chooses: up to 6 config keys whose values vary, then the first metric. */
export function defaultAxes(dims: readonly Dim[], rows: readonly RunRow[]): string[] {
  const varying = dims.filter((d) => dimGroup(d) === "config" && profile(rows.map((r) => safeGet(d, r))).distinct > 1);
  const out = varying.slice(0, 6).map((d) => d.key);
  const metric = dims.find((d) => dimGroup(d) === "metric");
  if (metric) out.push(metric.key);
  if (!out.length) return dims.slice(0, 2).map((d) => d.key);
  return out;
}

/** The metric lines are coloured by before a user chooses ("" : run colours when there is none). */
export function defaultColorBy(dims: readonly Dim[]): string {
  return dims.find((d) => dimGroup(d) === "metric")?.key ?? "";
}

interface Axis {
  dim: Dim;
  values: Value[];
  scale: Scale;
  /** 0..1 along the axis, NaN when missing */
  pos: Float32Array;
  /** CSS px in the canvas (the missing notch for missing values) */
  ys: Float32Array;
  profile: Profile;
  missing: number;
}

/** a drag on an axis: by dim key (the live feed may change the axes during a drag), and by how far the
 * pointer moved since it went down (the page may move the plot under it: brushing resizes the table) */
type Drag = { key: string; mode: "new" | "move"; clientY: number; p0: number; span: [number, number]; moved: boolean };

const BUCKETS = 24;
/** the layers a frame redraws */
const BASE = 1;
const LINES = 2;
const OVER = 4;
const ALL = BASE | LINES | OVER;
/** ms: a page reacting to onBrush slower than this (two frames) is told less often than every frame */
const SLOW_REACTION = 34;
const HEAD = 36; // px of the axis heads strip above the canvas
const BAR = 28; // px of the toolbar
const PAD = { left: 56, right: 36, top: 12, bottom: 30 };
const MISSING_GAP = 16;
const HIT = 10; // px either side of an axis where a drag brushes it
const NEAR = 5; // px: hovering a line within this sets the focus

export class ParCoords extends RunsPlot<PlotOptions & { onBrush: (passing: Set<string> | null) => void }> {
  /** the runs inside every brush; null when nothing is brushed */
  passing: Set<string> | null = null;

  private readonly bar = el("div", "lp-pc-bar");
  private readonly heads = el("div", "lp-pc-heads");
  private readonly stack = el("div", "lp-pc-stack");
  /** faint grey lines of every run (under the others; visible while something is brushed) */
  private readonly base = el("canvas", "lp-pc-layer");
  /** the passing runs, coloured */
  private readonly lines = el("canvas", "lp-pc-layer");
  /** axes, ticks, brushes, the focused run; takes the pointer */
  private readonly canvas = el("canvas", "lp-pc-canvas");
  private readonly gBase: CanvasRenderingContext2D | null;
  private readonly gLines: CanvasRenderingContext2D | null;
  private readonly g: CanvasRenderingContext2D | null;
  private dirty = 0;
  private readonly addSel = el("select", "lp-pc-add");
  private readonly colorSel = el("select", "lp-pc-color");
  private readonly legend = el("span", "lp-pc-legend");
  private readonly legendBar = el("canvas", "lp-pc-legend-bar");
  private readonly legendLo = el("span", "lp-pc-legend-lo");
  private readonly legendHi = el("span", "lp-pc-legend-hi");
  private readonly clearBtn = el("button", "lp-pc-clear", "clear brushes");

  /** the axes a user chose (dim keys, in order); null: the default */
  private chosen: string[] | null = null;
  private kinds = new Map<string, ScaleKind>();
  private brushes = new Map<string, Brush>();
  private colorBy: string | null = null;
  private axes: Axis[] = [];
  private xs: number[] = [];
  private bucket = new Int16Array(0);
  private bucketColors: string[] = [];
  private pass = new Uint8Array(0);
  private notified: Set<string> | null = null;
  /** rAF time of the last onBrush, whether the frame after it measured the page's reaction, and the
   * earliest time of the next one (0: the next frame) */
  private notifiedAt = -1;
  private costKnown = true;
  private notifyAfter = 0;
  private told = 0;
  private drawMs: number[] = [];
  private drag: Drag | null = null;
  private dragSpan: [number, number] | null = null;
  private headsKey = "";
  private barKey = "";

  constructor(opts: PlotOptions & { onBrush: (passing: Set<string> | null) => void }) {
    super(opts, "lp-parcoords", BAR + HEAD);
    this.g = this.canvas.getContext("2d");
    this.gBase = this.base.getContext("2d");
    this.gLines = this.lines.getContext("2d");
    this.addSel.title = "show another axis";
    this.colorSel.title = "colour the lines by";
    this.clearBtn.type = "button";
    this.clearBtn.disabled = true;
    this.clearBtn.addEventListener("click", () => this.clearBrushes());
    this.addSel.addEventListener("change", () => {
      const key = this.addSel.value;
      if (key) this.setAxes([...this.shownKeys(), key]);
    });
    this.colorSel.addEventListener("change", () => this.setColorBy(this.colorSel.value));
    this.legendBar.width = 80;
    this.legendBar.height = 8;
    this.legend.append(this.legendLo, this.legendBar, this.legendHi);
    const colorLabel = el("label", "lp-pc-colorlabel", "colour ");
    colorLabel.append(this.colorSel);
    this.bar.append(this.addSel, colorLabel, this.legend, this.clearBtn);
    this.base.hidden = true;
    this.stack.append(this.base, this.lines, this.canvas);
    this.el.append(this.bar, this.heads, this.stack);
    this.canvas.addEventListener("pointerdown", (e) => this.down(e));
    this.canvas.addEventListener("pointermove", (e) => this.move(e));
    this.canvas.addEventListener("pointerup", (e) => this.up(e));
    this.canvas.addEventListener("pointercancel", () => this.cancelDrag());
    this.canvas.addEventListener("pointerleave", () => {
      if (!this.drag) this.hoverOff();
    });
  }

  protected override focusChanged(): void {
    this.schedule(OVER);
  }

  /** Draw these runs; `dims` are the candidate axes (the user picks among them); brushes are kept by key. */
  setData(rows: RunRow[], dims: Dim[]): void {
    this.take(rows, dims);
    this.rebuild();
  }

  resize(width: number, height: number): void {
    this.size(width, height, [this.base, this.lines, this.canvas]);
    this.stack.style.width = `${this.width}px`;
    this.stack.style.height = `${this.ch}px`;
    this.layout();
    this.schedule();
  }

  clearBrushes(): void {
    this.brushes.clear();
    this.drag = null;
    this.dragSpan = null;
    this.updatePassing();
    this.notified = null;
    this.told++;
    this.opts.onBrush(null);
    this.schedule(LINES | OVER);
  }

  /** Brush an axis programmatically: a value range (numeric axes) or the categories from lo to hi
   * (categorical axes); lo = null removes the brush. Shows the axis when it is hidden. */
  brush(key: string, lo: number | string | null, hi?: number | string | null): void {
    const d = this.dims.find((x) => x.key === key);
    if (!d) throw new Error(`no axis ${JSON.stringify(key)} among the candidates`);
    if (lo === null || lo === undefined) {
      this.brushes.delete(key);
    } else {
      if (!this.shownKeys().includes(key)) this.setAxes([...this.shownKeys(), key]);
      const axis = this.axes.find((a) => a.dim.key === key)!;
      const h = hi ?? lo;
      if (axis.scale.kind === "cat") {
        const cats = axis.scale.categories;
        let a = cats.indexOf(String(lo));
        let b = cats.indexOf(String(h));
        if (a < 0 || b < 0) throw new Error(`axis ${JSON.stringify(key)} has no category ${JSON.stringify(a < 0 ? lo : h)}`);
        if (a > b) [a, b] = [b, a];
        this.brushes.set(key, { cats: cats.slice(a, b + 1) });
      } else {
        const l = Number(lo);
        const u = Number(h);
        if (!Number.isFinite(l) || !Number.isFinite(u)) throw new Error(`a brush on ${JSON.stringify(key)} needs two numbers`);
        this.brushes.set(key, { lo: Math.min(l, u), hi: Math.max(l, u) });
      }
    }
    this.updatePassing();
    this.schedule(LINES | OVER);
  }

  /** Which axes are shown (dim keys, in order); a user's choice, kept across setData. */
  setAxes(keys: string[]): void {
    const known = new Set(this.dims.map((d) => d.key));
    this.chosen = [...new Set(keys)].filter((k) => known.has(k));
    for (const k of [...this.brushes.keys()]) if (!this.chosen.includes(k)) this.brushes.delete(k);
    this.rebuild();
  }

  /** An axis's scale (linear, log, categorical); a scale that cannot place its values falls back. */
  setScale(key: string, kind: ScaleKind | null): void {
    if (kind) this.kinds.set(key, kind);
    else this.kinds.delete(key);
    this.rebuild();
  }

  /** Colour lines by this dim's values ("" : each run's own colour). */
  setColorBy(key: string): void {
    this.colorBy = key;
    this.recolor();
    this.refreshBar();
    this.schedule(LINES | OVER);
  }

  debug(): ParCoordsDebug {
    const brushes: Record<string, Brush> = {};
    for (const [k, b] of this.brushes) brushes[k] = b;
    return {
      axes: this.axes.map((a) => ({
        key: a.dim.key,
        label: a.dim.label,
        kind: a.scale.kind,
        categories: [...a.scale.categories],
        ticks: a.scale.ticks().map((t) => t.label),
        missing: a.missing,
      })),
      brushes,
      colorBy: this.currentColorBy(),
      passing: this.passing ? [...this.passing].sort() : null,
      runs: this.rows.length,
      frames: this.frames,
      told: this.told,
      drawMs: [...this.drawMs],
      geometry: { xs: [...this.xs], top: PAD.top, bottom: this.bottom(), missingY: this.bottom() + MISSING_GAP, width: this.width, height: this.ch },
      focus: this.opts.focus.get(),
    };
  }

  // ---- data -> axes ------------------------------------------------------------------------------

  private shownKeys(): string[] {
    return this.axes.map((a) => a.dim.key);
  }

  private currentColorBy(): string {
    if (this.colorBy !== null && (this.colorBy === "" || this.dims.some((d) => d.key === this.colorBy))) return this.colorBy;
    return defaultColorBy(this.dims);
  }

  private rebuild(): void {
    const byKey = new Map(this.dims.map((d) => [d.key, d]));
    const keys = (this.chosen ?? defaultAxes(this.dims, this.rows)).filter((k) => byKey.has(k));
    this.axes = keys.map((k) => {
      const dim = byKey.get(k)!;
      const values = this.rows.map((r) => safeGet(dim, r));
      const p = profile(values);
      const scale = makeScale(values, this.kinds.get(k) ?? null);
      const pos = new Float32Array(values.length);
      let miss = 0;
      for (let i = 0; i < values.length; i++) {
        pos[i] = scale.pos(values[i]);
        if (Number.isNaN(pos[i])) miss++;
      }
      return { dim, values, scale, pos, ys: new Float32Array(values.length), profile: p, missing: miss };
    });
    // a brush that no longer fits its axis (a numeric axis became categorical) is dropped
    for (const [k, b] of [...this.brushes]) {
      const a = this.axes.find((x) => x.dim.key === k);
      if (a && !brushFits(a.scale, b)) this.brushes.delete(k);
    }
    this.recolor();
    this.updatePassing();
    this.layout();
    this.refreshBar();
    this.schedule();
  }

  private recolor(): void {
    const n = this.rows.length;
    this.bucket = new Int16Array(n);
    const key = this.currentColorBy();
    const dim = key ? this.dims.find((d) => d.key === key) : undefined;
    this.legend.hidden = true;
    if (dim) {
      const values = this.rows.map((r) => safeGet(dim, r));
      const scale = makeScale(values, profile(values).numeric ? null : "cat");
      const t = colormapTable("viridis");
      this.bucketColors = [];
      for (let b = 0; b < BUCKETS; b++) {
        const i = Math.round((b / (BUCKETS - 1)) * 255);
        this.bucketColors.push(`rgb(${t[i * 3]},${t[i * 3 + 1]},${t[i * 3 + 2]})`);
      }
      this.bucketColors.push("#9a9a9a"); // runs without a value
      for (let i = 0; i < n; i++) {
        const p = scale.pos(values[i]);
        this.bucket[i] = Number.isNaN(p) ? BUCKETS : Math.round(p * (BUCKETS - 1));
      }
      this.drawLegend(scale);
      return;
    }
    const slots = new Map<string, number>();
    this.bucketColors = [];
    for (let i = 0; i < n; i++) {
      const c = this.opts.colors(this.rows[i].env);
      let b = slots.get(c);
      if (b === undefined) {
        b = this.bucketColors.length;
        slots.set(c, b);
        this.bucketColors.push(c);
      }
      this.bucket[i] = b;
    }
  }

  private drawLegend(scale: Scale): void {
    const g = this.legendBar.getContext("2d");
    if (g) {
      const t = colormapTable("viridis");
      for (let x = 0; x < 80; x++) {
        const i = Math.round((x / 79) * 255);
        g.fillStyle = `rgb(${t[i * 3]},${t[i * 3 + 1]},${t[i * 3 + 2]})`;
        g.fillRect(x, 0, 1, 8);
      }
    }
    if (scale.kind === "cat") {
      this.legendLo.textContent = scale.categories[0] ?? "";
      this.legendHi.textContent = scale.categories[scale.categories.length - 1] ?? "";
    } else {
      this.legendLo.textContent = fmt(scale.lo);
      this.legendHi.textContent = fmt(scale.hi) + (scale.kind === "log" ? " (log)" : "");
    }
    this.legend.hidden = false;
  }

  private updatePassing(): void {
    const brushed = this.axes.filter((a) => this.brushes.has(a.dim.key)).map((a) => ({ values: a.values, brush: this.brushes.get(a.dim.key)! }));
    const idx = passingIndices(this.rows.length, brushed);
    this.pass = new Uint8Array(this.rows.length);
    if (idx === null) {
      this.pass.fill(1);
      this.passing = null;
    } else {
      for (const i of idx) this.pass[i] = 1;
      this.passing = new Set([...idx].map((i) => this.rows[i].env));
    }
    this.clearBtn.disabled = this.brushes.size === 0;
  }

  // ---- geometry ----------------------------------------------------------------------------------

  private bottom(): number {
    return Math.max(PAD.top + 10, this.ch - PAD.bottom);
  }

  private yOf(p: number): number {
    return this.bottom() - p * (this.bottom() - PAD.top);
  }

  private pOf(y: number): number {
    const span = this.bottom() - PAD.top;
    return span > 0 ? Math.max(0, Math.min(1, (this.bottom() - y) / span)) : 0;
  }

  /** Every run's y on every axis: once per data, axes or size change (never per frame). */
  private layout(): void {
    const n = this.axes.length;
    const inner = Math.max(0, this.width - PAD.left - PAD.right);
    this.xs = this.axes.map((_, i) => (n === 1 ? PAD.left + inner / 2 : PAD.left + (i * inner) / (n - 1)));
    const missY = this.bottom() + MISSING_GAP;
    for (const a of this.axes) {
      for (let i = 0; i < a.pos.length; i++) a.ys[i] = Number.isNaN(a.pos[i]) ? missY : this.yOf(a.pos[i]);
    }
    this.layoutHeads();
  }

  private layoutHeads(): void {
    const key = JSON.stringify([this.width, this.axes.map((a) => [a.dim.key, a.dim.label, a.scale.kind, a.profile.logAllowed, a.profile.numeric])]);
    if (key === this.headsKey) return;
    this.headsKey = key;
    this.heads.replaceChildren();
    const n = this.axes.length;
    const spacing = n > 1 ? this.xs[1] - this.xs[0] : this.width;
    // too narrow for the buttons: names only (an axis is still added with "+ axis")
    const narrow = spacing < 62;
    const w = narrow ? Math.max(16, spacing - 4) : Math.min(160, spacing - 6);
    this.heads.classList.toggle("lp-pc-narrow", narrow);
    this.axes.forEach((a, i) => {
      const head = el("div", "lp-pc-head");
      head.dataset.key = a.dim.key;
      head.style.width = `${w}px`;
      head.style.left = `${Math.round(Math.max(0, Math.min(this.width - w, this.xs[i] - w / 2)))}px`;
      const name = el("div", "lp-pc-name", a.dim.label);
      name.title = a.dim.label;
      const ctl = el("div", "lp-pc-ctl");
      const btn = (text: string, title: string, fn: () => void, disabled = false) => {
        const b = el("button", "", text);
        b.type = "button";
        b.title = title;
        b.disabled = disabled;
        b.addEventListener("click", fn);
        ctl.append(b);
        return b;
      };
      btn("◀", "move left", () => this.moveAxis(i, -1), i === 0);
      const kinds = scaleChoices(a.profile);
      const label = { linear: "lin", log: "log", cat: "cat" }[a.scale.kind];
      const scaleBtn = btn(label, "scale: linear, log or categorical (click to change)", () => {
        const next = kinds[(kinds.indexOf(a.scale.kind) + 1) % kinds.length];
        this.setScale(a.dim.key, next);
      }, kinds.length < 2);
      scaleBtn.className = "lp-pc-scale";
      btn("▶", "move right", () => this.moveAxis(i, 1), i === n - 1);
      btn("✕", "hide this axis", () => this.setAxes(this.shownKeys().filter((k) => k !== a.dim.key)), n <= 1);
      head.append(name, ctl);
      this.heads.append(head);
    });
  }

  private moveAxis(i: number, by: number): void {
    const keys = this.shownKeys();
    const j = i + by;
    if (j < 0 || j >= keys.length) return;
    [keys[i], keys[j]] = [keys[j], keys[i]];
    this.setAxes(keys);
  }

  private refreshBar(): void {
    // the live feed calls setData every second: leave the selects alone (one may be open) unless they change
    const key = JSON.stringify([this.shownKeys(), this.dims.map((d) => [d.key, d.label]), this.currentColorBy()]);
    if (key === this.barKey) return;
    this.barKey = key;
    const shown = new Set(this.shownKeys());
    const add = this.addSel;
    add.replaceChildren();
    const first = el("option", "", "+ axis");
    first.value = "";
    add.append(first);
    for (const d of this.dims) {
      if (shown.has(d.key)) continue;
      const o = el("option", "", d.label);
      o.value = d.key;
      add.append(o);
    }
    add.value = "";
    add.disabled = add.options.length <= 1;
    const cur = this.currentColorBy();
    this.colorSel.replaceChildren();
    const own = el("option", "", "run colour");
    own.value = "";
    this.colorSel.append(own);
    const groupsFirst = [...this.dims].sort((a, b) => Number(dimGroup(b) === "metric") - Number(dimGroup(a) === "metric"));
    for (const d of groupsFirst) {
      const o = el("option", "", d.label);
      o.value = d.key;
      this.colorSel.append(o);
    }
    this.colorSel.value = cur;
  }

  // ---- drawing -----------------------------------------------------------------------------------

  private schedule(what = ALL): void {
    this.dirty |= what;
    if (this.raf) return;
    this.raf = requestAnimationFrame((now) => {
      this.raf = 0;
      this.frame(now);
    });
  }

  private frame(now: number): void {
    this.notify(now);
    if (!this.g || !this.width || !this.ch || !this.dirty) return;
    const t0 = performance.now();
    const what = this.dirty;
    this.dirty = 0;
    this.base.hidden = this.passing === null;
    if (what & BASE && this.gBase) this.drawBase(this.gBase);
    if (what & LINES && this.gLines) this.drawLines(this.gLines);
    if (what & OVER) this.drawOver(this.g);
    this.frames++;
    this.drawMs.push(performance.now() - t0);
    if (this.drawMs.length > 240) this.drawMs.splice(0, this.drawMs.length - 240);
  }

  /** Tell the page the passing runs changed: at most once per animation frame, and, when the page's
   * reaction (its JavaScript and the rendering after it) takes longer than two frames, only every so
   * often, so the brush itself keeps moving smoothly; the last change is always told. */
  private notify(now: number): void {
    if (this.notifiedAt >= 0 && !this.costKnown) {
      // this is the first frame after a notification: its start - that frame's start = the page's reaction
      this.costKnown = true;
      const cost = now - this.notifiedAt;
      this.notifyAfter = cost > SLOW_REACTION ? this.notifiedAt + 2 * Math.min(cost, 500) : 0;
    }
    if (sameSet(this.passing, this.notified)) return;
    if (this.costKnown && now < this.notifyAfter) {
      this.schedule(0); // told in a later frame
      return;
    }
    this.notified = this.passing;
    this.notifiedAt = now;
    this.costKnown = false;
    this.schedule(0); // the next frame measures how long the page took
    this.told++;
    this.opts.onBrush(this.passing);
  }

  private begin(g: CanvasRenderingContext2D): void {
    const dpr = g.canvas.width / Math.max(1, this.width);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, this.width, this.ch);
    g.lineWidth = 1;
    g.lineJoin = "round";
    g.globalAlpha = 1;
  }

  /** Run i's polyline into a path. */
  private path(p: Path2D, i: number): void {
    const xs = this.xs;
    const axes = this.axes;
    const m = axes.length;
    if (m === 1) {
      p.moveTo(xs[0] - 6, axes[0].ys[i]);
      p.lineTo(xs[0] + 6, axes[0].ys[i]);
      return;
    }
    p.moveTo(xs[0], axes[0].ys[i]);
    for (let a = 1; a < m; a++) p.lineTo(xs[a], axes[a].ys[i]);
  }

  /** Every run in faint grey: what is outside the brushes shows through (unchanged while a brush moves). */
  private drawBase(g: CanvasRenderingContext2D): void {
    this.begin(g);
    if (!this.axes.length) return;
    const faint = new Path2D();
    for (let i = 0; i < this.rows.length; i++) this.path(faint, i);
    g.strokeStyle = "rgba(150,150,150,0.22)";
    g.stroke(faint);
  }

  /** The passing runs: one path per colour bucket. */
  private drawLines(g: CanvasRenderingContext2D): void {
    this.begin(g);
    if (!this.axes.length) return;
    const n = this.rows.length;
    const paths: (Path2D | null)[] = this.bucketColors.map(() => null);
    for (let i = 0; i < n; i++) {
      if (!this.pass[i]) continue;
      this.path((paths[this.bucket[i]] ??= new Path2D()), i);
    }
    g.globalAlpha = n > 300 ? 0.55 : n > 60 ? 0.75 : 0.95;
    paths.forEach((p, b) => {
      if (!p) return;
      g.strokeStyle = this.bucketColors[b];
      g.stroke(p);
    });
    g.globalAlpha = 1;
  }

  /** Axes, ticks, brushes, and the focused run (from anywhere on the page) on top, thicker. */
  private drawOver(g: CanvasRenderingContext2D): void {
    this.begin(g);
    this.drawAxes(g);
    const focus = this.opts.focus.get();
    const fi = focus === null ? undefined : this.index.get(focus);
    if (fi !== undefined && this.axes.length) {
      const p = new Path2D();
      this.path(p, fi);
      g.lineWidth = 4;
      g.strokeStyle = this.colors.bg;
      g.stroke(p);
      g.lineWidth = 2.5;
      g.strokeStyle = this.pass[fi] ? this.bucketColors[this.bucket[fi]] : "#888";
      g.stroke(p);
      g.lineWidth = 1;
    }
  }

  private drawAxes(g: CanvasRenderingContext2D): void {
    const th = this.colors;
    const top = PAD.top;
    const bottom = this.bottom();
    const missY = bottom + MISSING_GAP;
    g.font = "10px system-ui, sans-serif";
    g.textBaseline = "middle";
    this.axes.forEach((a, i) => {
      const x = Math.round(this.xs[i]) + 0.5;
      g.strokeStyle = th.fg;
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(x, top);
      g.lineTo(x, bottom);
      const ticks = a.scale.ticks();
      const room = Math.max(1, Math.floor((bottom - top) / 12));
      const every = Math.max(1, Math.ceil(ticks.length / room));
      for (let t = 0; t < ticks.length; t += every) {
        const y = Math.round(this.yOf(ticks[t].pos)) + 0.5;
        g.moveTo(x - 4, y);
        g.lineTo(x, y);
      }
      g.stroke();
      g.fillStyle = th.muted;
      g.strokeStyle = th.bg; // a halo, so labels read over the lines
      g.lineWidth = 3;
      g.lineJoin = "round";
      g.textAlign = "right";
      for (let t = 0; t < ticks.length; t += every) {
        const label = ticks[t].label.length > 14 ? `${ticks[t].label.slice(0, 13)}…` : ticks[t].label;
        g.strokeText(label, x - 6, this.yOf(ticks[t].pos));
        g.fillText(label, x - 6, this.yOf(ticks[t].pos));
      }
      g.lineWidth = 1;
      if (a.missing) {
        // the "missing" notch: runs without a value on this axis end here
        g.strokeStyle = th.muted;
        g.beginPath();
        g.moveTo(x - 5, missY);
        g.lineTo(x + 5, missY);
        g.stroke();
        g.fillText("missing", x - 7, missY);
      }
      const span = this.drag && this.drag.key === a.dim.key && this.dragSpan ? this.dragSpan : this.brushSpanOf(a);
      if (span) {
        const y0 = this.yOf(span[1]);
        const y1 = this.yOf(span[0]);
        g.fillStyle = "rgba(31,119,180,0.18)";
        g.fillRect(x - 8, y0, 16, Math.max(2, y1 - y0));
        g.strokeStyle = th.accent;
        g.strokeRect(x - 8, y0, 16, Math.max(2, y1 - y0));
      }
    });
  }

  private brushSpanOf(a: Axis): [number, number] | null {
    const b = this.brushes.get(a.dim.key);
    return b ? brushSpan(a.scale, b) : null;
  }

  // ---- pointer -----------------------------------------------------------------------------------

  private local(e: PointerEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  private axisAt(x: number, y: number): number {
    if (y < PAD.top - 6 || y > this.bottom() + 6) return -1;
    let best = -1;
    let bd = HIT + 1;
    this.xs.forEach((ax, i) => {
      const d = Math.abs(ax - x);
      if (d <= HIT && d < bd) {
        best = i;
        bd = d;
      }
    });
    return best;
  }

  private down(e: PointerEvent): void {
    if (e.button !== 0) return;
    const [x, y] = this.local(e);
    const i = this.axisAt(x, y);
    if (i < 0) return;
    e.preventDefault();
    try {
      this.canvas.setPointerCapture(e.pointerId);
    } catch {
      /* a synthetic event without an active pointer */
    }
    const a = this.axes[i];
    const span = this.brushSpanOf(a);
    const p = this.pOf(y);
    if (span && p >= span[0] - 0.01 && p <= span[1] + 0.01) {
      this.drag = { key: a.dim.key, mode: "move", clientY: e.clientY, p0: p, span, moved: false };
      this.dragSpan = span;
    } else {
      this.drag = { key: a.dim.key, mode: "new", clientY: e.clientY, p0: p, span: [p, p], moved: false };
      this.dragSpan = null;
    }
  }

  private move(e: PointerEvent): void {
    const [x, y] = this.local(e);
    const d = this.drag;
    if (!d) {
      this.hover(x, y);
      return;
    }
    const dy = e.clientY - d.clientY;
    if (!d.moved && Math.abs(dy) < 3) return;
    d.moved = true;
    const a = this.axes.find((x) => x.dim.key === d.key);
    if (!a) return;
    const p = Math.max(0, Math.min(1, d.p0 - dy / Math.max(1, this.bottom() - PAD.top)));
    let span: [number, number];
    if (d.mode === "new") {
      span = [Math.min(d.p0, p), Math.max(d.p0, p)];
    } else {
      const w = d.span[1] - d.span[0];
      const lo = Math.max(0, Math.min(1 - w, d.span[0] + (p - d.p0)));
      span = [lo, lo + w];
    }
    this.dragSpan = span;
    this.brushes.set(a.dim.key, brushFromSpan(a.scale, span[0], span[1]));
    this.updatePassing();
    this.schedule(LINES | OVER);
  }

  private up(e: PointerEvent): void {
    const d = this.drag;
    if (!d) return;
    try {
      this.canvas.releasePointerCapture(e.pointerId);
    } catch {
      /* not captured */
    }
    this.drag = null;
    this.dragSpan = null;
    const a = this.axes.find((x) => x.dim.key === d.key);
    if (a && !d.moved && d.mode === "new") {
      // a click on the axis outside its brush removes the brush
      this.brushes.delete(a.dim.key);
      this.updatePassing();
    }
    this.schedule(LINES | OVER);
  }

  private cancelDrag(): void {
    this.drag = null;
    this.dragSpan = null;
    this.schedule(OVER);
  }

  /** The run whose line passes nearest the pointer (within a few px); passing runs first. */
  nearest(x: number, y: number): string | null {
    const m = this.axes.length;
    if (!m || !this.rows.length) return null;
    let a = 0;
    while (a < m - 1 && this.xs[a + 1] < x) a++;
    const b = Math.min(m - 1, a + 1);
    const xa = this.xs[a];
    const xb = this.xs[b];
    const t = xb > xa ? Math.max(0, Math.min(1, (x - xa) / (xb - xa))) : 0;
    const ya = this.axes[a].ys;
    const yb = this.axes[b].ys;
    return this.nearestRun(NEAR, (i) => Math.abs(ya[i] + t * (yb[i] - ya[i]) - y), (i) => this.pass[i] !== 0);
  }

  private hover(x: number, y: number): void {
    const env = this.nearest(x, y);
    if (env !== null) this.hoverOn(env);
    else this.hoverOff();
    this.canvas.style.cursor = this.axisAt(x, y) >= 0 ? "ns-resize" : env ? "pointer" : "";
  }
}

/** Exported for the scatter: how a value reads on an axis label or tooltip. */
export function valueText(v: Value): string {
  if (missing(v)) return "—";
  return typeof v === "number" ? fmt(v) : catLabel(v);
}


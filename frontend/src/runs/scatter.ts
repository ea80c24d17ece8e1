// A scatter of one metric against one hyper-parameter, a point per run. The component has its own
// x and y choosers (default: x a config key that varies, y the first metric); runs outside the
// parallel coordinates' brushes are dimmed. Every string shown is user input: fillText and
// textContent only.

import { el } from "../views/common";
import type { RunRow } from "../wire";
import { nameHash } from "./colors";
import { dimGroup, valueText, type Dim, type PlotOptions } from "./parcoords";
import { RunsPlot, safeGet } from "./plot";
import { makeScale, profile, scaleChoices, type Scale, type ScaleKind, type Value } from "./scales";

/** What tests read (`el.lpPlot.debug()`). */
export interface ScatterDebug {
  x: string;
  y: string;
  xKind: ScaleKind | null;
  yKind: ScaleKind | null;
  /** runs drawn (with both values), and those dimmed (outside `passing`) */
  points: number;
  dimmed: number;
  frames: number;
  focus: string | null;
  /** CSS px of the plot area inside the canvas */
  geometry: { left: number; top: number; right: number; bottom: number };
}

const PAD = { left: 58, right: 14, top: 10, bottom: 38 };
const BAR = 28;
const NEAR = 8;
/** points at the ends of a range stay inside the frame */
const inset = (p: number) => 0.03 + 0.94 * p;

/** An axis's grid lines and tick labels as one stroked path: every tick while at most `room` of them fit, else
 * every second, third... ; `line(pos, label)` adds one at `pos` (0..1 along the axis) to the path. */
function gridLines(g: CanvasRenderingContext2D, scale: Scale, room: number, line: (pos: number, label: string) => void): void {
  const ticks = scale.ticks();
  const every = Math.max(1, Math.ceil(ticks.length / Math.max(1, Math.floor(room))));
  g.beginPath();
  for (let t = 0; t < ticks.length; t += every) line(ticks[t].pos, ticks[t].label);
  g.stroke();
}

/** x and y before a user chooses: a config key whose values vary (else the first one), the first metric. */
export function defaultXY(dims: readonly Dim[], rows: readonly RunRow[]): [string, string] {
  const configs = dims.filter((d) => dimGroup(d) === "config");
  const varying = configs.find((d) => profile(rows.map((r) => safeGet(d, r))).distinct > 1);
  const x = varying ?? configs[0] ?? dims[0];
  const y = dims.find((d) => dimGroup(d) === "metric") ?? dims.find((d) => d !== x) ?? x;
  return [x?.key ?? "", y?.key ?? ""];
}

export class Scatter extends RunsPlot<PlotOptions & { onPick?: (env: string) => void }> {
  private readonly bar = el("div", "lp-sc-bar");
  private readonly xSel = el("select", "lp-sc-x");
  private readonly ySel = el("select", "lp-sc-y");
  private readonly xScaleBtn = el("button", "lp-sc-xscale");
  private readonly yScaleBtn = el("button", "lp-sc-yscale");
  private readonly canvas = el("canvas", "lp-sc-canvas");
  private readonly tip = el("div", "lp-sc-tip");
  private readonly g: CanvasRenderingContext2D | null;
  private passing: Set<string> | null = null;
  private chosen: [string, string] | null = null;
  private kinds = new Map<string, ScaleKind>();
  private xScale: Scale | null = null;
  private yScale: Scale | null = null;
  private xVals: Value[] = [];
  private yVals: Value[] = [];
  private px = new Float32Array(0);
  private py = new Float32Array(0);
  private drawn = 0;
  private dimmed = 0;
  private barKey = "";

  constructor(opts: PlotOptions & { onPick?: (env: string) => void }) {
    super(opts, "lp-scatter", BAR);
    this.g = this.canvas.getContext("2d");
    this.tip.hidden = true;
    for (const b of [this.xScaleBtn, this.yScaleBtn]) {
      b.type = "button";
      b.title = "scale: linear, log or categorical (click to change)";
    }
    const xl = el("label", "", "x ");
    xl.append(this.xSel, this.xScaleBtn);
    const yl = el("label", "", "y ");
    yl.append(this.ySel, this.yScaleBtn);
    this.bar.append(xl, yl);
    this.el.append(this.bar, this.canvas, this.tip);
    const choose = () => this.setAxes(this.xSel.value, this.ySel.value);
    this.xSel.addEventListener("change", choose);
    this.ySel.addEventListener("change", choose);
    this.xScaleBtn.addEventListener("click", () => this.cycleScale(this.current()[0], this.xVals, this.xScale));
    this.yScaleBtn.addEventListener("click", () => this.cycleScale(this.current()[1], this.yVals, this.yScale));
    this.canvas.addEventListener("pointermove", (e) => this.hover(e));
    this.canvas.addEventListener("pointerleave", () => {
      this.tip.hidden = true;
      this.hoverOff();
    });
    this.canvas.addEventListener("click", (e) => {
      const env = this.nearestAt(e);
      if (env !== null && this.opts.onPick) this.opts.onPick(env);
    });
  }

  protected override focusChanged(): void {
    this.schedule();
  }

  /** Draw these runs; `dims` are the candidates for x and y (the user picks); runs outside `passing` are dimmed. */
  setData(rows: RunRow[], dims: Dim[], passing: Set<string> | null): void {
    if (this.sameData(rows, dims)) {
      // only the brushes changed (every frame while one moves): redraw, nothing to recompute
      this.passing = passing;
      this.schedule();
      return;
    }
    this.take(rows, dims);
    this.passing = passing;
    this.rebuild();
  }

  resize(width: number, height: number): void {
    this.size(width, height, [this.canvas]);
    this.place();
    this.schedule();
  }

  /** Plot y against x (dim keys); kept across setData. */
  setAxes(x: string, y: string): void {
    this.chosen = [x, y];
    this.rebuild();
  }

  /** An axis's scale by dim key (null: the default for its values). */
  setScale(key: string, kind: ScaleKind | null): void {
    if (kind) this.kinds.set(key, kind);
    else this.kinds.delete(key);
    this.rebuild();
  }

  debug(): ScatterDebug {
    const [x, y] = this.current();
    return {
      x,
      y,
      xKind: this.xScale?.kind ?? null,
      yKind: this.yScale?.kind ?? null,
      points: this.drawn,
      dimmed: this.dimmed,
      frames: this.frames,
      focus: this.opts.focus.get(),
      geometry: { left: PAD.left, top: PAD.top, right: this.width - PAD.right, bottom: this.ch - PAD.bottom },
    };
  }

  /** Where a run's point is (CSS px in the canvas), or null when it lacks x or y. */
  pointOf(env: string): [number, number] | null {
    const i = this.index.get(env);
    if (i === undefined || Number.isNaN(this.px[i]) || Number.isNaN(this.py[i])) return null;
    return [this.px[i], this.py[i]];
  }

  /** The same row objects (the runs model keeps a row until it changes) and the same candidate keys? */
  private sameData(rows: RunRow[], dims: Dim[]): boolean {
    if (rows.length !== this.rows.length || dims.length !== this.dims.length || !rows.length) return false;
    for (let i = 0; i < rows.length; i++) if (rows[i] !== this.rows[i]) return false;
    for (let i = 0; i < dims.length; i++) if (dims[i].key !== this.dims[i].key || dims[i].label !== this.dims[i].label) return false;
    return true;
  }

  private current(): [string, string] {
    const keys = new Set(this.dims.map((d) => d.key));
    const dflt = defaultXY(this.dims, this.rows);
    const c = this.chosen;
    return [c && keys.has(c[0]) ? c[0] : dflt[0], c && keys.has(c[1]) ? c[1] : dflt[1]];
  }

  private cycleScale(key: string, values: Value[], scale: Scale | null): void {
    if (!key || !scale) return;
    const kinds = scaleChoices(profile(values));
    this.setScale(key, kinds[(kinds.indexOf(scale.kind) + 1) % kinds.length]);
  }

  private rebuild(): void {
    const [x, y] = this.current();
    const byKey = new Map(this.dims.map((d) => [d.key, d]));
    this.xVals = this.rows.map((r) => safeGet(byKey.get(x), r));
    this.yVals = this.rows.map((r) => safeGet(byKey.get(y), r));
    this.xScale = x ? makeScale(this.xVals, this.kinds.get(x) ?? null) : null;
    this.yScale = y ? makeScale(this.yVals, this.kinds.get(y) ?? null) : null;
    // the live feed calls setData every second: rebuild the choosers (one may be open) only when they change
    const barKey = JSON.stringify([x, y, this.dims.map((d) => [d.key, d.label])]);
    if (barKey !== this.barKey) {
      this.barKey = barKey;
      for (const [sel, key] of [[this.xSel, x], [this.ySel, y]] as const) {
        sel.replaceChildren();
        for (const d of this.dims) {
          const o = el("option", "", d.label);
          o.value = d.key;
          sel.append(o);
        }
        sel.value = key;
      }
    }
    const label = (s: Scale | null) => (s ? { linear: "lin", log: "log", cat: "cat" }[s.kind] : "");
    this.xScaleBtn.textContent = label(this.xScale);
    this.yScaleBtn.textContent = label(this.yScale);
    this.place();
    this.schedule();
  }

  /** Every run's point in CSS px: on data, axes or size changes, not per frame. */
  private place(): void {
    const n = this.rows.length;
    this.px = new Float32Array(n);
    this.py = new Float32Array(n);
    const xs = this.xScale;
    const ys = this.yScale;
    const w = Math.max(1, this.width - PAD.left - PAD.right);
    const h = Math.max(1, this.ch - PAD.top - PAD.bottom);
    const cats = xs?.kind === "cat" ? Math.max(1, xs.categories.length) : 0;
    for (let i = 0; i < n; i++) {
      let p = xs ? xs.pos(this.xVals[i]) : NaN;
      // categorical x: a stable jitter within the category's cell, so runs of one value do not stack
      if (cats && !Number.isNaN(p)) p += (((nameHash(this.rows[i].env) % 1000) / 1000 - 0.5) * 0.6) / cats;
      const q = ys ? ys.pos(this.yVals[i]) : NaN;
      this.px[i] = PAD.left + inset(p) * w;
      this.py[i] = this.ch - PAD.bottom - inset(q) * h;
    }
  }

  private schedule(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.draw();
    });
  }

  private draw(): void {
    const g = this.g;
    if (!g || !this.width || !this.ch) return;
    const dpr = this.canvas.width / Math.max(1, this.width);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, this.width, this.ch);
    this.drawAxes(g);
    const n = this.rows.length;
    const faint = new Path2D();
    const byColor = new Map<string, Path2D>();
    let drawn = 0;
    let dimmed = 0;
    const r = n > 300 ? 2.5 : 3.5;
    for (let i = 0; i < n; i++) {
      const x = this.px[i];
      const y = this.py[i];
      if (Number.isNaN(x) || Number.isNaN(y)) continue;
      drawn++;
      const env = this.rows[i].env;
      let p: Path2D;
      if (this.passing && !this.passing.has(env)) {
        p = faint;
        dimmed++;
      } else {
        const c = this.opts.colors(env);
        p = byColor.get(c) ?? new Path2D();
        byColor.set(c, p);
      }
      p.moveTo(x + r, y);
      p.arc(x, y, r, 0, Math.PI * 2);
    }
    g.fillStyle = "rgba(150,150,150,0.3)";
    g.fill(faint);
    g.globalAlpha = 0.85;
    for (const [c, p] of byColor) {
      g.fillStyle = c;
      g.fill(p);
    }
    g.globalAlpha = 1;
    const focus = this.opts.focus.get();
    const at = focus === null ? null : this.pointOf(focus);
    if (focus !== null && at) {
      g.beginPath();
      g.arc(at[0], at[1], 6.5, 0, Math.PI * 2);
      g.fillStyle = this.passing && !this.passing.has(focus) ? "#999" : this.opts.colors(focus);
      g.fill();
      g.lineWidth = 2;
      g.strokeStyle = this.colors.fg;
      g.stroke();
    }
    if (drawn < n) {
      g.fillStyle = this.colors.muted;
      g.font = "10px system-ui, sans-serif";
      g.textAlign = "right";
      g.textBaseline = "bottom"; // below the x axis, right: never over a point
      g.fillText(`${n - drawn} without a value`, this.width - PAD.right, this.ch - 2);
    }
    this.drawn = drawn;
    this.dimmed = dimmed;
    this.frames++;
  }

  private drawAxes(g: CanvasRenderingContext2D): void {
    const th = this.colors;
    const left = PAD.left;
    const right = this.width - PAD.right;
    const top = PAD.top;
    const bottom = this.ch - PAD.bottom;
    g.strokeStyle = th.grid;
    g.lineWidth = 1;
    g.font = "10px system-ui, sans-serif";
    g.fillStyle = th.muted;
    const xs = this.xScale;
    const ys = this.yScale;
    const trunc = (s: string, k: number) => (s.length > k ? `${s.slice(0, k - 1)}…` : s);
    if (xs) {
      g.textAlign = "center";
      g.textBaseline = "top";
      gridLines(g, xs, (right - left) / 60, (pos, label) => {
        const x = Math.round(left + inset(pos) * (right - left)) + 0.5;
        g.moveTo(x, top);
        g.lineTo(x, bottom);
        g.fillText(trunc(label, 12), x, bottom + 4);
      });
    }
    if (ys) {
      g.textAlign = "right";
      g.textBaseline = "middle";
      gridLines(g, ys, (bottom - top) / 16, (pos, label) => {
        const y = Math.round(bottom - inset(pos) * (bottom - top)) + 0.5;
        g.moveTo(left, y);
        g.lineTo(right, y);
        g.fillText(trunc(label, 9), left - 4, y);
      });
    }
    g.strokeStyle = th.fg;
    g.strokeRect(left + 0.5, top + 0.5, right - left, bottom - top);
    const [x, y] = this.current();
    const lx = this.dims.find((d) => d.key === x)?.label ?? "";
    const ly = this.dims.find((d) => d.key === y)?.label ?? "";
    g.fillStyle = th.fg;
    g.textAlign = "center";
    g.textBaseline = "bottom";
    g.fillText(trunc(lx, 60), (left + right) / 2, this.ch - 2);
    g.save();
    g.translate(11, (top + bottom) / 2);
    g.rotate(-Math.PI / 2);
    g.textBaseline = "middle";
    g.fillText(trunc(ly, 40), 0, 0);
    g.restore();
  }

  private nearestAt(e: MouseEvent): string | null {
    const r = this.canvas.getBoundingClientRect();
    return this.nearest(e.clientX - r.left, e.clientY - r.top);
  }

  /** The run whose point is nearest (x, y) within a few px; passing runs first. */
  nearest(x: number, y: number): string | null {
    const dist2 = (i: number) => {
      const dx = this.px[i] - x;
      const dy = this.py[i] - y;
      return dx * dx + dy * dy;
    };
    return this.nearestRun(NEAR * NEAR, dist2, (i) => !this.passing || this.passing.has(this.rows[i].env));
  }

  private hover(e: PointerEvent): void {
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const env = this.nearest(x, y);
    if (env === null) {
      this.tip.hidden = true;
      this.canvas.style.cursor = "";
      this.hoverOff();
      return;
    }
    this.hoverOn(env);
    this.canvas.style.cursor = this.opts.onPick ? "pointer" : "";
    const i = this.index.get(env)!;
    const [kx, ky] = this.current();
    const lx = this.dims.find((d) => d.key === kx)?.label ?? "x";
    const ly = this.dims.find((d) => d.key === ky)?.label ?? "y";
    this.tip.textContent = `${env}\n${lx}: ${valueText(this.xVals[i])}\n${ly}: ${valueText(this.yVals[i])}`;
    this.tip.hidden = false;
    const left = Math.min(this.width - 160, x + 12);
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${BAR + Math.max(0, y - 10)}px`;
  }
}

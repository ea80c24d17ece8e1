// What every window kind shares: the View interface, theme colours, the
// palette, canvas helpers and the page-side counters tests and benchmarks read.

import type { EnvState, WindowState } from "../state";
import type { Grouping, Settings } from "../settings";
import type { Focus, RunsModel } from "../runs/model";
import type { Alert } from "../wire";
import { safeColor } from "./lineopts";
import type { Pick } from "../events";

export interface Ctx {
  /** the selected envs, in order; a window with several is an overlay */
  envs: string[];
  /** announce that a view drew (counters for tests and benchmarks) */
  drew(win: string): void;
  /** fetch helper relative to the page */
  api(path: string, query: Record<string, string | number | undefined>): string;
  /** the alerts of window `win` in the selected envs */
  alerts(win: string): Alert[];
  /** the page-wide chart settings (a window's own controls override them) */
  readonly page: Settings;
  /** every run's row (config, colour, metrics), live from the server's runs feed */
  readonly runs: RunsModel;
  /** the run under the pointer anywhere on the page: views highlight it */
  readonly focus: Focus;
  /** overlaid runs grouped by a config key ("" : none) */
  readonly grouping: Grouping;
  /** an env as the page holds it: views that show other windows' data read it (views/graph.ts) */
  envState?(env: string): EnvState | undefined;
  /** bring a window into view and mark it (a graph node's layer windows) */
  reveal?(win: string): void;
}

export interface View {
  /** the element that fills the window's body */
  readonly el: HTMLElement;
  /** controls placed in the window's header (optional) */
  readonly tools?: HTMLElement;
  /** set by the window frame: called when the tools grew or shrank (the header is fitted again) */
  toolsChanged?: () => void;
  /** draw the current state of these windows (one per env that has the id) */
  update(wins: WindowState[]): void;
  /** the body was resized */
  resize(width: number, height: number): void;
  /** a PNG of what is shown */
  png(): Promise<Blob | null>;
  /** a CSV of what is shown, when the view makes its own (else the server's export is used) */
  csv?(): string | null;
  /** what is at a point of the page (client px), for a click's event (events.ts); null: nothing there */
  pick?(cx: number, cy: number): Pick | null;
  destroy(): void;
}

export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

export function color(i: number, opts?: Record<string, unknown>): string {
  const custom = opts?.colors;
  // a colour only (#hex, a name, rgb()/hsl()): never url() or anything else CSS would fetch
  return (Array.isArray(custom) ? safeColor(custom[i]) : undefined) ?? PALETTE[i % PALETTE.length];
}

export interface Theme {
  fg: string;
  muted: string;
  grid: string;
  bg: string;
  accent: string;
  /** alerts: visible on both light and dark panels */
  bad: string;
}

export function theme(): Theme {
  const cs = getComputedStyle(document.documentElement);
  const v = (name: string, dflt: string) => cs.getPropertyValue(name).trim() || dflt;
  return { fg: v("--fg", "#222"), muted: v("--muted", "#777"), grid: v("--grid", "#e4e4e4"), bg: v("--panel", "#fff"), accent: v("--accent", "#1f77b4"), bad: v("--bad", "#cf222e") };
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A label for a trace in a window shown for several envs: env/trace. */
/** A trace's legend label: `env/trace` when several envs are shown; an unnamed trace goes by its window's name. */
export function seriesLabel(env: string, trace: string, envs: number, win: string): string {
  if (envs > 1) return trace ? `${env}/${trace}` : env;
  return trace || win;
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** What a view last drew, by env and version: an update that changes neither draws nothing again. */
export class Shown {
  private key = "";
  /** Whether these windows differ (envs, order or versions) from the last call's; remembers them. */
  changed(wins: WindowState[]): boolean {
    const key = JSON.stringify(wins.map((w) => [w.env, w.version]));
    if (key === this.key) return false;
    this.key = key;
    return true;
  }
}

/** A canvas that keeps its backing store at device pixel ratio. */
export class Canvas {
  readonly canvas = document.createElement("canvas");
  readonly ctx: CanvasRenderingContext2D;
  width = 0;
  height = 0;
  constructor() {
    this.ctx = this.canvas.getContext("2d")!;
  }
  size(w: number, h: number): void {
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.max(1, Math.floor(w));
    this.height = Math.max(1, Math.floor(h));
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.canvas.style.width = this.width + "px";
    this.canvas.style.height = this.height + "px";
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
}

/** A view drawn on one Canvas (bar, histogram): at least 100 x 80 px, drawn again on every resize, and
 * its PNG is that canvas on the panel's colour. */
export abstract class CanvasView implements View {
  abstract readonly el: HTMLElement;
  protected readonly c = new Canvas();
  /** the body's size, CSS px */
  protected w = 400;
  protected h = 240;

  abstract update(wins: WindowState[]): void;
  protected abstract draw(): void;

  resize(width: number, height: number): void {
    this.w = Math.max(100, width);
    this.h = Math.max(80, height);
    this.draw();
  }

  png(): Promise<Blob | null> {
    return canvasPng([this.c.canvas], theme().bg);
  }

  destroy(): void {}
}

/** Round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const span = hi - lo;
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** Axis tick labels with as many decimals as the tick spacing needs (uPlot's default stops at 3). */
export function tickLabels(_u: unknown, splits: number[], _axis: number, _space: number, incr: number): string[] {
  const decimals = incr > 0 && Number.isFinite(incr) ? decimalsOf(incr) : 0;
  return splits.map((v) => (Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-4) ? v.toExponential(1) : v.toFixed(decimals)));
}

/** Room for the y axis: its widest tick label (about 7 px a character at the default 12 px font) and the ticks. */
export function axisWidth(_u: unknown, values: string[] | null): number {
  const longest = values ? Math.max(0, ...values.map((v) => v.length)) : 6;
  return Math.max(40, Math.ceil(longest * 7.2) + 18);
}

/** Digits after the point in a spacing such as 0.25 or 2.5e-4 (uPlot's are 1, 2, 2.5 or 5 times a power of 10). */
export function decimalsOf(incr: number): number {
  const [mant, exp] = Number(incr.toPrecision(6)).toExponential().split("e");
  const frac = (mant.split(".")[1] ?? "").length;
  return Math.min(12, Math.max(0, frac - Number(exp)));
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** Axes for a canvas plot: returns the plot rectangle and value-to-pixel maps. */
export function axes(c: Canvas, th: Theme, x: [number, number], y: [number, number], pad = { l: 48, r: 10, t: 8, b: 22 }, xlabels?: (v: number) => string) {
  const ctx = c.ctx;
  const L = pad.l, T = pad.t, W = Math.max(1, c.width - pad.l - pad.r), H = Math.max(1, c.height - pad.t - pad.b);
  const sx = (v: number) => L + ((v - x[0]) / (x[1] - x[0] || 1)) * W;
  const sy = (v: number) => T + H - ((v - y[0]) / (y[1] - y[0] || 1)) * H;
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeStyle = th.grid;
  ctx.fillStyle = th.muted;
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of ticks(y[0], y[1], Math.max(2, Math.floor(H / 40)))) {
    const py = Math.round(sy(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(L, py);
    ctx.lineTo(L + W, py);
    ctx.stroke();
    ctx.fillText(fmt(v), L - 4, py);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  if (!xlabels) for (const v of ticks(x[0], x[1], Math.max(2, Math.floor(W / 70)))) ctx.fillText(fmt(v), sx(v), T + H + 4);
  return { L, T, W, H, sx, sy };
}

export function canvasPng(canvases: HTMLCanvasElement[], background: string): Promise<Blob | null> {
  if (!canvases.length) return Promise.resolve(null);
  const w = Math.max(...canvases.map((c) => c.width));
  const h = canvases.reduce((n, c) => n + c.height, 0);
  const out = document.createElement("canvas");
  out.width = w;
  out.height = h;
  const ctx = out.getContext("2d")!;
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, w, h);
  let y = 0;
  for (const c of canvases) {
    ctx.drawImage(c, 0, y);
    y += c.height;
  }
  return new Promise((resolve) => out.toBlob(resolve, "image/png"));
}

/** Lines of text as a PNG (windows whose content is text: its image export). */
export function textPng(lines: string[], width: number, lineHeight: number): Promise<Blob | null> {
  const th = theme();
  const c = document.createElement("canvas");
  c.width = Math.max(200, width);
  c.height = lineHeight * lines.length + 12;
  const g = c.getContext("2d")!;
  g.fillStyle = th.bg;
  g.fillRect(0, 0, c.width, c.height);
  g.fillStyle = th.fg;
  g.font = "13px system-ui, sans-serif";
  lines.forEach((l, i) => g.fillText(l, 6, 18 + i * lineHeight));
  return canvasPng([c], th.bg);
}

/** A range slider with a label, for steps. */
export class StepSlider {
  readonly el = el("label", "lp-step");
  readonly input = el("input");
  readonly text = el("span");
  /** null: follow the latest step */
  chosen: number | null = null;
  private steps: number[] = [];
  constructor(onChange: () => void) {
    this.input.type = "range";
    this.input.min = "0";
    this.input.step = "1";
    this.input.setAttribute("aria-label", "step");
    this.el.append(this.input, this.text);
    this.input.addEventListener("input", () => {
      const i = Number(this.input.value);
      this.chosen = i >= this.steps.length - 1 ? null : this.steps[i];
      onChange();
    });
  }
  /** Set the available steps; return the index of the step to show. */
  set(steps: number[]): number {
    this.steps = steps;
    this.el.style.display = steps.length > 1 ? "" : "none";
    let i = steps.length - 1;
    if (this.chosen !== null) {
      const at = steps.indexOf(this.chosen);
      if (at >= 0) i = at;
      else this.chosen = null;
    }
    this.input.max = String(Math.max(0, steps.length - 1));
    this.input.value = String(Math.max(0, i));
    this.text.textContent = steps.length ? `step ${steps[Math.max(0, i)]}${this.chosen === null ? " (latest)" : ""}` : "";
    return i;
  }
}

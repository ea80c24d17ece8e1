// Line and scatter windows (uPlot): own legend with toggles and cursor values,
// drag to zoom (re-fetching the range at full resolution when the snapshot
// was decimated), double-click to reset, log axes, EMA smoothing with the raw
// curve faint behind, x by step, wall time or time since the env's first point.
// Smoothing, x and log y follow the page's settings unless the window sets its own.
// Several envs overlay as env/trace.

import { decode } from "@msgpack/msgpack";
import uPlot from "uplot";
import { windowFrom, type Trace, type WindowState } from "../state";
import { align, smooth, withGaps, type Col } from "../series";
import type { Alert, WireWindow } from "../wire";
import { clampSmooth, overrides, relative, resolve, SMOOTH_MAX, X_NAMES, xLabel, XMODES, type Override, type Settings, type XMode } from "../settings";
import { axisWidth, color, el, fmt, seriesLabel, str, theme, tickLabels, type Ctx, type View } from "./common";

interface Line {
  label: string;
  color: string;
  x: Float64Array;
  y: Float64Array;
}

/** An alert's onset as drawn on the chart (tests read these through window.__livepanel.markers). */
export interface Marker {
  id: number;
  kind: string;
  env: string;
  /** the alert's onset step */
  step: number;
  /** the x value drawn at (the step, or its wall time when x is time) */
  x: number;
  /** canvas pixel column of the line (device pixels, as in the chart's canvas) */
  px: number;
  /** inside the plotted x range */
  visible: boolean;
}

/** a zoom fetches every point of its range up to this many (estimated), else a decimated view */
export const FULL_RES_LIMIT = 250_000;

export class LineView implements View {
  readonly el = el("div", "lp-line");
  readonly tools = el("span", "lp-tools");
  toolsChanged?: () => void;
  private plotEl = el("div", "lp-plot");
  private legendEl = el("div", "lp-legend");
  private u: uPlot | null = null;
  private shape = "";
  private wins: WindowState[] = [];
  private lines: Line[] = [];
  private hidden = new Set<string>();
  /** what this window sets for itself (smoothing, x, log y); the rest follows the page */
  own: Override = {};
  private xlog: boolean | null = null;
  private zoom: { x0: number; x1: number; traces: Map<string, Trace[]> | null } | null = null;
  private zoomToken = 0;
  private w = 400;
  private h = 240;
  private smoothInput = el("input");
  private smoothText = el("span", "lp-smooth-value");
  private xsel = el("select", "lp-xmode");
  private pageBtn = el("button", "lp-page-reset", "↺ page");
  private legendValues: HTMLElement[] = [];
  private markerColor = "#cf222e";
  /** alert onsets drawn at the last paint */
  markers: Marker[] = [];

  constructor(private readonly kind: string, private readonly ctx: Ctx, private readonly win: string) {
    this.el.append(this.plotEl, this.legendEl);
    // smoothing slider (its value shown)
    const sm = el("label", "lp-smooth", "smooth");
    this.smoothInput.type = "range";
    this.smoothInput.min = "0";
    this.smoothInput.max = String(SMOOTH_MAX);
    this.smoothInput.step = "0.01";
    this.smoothInput.value = "0";
    this.smoothInput.title = "exponential moving average (debiased); the raw curve stays faint behind";
    this.smoothInput.addEventListener("input", () => {
      this.own.smooth = clampSmooth(Number(this.smoothInput.value));
      this.redraw();
    });
    sm.append(this.smoothInput, this.smoothText);
    const xsel = this.xsel;
    xsel.title = "x axis";
    for (const m of XMODES) xsel.append(new Option("x: " + X_NAMES[m], m));
    xsel.addEventListener("change", () => {
      this.own.x = xsel.value as XMode;
      this.zoom = null;
      this.redraw();
    });
    const logx = this.toggle("log x", () => {
      this.xlog = !this.isLog("x");
      this.redraw();
      return this.isLog("x");
    });
    const logy = this.toggle("log y", () => {
      this.own.logy = !this.isLog("y");
      this.redraw();
      return this.isLog("y");
    });
    this.logButtons = [logx, logy];
    this.pageBtn.type = "button";
    this.pageBtn.hidden = true;
    this.pageBtn.title = "this window has settings of its own: go back to the page's";
    this.pageBtn.addEventListener("click", () => {
      this.own = {};
      this.zoom = null;
      this.redraw();
    });
    if (kind === "line") this.tools.append(sm);
    this.tools.append(xsel, logx, logy, this.pageBtn);
    this.plotEl.addEventListener("dblclick", () => this.resetZoom());
  }

  private logButtons: HTMLButtonElement[];

  private toggle(text: string, flip: () => boolean): HTMLButtonElement {
    const b = el("button", "lp-toggle", text);
    b.type = "button";
    b.addEventListener("click", () => b.classList.toggle("on", flip()));
    return b;
  }

  /** The settings in force: the window's own, else the page's. */
  get settings(): Settings {
    return resolve(this.ctx.page, this.own);
  }

  private get smoothing(): number {
    return this.kind === "line" ? this.settings.smooth : 0;
  }

  private get xmode(): XMode {
    return this.settings.x;
  }

  private isLog(axis: "x" | "y"): boolean {
    if (axis === "x" && this.xlog !== null) return this.xlog;
    if (axis === "y" && (this.own.logy !== undefined || this.ctx.page.logy)) return this.settings.logy;
    return this.wins.some((w) => w.opts[axis === "x" ? "xlog" : "ylog"] === true);
  }

  /** Show the settings in force on the window's controls, and which of them are its own. */
  private showControls(): void {
    const s = this.settings;
    this.smoothInput.value = String(s.smooth);
    this.smoothText.textContent = s.smooth.toFixed(2);
    this.xsel.value = s.x;
    this.logButtons[0].classList.toggle("on", this.isLog("x"));
    this.logButtons[1].classList.toggle("on", this.isLog("y"));
    this.smoothInput.parentElement?.classList.toggle("lp-own", this.own.smooth !== undefined);
    this.xsel.classList.toggle("lp-own", this.own.x !== undefined);
    this.logButtons[1].classList.toggle("lp-own", this.own.logy !== undefined);
    const follows = !overrides(this.own);
    if (this.pageBtn.hidden !== follows) {
      this.pageBtn.hidden = follows;
      this.toolsChanged?.(); // "↺ page" came or went: the header may need fitting again
    }
    this.el.dataset.own = overrides(this.own) ? Object.keys(this.own).sort().join(" ") : "";
  }

  update(wins: WindowState[]): void {
    this.wins = wins;
    this.redraw();
  }

  private tracesOf(w: WindowState): Trace[] {
    return this.zoom?.traces?.get(w.env) ?? w.traces;
  }

  /** Build the lines to draw from the windows (and zoomed data when present). */
  private collect(): Line[] {
    const out: Line[] = [];
    const n = this.wins.length;
    let i = 0;
    for (const w of this.wins) {
      const legend = Array.isArray(w.opts.legend) ? (w.opts.legend as unknown[]) : [];
      for (const [k, tr] of this.tracesOf(w).entries()) {
        const name = tr.name || (typeof legend[k] === "string" ? (legend[k] as string) : "");
        const useTime = this.xmode !== "step" && tr.t.len === tr.y.len && tr.t.len > 0;
        const x = !useTime ? tr.x.values : this.xmode === "time" ? tr.t.values : relative(tr.t.values, this.start(w));
        out.push({ label: seriesLabel(w.env, name, n, w.win), color: color(i, n > 1 ? undefined : w.opts), x, y: tr.y.values });
        i++;
      }
    }
    return out;
  }

  /** The time of an env's first point in this window (relative time counts from it). */
  private start(w: WindowState): number {
    let t0 = Infinity;
    for (const tr of w.traces) if (tr.t.len > 0 && tr.t.values[0] < t0) t0 = tr.t.values[0];
    return Number.isFinite(t0) ? t0 : 0;
  }

  private redraw(): void {
    this.showControls();
    const lines = this.collect();
    this.lines = lines;
    const smoothOn = this.kind === "line" && this.smoothing > 0;
    const markers = this.kind === "scatter" || this.wins.some((w) => w.opts.mode === "markers");
    const xlog = this.isLog("x");
    const ylog = this.isLog("y");
    const time = this.xmode === "time";
    // columns: for each line, [raw] or [raw faint, smoothed]
    const cols: { x: Float64Array; y: Float64Array }[] = [];
    for (const l of lines) {
      cols.push({ x: l.x, y: l.y });
      if (smoothOn) cols.push({ x: l.x, y: smooth(l.y, this.smoothing) });
    }
    const al = align(cols);
    // a log x axis cannot show x <= 0: start at the first positive x (x is ascending)
    let from = 0;
    if (xlog) while (from < al.x.length && !(al.x[from] > 0)) from++;
    const cut = <T extends ArrayLike<unknown>>(c: T): T => (from === 0 ? c : ((c as unknown as { slice(a: number): T }).slice(from)));
    const ys: Col[] = al.ys.map((y) => (y instanceof Float64Array ? withGaps(cut(y), ylog) : cut(y)));
    const x = cut(al.x);
    const data = [x, ...ys] as unknown as uPlot.AlignedData;
    const shape = JSON.stringify([lines.map((l) => [l.label, l.color]), smoothOn, markers, xlog, ylog, this.xmode, this.wins.map((w) => [w.opts.title, w.opts.xlabel, w.opts.ylabel, w.opts.markersize])]);
    if (!this.u || shape !== this.shape) {
      this.build(data, lines, smoothOn, markers, xlog, ylog, time);
      this.shape = shape;
    } else {
      this.u.setData(data, !this.zoom);
    }
    if (this.zoom && this.u) this.u.setScale("x", { min: this.zoom.x0, max: this.zoom.x1 });
  }

  private build(data: uPlot.AlignedData, lines: Line[], smoothOn: boolean, markers: boolean, xlog: boolean, ylog: boolean, time: boolean): void {
    this.u?.destroy();
    const th = theme();
    this.markerColor = th.bad;
    const first = this.wins[0]?.opts ?? {};
    const size = typeof first.markersize === "number" ? Math.max(1, Math.min(30, first.markersize)) : 4;
    const xlabel = xLabel(this.xmode, str(first.xlabel));
    const series: uPlot.Series[] = [{ label: xlabel }];
    for (const l of lines) {
      const show = !this.hidden.has(l.label);
      if (smoothOn) series.push({ label: l.label + " (raw)", stroke: l.color, alpha: 0.25, width: 1, show, points: { show: false } });
      series.push({
        label: l.label,
        stroke: l.color,
        width: 1.5,
        show,
        spanGaps: false,
        paths: markers ? () => null : undefined,
        points: markers ? { show: true, size, stroke: l.color, fill: l.color } : { show: false },
      });
    }
    const axis = { stroke: th.muted, grid: { stroke: th.grid, width: 1 }, ticks: { stroke: th.grid, width: 1 } };
    const opts: uPlot.Options = {
      width: this.w,
      height: Math.max(60, this.h - this.legendHeight()),
      legend: { show: false },
      scales: { x: { time, distr: xlog ? 3 : 1 }, y: { distr: ylog ? 3 : 1 } },
      axes: [
        { ...axis, label: xlabel, labelSize: 18, size: 30 },
        { ...axis, label: str(first.ylabel), labelSize: first.ylabel ? 18 : 0, size: axisWidth, values: ylog ? undefined : tickLabels },
      ],
      series,
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      hooks: {
        setSelect: [(u) => this.onSelect(u)],
        setCursor: [(u) => this.onCursor(u)],
        draw: [
          (u) => {
            this.drawMarkers(u);
            this.ctx.drew(this.win);
          },
        ],
      },
    };
    this.buildLegend(lines, smoothOn);
    opts.height = Math.max(60, this.h - this.legendHeight());
    this.u = new uPlot(opts, data, this.plotEl);
  }

  /** The x to draw an alert at: its step, or that step's wall time (from the alert's own trace) when x is time. */
  private alertX(a: Alert, v: number): number | null {
    if (!Number.isFinite(v)) return null;
    if (this.xmode === "step") return this.isLog("x") && v <= 0 ? null : v;
    const w = this.wins.find((w) => w.env === a.env);
    const tr = w?.traces.find((t) => t.name === a.trace);
    if (!tr || tr.t.len !== tr.x.len || !tr.x.len) return null;
    const xs = tr.x.values;
    let lo = 0, hi = xs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < v) lo = mid + 1;
      else hi = mid;
    }
    return tr.t.values[lo] - (this.xmode === "rel" && w ? this.start(w) : 0);
  }

  /** Alerts of this window: a dashed line at the onset, a faint band up to where it became certain, a notch on top. */
  private drawMarkers(u: uPlot): void {
    const envs = new Set(this.wins.map((w) => w.env));
    const alerts = this.ctx.alerts(this.win).filter((a) => envs.has(a.env));
    const out: Marker[] = [];
    if (alerts.length) {
      const { left, top, width, height } = u.bbox;
      const dpr = uPlot.pxRatio || 1;
      const g = u.ctx;
      g.save();
      g.beginPath();
      g.rect(left, top, width, height);
      g.clip();
      g.strokeStyle = g.fillStyle = this.markerColor;
      for (const a of alerts) {
        const x = this.alertX(a, a.step);
        if (x === null) continue;
        const px = u.valToPos(x, "x", true);
        const visible = Number.isFinite(px) && px >= left - 1 && px <= left + width + 1;
        out.push({ id: a.id, kind: a.kind, env: a.env, step: a.step, x, px, visible });
        if (!visible) continue;
        const xd = this.alertX(a, a.detected);
        if (xd !== null && xd > x) {
          g.globalAlpha = 0.12;
          g.fillRect(px, top, Math.max(1, u.valToPos(xd, "x", true) - px), height);
        }
        g.globalAlpha = 0.9;
        g.lineWidth = 2 * dpr;
        g.setLineDash([6 * dpr, 4 * dpr]);
        g.beginPath();
        g.moveTo(Math.round(px), top);
        g.lineTo(Math.round(px), top + height);
        g.stroke();
        g.setLineDash([]);
        g.globalAlpha = 1;
        g.beginPath();
        g.moveTo(px - 5 * dpr, top);
        g.lineTo(px + 5 * dpr, top);
        g.lineTo(px, top + 7 * dpr);
        g.closePath();
        g.fill();
      }
      g.restore();
    }
    this.markers = out;
  }

  private legendHeight(): number {
    return this.legendEl.offsetHeight || 22;
  }

  private buildLegend(lines: Line[], smoothOn: boolean): void {
    this.legendEl.replaceChildren();
    this.legendValues = [];
    lines.forEach((l, i) => {
      const item = el("button", "lp-legend-item");
      item.type = "button";
      const sw = el("span", "lp-swatch");
      sw.style.background = l.color;
      const val = el("span", "lp-legend-value");
      item.append(sw, el("span", "lp-legend-label", l.label), val);
      item.classList.toggle("off", this.hidden.has(l.label));
      item.title = "click to hide or show";
      item.addEventListener("click", () => {
        const off = !this.hidden.has(l.label);
        if (off) this.hidden.add(l.label);
        else this.hidden.delete(l.label);
        item.classList.toggle("off", off);
        const idx = smoothOn ? 1 + 2 * i : 1 + i;
        if (smoothOn) this.u?.setSeries(idx, { show: !off });
        this.u?.setSeries(smoothOn ? idx + 1 : idx, { show: !off });
      });
      this.legendEl.append(item);
      this.legendValues.push(val);
    });
    this.legendEl.dataset.count = String(lines.length);
  }

  private onCursor(u: uPlot): void {
    const idx = u.cursor.idx;
    const smoothOn = u.series.length - 1 === this.lines.length * 2;
    this.legendValues.forEach((v, i) => {
      if (idx == null) {
        v.textContent = "";
        return;
      }
      const col = u.data[smoothOn ? 2 + 2 * i : 1 + i];
      // aligned traces have holes where another trace has a point: show the nearest point before
      let j = idx;
      while (j > 0 && col?.[j] === undefined) j--;
      const y = col?.[j];
      const xv = u.data[0][j];
      const at = this.xmode === "time" && xv != null ? new Date(xv * 1000).toLocaleTimeString() : fmt(xv ?? NaN) + (this.xmode === "rel" ? " s" : "");
      v.textContent = y == null ? "" : ` ${fmt(y)} @ ${at}`;
    });
  }

  private onSelect(u: uPlot): void {
    const sel = u.select;
    if (sel.width < 5) return;
    const x0 = u.posToVal(sel.left, "x");
    const x1 = u.posToVal(sel.left + sel.width, "x");
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    this.zoomTo(x0, x1);
  }

  /** Zoom to [x0, x1]; when any trace was decimated, fetch the range at full resolution. */
  zoomTo(x0: number, x1: number, full = false): Promise<void> {
    const token = ++this.zoomToken;
    this.zoom = { x0, x1, traces: null };
    this.redraw();
    const decimated = this.wins.some((w) => w.traces.some((t) => t.decimated));
    if (!decimated || this.xmode !== "step") return Promise.resolve();
    const width = Math.round((this.u?.bbox.width ?? this.w) || 1000);
    const fetches = this.wins.map(async (w) => {
      // every stored point of the range when there are not too many (estimated from
      // the share of the x span), else min/max per pixel column (spikes survive)
      let est = 0;
      for (const t of w.traces) {
        const xs = t.x.values;
        const span = xs.length ? xs[xs.length - 1] - xs[0] : 0;
        est += span > 0 ? (t.n * Math.min(span, x1 - x0)) / span : t.n;
      }
      const query = { env: w.env, win: w.win, x0, x1, width: est > FULL_RES_LIMIT && !full ? width : undefined };
      const res = await fetch(this.ctx.api("window", query));
      if (!res.ok) throw new Error(`zoom: ${res.status}`);
      const st = windowFrom(w.env, decode(new Uint8Array(await res.arrayBuffer())) as WireWindow);
      return [w.env, st.traces] as const;
    });
    return Promise.all(fetches).then(
      (got) => {
        if (token !== this.zoomToken || !this.zoom) return;
        this.zoom.traces = new Map(got);
        this.redraw();
      },
      (err) => console.error("livepanel:", err),
    );
  }

  /** Throw the chart away and draw it again from scratch (benchmarks). */
  rebuild(): void {
    this.shape = "";
    this.redraw();
  }

  resetZoom(): void {
    this.zoomToken++;
    this.zoom = null;
    this.redraw();
  }

  get zoomed(): boolean {
    return !!this.zoom;
  }

  /** what the chart shows (tests): the settings in force, the x label, series drawn, the first x */
  get info(): { smooth: number; x: XMode; logy: boolean; own: string[]; xlabel: string; series: number; x0: number | null } {
    const u = this.u;
    return {
      smooth: this.smoothing,
      x: this.xmode,
      logy: this.isLog("y"),
      own: Object.keys(this.own).sort(),
      xlabel: String(u?.axes[0].label ?? ""),
      series: u ? u.series.length - 1 : 0,
      x0: u && u.data[0].length ? u.data[0][0] : null,
    };
  }

  /** points currently given to the chart (tests and benchmarks) */
  get points(): number {
    return this.u ? this.u.data[0].length : 0;
  }

  resize(width: number, height: number): void {
    this.w = Math.max(100, Math.floor(width));
    this.h = Math.max(80, Math.floor(height));
    this.u?.setSize({ width: this.w, height: Math.max(60, this.h - this.legendHeight()) });
  }

  png(): Promise<Blob | null> {
    const c = this.u?.ctx.canvas;
    if (!c) return Promise.resolve(null);
    const out = document.createElement("canvas");
    out.width = c.width;
    out.height = c.height;
    const g = out.getContext("2d")!;
    g.fillStyle = theme().bg;
    g.fillRect(0, 0, out.width, out.height);
    g.drawImage(c, 0, 0);
    return new Promise((r) => out.toBlob(r, "image/png"));
  }

  destroy(): void {
    this.u?.destroy();
    this.u = null;
  }
}

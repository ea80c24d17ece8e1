// Line and scatter windows (uPlot): own legend with toggles and cursor values,
// drag to zoom (re-fetching the range at full resolution when the snapshot
// was decimated), double-click to reset, log axes, EMA smoothing with the raw
// curve faint behind, x by step, wall time or time since the env's first point.
// Smoothing, x and log y follow the page's settings unless the window sets its own.
// Several envs overlay as env/trace: every trace of a run in the run's colour, a run's
// traces told apart by dash (the same trace name, the same dash in every window), a
// compact legend, the run under the pointer highlighted in every window (ctx.focus), and
// one cursor for the windows that share an x axis. Grouped (ctx.grouping), the runs give
// way to one mean curve and band per group (views/groups.ts). Visdom's drawing options (a
// trace's colour and dash, markers and symbols, labels, fill, ticks, margins) are read by
// lineopts.ts and drawn through linepaint.ts.

import { decode } from "@msgpack/msgpack";
import uPlot from "uplot";
import { windowFrom, type Trace, type WindowState } from "../state";
import { align, smooth, withGaps, type Col } from "../series";
import type { Alert, WireWindow } from "../wire";
import { clampSmooth, overrides, relative, resolve, SMOOTH_MAX, X_NAMES, xLabel, XMODES, type Override, type Settings, type XMode } from "../settings";
import { groupColor, groupColors, groupRuns, runColor, traceDash, withAlpha } from "../runs/colors";
import { axisWidth, color, el, fmt, seriesLabel, str, theme, tickLabels, type Ctx, type View } from "./common";
import { GroupFetcher, type GroupPlan } from "./groups";
import type { Pick } from "../events";
import { pickLine } from "./linepick";
import { isHidden, Legend, type LegendLine, type LegendMode } from "./legend";
import { traceLook, traceName, windowLook, type TraceLook, type WindowLook } from "./lineopts";
import { axisFor, paddingFor, paintLooks, plainMarkers, rangeFor, type Painted } from "./linepaint";
import { axisTex, paintedName, placeAxisTex } from "./axistex";
import { DURATION_INCRS, fmtDuration } from "../duration";

interface Line extends LegendLine {
  /** the env it comes from ("" for a group's curve) */
  env: string;
  x: Float64Array;
  y: Float64Array;
  /** a group's band */
  lo?: Float64Array;
  hi?: Float64Array;
  /** its own look (Visdom's per-trace options); perPoint: its points are the trace's from the first (not decimated) */
  look?: TraceLook;
  perPoint?: boolean;
}

/** What a uPlot series draws of a line: the faint raw curve, the curve, or a band edge. */
type Role = "raw" | "main" | "lo" | "hi";

/** how near (CSS px) the pointer must be to a curve to highlight its run */
const HOVER_PX = 24;
/** alpha of the runs that are not highlighted */
const DIM = 0.18;

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

/** What a line window's chart shows (window.__livepanel.chart(win), for tests). */
export interface ChartInfo {
  smooth: number;
  x: XMode;
  logy: boolean;
  own: string[];
  xlabel: string;
  /** uPlot series after x (raw, smoothed, band edges: all) */
  series: number;
  x0: number | null;
  /** the x axis's shown span (its scale's max - min), in x units */
  xspan: number;
  mode: LegendMode;
  /** per drawn curve (not the faint raw ones, not band edges) */
  labels: string[];
  runs: string[];
  traces: string[];
  colors: string[];
  dashes: number[][];
  shown: boolean[];
  alphas: number[];
  /** the run (or group) highlighted here */
  focus: string | null;
  grouped: boolean;
  bands: number;
  groups: { group: string; trace: string; runs: number; envs: string[]; x: number[]; mean: number[]; lo: number[]; hi: number[] }[];
  legend: { height: number; body: number; entries: number };
  /** Visdom's drawing options as drawn, per drawn curve: uPlot's dash (CSS px) and fill, markers and labels */
  looks: { dash: number[]; fill: boolean; markers: boolean; lines: boolean; symbol: string; size: number; perPoint: number; text: number }[];
  /** markers and labels painted at the last draw (uPlot's own round markers are not counted) */
  painted: Painted;
  legendShown: boolean;
}

/** a zoom fetches every point of its range up to this many (estimated), else a decimated view */
export const FULL_RES_LIMIT = 250_000;

/** A time axis over points logged within a second (one batch, timed on arrival): a minute around them.
 * uPlot widens a single instant by 86,400,000 of our second units (it assumes milliseconds): 2.7 years. */
const instantRange: uPlot.Scale.Range = (u, lo, hi) => {
  const x = u.data[0];
  const first = x[0], last = x[x.length - 1];
  if (x.length && last - first < 1) return [(first + last) / 2 - 30, (first + last) / 2 + 30];
  return [lo, hi];
};

/** The x axis in relative time: ticks at round durations, read as 2h 30m. */
const durationAxis: Partial<uPlot.Axis> = { incrs: DURATION_INCRS, values: (_u, splits) => splits.map(fmtDuration) };

export class LineView implements View {
  readonly el = el("div", "lp-line");
  readonly tools = el("span", "lp-tools");
  toolsChanged?: () => void;
  private plotEl = el("div", "lp-plot");
  private legend: Legend;
  private tip = el("div", "lp-tip lp-cursor-tip");
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
  private markerColor = "#cf222e";
  private xname = ""; // the x axis's name (uPlot's own label is empty when axistex.ts shows it)
  /** for each uPlot series after x: the line it draws and how */
  private roles: { line: number; role: Role }[] = [];
  private mode: LegendMode = "single";
  private groups: GroupFetcher;
  /** the groups of the current plan: name -> members (legend counts, highlight) */
  private plan: GroupPlan | null = null;
  /** the run (or group) highlighted now, as drawn */
  private hot: string | null = null;
  /** a group highlighted from this window (groups are not envs, so not in ctx.focus) */
  private localHot: string | null = null;
  /** the pointer is over this chart's plot (not a synced copy of another's cursor) */
  private hovering = false;
  /** ctx.focus was set from this window */
  private focusMine = false;
  /** colours and group values of the shown runs at the last draw (a runs feed change redraws when they differ) */
  private runsSig = "";
  private offs: (() => void)[] = [];
  /** alert onsets drawn at the last paint */
  markers: Marker[] = [];
  /** the window's Visdom drawing options (lineopts.ts) */
  private look: WindowLook = windowLook("line", {});
  /** markers and text labels painted at the last draw (tests) */
  private painted: Painted = { markers: 0, labels: 0, symbols: [] };
  /** uPlot series filled down to 0 or to the curve before (Visdom's fillarea) */
  private fills = new Set<number>();

  constructor(private readonly kind: string, private readonly ctx: Ctx, private readonly win: string) {
    this.legend = new Legend(
      (key) => this.toggleHidden(key),
      (run) => this.hoverRun(run),
    );
    this.el.append(this.plotEl, this.legend.el);
    this.plotEl.append(this.tip);
    this.groups = new GroupFetcher(
      (query, envs) => {
        const u = new URL(this.ctx.api("group", query), location.href);
        for (const e of envs) u.searchParams.append("env", e);
        return u.toString();
      },
      () => this.redraw(),
    );
    this.offs.push(
      ctx.focus.on(() => this.applyFocus()),
      ctx.runs.on((changed) => this.runsChanged(changed)),
    );
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

  /** group curves are aligned by step: a grouped window draws against step */
  private get xmode(): XMode {
    return this.mode === "group" ? "step" : this.settings.x;
  }

  /** Several runs are shown (on the page, or in this window): runs get their colours and the compact legend. */
  private get overlay(): boolean {
    return this.ctx.envs.length > 1 || this.wins.length > 1;
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

  /** What is under the pointer, for a click's event (events.ts): data coordinates, the nearest point. */
  pick(cx: number, cy: number): Pick | null {
    return this.u ? pickLine(this.u, this.lines, cx, cy) : null;
  }

  update(wins: WindowState[]): void {
    this.wins = wins;
    this.redraw(true);
  }

  /** The groups to draw (null: no grouping here): a line window overlaying 2+ envs while the page groups by a key. */
  private groupPlan(): GroupPlan | null {
    const key = this.ctx.grouping.key;
    if (!key || this.kind !== "line" || this.wins.length < 2) return null;
    // a run's group is in its row: until the runs feed has brought every member's, draw the runs
    if (!this.wins.every((w) => this.ctx.runs.rows.has(w.env))) return null;
    const traces: string[] = [];
    for (const w of this.wins) for (const tr of w.traces) if (!traces.includes(tr.name)) traces.push(tr.name);
    const groups = groupRuns(
      this.wins.map((w) => w.env),
      this.ctx.runs.rows,
      key,
    );
    return { win: this.win, key, band: this.ctx.grouping.band, groups, traces };
  }

  /** The runs feed changed: draw again when a shown run's colour or group changed. */
  private runsChanged(changed: string[]): void {
    if (!this.overlay || !this.wins.some((w) => changed.includes(w.env))) return;
    if (this.runsSignature() !== this.runsSig) this.redraw();
  }

  private runsSignature(): string {
    const key = this.ctx.grouping.key;
    return JSON.stringify(this.wins.map((w) => [w.env, runColor(w.env, this.ctx.runs.rows.get(w.env)), key ? this.ctx.runs.rows.get(w.env)?.config?.[key] : 0]));
  }

  private tracesOf(w: WindowState): Trace[] {
    return this.zoom?.traces?.get(w.env) ?? w.traces;
  }

  /** Build the lines to draw from the windows (and zoomed data when present). One env: a colour per
   * trace (the window's `colors` option first). Several: the run's colour, the trace name's dash. */
  private collect(): Line[] {
    const out: Line[] = [];
    const overlay = this.mode === "overlay";
    let i = 0;
    for (const w of this.wins) {
      const rc = overlay ? runColor(w.env, this.ctx.runs.rows.get(w.env)) : "";
      for (const [k, tr] of this.tracesOf(w).entries()) {
        const name = traceName(w.opts, k, tr.name);
        const look = traceLook(w.opts, tr.name);
        const useTime = this.xmode !== "step" && tr.t.len === tr.y.len && tr.t.len > 0;
        const x = !useTime ? tr.x.values : this.xmode === "time" ? tr.t.values : relative(tr.t.values, this.start(w));
        const label = seriesLabel(w.env, name, overlay ? 2 : 1, w.win);
        const perPoint = !tr.decimated && this.zoom?.traces?.get(w.env) === undefined;
        out.push({ label, env: w.env, run: w.env, trace: name, color: overlay ? rc : (look.color ?? color(i, w.opts)), dash: overlay ? traceDash(name) : (look.dash ?? []), x, y: tr.y.values, look: overlay ? {} : look, perPoint });
        i++;
      }
    }
    return out;
  }

  /** The group curves as lines: the mean, with its band; coloured by group, dashed by trace. */
  private collectGroups(): Line[] {
    // colours over the groups of every selected run, so each window gives a group the same one
    const key = this.ctx.grouping.key;
    const colors = groupColors(groupRuns(this.ctx.envs, this.ctx.runs.rows, key).keys());
    return (this.groups.curves ?? []).map((c) => ({
      label: c.trace ? `${c.group}/${c.trace}` : c.group,
      env: "",
      run: c.group,
      trace: c.trace,
      color: colors.get(c.group) ?? groupColor(c.group),
      dash: traceDash(c.trace),
      x: c.x,
      y: c.mean,
      lo: c.lo,
      hi: c.hi,
    }));
  }

  /** The time of an env's first point in this window (relative time counts from it). */
  private start(w: WindowState): number {
    let t0 = Infinity;
    for (const tr of w.traces) if (tr.t.len > 0 && tr.t.values[0] < t0) t0 = tr.t.values[0];
    return Number.isFinite(t0) ? t0 : 0;
  }

  /** The plot's width in CSS pixels (the group route's resolution). */
  private plotWidth(): number {
    return this.u ? this.u.bbox.width / (uPlot.pxRatio || 1) : this.w;
  }

  private redraw(dataChanged = false): void {
    const plan = this.overlay ? this.groupPlan() : null;
    this.plan = plan;
    this.groups.want(plan, this.plotWidth(), dataChanged);
    this.mode = plan && this.groups.curves?.length ? "group" : this.overlay ? "overlay" : "single";
    this.showControls();
    const lines = this.mode === "group" ? this.collectGroups() : this.collect();
    this.lines = lines;
    this.runsSig = this.runsSignature();
    const smoothOn = this.kind === "line" && this.smoothing > 0 && this.mode !== "group";
    const groupSmooth = this.mode === "group" && this.smoothing > 0;
    this.look = windowLook(this.kind, this.wins[0]?.opts ?? {});
    const markers = this.look.markers;
    const xlog = this.isLog("x");
    const ylog = this.isLog("y");
    const time = this.xmode === "time";
    // columns: for each line, [raw faint, smoothed] or [raw]; then a group's band edges
    const cols: { x: Float64Array; y: Float64Array }[] = [];
    const roles: { line: number; role: Role }[] = [];
    lines.forEach((l, i) => {
      if (smoothOn) {
        cols.push({ x: l.x, y: l.y });
        roles.push({ line: i, role: "raw" });
      }
      cols.push({ x: l.x, y: smoothOn || groupSmooth ? smooth(l.y, this.smoothing) : l.y });
      roles.push({ line: i, role: "main" });
      if (l.lo && l.hi) {
        // a group's band is smoothed as its mean is (no faint raw curves: the band is the spread)
        const edge = (v: Float64Array) => (groupSmooth ? smooth(v, this.smoothing) : v);
        cols.push({ x: l.x, y: edge(l.lo) }, { x: l.x, y: edge(l.hi) });
        roles.push({ line: i, role: "lo" }, { line: i, role: "hi" });
      }
    });
    const al = align(cols);
    // a log x axis cannot show x <= 0: start at the first positive x (x is ascending)
    let from = 0;
    if (xlog) while (from < al.x.length && !(al.x[from] > 0)) from++;
    const cut = <T extends ArrayLike<unknown>>(c: T): T => (from === 0 ? c : ((c as unknown as { slice(a: number): T }).slice(from)));
    const ys: Col[] = al.ys.map((y) => (y instanceof Float64Array ? withGaps(cut(y), ylog) : cut(y)));
    const x = cut(al.x);
    const data = [x, ...ys] as unknown as uPlot.AlignedData;
    const shape = JSON.stringify([this.mode, lines.map((l) => [l.label, l.color, l.dash, !!l.lo, l.look?.markercolor, !!l.look?.markercolors?.length]), smoothOn, markers, xlog, ylog, this.xmode, this.wins.map((w) => [w.opts.title, w.opts.xlabel, w.opts.ylabel, w.opts.markersize]), this.look]);
    if (!this.u || shape !== this.shape) {
      this.roles = roles;
      this.build(data, lines, smoothOn, markers, xlog, ylog, time);
      this.shape = shape;
    } else {
      this.u.setData(data, !this.zoom);
    }
    if (this.zoom && this.u) this.u.setScale("x", { min: this.zoom.x0, max: this.zoom.x1 });
  }

  private build(data: uPlot.AlignedData, lines: Line[], smoothOn: boolean, markers: boolean, xlog: boolean, ylog: boolean, time: boolean): void {
    this.u?.destroy();
    this.hovering = false;
    const th = theme();
    this.markerColor = th.bad;
    const first = this.wins[0]?.opts ?? {};
    const look = this.look;
    const size = look.size;
    // uPlot draws plain round markers itself; other symbols, per-point colours and labels are painted (linepaint.ts)
    const plain = markers && plainMarkers(look, lines);
    let prevMain = 0;
    this.fills.clear();
    // a scatter's x is any quantity, not a step: only its own xlabel names it
    const xlabel = this.kind === "scatter" && this.xmode === "step" ? (str(first.xlabel) ?? "") : xLabel(this.xmode, str(first.xlabel));
    this.xname = xlabel;
    const series: uPlot.Series[] = [{ label: xlabel }];
    const bands: uPlot.Band[] = [];
    const dpr = uPlot.pxRatio || 1;
    this.roles.forEach(({ line, role }, k) => {
      const l = lines[line];
      const show = !isHidden(this.hidden, l);
      const dash = l.dash.length ? l.dash.map((v) => v * dpr) : undefined;
      if (role === "raw") series.push({ label: l.label + " (raw)", stroke: l.color, alpha: 0.25, width: 1, dash, show, points: { show: false } });
      else if (role === "lo" || role === "hi") {
        series.push({ label: `${l.label} (${role})`, stroke: l.color, width: 0, show, spanGaps: false, points: { show: false } });
        if (role === "hi") bands.push({ series: [k + 1, k], fill: withAlpha(l.color, 0.2) });
      } else {
        // Visdom's fillarea is Plotly's "tonexty": the first curve fills down to 0, each next one to the curve before
        const fill = look.fill && look.lines ? withAlpha(l.color, 0.3) : undefined;
        if (fill) this.fills.add(k + 1);
        if (fill && prevMain) bands.push({ series: [k + 1, prevMain], fill });
        series.push({
          label: l.label,
          stroke: l.color,
          width: 1.5,
          dash,
          show,
          spanGaps: false,
          fill: fill && !prevMain ? fill : undefined,
          paths: look.lines ? undefined : () => null,
          points: plain ? { show: true, size, stroke: l.look?.markercolor ?? l.color, fill: l.look?.markercolor ?? l.color } : { show: false },
        });
        prevMain = k + 1;
      }
    });
    const axis = { stroke: th.muted, grid: { stroke: th.grid, width: 1 }, ticks: { stroke: th.grid, width: 1 } };
    // windows with the same x axis share the cursor (the pointer's x in one shows in all); a drag still zooms only its own
    const sync: uPlot.Cursor.Sync | undefined =
      this.kind === "line" ? { key: "lp-x-" + this.xmode, setSeries: false, filters: { pub: (type: string) => type === "mousemove" || type === "mouseleave" || type === "mouseenter" } } : undefined;
    this.legend.build(lines, this.mode, this.hidden, this.mode === "group" && this.plan ? new Map([...this.plan.groups].map(([g, m]) => [g, m.length])) : undefined);
    this.legend.el.style.display = look.legend ? "" : "none"; // Visdom's showlegend=False
    // the lines at each draw (live data replaces them without a rebuild)
    const curves = () => this.roles.flatMap((r, k) => (r.role === "main" && this.lines[r.line] ? [{ line: this.lines[r.line], k: k + 1 }] : []));
    const opts: uPlot.Options = {
      width: this.w,
      height: Math.max(60, this.h - this.legend.fit(this.h)),
      legend: { show: false },
      scales: { x: { time, distr: xlog ? 3 : 1, range: rangeFor(look.x, xlog) ?? (time ? instantRange : undefined) }, y: { distr: ylog ? 3 : 1, range: rangeFor(look.y, ylog) } },
      axes: [
        // wall-time ticks take two rows (time, then the date where it changes): room for both above the name
        axisFor(look.x, { ...axis, label: paintedName(xlabel), labelSize: 18, size: time ? 48 : 30, ...(this.xmode === "rel" ? durationAxis : {}) }, look.margin.bottom),
        axisFor(look.y, { ...axis, label: paintedName(str(first.ylabel)), labelSize: first.ylabel ? 18 : 0, size: axisWidth, values: ylog ? undefined : tickLabels }, look.margin.left),
      ],
      // the first wall-time tick's date (centred on the plot's left edge) needs room beside the y axis
      padding: paddingFor(look.margin) ?? (time ? ([null, null, null, 24] as unknown as uPlot.Padding) : undefined),
      series,
      bands,
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false }, sync },
      hooks: {
        setSelect: [(u) => this.onSelect(u)],
        setCursor: [(u) => this.onCursor(u)],
        setSize: [(u) => placeAxisTex(u)],
        draw: [
          (u) => {
            this.painted = paintLooks(u, look, curves(), plain, dpr);
            this.drawMarkers(u);
            this.ctx.drew(this.win);
          },
        ],
      },
    };
    this.u = new uPlot(opts, data, this.plotEl);
    axisTex(this.u, xlabel, str(first.ylabel));
    const over = this.u.over;
    over.addEventListener("mouseenter", () => (this.hovering = true));
    over.addEventListener("mouseleave", () => {
      this.hovering = false;
      this.hoverRun(null);
    });
    this.hot = null;
    this.applyFocus();
  }

  /** Hide or show a trace (one env), a run or a trace kind (overlay) from the legend. */
  private toggleHidden(key: string): void {
    if (this.hidden.has(key)) this.hidden.delete(key);
    else this.hidden.add(key);
    this.legend.showHidden(this.hidden);
    const u = this.u;
    if (!u) return;
    this.roles.forEach(({ line }, k) => {
      const show = !isHidden(this.hidden, this.lines[line]);
      if (u.series[k + 1].show !== show) u.setSeries(k + 1, { show });
    });
  }

  /** The pointer is on a run (a curve or its legend entry) in this window, or left (null). */
  private hoverRun(run: string | null): void {
    if (this.mode === "group") {
      if (this.localHot !== run) {
        this.localHot = run;
        this.applyFocus();
      }
      return;
    }
    if (this.mode !== "overlay") return;
    if (run !== null) {
      this.focusMine = true;
      this.ctx.focus.set(run);
    } else if (this.focusMine) {
      this.focusMine = false;
      if (this.ctx.focus.get() !== null) this.ctx.focus.set(null);
    }
  }

  /** The run (or group) to highlight: the one under the pointer anywhere, when this window shows it. */
  private highlighted(): string | null {
    if (this.mode === "group") {
      if (this.localHot) return this.localHot;
      const f = this.ctx.focus.get();
      if (f && this.plan) for (const [g, members] of this.plan.groups) if (members.includes(f) && this.lines.some((l) => l.run === g)) return g;
      return null;
    }
    if (this.mode !== "overlay") return null;
    const f = this.ctx.focus.get();
    return f !== null && this.lines.some((l) => l.run === f) ? f : null;
  }

  /** Highlight the focused run: the others dimmed, its curves wider; its legend entry marked. */
  private applyFocus(): void {
    const u = this.u;
    const hot = this.highlighted();
    if (!u || hot === this.hot) return;
    this.hot = hot;
    this.roles.forEach(({ line, role }, k) => {
      const s = u.series[k + 1];
      const dim = hot !== null && this.lines[line].run !== hot;
      const base = role === "raw" ? 0.25 : 1;
      s.alpha = dim ? base * DIM : base;
      if (role === "main") s.width = hot !== null && !dim ? 2.5 : 1.5;
    });
    this.legend.mark(hot);
    for (const row of this.tip.querySelectorAll<HTMLElement>(".lp-tip-row")) row.classList.toggle("hot", row.dataset.run === hot);
    this.el.dataset.focus = hot ?? "";
    u.redraw(false);
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

  /** The value of data column `k` at cursor index `idx`: aligned traces have holes where another
   * trace has a point, so the nearest point before; with its x. */
  private valueAt(u: uPlot, k: number, idx: number): { y: number; x: number } | null {
    const col = u.data[k];
    let j = idx;
    while (j > 0 && col?.[j] === undefined) j--;
    const y = col?.[j];
    const x = u.data[0][j];
    return y == null || x == null ? null : { y, x };
  }

  private fmtX(xv: number): string {
    return this.xmode === "time" ? new Date(xv * 1000).toLocaleTimeString() : this.xmode === "rel" ? fmtDuration(xv) : fmt(xv);
  }

  private onCursor(u: uPlot): void {
    const idx = u.cursor.idx;
    if (this.mode === "single") {
      this.roles.forEach(({ line, role }, k) => {
        const v = this.legend.values[line];
        if (role !== "main" || !v) return;
        const at = idx == null ? null : this.valueAt(u, k + 1, idx);
        v.textContent = at ? ` ${fmt(at.y)} @ ${this.fmtX(at.x)}` : "";
      });
      return;
    }
    const left = u.cursor.left ?? -1;
    if (idx == null || left < 0) {
      this.tip.style.display = "none";
      return;
    }
    // the pointer itself is here (not a synced cursor): the nearest curve's run is highlighted everywhere
    const top = u.cursor.top ?? -1;
    if (this.hovering && top >= 0) {
      let best: string | null = null;
      let bestD = HOVER_PX;
      this.roles.forEach(({ line, role }, k) => {
        if (role !== "main" || !u.series[k + 1].show) return;
        const at = this.valueAt(u, k + 1, idx);
        if (!at) return;
        const d = Math.abs(u.valToPos(at.y, "y") - top);
        if (d < bestD) {
          bestD = d;
          best = this.lines[line].run;
        }
      });
      this.hoverRun(best);
    }
    this.showTip(u, idx, left, top);
  }

  /** A small box by the cursor: each shown run's (or group's) values at the cursor's x, by trace. */
  private showTip(u: uPlot, idx: number, left: number, top: number): void {
    const byRun = new Map<string, { color: string; parts: string[] }>();
    this.roles.forEach(({ line, role }, k) => {
      if (role !== "main" || !u.series[k + 1].show) return;
      const l = this.lines[line];
      const at = this.valueAt(u, k + 1, idx);
      if (!at) return;
      let entry = byRun.get(l.run);
      if (!entry) byRun.set(l.run, (entry = { color: l.color, parts: [] }));
      entry.parts.push((l.trace ? l.trace + " " : "") + fmt(at.y));
    });
    if (!byRun.size) {
      this.tip.style.display = "none";
      return;
    }
    const MAX_ROWS = 12;
    const rows: HTMLElement[] = [el("div", "lp-tip-x", `${this.xmode === "step" ? "step " : ""}${this.fmtX(u.data[0][idx] ?? NaN)}`)];
    let shown = 0;
    for (const [run, { color, parts }] of byRun) {
      if (shown++ >= MAX_ROWS) break;
      const row = el("div", "lp-tip-row");
      row.dataset.run = run;
      row.classList.toggle("hot", run === this.hot);
      const sw = el("span", "lp-swatch");
      sw.style.background = color;
      row.append(sw, el("span", "lp-tip-run", run), el("span", "lp-legend-value", " " + parts.join(" · ")));
      rows.push(row);
    }
    if (byRun.size > MAX_ROWS) rows.push(el("div", "lp-legend-value", `+${byRun.size - MAX_ROWS} more`));
    this.tip.replaceChildren(...rows);
    this.tip.style.display = "block";
    // placed beside the cursor, on the side with more room; no layout is read (a move updates every synced window)
    const dpr = uPlot.pxRatio || 1;
    const ox = u.bbox.left / dpr;
    const oy = u.bbox.top / dpr;
    const pw = u.bbox.width / dpr;
    const ph = u.bbox.height / dpr;
    const st = this.tip.style;
    if (left > pw / 2) {
      st.left = "";
      st.right = Math.max(0, this.w - (ox + left - 14)) + "px";
    } else {
      st.right = "";
      st.left = ox + left + 14 + "px";
    }
    const y = top >= 0 ? top : ph / 2;
    if (y > ph / 2) {
      st.top = "";
      st.bottom = Math.max(0, u.height - (oy + y) + 10) + "px";
    } else {
      st.bottom = "";
      st.top = oy + y + 10 + "px";
    }
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

  /** what the chart shows (tests): the settings in force, the x label, series drawn, the first x; the
   * curves (label, run, trace, colour, dash in CSS px, shown, alpha), the highlighted run, whether grouped */
  get info(): ChartInfo {
    const u = this.u;
    const main = this.roles.map((r, k) => ({ ...r, k })).filter((r) => r.role === "main");
    const grouped = this.mode === "group";
    return {
      smooth: this.smoothing,
      x: this.xmode,
      logy: this.isLog("y"),
      own: Object.keys(this.own).sort(),
      xlabel: u ? this.xname : "",
      series: u ? u.series.length - 1 : 0,
      x0: u && u.data[0].length ? u.data[0][0] : null,
      xspan: u ? (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0) : 0,
      mode: this.mode,
      labels: main.map((r) => this.lines[r.line].label),
      runs: main.map((r) => this.lines[r.line].run),
      traces: main.map((r) => this.lines[r.line].trace),
      colors: main.map((r) => this.lines[r.line].color),
      dashes: main.map((r) => [...this.lines[r.line].dash]),
      shown: main.map((r) => !!u?.series[r.k + 1]?.show),
      alphas: main.map((r) => u?.series[r.k + 1]?.alpha ?? 1),
      focus: this.hot,
      grouped,
      bands: this.roles.filter((r) => r.role === "hi").length,
      groups: grouped
        ? (this.groups.curves ?? []).map((c) => ({ group: c.group, trace: c.trace, runs: this.plan?.groups.get(c.group)?.length ?? 0, envs: c.envs, x: [...c.x], mean: [...c.mean], lo: [...c.lo], hi: [...c.hi] }))
        : [],
      legend: { height: this.legend.el.offsetHeight, body: this.h, entries: this.legend.el.querySelectorAll(".lp-legend-item").length },
      looks: main.map((r) => {
        const s = u?.series[r.k + 1];
        const l = this.lines[r.line];
        return {
          dash: (s?.dash ?? []).map((v) => v / (uPlot.pxRatio || 1)),
          fill: this.fills.has(r.k + 1),
          markers: this.look.markers,
          lines: this.look.lines,
          symbol: this.look.symbol.shape + (this.look.symbol.open ? "-open" : ""),
          size: this.look.size,
          perPoint: l.perPoint ? (l.look?.markercolors?.length ?? 0) : 0,
          text: l.perPoint ? (l.look?.text?.length ?? 0) : 0,
        };
      }),
      painted: this.painted,
      legendShown: this.legend.el.style.display !== "none",
    };
  }

  /** the chart (tests: where a point is drawn) */
  get uplot(): uPlot | null {
    return this.u;
  }

  /** points currently given to the chart (tests and benchmarks) */
  get points(): number {
    return this.u ? this.u.data[0].length : 0;
  }

  resize(width: number, height: number): void {
    this.w = Math.max(100, Math.floor(width));
    this.h = Math.max(80, Math.floor(height));
    this.u?.setSize({ width: this.w, height: Math.max(60, this.h - this.legend.fit(this.h)) });
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
    for (const off of this.offs) off();
    this.offs = [];
    this.groups.destroy();
    if (this.focusMine && this.ctx.focus.get() !== null) this.ctx.focus.set(null);
    this.u?.destroy();
    this.u = null;
  }
}

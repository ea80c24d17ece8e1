// Visdom's line and scatter drawing options, read from a window's opts (livepanel/visdom_opts.py
// writes them): per-trace styles ("trace:<name>": colour, dash, marker colours, text labels),
// markers and their symbol, fill under lines, the legend shown or not, tick values and labels,
// fixed axis ranges, tick font sizes and margins. The reading is pure (tested under node); the
// marker and label painting at the end draws on the chart's canvas.

export type Opts = Record<string, unknown>;

const COLOR = /^(#[0-9a-f]{3,8}|[a-z]{3,30}|(rgb|rgba|hsl|hsla)\([0-9.,% ]{1,40}\))$/i;

/** A colour a page may use (#hex, a name, rgb()/hsl()): never url() or anything else CSS would fetch. */
export function safeColor(v: unknown): string | undefined {
  return typeof v === "string" && COLOR.test(v) ? v : undefined;
}

/** Plotly's dash names as CSS-pixel patterns (Plotly's own: multiples of max(line width, 3)). */
export const DASHES: Record<string, number[]> = {
  solid: [],
  dot: [3, 3],
  dash: [9, 9],
  longdash: [15, 15],
  dashdot: [9, 3, 3, 3],
  longdashdot: [15, 6, 3, 6],
};

/** One trace's own look (absent fields: the window's defaults). */
export interface TraceLook {
  color?: string;
  markercolor?: string;
  dash?: number[];
  /** per point, from the trace's first point */
  markercolors?: (string | undefined)[];
  text?: string[];
}

export function traceLook(opts: Opts, name: string): TraceLook {
  const raw = opts["trace:" + name];
  if (!raw || typeof raw !== "object") return {};
  const s = raw as Record<string, unknown>;
  const out: TraceLook = {};
  const c = safeColor(s.color);
  if (c) out.color = c;
  const mc = safeColor(s.markercolor);
  if (mc) out.markercolor = mc;
  if (typeof s.dash === "string") out.dash = DASHES[s.dash] ?? [];
  if (Array.isArray(s.markercolors)) out.markercolors = s.markercolors.map(safeColor);
  if (Array.isArray(s.text)) out.text = s.text.map((t) => String(t));
  return out;
}

/** The name a trace is shown by: the legend's entry at its position when the legend renames by
 * position (Visdom's update_window_opts), else its own name, else the legend's entry. */
export function traceName(opts: Opts, k: number, name: string): string {
  const legend = Array.isArray(opts.legend) ? (opts.legend as unknown[]) : [];
  const at = typeof legend[k] === "string" ? (legend[k] as string) : "";
  if (opts.relabel === true && at) return at;
  return name || at;
}

/** Marker shapes drawn; any other Plotly symbol name is drawn as a circle. */
export const SHAPES = ["circle", "square", "diamond", "cross", "x", "triangle-up", "triangle-down", "triangle-left", "triangle-right", "star", "pentagon", "hexagon", "cross-thin", "x-thin", "asterisk", "line-ew", "line-ns"] as const;
export type Shape = (typeof SHAPES)[number];
const THIN = new Set<Shape>(["cross-thin", "x-thin", "asterisk", "line-ew", "line-ns"]);

export interface Symbol {
  shape: Shape;
  /** outline only */
  open: boolean;
  /** the name was one of SHAPES (else the circle stands in) */
  known: boolean;
}

/** A Plotly symbol name ("diamond-open", "cross-thin-open", "square-dot") as a shape to draw. */
export function parseSymbol(name: unknown): Symbol {
  if (typeof name !== "string" || !name) return { shape: "circle", open: false, known: true };
  let base = name.toLowerCase();
  let open = false;
  for (;;) {
    if (base.endsWith("-open")) {
      open = true;
      base = base.slice(0, -5);
    } else if (base.endsWith("-dot")) base = base.slice(0, -4);
    else break;
  }
  if (base === "dot") return { shape: "circle", open, known: true }; // Visdom's default name
  const shape = (SHAPES as readonly string[]).includes(base) ? (base as Shape) : "circle";
  return { shape, open: open || THIN.has(shape), known: shape === base };
}

export interface AxisLook {
  /** tick labels shown */
  show: boolean;
  min?: number;
  max?: number;
  step?: number;
  /** fixed tick positions (tickvals), with their labels (ticklabels) when given */
  vals?: number[];
  labels?: string[];
  /** tick label font size, CSS px */
  font?: number;
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

export function axisLook(opts: Opts, a: "x" | "y"): AxisLook {
  const out: AxisLook = { show: opts[a + "tick"] !== false };
  const min = num(opts[a + "tickmin"]);
  const max = num(opts[a + "tickmax"]);
  if (min !== undefined) out.min = min;
  if (max !== undefined) out.max = max;
  const step = num(opts[a + "tickstep"]);
  if (step !== undefined && step > 0) out.step = step;
  const vals = opts[a + "tickvals"];
  if (Array.isArray(vals) && vals.length) {
    out.vals = vals.filter((v): v is number => num(v) !== undefined);
    const labels = opts[a + "ticklabels"];
    if (Array.isArray(labels)) out.labels = labels.map((v) => String(v));
  }
  const font = num(opts[a + "tickfont"]);
  if (font !== undefined && font > 0) out.font = Math.min(72, font);
  return out;
}

/** at most this many ticks from a tick step (a tiny step over a wide range would be millions) */
const MAX_TICKS = 200;

/** Where the ticks go on [lo, hi]: the given values, or the multiples of `step` (Plotly's dtick from
 * tick0 = 0, as Visdom's xtickstep draws); null: the chart's own choice. */
export function splits(look: AxisLook, lo: number, hi: number): number[] | null {
  if (look.vals) return look.vals.filter((v) => v >= lo - 1e-9 * Math.abs(hi - lo) && v <= hi + 1e-9 * Math.abs(hi - lo));
  if (!look.step || !(hi >= lo)) return null;
  const step = look.step;
  if ((hi - lo) / step > MAX_TICKS) return null;
  let v = Math.ceil(lo / step - 1e-9) * step;
  const out: number[] = [];
  for (let i = 0; i <= MAX_TICKS && v <= hi + step * 1e-9; i++, v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Every n-th tick, so that at most `fit` remain (a step of 0.5 over [-50, 50] would crowd 201 labels);
 * n is 1, 2 or 5 times a power of ten (2.5 at most once), so the kept ticks stay round numbers. */
export function thin(values: number[], fit: number): number[] {
  const need = Math.ceil(values.length / Math.max(1, Math.floor(fit)));
  if (need <= 1) return values;
  let n = 1;
  for (let mag = 1; n < need && mag < 1e9; mag *= 10) for (const m of [1, 2, 5]) if (n < need) n = m * mag;
  if (n < need) n = need;
  // start at the first tick that is a multiple of the new spacing (so 0 stays when present)
  const spacing = values.length > 1 ? (values[1] - values[0]) * n : 0;
  const round = (v: number) => spacing > 0 && Math.abs(v / spacing - Math.round(v / spacing)) < 1e-6;
  const first = values.slice(0, n).findIndex(round);
  const from = first >= 0 ? first : 0;
  return values.filter((_, i) => i % n === from);
}

/** A tick's label: its given label (tickvals with ticklabels), else the chart's formatting. */
export function tickText(look: AxisLook, v: number, dflt: string): string {
  if (!look.show) return "";
  if (look.vals && look.labels) {
    const i = look.vals.indexOf(v);
    if (i >= 0 && i < look.labels.length) return look.labels[i];
  }
  return dflt;
}

/** The scale's range: given bounds replace the data's. */
export function range(look: AxisLook, lo: number, hi: number): [number, number] {
  return [look.min ?? lo, look.max ?? hi];
}

export interface WindowLook {
  /** markers drawn (scatter, mode "markers", opts.markers) */
  markers: boolean;
  /** lines drawn between points */
  lines: boolean;
  symbol: Symbol;
  /** marker size, CSS px (Plotly's diameter) */
  size: number;
  fill: boolean;
  legend: boolean;
  x: AxisLook;
  y: AxisLook;
  margin: { left?: number; right?: number; top?: number; bottom?: number };
}

export function windowLook(kind: string, opts: Opts): WindowLook {
  const mode = typeof opts.mode === "string" ? opts.mode : "";
  const markersOnly = kind === "scatter" || mode === "markers" || mode === "markers+text";
  const markers = markersOnly || opts.markers === true || mode.includes("markers");
  const size = num(opts.markersize);
  const margin: WindowLook["margin"] = {};
  for (const side of ["left", "right", "top", "bottom"] as const) {
    const m = num(opts["margin" + side]);
    if (m !== undefined && m >= 0) margin[side] = Math.min(1000, m);
  }
  return {
    markers,
    lines: !markersOnly,
    symbol: parseSymbol(opts.markersymbol),
    size: size !== undefined ? Math.max(1, Math.min(30, size)) : 4,
    fill: opts.fillarea === true,
    legend: opts.showlegend !== false,
    x: axisLook(opts, "x"),
    y: axisLook(opts, "y"),
    margin,
  };
}

/** Fill (or, open, stroke) the markers added to the current path. */
export function finishSymbols(g: CanvasRenderingContext2D, sym: Symbol, color: string, dpr: number): void {
  if (sym.open) {
    g.strokeStyle = color;
    g.lineWidth = Math.max(1, dpr * 1.5);
    g.stroke();
  } else {
    g.fillStyle = color;
    g.fill();
  }
}

/** Add the outline of one marker of `size` CSS px (device px with dpr) centred at (x, y) to the current
 * path (the markers of one colour are filled at once). */
export function addSymbol(g: CanvasRenderingContext2D, sym: Symbol, x: number, y: number, size: number, dpr: number): void {
  const r = (size * dpr) / 2;
  const poly = (n: number, rot: number, inner = 0) => {
    const k = inner ? 2 * n : n;
    for (let i = 0; i < k; i++) {
      const a = rot + (i * 2 * Math.PI) / k;
      const rr = inner && i % 2 ? r * inner : r;
      const px = x + rr * Math.cos(a);
      const py = y + rr * Math.sin(a);
      if (i === 0) g.moveTo(px, py);
      else g.lineTo(px, py);
    }
    g.closePath();
  };
  const cross = (angle: number, w: number) => {
    for (const a of [angle, angle + Math.PI / 2]) {
      const dx = Math.cos(a), dy = Math.sin(a);
      const nx = -dy * w, ny = dx * w;
      g.moveTo(x - dx * r + nx, y - dy * r + ny);
      g.lineTo(x + dx * r + nx, y + dy * r + ny);
      g.lineTo(x + dx * r - nx, y + dy * r - ny);
      g.lineTo(x - dx * r - nx, y - dy * r - ny);
      g.closePath();
    }
  };
  const lines = (angles: number[]) => {
    for (const a of angles) {
      g.moveTo(x - Math.cos(a) * r, y - Math.sin(a) * r);
      g.lineTo(x + Math.cos(a) * r, y + Math.sin(a) * r);
    }
  };
  switch (sym.shape) {
    case "square":
      g.rect(x - r * 0.9, y - r * 0.9, r * 1.8, r * 1.8);
      break;
    case "diamond":
      poly(4, -Math.PI / 2);
      break;
    case "triangle-up":
      poly(3, -Math.PI / 2);
      break;
    case "triangle-down":
      poly(3, Math.PI / 2);
      break;
    case "triangle-left":
      poly(3, Math.PI);
      break;
    case "triangle-right":
      poly(3, 0);
      break;
    case "pentagon":
      poly(5, -Math.PI / 2);
      break;
    case "hexagon":
      poly(6, 0);
      break;
    case "star":
      poly(5, -Math.PI / 2, 0.45);
      break;
    case "cross":
      cross(0, r * 0.3);
      break;
    case "x":
      cross(Math.PI / 4, r * 0.3);
      break;
    case "cross-thin":
      lines([0, Math.PI / 2]);
      break;
    case "x-thin":
      lines([Math.PI / 4, -Math.PI / 4]);
      break;
    case "asterisk":
      lines([0, Math.PI / 2, Math.PI / 4, -Math.PI / 4]);
      break;
    case "line-ew":
      lines([0]);
      break;
    case "line-ns":
      lines([Math.PI / 2]);
      break;
    default:
      g.moveTo(x + r, y);
      g.arc(x, y, r, 0, 2 * Math.PI);
  }
}

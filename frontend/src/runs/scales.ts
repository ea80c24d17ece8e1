// Axis scales for the plots of runs (parallel coordinates, scatter): linear, log and categorical,
// their ticks, and brushes (a range on an axis) and which runs pass them. Pure: no DOM, so node
// tests check the numbers the canvas code draws from.

/** A value as a run holds it (config, summary, a metric's last value). */
export type Value = number | string | boolean | null | undefined;

export type ScaleKind = "linear" | "log" | "cat";

export interface Tick {
  /** 0 (bottom of the axis) .. 1 (top) */
  pos: number;
  label: string;
}

export interface Scale {
  readonly kind: ScaleKind;
  /** the numeric domain (linear, log); 0..1 for categorical */
  readonly lo: number;
  readonly hi: number;
  /** sorted categories (categorical only; [] otherwise) */
  readonly categories: readonly string[];
  /** 0 (bottom) .. 1 (top); NaN when the value is missing or this scale cannot place it */
  pos(v: Value): number;
  /** the data value at a position (numeric scales; NaN for categorical) */
  invert(p: number): number;
  ticks(): Tick[];
}

/** What a column of values allows: numeric or not, its range, and which scale suits it by default. */
export interface Profile {
  /** every present value is a finite number (and there is at least one) */
  numeric: boolean;
  min: number;
  max: number;
  /** numeric and every value > 0: a log scale can place them all */
  logAllowed: boolean;
  /** the scale chosen without a user's say: log when every value > 0 and they span >= 3 decades */
  auto: ScaleKind;
  /** how many runs have a value */
  present: number;
  /** how many distinct values */
  distinct: number;
  /** numeric and every value a whole number */
  integer: boolean;
}

/** A value is missing when null/undefined, or a non-finite number (NaN, ±Infinity). */
export function missing(v: Value): boolean {
  return v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v));
}

/** How a value reads on a categorical axis. */
export function catLabel(v: Value): string {
  return typeof v === "string" ? v : String(v);
}

export function profile(values: readonly Value[]): Profile {
  let numeric = true;
  let min = Infinity;
  let max = -Infinity;
  let present = 0;
  let integer = true;
  const seen = new Set<string>();
  for (const v of values) {
    if (missing(v)) continue;
    present++;
    if (seen.size <= 10_000) seen.add(typeof v === "number" ? `n${v}` : catLabel(v));
    if (typeof v !== "number") {
      numeric = false;
      continue;
    }
    if (!Number.isInteger(v)) integer = false;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (present === 0) numeric = false;
  const logAllowed = numeric && min > 0;
  const auto: ScaleKind = !numeric ? "cat" : logAllowed && Math.log10(max / min) >= 3 ? "log" : "linear";
  return { numeric, min, max, logAllowed, auto, present, distinct: seen.size, integer: numeric && integer };
}

/** The scales a user can switch a column between, the default first (a click moves to the next). */
export function scaleChoices(p: Profile): ScaleKind[] {
  if (!p.numeric) return ["cat"];
  const all: ScaleKind[] = p.logAllowed ? ["linear", "log", "cat"] : ["linear", "cat"];
  return [p.auto, ...all.filter((k) => k !== p.auto)];
}

/** Categories sort naturally ("lr2" before "lr10"; false before true), the same in every browser. */
const collator = new Intl.Collator("en", { numeric: true, sensitivity: "variant" });
export function compareCats(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** A scale for these values: `kind` when it can place them (log needs every value > 0), else the default. */
export function makeScale(values: readonly Value[], kind?: ScaleKind | null): Scale {
  const p = profile(values);
  let k: ScaleKind = kind ?? p.auto;
  if (k !== "cat" && !p.numeric) k = "cat";
  if (k === "log" && !p.logAllowed) k = p.numeric ? "linear" : "cat";
  if (k === "cat") {
    const cats = new Set<string>();
    for (const v of values) if (!missing(v)) cats.add(catLabel(v));
    return catScale([...cats].sort(compareCats));
  }
  if (p.present === 0) return linearScale(0, 1);
  return k === "log" ? logScale(p.min, p.max) : linearScale(p.min, p.max, p.integer);
}

/** `integer`: every value is a whole number (a seed, a batch size), so ticks are whole numbers too. */
export function linearScale(lo: number, hi: number, integer = false): Scale {
  const flat = !(hi > lo);
  return {
    kind: "linear",
    lo,
    hi,
    categories: [],
    pos(v) {
      if (typeof v !== "number" || !Number.isFinite(v)) return NaN;
      return flat ? 0.5 : (v - lo) / (hi - lo);
    },
    invert(p) {
      return flat ? lo : lo + p * (hi - lo);
    },
    ticks() {
      if (flat) return [{ pos: 0.5, label: fmt(lo) }];
      const ticks = niceTicks(lo, hi, 5).filter((v) => !integer || Number.isInteger(v));
      return ticks.map((v) => ({ pos: (v - lo) / (hi - lo), label: fmt(v, (hi - lo) / 5) }));
    },
  };
}

export function logScale(lo: number, hi: number): Scale {
  const a = Math.log10(lo);
  const b = Math.log10(hi);
  const flat = !(b > a);
  return {
    kind: "log",
    lo,
    hi,
    categories: [],
    pos(v) {
      if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) return NaN;
      return flat ? 0.5 : (Math.log10(v) - a) / (b - a);
    },
    invert(p) {
      return flat ? lo : 10 ** (a + p * (b - a));
    },
    ticks() {
      if (flat) return [{ pos: 0.5, label: fmt(lo) }];
      return logTicks(lo, hi).map((v) => ({ pos: (Math.log10(v) - a) / (b - a), label: fmt(v) }));
    },
  };
}

export function catScale(categories: readonly string[]): Scale {
  const n = categories.length;
  const index = new Map(categories.map((c, i) => [c, i]));
  const at = (i: number) => (i + 0.5) / n;
  return {
    kind: "cat",
    lo: 0,
    hi: 1,
    categories,
    pos(v) {
      if (missing(v)) return NaN;
      const i = index.get(catLabel(v));
      return i === undefined ? NaN : at(i);
    },
    invert() {
      return NaN;
    },
    ticks() {
      return categories.map((c, i) => ({ pos: at(i), label: c }));
    },
  };
}

/** Round steps (1, 2, 5 x 10^k) covering [lo, hi] with about `count` ticks, all inside it. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return Number.isFinite(lo) ? [lo] : [];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f >= Math.SQRT1_2 * 10 ? 10 : f >= Math.sqrt(10) ? 5 : f >= Math.SQRT2 ? 2 : 1) * mag;
  const out: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  for (let i = first; i <= last && out.length < 50; i++) {
    const v = i * step;
    out.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return out;
}

/** Powers of ten inside [lo, hi] (every other one past 8 decades); with less than two of them, 1-2-5 steps. */
export function logTicks(lo: number, hi: number): number[] {
  if (!(lo > 0) || !(hi >= lo)) return [];
  const a = Math.ceil(Math.log10(lo) - 1e-9);
  const b = Math.floor(Math.log10(hi) + 1e-9);
  if (b - a >= 1) {
    const every = Math.max(1, Math.ceil((b - a + 1) / 8));
    const out: number[] = [];
    for (let e = a; e <= b; e += every) out.push(Number((10 ** e).toPrecision(12)));
    return out;
  }
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out.length ? out : [lo, hi];
}

/** A short label for a number: 4 significant digits, exponent form when very large or small. */
export function fmt(v: number, step?: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential(2).split("e");
    return `${String(Number(m))}e${Number(e)}`;
  }
  if (step && step > 0 && step < a) {
    const decimals = Math.max(0, Math.min(10, -Math.floor(Math.log10(step)) + 1));
    return String(Number(v.toFixed(decimals)));
  }
  return String(Number(v.toPrecision(4)));
}

// ---- brushes -------------------------------------------------------------------------------------

/** A brush on an axis: a range of values (numeric axes) or a set of categories (categorical axes). */
export type Brush = { lo: number; hi: number } | { cats: string[] };

/** The brush a drag between positions p0 and p1 (0..1, any order) makes on this scale. */
export function brushFromSpan(scale: Scale, p0: number, p1: number): Brush {
  const a = Math.max(0, Math.min(p0, p1));
  const b = Math.min(1, Math.max(p0, p1));
  if (scale.kind === "cat") {
    return { cats: scale.categories.filter((c) => { const p = scale.pos(c); return p >= a && p <= b; }) };
  }
  return { lo: scale.invert(a), hi: scale.invert(b) };
}

/** Where a brush is drawn on this scale (positions 0..1, bottom first); null when it does not fit the scale. */
export function brushSpan(scale: Scale, brush: Brush): [number, number] | null {
  if ("cats" in brush) {
    if (scale.kind !== "cat") return null;
    const n = scale.categories.length || 1;
    const ps = brush.cats.map((c) => scale.pos(c)).filter((p) => !Number.isNaN(p));
    if (!ps.length) return null;
    // a little inside the categories' cells, so a moved span picks the same categories again
    return [Math.max(0, Math.min(...ps) - 0.4 / n), Math.min(1, Math.max(...ps) + 0.4 / n)];
  }
  if (scale.kind === "cat") return null;
  const a = scale.kind === "log" && !(brush.lo > 0) ? 0 : scale.pos(brush.lo);
  const b = scale.pos(brush.hi);
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  return [Math.max(0, Math.min(a, b)), Math.min(1, Math.max(a, b))];
}

/** Does the brush fit this scale (a range on a numeric axis, categories on a categorical one)? */
export function brushFits(scale: Scale, brush: Brush): boolean {
  return "cats" in brush ? scale.kind === "cat" : scale.kind !== "cat";
}

/** Is a value inside the brush? A missing value never is. */
export function inBrush(brush: Brush, v: Value): boolean {
  if (missing(v)) return false;
  if ("cats" in brush) return brush.cats.includes(catLabel(v));
  if (typeof v !== "number") return false;
  const lo = Math.min(brush.lo, brush.hi);
  const hi = Math.max(brush.lo, brush.hi);
  // a hair of slack so a run exactly on a brush edge set from its own position passes
  const eps = (Math.abs(lo) + Math.abs(hi)) * 1e-12;
  return v >= lo - eps && v <= hi + eps;
}

/** The indices of the runs inside every brush (AND across axes); null when there is no brush. */
export function passingIndices(n: number, brushed: readonly { values: readonly Value[]; brush: Brush }[]): Set<number> | null {
  if (!brushed.length) return null;
  const out = new Set<number>();
  const sets = brushed.map((b) => ("cats" in b.brush ? { ...b, cats: new Set(b.brush.cats) } : { ...b, cats: null }));
  outer: for (let i = 0; i < n; i++) {
    for (const b of sets) {
      const v = b.values[i];
      if (b.cats) {
        if (missing(v) || !b.cats.has(catLabel(v))) continue outer;
      } else if (!inBrush(b.brush, v)) continue outer;
    }
    out.add(i);
  }
  return out;
}

/** Same members? (onBrush is called only when the passing runs change.) */
export function sameSet<T>(a: Set<T> | null, b: Set<T> | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

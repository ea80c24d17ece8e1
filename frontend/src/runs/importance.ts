// Which hyper-parameter matters: for a chosen metric, over the runs in the table, each config key's
// rank correlation with the metric and the share of the metric's variance its values explain.
// Pure (no DOM); docs/compare.md says how it is computed, in the same words.
//
// Correlation: Spearman's rho (Pearson's correlation of the ranks, ties given their mean rank), for
// keys whose values are all numbers (true/false count as 1/0).
// Importance: epsilon-squared, the correlation ratio eta^2 = SS_between / SS_total of the metric
// over the key's groups, corrected for the number of groups like an adjusted R^2:
//   eps^2 = (SS_between - (k - 1) * SS_within / (n - k)) / SS_total, clipped to [0, 1].
// The groups are the key's values; a numeric key with more values than BINS(n) is cut into BINS(n)
// bins of (about) equal count by rank, equal values always in the same bin. Cheap (a sort per key),
// catches non-monotonic effects (a best learning rate in the middle) and categorical keys alike,
// and the correction keeps a key with a value per run (a seed) from looking important by chance.

import type { RunRow } from "../wire";

/** Fewer runs with both the key and the metric than this: "n/a". */
export const MIN_RUNS = 5;
/** At most this many groups for a numeric key. */
export const MAX_BINS = 10;

export type Value = number | string | boolean | null | undefined;

export interface KeyImportance {
  key: string;
  /** runs with both a value of the key and a finite metric */
  n: number;
  /** Spearman's rho in [-1, 1]; null for a key that is not numeric, or when it is not defined */
  rho: number | null;
  /** share of the metric's variance the key explains, in [0, 1]; null: n/a */
  importance: number | null;
  /** why importance is n/a */
  why: string;
  numeric: boolean;
  groups: number;
}

/** Groups for a numeric key of n runs: about three runs a group at least, at most MAX_BINS. */
export function bins(n: number): number {
  return Math.min(MAX_BINS, Math.max(2, Math.floor(n / 3)));
}

/** Ranks from 1, ties given their mean rank. */
export function ranks(xs: readonly number[]): number[] {
  const idx = Array.from(xs.keys()).sort((a, b) => xs[a] - xs[b]);
  const out = new Array<number>(xs.length).fill(0);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && xs[idx[j + 1]] === xs[idx[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[idx[k]] = r;
    i = j + 1;
  }
  return out;
}

function pearson(a: readonly number[], b: readonly number[]): number | null {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  if (saa <= 0 || sbb <= 0) return null;
  return Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb)));
}

/** Spearman's rank correlation (null when either side has one value); ranks may be given. */
export function spearman(x: readonly number[], y: readonly number[], rx?: number[], ry?: number[]): number | null {
  return x.length < 2 ? null : pearson(rx ?? ranks(x), ry ?? ranks(y));
}

/** eps^2 of y over the groups (group label per run): the share of y's variance the groups explain, corrected for their number. */
export function epsilonSquared(groups: readonly (string | number)[], y: readonly number[]): number | null {
  const n = y.length;
  const mean = y.reduce((s, v) => s + v, 0) / n;
  const sums = new Map<string | number, { s: number; c: number }>();
  for (let i = 0; i < n; i++) {
    const g = sums.get(groups[i]) ?? { s: 0, c: 0 };
    g.s += y[i];
    g.c++;
    sums.set(groups[i], g);
  }
  const k = sums.size;
  if (k < 2 || n - k < 1) return null;
  let total = 0;
  for (const v of y) total += (v - mean) ** 2;
  if (!(total > 0)) return null;
  let between = 0;
  for (const g of sums.values()) between += g.c * (g.s / g.c - mean) ** 2;
  const within = Math.max(0, total - between);
  const eps = (between - ((k - 1) * within) / (n - k)) / total;
  return Math.max(0, Math.min(1, eps));
}

const isNum = (v: Value): v is number | boolean => (typeof v === "number" && Number.isFinite(v)) || typeof v === "boolean";

/** One config key against the metric over the rows. */
export function keyImportance(rows: readonly RunRow[], key: string, metric: (row: RunRow) => Value): KeyImportance {
  const xs: Value[] = [];
  const ys: number[] = [];
  for (const r of rows) {
    const x = r.config && Object.prototype.hasOwnProperty.call(r.config, key) ? r.config[key] : undefined;
    const y = metric(r);
    if (x === undefined || !(typeof y === "number" && Number.isFinite(y))) continue;
    xs.push(x);
    ys.push(y);
  }
  const n = ys.length;
  const numeric = n > 0 && xs.every(isNum);
  const distinct = new Set<unknown>(numeric ? xs.map(Number) : xs.map((x) => (typeof x === "string" ? "s:" + x : String(x)))).size;
  const base = { key, n, numeric, rho: null, importance: null, groups: distinct };
  if (n < MIN_RUNS) return { ...base, why: `${n} run${n === 1 ? "" : "s"} with this key and the metric; ${MIN_RUNS} needed` };
  if (distinct < 2) return { ...base, why: "one value in every run" };
  let lo = Infinity;
  let hi = -Infinity;
  for (const y of ys) {
    if (y < lo) lo = y;
    if (y > hi) hi = y;
  }
  if (!(hi > lo)) return { ...base, why: "the metric is the same in every run" };
  let groups: (string | number)[];
  let rho: number | null = null;
  if (numeric) {
    const xn = xs.map(Number);
    const rx = ranks(xn);
    rho = spearman(xn, ys, rx);
    const b = bins(n);
    groups = distinct <= b ? xn : rx.map((ri) => Math.min(b - 1, Math.floor(((ri - 1) * b) / n)));
  } else groups = xs.map((x) => (typeof x === "string" ? "s:" + x : String(x)));
  const k = new Set(groups).size;
  const importance = epsilonSquared(groups, ys);
  return { ...base, rho, importance, groups: k, why: importance === null ? "a different value in every run" : "" };
}

/** Every config key of the rows against the metric: importance first (highest first), n/a last, then by name. */
export function importances(rows: readonly RunRow[], metric: (row: RunRow) => Value): KeyImportance[] {
  const keys = new Set<string>();
  for (const r of rows) for (const k in r.config ?? {}) keys.add(k);
  return [...keys]
    .map((k) => keyImportance(rows, k, metric))
    .sort((a, b) => (b.importance ?? -1) - (a.importance ?? -1) || Math.abs(b.rho ?? 0) - Math.abs(a.rho ?? 0) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

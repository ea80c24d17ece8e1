// Pure helpers that turn traces into chart columns: smoothing, alignment of
// several x columns onto one, gaps for non-finite values. No DOM.

/**
 * Exponential moving average with debiasing (as TensorBoard does): the first
 * points are not pulled toward zero. weight in [0, 1); non-finite inputs stay gaps.
 */
export function smooth(y: ArrayLike<number>, weight: number): Float64Array {
  const out = new Float64Array(y.length);
  let last = 0;
  let k = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!Number.isFinite(v)) {
      out[i] = NaN;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    k++;
    out[i] = weight === 0 ? v : last / (1 - Math.pow(weight, k));
  }
  return out;
}

export type Col = ArrayLike<number | null | undefined>;

/** NaN and +-Inf become null (a gap in uPlot); non-positive values too on a log axis. The array is reused when clean. */
export function withGaps(y: Float64Array, log = false): Col {
  let clean = true;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (!Number.isFinite(v) || (log && v <= 0)) {
      clean = false;
      break;
    }
  }
  if (clean) return y;
  const out: (number | null)[] = new Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    out[i] = !Number.isFinite(v) || (log && v <= 0) ? null : v;
  }
  return out;
}

function sameX(a: Float64Array, b: Float64Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isSorted(x: Float64Array): boolean {
  for (let i = 1; i < x.length; i++) if (!(x[i] >= x[i - 1])) return false;
  return true;
}

/** Sort (x, y) pairs by x when x is not ascending (scatter, or an x that went back). */
export function sortByX(x: Float64Array, y: Float64Array): [Float64Array, Float64Array] {
  if (isSorted(x)) return [x, y];
  const idx = new Uint32Array(x.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  idx.sort((a, b) => x[a] - x[b] || a - b);
  const xs = new Float64Array(x.length);
  const ys = new Float64Array(x.length);
  for (let i = 0; i < idx.length; i++) {
    xs[i] = x[idx[i]];
    ys[i] = y[idx[i]];
  }
  return [xs, ys];
}

/**
 * Put several (x, y) series on one ascending x column, as uPlot's mode 1 needs.
 * Series with the same x share it as is; otherwise the x columns are merged and
 * a series has `undefined` where it has no point (uPlot skips it, so the line
 * goes on), and `null` where its value is not finite (a gap).
 */
export function align(series: { x: Float64Array; y: Float64Array }[]): { x: Float64Array; ys: Float64Array[] } | { x: Float64Array; ys: Col[] } {
  const sorted = series.map((s) => sortByX(s.x, s.y));
  if (sorted.length === 0) return { x: new Float64Array(0), ys: [] };
  const x0 = sorted[0][0];
  if (sorted.every(([x]) => sameX(x, x0))) return { x: x0, ys: sorted.map(([, y]) => y) };
  // k-way merge of ascending columns
  const total = sorted.reduce((n, [x]) => n + x.length, 0);
  const merged = new Float64Array(total);
  const pos = new Int32Array(sorted.length);
  let m = 0;
  for (;;) {
    let best = Infinity;
    let any = false;
    for (let s = 0; s < sorted.length; s++) {
      const xs = sorted[s][0];
      if (pos[s] < xs.length) {
        any = true;
        if (xs[pos[s]] < best) best = xs[pos[s]];
      }
    }
    if (!any) break;
    merged[m++] = best;
    for (let s = 0; s < sorted.length; s++) {
      const xs = sorted[s][0];
      while (pos[s] < xs.length && xs[pos[s]] === best) pos[s]++;
    }
  }
  const x = merged.slice(0, m);
  const ys: Col[] = sorted.map(([xs, y]) => {
    const out: (number | null | undefined)[] = new Array(m);
    let j = 0;
    for (let i = 0; i < m; i++) {
      // duplicates of one x within a series: keep the last
      while (j + 1 < xs.length && xs[j + 1] === x[i]) j++;
      if (j < xs.length && xs[j] === x[i]) {
        const v = y[j];
        out[i] = Number.isFinite(v) ? v : null;
        j++;
      } else out[i] = undefined;
    }
    return out;
  });
  return { x, ys };
}

/** min and max of the finite values (NaN, NaN when none). */
export function extent(v: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const a = v[i];
    if (a < lo) lo = a;
    if (a > hi) hi = a;
  }
  return lo <= hi ? [lo, hi] : [NaN, NaN];
}

/** CSV text from columns (header first); strings quoted when needed. */
export function csv(header: string[], rows: (string | number)[][]): string {
  const cell = (v: string | number) => {
    const s = String(v);
    return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(cell).join(",")).join("\n") + "\n";
}

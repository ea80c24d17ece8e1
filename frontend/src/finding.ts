// Pure helpers for finding things on the page (no DOM here, unit-tested under node):
// window search, sections by name prefix, the landing page's envs, export names, image zoom steps.

import type { EnvInfo } from "./wire";

/** The section of a window: its name before the first `/` ("" for a name without one, the default section). */
export function sectionOf(win: string): string {
  const i = win.indexOf("/");
  return i > 0 ? win.slice(0, i) : "";
}

/** Windows (in the layout's order) grouped into sections, each section where its first window is. */
export function sections(wins: string[]): [string, string[]][] {
  const out = new Map<string, string[]>();
  for (const w of wins) {
    const s = sectionOf(w);
    if (!out.has(s)) out.set(s, []);
    out.get(s)!.push(w);
  }
  return [...out];
}

/** A window filter from the search box: a case-insensitive substring, or a regular expression written
 * `/.../` (flags after the last slash; case-insensitive unless it has flags). Null: an invalid regex. */
export function matcher(query: string): ((...names: string[]) => boolean) | null {
  const q = query.trim();
  if (!q) return () => true;
  const re = /^\/(.+)\/([a-z]*)$/.exec(q);
  if (re) {
    let rx: RegExp;
    try {
      rx = new RegExp(re[1], (re[2] || "i").replace(/[gy]/g, ""));
    } catch {
      return null;
    }
    return (...names) => names.some((n) => rx.test(n));
  }
  const low = q.toLowerCase();
  return (...names) => names.some((n) => n.toLowerCase().includes(low));
}

/** Seconds: envs updated this close to the newest one open together on the landing page. */
export const RECENT_S = 120;
/** at most this many envs open on the landing page */
export const RECENT_MAX = 6;

/** The envs the landing page (no `?env=`) opens: the most recently updated. With an `updated` time per env
 * (when the server sends one), the newest and those of its group updated within RECENT_S of it; without one,
 * the env with the most changes (highest seq), the likeliest to be the run in progress. Ties: by name. */
export function recentEnvs(envs: EnvInfo[]): string[] {
  if (!envs.length) return [];
  const timed = envs.filter((e) => typeof e.updated === "number" && Number.isFinite(e.updated));
  if (timed.length) {
    const sorted = [...timed].sort((a, b) => b.updated! - a.updated! || a.name.localeCompare(b.name));
    const top = sorted[0];
    const group = sectionOf(top.name);
    const near = sorted.filter((e) => e === top || (group && sectionOf(e.name) === group && top.updated! - e.updated! <= RECENT_S));
    return near.slice(0, RECENT_MAX).map((e) => e.name).sort((a, b) => a.localeCompare(b));
  }
  const best = [...envs].sort((a, b) => (b.seq ?? 0) - (a.seq ?? 0) || a.name.localeCompare(b.name))[0];
  return [best.name];
}

/** The grid's gap between windows (styles.css .lp-section-body). */
export const GAP = 10;

/** The width of a window without a size of its own: the grid's width shared by as many columns as fit
 * windows of at least `min` px (a 1600 px screen: 2 of about 670 px, not 2 of 460 leaving a third empty).
 * Never more than the grid (one column); `min` when the grid has no width yet. */
export function autoWidth(gridWidth: number, min: number): number {
  if (!(gridWidth > 0)) return min;
  const cols = Math.max(1, Math.floor((gridWidth + GAP) / (min + 1 + GAP))); // 1 px spare: no wrap from rounding
  return Math.max(1, Math.floor((gridWidth - GAP * (cols - 1)) / cols) - 1);
}

/** A download's name: `env-win.ext` with every "/" made "_", as the server's export names its files
 * (handlers.py ExportHandler); several envs (an overlay) join with "+". */
export function exportName(envs: string[], win: string, ext: string): string {
  const stem = `${envs.length ? envs.join("+") + "-" : ""}${win}`.replace(/\//g, "_");
  return `${stem || "window"}.${ext}`;
}

/** Image zoom steps; above the last, "+" goes on through the powers of 2 up to MAX_ZOOM. */
export const ZOOMS = [0.25, 0.5, 1, 2, 3, 4, 6, 8, 12, 16];
export const MAX_ZOOM = 256;

/** The next zoom in (always larger than `cur`, until MAX_ZOOM) or out (smaller, down to the first step). */
export function nextZoom(cur: number, dir: 1 | -1): number {
  if (dir > 0) return Math.min(MAX_ZOOM, ZOOMS.find((s) => s > cur + 1e-9) ?? 2 ** (Math.floor(Math.log2(cur) + 1e-9) + 1));
  return [...ZOOMS].reverse().find((s) => s < cur - 1e-9) ?? ZOOMS[0];
}

/** A zoom level as shown: 2×, 1.5×, 0.38×. */
export function zoomLabel(s: number): string {
  return `${Number(s.toPrecision(s < 1 ? 2 : 3))}×`;
}

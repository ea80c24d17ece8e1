// One colour per run, everywhere: chosen by a user (stored with the run, shared) or derived
// from the run's name, so it is the same in every page and every session. A run's traces
// (train, val, test: the trace names inside a window) share its colour and differ by dash,
// the same trace name getting the same dash in every window. Pure (no DOM).

import type { RunRow, RunValue } from "../wire";

/**
 * 22 colour-blind-aware colours, readable on the light (#fff) and the dark (#181c22) panel.
 * Taken from Paul Tol's bright, vibrant, muted, light and discrete-rainbow schemes and the
 * Okabe-Ito set (https://personal.sron.nl/~pault/, https://jfly.uni-koeln.de/color/), keeping
 * those with a contrast of at least 2 against white and 2.5 against the dark panel, in the
 * order that keeps each next colour farthest (CIELAB, also under simulated deuteranopia and
 * protanopia) from the ones before: the first eight are the most distinct.
 */
export const RUN_PALETTE: readonly string[] = [
  "#4477aa", "#ee6677", "#228833", "#e69f00", "#33bbee", "#44bb99", "#dc050c", "#aa3377",
  "#ee8866", "#1965b0", "#999933", "#cc79a7", "#009e73", "#117733", "#aa4499", "#5289c7",
  "#e8601c", "#ee3377", "#ee7733", "#0077bb", "#994f88", "#009988",
];

/** FNV-1a of the name: stable across pages, sessions and machines. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const SAFE = /^(#[0-9a-f]{3,8}|[a-z]{3,30}|(rgb|rgba|hsl|hsla)\([0-9.,% ]{1,40}\))$/i;

/** Whether a string is a plain colour (never url() or anything else CSS would fetch). */
export function safeColor(c: unknown): c is string {
  return typeof c === "string" && SAFE.test(c);
}

/** Palette slots given out so far (assignRunColors): env -> index. */
let assigned = new Map<string, number>();

/**
 * Give the known runs palette slots without two runs sharing one while slots are free: each
 * run takes the slot its name hashes to, or the next free one when an older run holds it
 * (oldest first, by creation time then name). A new run never moves an older one, every
 * page that knows the same runs gives the same colours, and a run the page does not know
 * yet gets its name's slot.
 */
export function assignRunColors(rows: Iterable<RunRow>): void {
  const list = [...rows].sort((a, b) => (a.created ?? Infinity) - (b.created ?? Infinity) || (a.env < b.env ? -1 : a.env > b.env ? 1 : 0));
  const n = RUN_PALETTE.length;
  const taken = new Array<boolean>(n).fill(false);
  const next = new Map<string, number>();
  let used = 0;
  for (const row of list) {
    let i = nameHash(row.env) % n;
    if (used < n) {
      while (taken[i]) i = (i + 1) % n;
      taken[i] = true;
      used++;
    }
    next.set(row.env, i);
  }
  assigned = next;
}

/** The run's colour: the user's choice when it is a plain colour, else the one its name gives. */
export function runColor(env: string, row?: RunRow | null): string {
  const chosen = row?.color;
  if (safeColor(chosen)) return chosen;
  return RUN_PALETTE[assigned.get(env) ?? nameHash(env) % RUN_PALETTE.length];
}

/** Line dash patterns (CSS pixels), solid first: a run's traces differ by these. */
export const DASHES: readonly (readonly number[])[] = [
  [],
  [7, 4],
  [2, 3],
  [10, 3, 2, 3],
  [14, 5],
  [4, 2, 1, 2],
  [1, 5],
  [10, 3, 2, 3, 2, 3],
];

/** Trace names that usually mean the same thing get the same dash (train solid, validation dashed, test dotted). */
const KNOWN_DASH: Record<string, number> = { "": 0, train: 0, training: 0, val: 1, valid: 1, validation: 1, eval: 1, dev: 1, test: 2 };

/** The dash pattern of a trace name: the same in every window and page. */
export function traceDash(name: string): number[] {
  const key = name.trim().toLowerCase();
  const i = KNOWN_DASH[key] ?? 1 + (nameHash(key) % (DASHES.length - 1));
  return [...DASHES[i]];
}

/** A group's value for a run: String(config[key]), "(none)" when the run has no such key. */
export function groupValue(row: RunRow | null | undefined, key: string): string {
  const v: RunValue | undefined = row?.config?.[key];
  return v === undefined ? "(none)" : String(v);
}

/** A group's name, as the legend shows it and its colour derives from: key=value. */
export function groupName(key: string, value: string): string {
  return `${key}=${value}`;
}

/** Split envs into groups by a config key: group name -> its envs (in the given order), groups in order of first member. */
export function groupRuns(envs: readonly string[], rows: ReadonlyMap<string, RunRow>, key: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const env of envs) {
    const name = groupName(key, groupValue(rows.get(env), key));
    const members = out.get(name);
    if (members) members.push(env);
    else out.set(name, [env]);
  }
  return out;
}

/** The colour of a group: that of a run named as the group (so it is stable, and the same in every page). */
export function groupColor(name: string): string {
  return RUN_PALETTE[nameHash(name) % RUN_PALETTE.length];
}

/** Colours for a set of groups, none shared while the palette lasts: each takes its name's colour, or
 * the next free one when a group before it (by name) holds it. The same set, the same colours. */
export function groupColors(names: Iterable<string>): Map<string, string> {
  const n = RUN_PALETTE.length;
  const taken = new Array<boolean>(n).fill(false);
  const out = new Map<string, string>();
  const sorted = [...new Set(names)].sort();
  sorted.forEach((name, k) => {
    let i = nameHash(name) % n;
    if (k < n) {
      while (taken[i]) i = (i + 1) % n;
      taken[i] = true;
    }
    out.set(name, RUN_PALETTE[i]);
  });
  return out;
}

/** A colour with transparency (for bands): #rgb/#rrggbb get an alpha; anything else is returned as is. */
export function withAlpha(c: string, alpha: number): string {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c);
  if (!m) return c;
  const h = m[1].length === 3 ? [...m[1]].map((d) => d + d).join("") : m[1];
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

// One colour per run, everywhere: chosen by a user (stored with the run, shared) or derived
// from the run's name, so it is the same in every page and every session.

import type { RunRow } from "../wire";

/** Colour-blind-aware colours, distinguishable on light and dark panels. */
export const RUN_PALETTE: readonly string[] = [
  "#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#0072b2", "#e69f00",
  "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#332288", "#88ccee", "#44aa99", "#117733",
  "#999933", "#ddcc77", "#cc6677", "#882255", "#aa4499", "#6699cc", "#997700", "#ee99aa",
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

/** The run's colour: the user's choice when it is a plain colour, else the one its name gives. */
export function runColor(env: string, row?: RunRow | null): string {
  const chosen = row?.color;
  if (typeof chosen === "string" && SAFE.test(chosen)) return chosen;
  return RUN_PALETTE[nameHash(env) % RUN_PALETTE.length];
}

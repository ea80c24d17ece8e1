// Page-wide chart settings (smoothing, x axis, log y) and a window's own overrides.
// Pure: the URL keeps the page's (?smooth=0.6&x=time&logy=1) so a link reproduces the view.

export type XMode = "step" | "time" | "rel";
export const XMODES: readonly XMode[] = ["step", "time", "rel"];

export interface Settings {
  /** EMA weight in [0, 0.99]; 0 is off */
  smooth: number;
  x: XMode;
  logy: boolean;
}

/** What a window sets for itself; an absent key follows the page. */
export type Override = Partial<Settings>;

export const DEFAULTS: Readonly<Settings> = { smooth: 0, x: "step", logy: false };

export const SMOOTH_MAX = 0.99;

export function clampSmooth(v: number): number {
  if (!Number.isFinite(v) || v <= 0) return 0;
  return Math.min(SMOOTH_MAX, Math.round(v * 100) / 100);
}

/** The page settings kept in a query string; anything unknown or malformed is the default. */
export function settingsFromQuery(search: string): Settings {
  const p = new URLSearchParams(search);
  const sm = p.get("smooth");
  const x = p.get("x");
  const logy = p.get("logy");
  return {
    smooth: sm === null ? DEFAULTS.smooth : clampSmooth(Number(sm)),
    x: XMODES.includes(x as XMode) ? (x as XMode) : DEFAULTS.x,
    logy: logy === "1" || logy === "true",
  };
}

/** The URL parameters for these settings: only those that differ from the defaults. */
export function settingsParams(s: Settings): Record<"smooth" | "x" | "logy", string[]> {
  return {
    smooth: s.smooth !== DEFAULTS.smooth ? [String(clampSmooth(s.smooth))] : [],
    x: s.x !== DEFAULTS.x ? [s.x] : [],
    logy: s.logy ? ["1"] : [],
  };
}

/** A window's settings: its own where it set one, else the page's. */
export function resolve(page: Settings, own: Override): Settings {
  return {
    smooth: own.smooth ?? page.smooth,
    x: own.x ?? page.x,
    logy: own.logy ?? page.logy,
  };
}

/** Whether a window sets anything of its own. */
export function overrides(own: Override): boolean {
  return own.smooth !== undefined || own.x !== undefined || own.logy !== undefined;
}

/** The x axis's label for a mode (a window's `xlabel` names its steps; an empty one leaves them unnamed). */
export function xLabel(x: XMode, stepLabel?: string): string {
  return x === "time" ? "wall time" : x === "rel" ? "time since start" : stepLabel ?? "step";
}

export const X_NAMES: Record<XMode, string> = { step: "step", time: "wall time", rel: "relative time" };

/** x values relative to t0 (the env's first point's time). */
export function relative(t: ArrayLike<number>, t0: number): Float64Array {
  const out = new Float64Array(t.length);
  for (let i = 0; i < t.length; i++) out[i] = t[i] - t0;
  return out;
}

/** How overlaid runs are grouped: by a config key ("" is no grouping), each group one mean curve with a band. */
export type Band = "minmax" | "std";
export interface Grouping {
  key: string;
  band: Band;
}

/** The grouping kept in a query string (?group=optimizer&band=std). */
export function groupingFromQuery(search: string): Grouping {
  const p = new URLSearchParams(search);
  const band = p.get("band");
  return { key: (p.get("group") ?? "").slice(0, 200), band: band === "std" ? "std" : "minmax" };
}

export function groupingParams(g: Grouping): Record<"group" | "band", string[]> {
  return { group: g.key ? [g.key] : [], band: g.key && g.band !== "minmax" ? [g.band] : [] };
}

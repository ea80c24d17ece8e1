// Plotly colour scales as 256-entry RGB tables: a [[fraction, colour], ...] array or a name. The names'
// stops are Plotly.js's own (src/components/colorscale/scales.js, plotly.js 4.1.2, MIT), so a figure
// looks as it does in Plotly; viridis comes from colormap.ts. views/fast3d.ts sends a figure with any
// other name to Plotly.

import { table as colormap } from "../colormap";

export type Table = Uint8Array;

// the names alone: views/fast3d.ts (in app.js) checks them without bundling the stops below
const NAMES = ["greys", "bluered", "rdbu", "reds", "blues", "portland", "jet", "hot", "blackbody", "electric"] as const;

export const SCALES: Record<(typeof NAMES)[number], [number, string][]> = {
  greys: [[0, "rgb(0,0,0)"], [1, "rgb(255,255,255)"]],
  bluered: [[0, "rgb(0,0,255)"], [1, "rgb(255,0,0)"]],
  rdbu: [[0, "rgb(5,10,172)"], [0.35, "rgb(106,137,247)"], [0.5, "rgb(190,190,190)"], [0.6, "rgb(220,170,132)"], [0.7, "rgb(230,145,90)"], [1, "rgb(178,10,28)"]],
  reds: [[0, "rgb(220,220,220)"], [0.2, "rgb(245,195,157)"], [0.4, "rgb(245,160,105)"], [1, "rgb(178,10,28)"]],
  blues: [[0, "rgb(5,10,172)"], [0.35, "rgb(40,60,190)"], [0.5, "rgb(70,100,245)"], [0.6, "rgb(90,120,245)"], [0.7, "rgb(106,137,247)"], [1, "rgb(220,220,220)"]],
  portland: [[0, "rgb(12,51,131)"], [0.25, "rgb(10,136,186)"], [0.5, "rgb(242,211,56)"], [0.75, "rgb(242,143,56)"], [1, "rgb(217,30,30)"]],
  jet: [[0, "rgb(0,0,131)"], [0.125, "rgb(0,60,170)"], [0.375, "rgb(5,255,255)"], [0.625, "rgb(255,255,0)"], [0.875, "rgb(250,0,0)"], [1, "rgb(128,0,0)"]],
  hot: [[0, "rgb(0,0,0)"], [0.3, "rgb(230,0,0)"], [0.6, "rgb(255,210,0)"], [1, "rgb(255,255,255)"]],
  blackbody: [[0, "rgb(0,0,0)"], [0.2, "rgb(230,0,0)"], [0.4, "rgb(230,210,0)"], [0.7, "rgb(255,255,255)"], [1, "rgb(160,200,255)"]],
  electric: [[0, "rgb(0,0,0)"], [0.15, "rgb(30,0,100)"], [0.4, "rgb(120,0,100)"], [0.6, "rgb(160,90,0)"], [0.8, "rgb(230,200,0)"], [1, "rgb(255,250,220)"]],
};

/** Whether Plotly's colorscale value is one this renderer draws as Plotly would (none means viridis). */
export function knownScale(v: unknown): boolean {
  if (v == null) return true;
  if (typeof v === "string") return v.toLowerCase() === "viridis" || (NAMES as readonly string[]).includes(v.toLowerCase());
  return Array.isArray(v) && v.length >= 2 && v.every((s) => Array.isArray(s) && s.length === 2 && typeof s[0] === "number" && typeof s[1] === "string" && parse(s[1]) !== null);
}

/** "#rgb", "#rrggbb" or "rgb(a)(r, g, b[, a])" as bytes; null otherwise. */
export function parse(css: string): [number, number, number] | null {
  const s = css.trim().toLowerCase();
  let m = /^#([0-9a-f]{6})$/.exec(s);
  if (m) {
    const n = parseInt(m[1], 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/.exec(s);
  if (m) return [parseInt(m[1] + m[1], 16), parseInt(m[2] + m[2], 16), parseInt(m[3] + m[3], 16)];
  m = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(,\s*[\d.]+\s*)?\)$/.exec(s);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3])].map((x) => Math.max(0, Math.min(255, Math.round(x)))) as [number, number, number];
  return null;
}

/** 256 RGB triples for a Plotly colorscale (viridis when absent). */
export function colorscaleTable(v: unknown, reverse = false): Table {
  let stops: [number, string][] | null = null;
  if (typeof v === "string" && v.toLowerCase() in SCALES) stops = SCALES[v.toLowerCase() as keyof typeof SCALES];
  else if (Array.isArray(v) && knownScale(v)) stops = v as [number, string][];
  let t: Uint8Array;
  if (!stops) t = colormap("viridis");
  else {
    const rgb = stops.map(([f, c]) => [f, ...(parse(c) ?? [0, 0, 0])] as number[]);
    t = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) {
      const f = i / 255;
      let a = 0;
      while (a < rgb.length - 2 && rgb[a + 1][0] < f) a++;
      const [f0, ...c0] = rgb[a];
      const [f1, ...c1] = rgb[Math.min(a + 1, rgb.length - 1)];
      const u = f1 > f0 ? Math.max(0, Math.min(1, (f - f0) / (f1 - f0))) : 0;
      for (let c = 0; c < 3; c++) t[i * 3 + c] = Math.round(c0[c] * (1 - u) + c1[c] * u);
    }
  }
  if (!reverse) return t;
  const r = new Uint8Array(t.length);
  for (let i = 0; i < 256; i++) r.set(t.subarray((255 - i) * 3, (255 - i) * 3 + 3), i * 3);
  return r;
}

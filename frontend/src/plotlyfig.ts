// A plotly window's figure as Plotly.js takes it: the wire's figure ({data, layout}) with each wire
// array turned into a typed array (rows of typed arrays for 2-D z), and whether it has LaTeX ($...$)
// that MathJax must render. Pure: no DOM (unit-tested under node).

import { isWireArray, typed, type WireArray } from "./wire";

export interface Figure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

/** A wire array as Plotly takes it: 1-D a typed array; 2-D and more, nested arrays of typed rows. */
export function plotlyArray(arr: WireArray): unknown {
  const flat = typed(arr);
  const shape = arr.shape;
  if (shape.length <= 1) return flat;
  const nest = (offset: number, dim: number): unknown => {
    const n = shape[dim];
    const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    if (dim === shape.length - 1) return flat.subarray(offset, offset + n);
    const out: unknown[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = nest(offset + i * stride, dim + 1);
    return out;
  };
  return nest(0, 0);
}

function convert(v: unknown, depth: number): unknown {
  if (depth > 64 || v === null || typeof v !== "object") return v;
  if (isWireArray(v)) return plotlyArray(v);
  if (Array.isArray(v)) return v.map((e) => convert(e, depth + 1));
  if (v instanceof Uint8Array) return v; // binary that is no array: left as it is (the server refuses it)
  const out: Record<string, unknown> = {};
  for (const [k, e] of Object.entries(v as Record<string, unknown>)) {
    if (k === "__proto__") continue;
    out[k] = convert(e, depth + 1);
  }
  return out;
}

/** The figure for Plotly.react: a fresh object (Plotly adds its own fields to what it is given). */
export function toFigure(raw: unknown): Figure {
  const f = raw && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  const data = Array.isArray(f.data) ? (f.data.filter((t) => t && typeof t === "object" && !Array.isArray(t)).map((t) => convert(t, 1)) as Record<string, unknown>[]) : [];
  const layout = f.layout && typeof f.layout === "object" && !Array.isArray(f.layout) ? (convert(f.layout, 1) as Record<string, unknown>) : {};
  return { data, layout };
}

const TEX = /\$[^$]+\$/;

/** Whether any string of the figure (names, titles, labels, text) holds LaTeX between dollars. */
export function hasTex(raw: unknown, depth = 0): boolean {
  if (typeof raw === "string") return raw.length > 2 && raw.includes("$") && TEX.test(raw);
  if (depth > 64 || raw === null || typeof raw !== "object" || isWireArray(raw)) return false;
  const items = Array.isArray(raw) ? raw : Object.values(raw as Record<string, unknown>);
  for (const v of items) if (hasTex(v, depth + 1)) return true;
  return false;
}

/** How many traces the figure has (tests and the window's tooltip). */
export function traceCount(raw: unknown): number {
  const f = raw && typeof raw === "object" ? (raw as Record<string, unknown>) : {};
  return Array.isArray(f.data) ? f.data.length : 0;
}

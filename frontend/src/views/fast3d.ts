// The fast 3-D path of plotly windows: a figure of only `surface`, `scatter3d` (markers and/or lines) and
// `mesh3d` traces, with options this path draws as Plotly would, is drawn by static/fast3d.js (three.js in
// WebGL, src/fast3d/) instead of Plotly.js, which is slow for them without a GPU (seconds per frame to
// rotate 100,000 points). The script loads on first need, like Plotly. Anything else stays with Plotly.

import { loadScript } from "../lazy";
import { isWireArray } from "../wire";
import { knownScale } from "../fast3d/colorscale";
import { hasTex } from "../plotlyfig";
import type { Fast3dLib } from "../fast3d/index";

type Rec = Record<string, unknown>;

// the trace options the fast path draws (or that change nothing it draws: hover, legend grouping, ids)
const COMMON = ["type", "name", "visible", "showlegend", "opacity", "hoverinfo", "hovertemplate", "hovertext", "text", "uid", "legendgroup", "meta", "customdata", "scene", "x", "y", "z"];
const TRACE_KEYS: Record<string, Set<string>> = {
  surface: new Set([...COMMON, "colorscale", "cmin", "cmax", "cauto", "showscale", "reversescale", "colorbar", "autocolorscale"]),
  scatter3d: new Set([...COMMON, "mode", "marker", "line"]),
  mesh3d: new Set([...COMMON, "i", "j", "k", "color", "intensity", "colorscale", "cmin", "cmax", "cauto", "showscale", "reversescale", "colorbar", "alphahull", "flatshading", "lighting", "lightposition"]),
};
const MARKER_KEYS = new Set(["size", "color", "colorscale", "cmin", "cmax", "cauto", "showscale", "reversescale", "colorbar", "opacity", "symbol", "line"]);
const LINE_KEYS = new Set(["color", "width"]);
// layout options that would draw something the fast path does not (annotations, shapes, more scenes, menus)
const LAYOUT_KEYS = new Set(["title", "showlegend", "margin", "scene", "width", "height", "autosize", "paper_bgcolor", "plot_bgcolor", "font", "legend", "hovermode", "uirevision", "template"]);
const SCENE_KEYS = new Set(["xaxis", "yaxis", "zaxis", "camera", "aspectmode", "bgcolor", "dragmode", "hovermode"]);
const AXIS_KEYS = new Set(["title", "range", "showgrid", "gridcolor", "zeroline", "showbackground", "backgroundcolor", "showspikes", "autorange"]);

const keysIn = (v: unknown, allowed: Set<string>): boolean => v == null || (typeof v === "object" && !Array.isArray(v) && Object.keys(v as Rec).every((k) => allowed.has(k)));
const isArrayLike = (v: unknown): boolean => isWireArray(v) || Array.isArray(v);

function traceOk(t: Rec): boolean {
  const type = typeof t.type === "string" ? t.type : "";
  const keys = TRACE_KEYS[type];
  if (!keys || !Object.keys(t).every((k) => keys.has(k))) return false;
  if (t.scene != null && t.scene !== "scene") return false;
  if (type === "surface") return isArrayLike(t.z) && knownScale(t.colorscale);
  if (!isArrayLike(t.x) || !isArrayLike(t.y) || !isArrayLike(t.z)) return false;
  if (type === "scatter3d") {
    const mode = t.mode ?? "lines+markers";
    if (typeof mode !== "string" || !mode.split("+").every((m) => m === "markers" || m === "lines")) return false;
    const m = t.marker as Rec | undefined;
    if (!keysIn(m, MARKER_KEYS) || !keysIn(t.line, LINE_KEYS)) return false;
    if (m && m.symbol != null && m.symbol !== "circle") return false;
    return !m || knownScale(m.colorscale);
  }
  // mesh3d: triangles i/j/k, or no triangles and alphahull 0 (the convex hull); Plotly's default
  // (a Delaunay triangulation) and alpha shapes stay with Plotly
  const ijk = isArrayLike(t.i) && isArrayLike(t.j) && isArrayLike(t.k);
  if (!ijk && t.alphahull !== 0) return false;
  return knownScale(t.colorscale);
}

/** Whether the fast 3-D path draws this plotly window's figure (a wire figure: {data, layout}). */
export function fast3dFigure(raw: unknown): boolean {
  if (!raw || typeof raw !== "object") return false;
  const f = raw as Rec;
  if (!Array.isArray(f.data) || !f.data.length) return false;
  if (hasTex(raw)) return false; // Plotly renders $...$ with MathJax; this path would show it as written
  if (!f.data.every((t) => t && typeof t === "object" && !Array.isArray(t) && traceOk(t as Rec))) return false;
  const layout = f.layout as Rec | undefined;
  if (!keysIn(layout, LAYOUT_KEYS)) return false;
  const scene = layout?.scene;
  if (!keysIn(scene, SCENE_KEYS)) return false;
  return ["xaxis", "yaxis", "zaxis"].every((a) => keysIn((scene as Rec | undefined)?.[a], AXIS_KEYS));
}

export type Fast3dScene = ReturnType<Fast3dLib["create"]>;

/** static/fast3d.js, loaded on first call. */
export async function fast3d(): Promise<Fast3dLib> {
  await loadScript("static/fast3d.js");
  const lib = (globalThis as typeof globalThis & { LivepanelFast3d?: Fast3dLib }).LivepanelFast3d;
  if (!lib) throw new Error("static/fast3d.js loaded but defined no LivepanelFast3d");
  return lib;
}

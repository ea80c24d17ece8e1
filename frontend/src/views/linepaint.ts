// The uPlot side of Visdom's line options (lineopts.ts reads them): axes with given ticks, labels,
// fonts and margins, fixed ranges, and the markers (symbols, per-point colours) and text labels
// painted over the curves after uPlot draws them.

import type uPlot from "uplot";
import { fmt, theme } from "./common";
import { addSymbol, finishSymbols, range, splits, thin, tickText, type AxisLook, type TraceLook, type WindowLook } from "./lineopts";

/** What the last paint drew (tests read it through chart(win).painted). */
export interface Painted {
  markers: number;
  labels: number;
  /** the symbol shape painted, per painted curve */
  symbols: string[];
}

/** The curve data painting needs. */
export interface PaintLine {
  x: Float64Array;
  y: Float64Array;
  color: string;
  look?: TraceLook;
  perPoint?: boolean;
}

/** at most this many markers are painted per draw (uPlot's own draws any number) */
const MAX_MARKERS = 200_000;
/** text labels are painted only when at most this many points are in view */
const MAX_LABELS = 5_000;

/** uPlot's own round markers do: no other symbol, no per-point colour. */
export function plainMarkers(look: WindowLook, lines: PaintLine[]): boolean {
  return look.symbol.shape === "circle" && !look.symbol.open && lines.every((l) => !l.look?.markercolors?.length);
}

/** The round ticks a chart would choose, for a tick step that asks for too many. */
function niceSplits(lo: number, hi: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / 5;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => (hi - lo) / s <= 5) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9 && out.length < 50; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** An axis with the window's tick values, labels, font and (for the y axis and the x axis) its margin. */
export function axisFor(al: AxisLook, base: uPlot.Axis, margin?: number): uPlot.Axis {
  const out: uPlot.Axis = { ...base };
  if (al.vals || al.step)
    out.splits = (u, i, lo, hi) => {
      // as many as fit: about 50 CSS px apart on the x axis, 20 on the y axis
      const px = (i === 0 ? u.bbox.width : u.bbox.height) / (devicePixelRatio || 1);
      return thin(splits(al, lo, hi) ?? niceSplits(lo, hi), px / (i === 0 ? 50 : 20));
    };
  if (!al.show || al.labels || al.vals || al.step) {
    const inner = base.values;
    out.values = (u, sp, ai, space, incr) => {
      const d = typeof inner === "function" ? (inner(u, sp, ai, space, incr) as (string | number | null)[]) : sp.map((v) => fmt(v));
      return sp.map((v, i) => tickText(al, v, String(d[i] ?? "")));
    };
  }
  if (al.font) {
    out.font = `${al.font}px system-ui, sans-serif`;
    // room for the bigger (or smaller) labels: the default sizes are for 12 px ones
    const size = base.size;
    const scale = al.font / 12;
    if (typeof size === "number") out.size = Math.max(size, Math.ceil(size * scale));
    else if (typeof size === "function") out.size = (u, values, ai, cycle) => Math.ceil(size(u, values, ai, cycle) * Math.max(1, scale));
  }
  if (margin !== undefined) out.size = Math.max(0, margin - (typeof base.labelSize === "number" ? base.labelSize : 0));
  return out;
}

/** A scale's range when the window fixes a bound (tickmin/tickmax; on a log axis, a positive one). */
export function rangeFor(al: AxisLook, log: boolean): uPlot.Scale.Range | undefined {
  const ok = (v: number | undefined) => v !== undefined && (!log || v > 0);
  if (!ok(al.min) && !ok(al.max)) return undefined;
  const fixed = { ...al, min: ok(al.min) ? al.min : undefined, max: ok(al.max) ? al.max : undefined };
  return (_u, lo, hi) => range(fixed, lo, hi);
}

/** uPlot's padding [top, right, bottom, left] for the window's margins (the axes take left and bottom). */
export function paddingFor(m: WindowLook["margin"]): uPlot.Padding | undefined {
  if (m.left === undefined && m.right === undefined && m.top === undefined && m.bottom === undefined) return undefined;
  return [m.top ?? null, m.right ?? null, m.bottom !== undefined ? 0 : null, m.left !== undefined ? 0 : null] as unknown as uPlot.Padding;
}

/** Paint the markers uPlot does not draw and the text labels; `series[k]` is uPlot's series of `lines[k]`. */
export function paintLooks(u: uPlot, look: WindowLook, curves: { line: PaintLine; k: number }[], plain: boolean, dpr: number): Painted {
  const out: Painted = { markers: 0, labels: 0, symbols: [] };
  const markers = look.markers && !plain;
  if (!markers && !curves.some((c) => c.line.look?.text?.length)) return out;
  const { left, top, width, height } = u.bbox;
  const g = u.ctx;
  const th = theme();
  g.save();
  g.beginPath();
  g.rect(left, top, width, height);
  g.clip();
  g.setLineDash([]);
  for (const { line: l, k } of curves) {
    if (!u.series[k]?.show) continue;
    g.globalAlpha = u.series[k].alpha ?? 1; // runs not highlighted are dimmed, their markers too
    const text = l.perPoint ? l.look?.text : undefined;
    const perPoint = l.perPoint ? l.look?.markercolors : undefined;
    const base = l.look?.markercolor ?? l.color;
    if (markers) out.symbols.push(look.symbol.shape);
    let inView = 0;
    const pos: number[] = [];
    for (let j = 0; j < l.x.length; j++) {
      const px = u.valToPos(l.x[j], "x", true);
      const py = u.valToPos(l.y[j], "y", true);
      if (!Number.isFinite(px) || !Number.isFinite(py) || px < left - 2 || px > left + width + 2 || py < top - 2 || py > top + height + 2) continue;
      inView++;
      pos.push(j, px, py);
    }
    if (markers) {
      // one path per colour, filled once (per-point colours are few; one colour is the common case)
      const byColor = new Map<string, number[]>();
      for (let p = 0; p < pos.length && out.markers < MAX_MARKERS; p += 3, out.markers++) {
        const c = perPoint?.[pos[p]] ?? base;
        let list = byColor.get(c);
        if (!list) byColor.set(c, (list = []));
        list.push(pos[p + 1], pos[p + 2]);
      }
      for (const [c, list] of byColor) {
        g.beginPath();
        for (let p = 0; p < list.length; p += 2) addSymbol(g, look.symbol, list[p], list[p + 1], look.size, dpr);
        finishSymbols(g, look.symbol, c, dpr);
      }
    }
    if (text && inView <= MAX_LABELS) {
      g.font = `${11 * dpr}px system-ui, sans-serif`;
      g.fillStyle = th.fg;
      g.textAlign = "left";
      g.textBaseline = "middle";
      for (let p = 0; p < pos.length; p += 3) {
        const j = pos[p];
        if (j >= text.length || !text[j]) continue;
        g.fillText(text[j], pos[p + 1] + (look.size / 2 + 3) * dpr, pos[p + 2]);
        out.labels++;
      }
    }
  }
  g.restore();
  return out;
}

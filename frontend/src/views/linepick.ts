// What is under the pointer in a line or scatter chart (events.ts sends it with a click): the data
// coordinates there, and the nearest drawn point within PICK_PX, with its trace and index.

import type uPlot from "uplot";
import type { Pick } from "../events";

/** how near (CSS px) a point must be to the pointer to be picked */
export const PICK_PX = 24;

/** A drawn line as the picker needs it: its env, its trace name, its points (x as drawn: step or time). */
export interface PickLine {
  env: string;
  trace: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

/** The data coordinates at client point (cx, cy) and the nearest point of `lines`; null outside the plot. */
export function pickLine(u: uPlot, lines: PickLine[], cx: number, cy: number): Pick | null {
  const r = u.over.getBoundingClientRect();
  const left = cx - r.left;
  const top = cy - r.top;
  if (left < 0 || top < 0 || left > r.width || top > r.height) return null;
  const x = u.posToVal(left, "x");
  const y = u.posToVal(top, "y");
  let best = PICK_PX * PICK_PX;
  let found: Pick["point"] = null;
  let env = "";
  for (const l of lines) {
    if (!l.env) continue; // a group's curve is no one run's point
    const n = Math.min(l.x.length, l.y.length);
    for (let i = 0; i < n; i++) {
      const yi = l.y[i];
      if (!Number.isFinite(yi)) continue;
      const dx = u.valToPos(l.x[i], "x") - left;
      if (dx * dx >= best) continue;
      const dy = u.valToPos(yi, "y") - top;
      const d = dx * dx + dy * dy;
      if (d < best) {
        best = d;
        found = { trace: l.trace, index: i, x: l.x[i], y: yi };
        env = l.env;
      }
    }
  }
  if (!Number.isFinite(x) || !Number.isFinite(y)) return null;
  return { env, x, y, point: found };
}

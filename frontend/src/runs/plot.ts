// What the runs page's canvas plots (parallel coordinates, scatter) share: their element (`el.lpPlot` for
// tests), the runs and candidate dims they show, the size of their canvases under their toolbar, the focus
// they follow and set while the pointer is over a run, and their teardown.

import { el, theme } from "../views/common";
import type { RunRow } from "../wire";
import type { Dim, PlotOptions } from "./parcoords";
import type { Value } from "./scales";

/** A dim's value for a run; null when it has none or reading it fails (user data of any shape). */
export function safeGet(d: Dim | undefined, r: RunRow): Value {
  if (!d) return null;
  try {
    const v = d.get(r);
    return v === undefined ? null : v;
  } catch {
    return null;
  }
}

export abstract class RunsPlot<O extends PlotOptions> {
  readonly el: HTMLDivElement;
  protected rows: RunRow[] = [];
  protected dims: Dim[] = [];
  protected index = new Map<string, number>();
  protected width = 0;
  protected height = 0;
  /** CSS px of the canvases: the height less what is above them */
  protected ch = 0;
  protected raf = 0;
  protected frames = 0;
  /** the pointer is over a run and this plot set the focus to it */
  protected hovering = false;
  protected colors = theme();
  private readonly offFocus: () => void;

  /** `above`: CSS px of the toolbar (and heads) above the canvases. */
  constructor(readonly opts: O, className: string, private readonly above: number) {
    this.el = el("div", className);
    Object.defineProperty(this.el, "lpPlot", { value: this, configurable: true });
    this.offFocus = opts.focus.on(() => this.focusChanged());
  }

  /** The focused run changed (here or anywhere on the page). */
  protected abstract focusChanged(): void;

  /** Take these runs and candidate dims (and the theme: it may have changed since). */
  protected take(rows: RunRow[], dims: Dim[]): void {
    this.rows = rows;
    this.dims = dims;
    this.index = new Map(rows.map((r, i) => [r.env, i]));
    this.colors = theme();
  }

  /** Size the plot and these canvases (the area below the toolbar) at the device's pixel ratio. */
  protected size(width: number, height: number, canvases: HTMLCanvasElement[]): void {
    this.width = Math.max(0, Math.floor(width));
    this.height = Math.max(0, Math.floor(height));
    this.el.style.width = `${this.width}px`;
    this.el.style.height = `${this.height}px`;
    this.ch = Math.max(0, this.height - this.above);
    const dpr = window.devicePixelRatio || 1;
    for (const c of canvases) {
      c.width = Math.round(this.width * dpr);
      c.height = Math.round(this.ch * dpr);
      c.style.width = `${this.width}px`;
      c.style.height = `${this.ch}px`;
    }
  }

  /** The run nearest the pointer: the nearest of those `passes` says pass, else of the others; within `near`
   * by `dist` (NaN: never); null when none is. */
  protected nearestRun(near: number, dist: (i: number) => number, passes: (i: number) => boolean): string | null {
    let best = -1;
    let bd = near;
    let faint = -1;
    let fd = near;
    for (let i = 0; i < this.rows.length; i++) {
      const d = dist(i);
      if (!(d <= near)) continue;
      if (passes(i)) {
        if (d <= bd) {
          bd = d;
          best = i;
        }
      } else if (d <= fd) {
        fd = d;
        faint = i;
      }
    }
    const i = best >= 0 ? best : faint;
    return i >= 0 ? this.rows[i].env : null;
  }

  /** The pointer is over this run: the whole page highlights it. */
  protected hoverOn(env: string): void {
    this.hovering = true;
    this.opts.focus.set(env);
  }

  /** The pointer is over no run: give the focus up if this plot set it. */
  protected hoverOff(): void {
    if (this.hovering) {
      this.hovering = false;
      this.opts.focus.set(null);
    }
  }

  destroy(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
    this.offFocus();
    this.hoverOff();
    this.el.remove();
  }
}

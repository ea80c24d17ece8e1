// Parallel coordinates of runs: one axis per chosen config key or metric (linear, log or
// categorical), brushing an axis filters the runs, lines coloured by a chosen metric.
// (Interface first; the drawing lands with its own commit.)

import { el } from "../views/common";
import type { RunRow } from "../wire";
import type { Focus } from "./model";

/** A column of the runs: a config key, a metric or a summary value. */
export interface Dim {
  key: string;
  label: string;
  get(row: RunRow): number | string | boolean | null;
}

export interface PlotOptions {
  colors: (env: string) => string;
  focus: Focus;
}

export class ParCoords {
  readonly el = el("div", "lp-parcoords");
  /** the runs inside every brush; null when nothing is brushed */
  passing: Set<string> | null = null;

  constructor(readonly opts: PlotOptions & { onBrush: (passing: Set<string> | null) => void }) {}

  /** Draw these runs; `dims` are the candidate axes (the user picks among them); brushes are kept by key. */
  setData(rows: RunRow[], dims: Dim[]): void {
    void rows;
    void dims;
  }

  resize(width: number, height: number): void {
    void width;
    void height;
  }

  clearBrushes(): void {
    this.passing = null;
    this.opts.onBrush(null);
  }

  destroy(): void {}
}

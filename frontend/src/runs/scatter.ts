// A scatter of one metric against one hyper-parameter, a point per run.
// (Interface first; the drawing lands with its own commit.)

import { el } from "../views/common";
import type { RunRow } from "../wire";
import type { Dim, PlotOptions } from "./parcoords";

export class Scatter {
  readonly el = el("div", "lp-scatter");

  constructor(readonly opts: PlotOptions & { onPick?: (env: string) => void }) {}

  /** Draw these runs; `dims` are the candidates for x and y (the user picks); runs outside `passing` are dimmed. */
  setData(rows: RunRow[], dims: Dim[], passing: Set<string> | null): void {
    void rows;
    void dims;
    void passing;
  }

  resize(width: number, height: number): void {
    void width;
    void height;
  }

  destroy(): void {}
}

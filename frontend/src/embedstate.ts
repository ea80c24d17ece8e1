// An embedding window's steps as the page holds them: each step's size, columns and projections (which are
// done, which are being computed and how far), never its points: views/embedding.ts loads those from
// api/v1/embedding for the step it shows. No DOM (unit-tested under node).

import type { Op } from "./wire";

export type Projection = "done" | { state: string; progress: number; error?: string | null };

export interface EmbedStep {
  step: number;
  t: number;
  n: number;
  dim: number;
  /** whether the step has labels */
  labels: boolean;
  /** metadata columns: "text" or "number" */
  columns: Record<string, string>;
  thumbs: boolean;
  /** "pca", "tsne-2d", "umap-3d", ...: done, or its state and progress (0..1) */
  projections: Record<string, Projection>;
  /** PCA's explained variance ratio per component */
  variance: number[];
}

const MAX_STEPS = 1000;

export function embedStepFrom(raw: Record<string, unknown>): EmbedStep {
  const num = (v: unknown, d = 0) => (typeof v === "number" && Number.isFinite(v) ? v : d);
  const obj = (v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const projections: Record<string, Projection> = {};
  for (const [k, v] of Object.entries(obj(raw.projections))) {
    if (v === "done") projections[k] = "done";
    else if (v && typeof v === "object") {
      const p = v as Record<string, unknown>;
      projections[k] = { state: typeof p.state === "string" ? p.state : "running", progress: num(p.progress), error: typeof p.error === "string" ? p.error : null };
    }
  }
  const columns: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(raw.columns))) columns[k] = v === "number" ? "number" : "text";
  return {
    step: num(raw.step),
    t: num(raw.t),
    n: num(raw.n),
    dim: num(raw.dim),
    labels: raw.labels === true,
    columns,
    thumbs: raw.thumbs === true,
    projections,
    variance: Array.isArray(raw.variance) ? raw.variance.map((v) => num(v)) : [],
  };
}

/** The steps after an embedding op (a new step, or a projection's progress or result): a new list. */
export function applyEmbedding(steps: EmbedStep[], op: Op): EmbedStep[] {
  const dropped = new Set(Array.isArray(op.dropped) ? op.dropped : []);
  const list = steps.filter((s) => !dropped.has(s.step));
  const s = embedStepFrom(op);
  if (typeof op.step !== "number") s.step = list.length ? list[list.length - 1].step + 1 : 0;
  const at = list.findIndex((x) => x.step === s.step);
  if (at >= 0) list[at] = s;
  else {
    list.push(s);
    list.sort((a, b) => a.step - b.step);
  }
  if (list.length > MAX_STEPS) list.splice(0, list.length - MAX_STEPS);
  return list;
}

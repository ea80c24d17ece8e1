import assert from "node:assert/strict";
import { test } from "node:test";
import { State } from "../src/state";
import type { ServerMessage } from "../src/wire";

const meta = (step: number, projections: Record<string, unknown> = { pca: "done" }) => ({ step, t: 1, n: 50, dim: 8, labels: true, columns: { loss: "number", split: "text" }, thumbs: false, projections, variance: [0.5, 0.2, 0.1] });

function start(): State {
  const s = new State();
  s.apply({ type: "hello", version: "0.1.0", store: "S", envs: [] });
  s.apply({ type: "snapshot", env: "a", seq: 1, windows: [{ win: "e", kind: "embedding", opts: {}, seq: 1, steps: [meta(0)] as never }] } as ServerMessage);
  return s;
}

test("embedding steps: meta from the snapshot, new steps, progress, results and dropped steps", () => {
  const s = start();
  const w = () => s.envs.get("a")!.windows.get("e")!;
  assert.deepEqual(w().embedding!.map((x) => x.step), [0]);
  assert.deepEqual(w().embedding![0].columns, { loss: "number", split: "text" });
  s.apply({ type: "change", env: "a", seq: 2, op: { op: "embedding", env: "a", win: "e", opts: {}, ...meta(1) } } as ServerMessage);
  assert.deepEqual(w().embedding!.map((x) => x.step), [0, 1]);
  // a projection's progress, then its result: the same step, updated
  s.apply({ type: "change", env: "a", seq: 3, op: { op: "embedding", env: "a", win: "e", opts: {}, ...meta(1, { pca: "done", "tsne-2d": { state: "running", progress: 0.4, error: null } }) } } as ServerMessage);
  assert.deepEqual(w().embedding![1].projections["tsne-2d"], { state: "running", progress: 0.4, error: null });
  s.apply({ type: "change", env: "a", seq: 4, op: { op: "embedding", env: "a", win: "e", opts: {}, ...meta(1, { pca: "done", "tsne-2d": "done" }) } } as ServerMessage);
  assert.equal(w().embedding![1].projections["tsne-2d"], "done");
  assert.equal(w().embedding!.length, 2);
  // a step past the server's limit drops the oldest
  s.apply({ type: "change", env: "a", seq: 5, op: { op: "embedding", env: "a", win: "e", opts: {}, ...meta(2), dropped: [0] } } as ServerMessage);
  assert.deepEqual(w().embedding!.map((x) => x.step), [1, 2]);
});

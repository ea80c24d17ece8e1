import assert from "node:assert/strict";
import { test } from "node:test";
import { State } from "../src/state";
import type { ServerMessage } from "../src/wire";
import { arr } from "./helpers";

const hello: ServerMessage = { type: "hello", version: "0.1.0", store: "S1", envs: [{ name: "a", seq: 1, windows: 1 }] };

function step(step: number, size = 100): Record<string, unknown> {
  return { step, t: 10 + step, format: "wav", size, sample_rate: 8000, channels: 1, samples: 4, dtype: "float32", peaks: arr([0, 0, 1, 1], "f4") };
}

test("audio steps from a snapshot and from changes, in step order; dropped steps leave", () => {
  const s = new State();
  s.apply(hello);
  s.apply({ type: "snapshot", env: "a", seq: 1, layout: {}, windows: [{ win: "snd", kind: "audio", opts: {}, seq: 1, steps: [step(3), step(1)] as never }] } as ServerMessage);
  const w = () => s.envs.get("a")!.windows.get("snd")!;
  assert.deepEqual(w().clips!.map((c) => c.step), [1, 3]);
  assert.equal(w().clips![0].meta.sample_rate, 8000);
  assert.ok(!("step" in w().clips![0].meta) && !("op" in w().clips![0].meta));
  s.apply({ type: "change", env: "a", seq: 2, op: { op: "audio", env: "a", win: "snd", opts: {}, ...step(2, 7) } } as never);
  assert.deepEqual(w().clips!.map((c) => c.step), [1, 2, 3]);
  s.apply({ type: "change", env: "a", seq: 3, op: { op: "audio", env: "a", win: "snd", opts: {}, ...step(2, 9), dropped: [1] } } as never);
  assert.deepEqual(w().clips!.map((c) => [c.step, c.meta.size]), [[2, 9], [3, 100]]);
  assert.ok(!("dropped" in w().clips![0].meta));
});

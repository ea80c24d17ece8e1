import assert from "node:assert/strict";
import { test } from "node:test";
import { State } from "../src/state";
import type { ServerMessage } from "../src/wire";

// Properties panes in the page's state (views/properties.ts draws them; events.ts sends their edits).
const hello: ServerMessage = { type: "hello", version: "0.1.0", store: "S1", envs: [{ name: "a", seq: 1, windows: 1 }] };
const items = [
  { type: "number", name: "lr", value: 0.001 },
  { type: "select", name: "opt", value: 0, values: ["adam", "sgd"] },
];

test("a pane comes with the snapshot and an edit replaces its items", () => {
  const s = new State();
  s.apply(hello);
  s.apply({ type: "snapshot", env: "a", seq: 1, layout: {}, windows: [{ win: "p", kind: "properties", opts: {}, seq: 1, items, pane: "x" } as never] } as ServerMessage);
  const w = s.envs.get("a")!.windows.get("p")!;
  assert.equal(w.kind, "properties");
  assert.deepEqual(w.items, items);
  const edited = [{ ...items[0], value: 0.01 }, items[1]];
  const op = { op: "properties", env: "a", win: "p", items: edited, pane: "x", edit: { id: 0, value: 0.01 } };
  const applied = s.apply({ type: "change", env: "a", seq: 2, op } as never);
  assert.deepEqual(applied.windows, ["p"]);
  assert.deepEqual(s.envs.get("a")!.windows.get("p")!.items, edited);
});

test("a properties change makes the window when it is new", () => {
  const s = new State();
  s.apply(hello);
  s.apply({ type: "snapshot", env: "a", seq: 0, layout: {}, windows: [] } as never);
  s.apply({ type: "change", env: "a", seq: 1, op: { op: "properties", env: "a", win: "q", items, pane: "" } } as never);
  const w = s.envs.get("a")!.windows.get("q")!;
  assert.equal(w.kind, "properties");
  assert.equal(w.items?.length, 2);
});

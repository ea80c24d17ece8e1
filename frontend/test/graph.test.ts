import assert from "node:assert/strict";
import { test } from "node:test";
import { HEAD, Layouter, SEGMENT_OVER, topological } from "../src/graph/layout";
import { colorRange, graphFrom, GraphModel, prefixes } from "../src/graph/model";
import { applyOp, windowFrom, type EnvState } from "../src/state";
import type { Op, WireWindow } from "../src/wire";

// x -> blocks.0.l -> add(blocks.0) -> blocks.1.l -> add_1(blocks.1) -> head, with relu (one module used twice)
const wire = {
  source: "fx",
  name: "M",
  note: "",
  nodes: [
    { id: "x", name: "x", op: "Input", module: "" },
    { id: "l0", name: "blocks.0.l", op: "Linear", module: "blocks.0.l" },
    { id: "add", name: "add", op: "add", module: "blocks.0" },
    { id: "r0", name: "relu", op: "ReLU", module: "relu" },
    { id: "l1", name: "blocks.1.l", op: "Linear", module: "blocks.1.l" },
    { id: "add_1", name: "add_1", op: "add", module: "blocks.1" },
    { id: "r1", name: "relu_1", op: "ReLU", module: "relu" },
    { id: "head", name: "head", op: "Linear", module: "head", shape: [2, 3] },
    { id: 7, name: "not a node: its id is no string" },
  ],
  edges: [
    { from: "x", to: "l0" },
    { from: "x", to: "add" },
    { from: "l0", to: "add" },
    { from: "add", to: "r0" },
    { from: "r0", to: "l1" },
    { from: "r0", to: "add_1" },
    { from: "l1", to: "add_1" },
    { from: "add_1", to: "r1" },
    { from: "r1", to: "head", shape: [2, 4] },
    { from: "r1", to: "nowhere" },
  ],
  modules: [{ path: "", type: "M", params: 10 }, { path: "blocks", type: "Sequential", params: 8 }, { path: "blocks.0", type: "B", params: 4 }],
};

test("the wire graph is read field by field: odd nodes and dangling edges are left out", () => {
  const g = graphFrom(wire)!;
  assert.equal(g.nodes.length, 8);
  assert.equal(g.edges.length, 9);
  assert.deepEqual(g.nodes[7].shape, [2, 3]);
  assert.equal(graphFrom("nope"), null);
  assert.deepEqual(prefixes("a.b.c"), ["a", "a.b", "a.b.c"]);
});

test("groups are module paths of 2+ nodes; a module called twice is no group", () => {
  const m = new GraphModel(graphFrom(wire)!);
  assert.deepEqual([...m.groups.keys()].sort(), ["blocks", "blocks.0", "blocks.1"]);
  assert.deepEqual(m.chain.get("l0"), ["blocks", "blocks.0"]);
});

test("a collapsed group is one box; edges join at it, without self loops", () => {
  const m = new GraphModel(graphFrom(wire)!);
  m.collapsed.add("blocks.0");
  const v = m.visible();
  assert.equal(v.nodes.length, 7);
  const box = v.nodes.find((n) => n.key === "g:blocks.0")!;
  assert.deepEqual(box.modules.sort(), ["blocks.0", "blocks.0.l"]);
  assert.equal(box.count, 2);
  assert.ok(v.edges.some((e) => e.from === "n:x" && e.to === "g:blocks.0"));
  assert.ok(!v.edges.some((e) => e.from === e.to));
  assert.equal(v.edges.filter((e) => e.from === "n:x").length, 1, "two edges x -> group are one");
});

test("collapseToFit opens level by level while the boxes fit; reveal opens a node's groups", () => {
  const m = new GraphModel(graphFrom(wire)!);
  m.collapseToFit(4);
  assert.ok(m.collapsed.has("blocks"));
  assert.equal(m.visibleCount(), 5);
  m.collapseToFit(100);
  assert.equal(m.collapsed.size, 0);
  m.collapseToFit(4);
  m.reveal("l1");
  assert.equal(m.hiddenIn("l1"), null);
  assert.equal(m.hiddenIn("l0"), "blocks.0");
});

test("a parameter of the model itself is the layer watch() names by the model's class", () => {
  const g = graphFrom({ source: "fx", name: "Net", nodes: [{ id: "pos", name: "pos", op: "get_attr", module: "" }, { id: "x", op: "Input" }] })!;
  const boxes = new GraphModel(g).visible().nodes;
  assert.deepEqual(boxes.map((b) => b.modules), [["Net"], []]);
});

test("search finds nodes by name, op or module, case-insensitively", () => {
  const m = new GraphModel(graphFrom(wire)!);
  assert.deepEqual(m.search("LINEAR"), ["l0", "l1", "head"]);
  assert.deepEqual(m.search("blocks.1"), ["l1", "add_1"]);
  assert.deepEqual(m.search("  "), []);
});

test("the colour scale spans the 5th to 95th percentile of 20+ values, else all of them", () => {
  assert.deepEqual(colorRange([3, 1, 2, NaN]), { lo: 1, hi: 3, clipped: false });
  const many = Array.from({ length: 40 }, (_, i) => i);
  many[0] = -1000; // one layer far below the others does not flatten the rest
  const r = colorRange(many);
  assert.ok(r.clipped && r.lo >= 1 && r.hi <= 39 && r.hi > r.lo);
  assert.deepEqual(colorRange(Array(25).fill(2)), { lo: 2, hi: 2, clipped: false });
  assert.ok(Number.isNaN(colorRange([]).lo));
});

test("open groups are laid out inside out: frames hold their boxes, same structures are laid out once", () => {
  const boxes = [{ key: "in", w: 64, h: 34, parents: [] as string[] }];
  const edges: { from: string; to: string }[] = [];
  let prev = "in";
  for (let i = 0; i < 6; i++) {
    for (const part of ["a", "b"]) {
      const key = `b${i}.${part}`;
      boxes.push({ key, w: 96, h: 34, parents: ["blocks", `blocks.${i}`] });
      edges.push({ from: prev, to: key });
      prev = key;
    }
  }
  edges.push({ from: "in", to: "b3.b" }); // a skip into a group, across groups
  const layouter = new Layouter();
  const out = layouter.layout(boxes, edges);
  assert.equal(out.frames.length, 7);
  assert.equal(out.frames[0].path, "blocks"); // outermost first
  assert.equal(out.runs, 3, "the root, 'blocks', and one layout for the six blocks of the same structure");
  for (const b of boxes.slice(1)) {
    const p = out.pos.get(b.key)!;
    const f = out.frames.find((x) => x.path === b.parents[1])!;
    assert.ok(p.x - b.w / 2 >= f.x && p.x + b.w / 2 <= f.x + f.w && p.y - b.h / 2 >= f.y + HEAD - 1 && p.y + b.h / 2 <= f.y + f.h, b.key);
  }
  assert.ok(out.points.every((pts) => pts.length >= 2));
  assert.equal(layouter.layout(boxes, edges).runs, 0, "laid out before: from the cache");
  layouter.forget();
  assert.equal(layouter.layout(boxes, edges).runs, 3);
  assert.deepEqual(layouter.layout([], []).frames, []); // an empty graph: nothing to lay out
});

test("a large flat graph is laid out in parts stacked top to bottom; topological order keeps ties in order", () => {
  const n = SEGMENT_OVER + 50;
  const boxes = Array.from({ length: n }, (_, i) => ({ key: String(i), w: 64, h: 34, parents: [] as string[] }));
  const edges = boxes.slice(1).map((b, i) => ({ from: String(i), to: b.key }));
  const out = new Layouter().layout(boxes, edges);
  assert.equal(out.parts, 3); // 750 boxes in parts of 250
  const ys = boxes.map((b) => out.pos.get(b.key)!.y);
  assert.ok(ys.every((y, i) => i === 0 || y > ys[i - 1]), "a chain runs down");
  assert.deepEqual(topological([{ key: "c" }, { key: "a" }, { key: "b" }], [{ from: "b", to: "c" }]).map((x) => x.key), ["a", "b", "c"]);
});

test("a graph op and a window state give the window its graph; a new one replaces it", () => {
  const env: EnvState = { name: "e", seq: 0, store: "s", windows: new Map(), layout: {}, alerts: [], mute: [], broken: false };
  assert.deepEqual(applyOp(env, { op: "graph", env: "e", win: "model", graph: wire } as unknown as Op, 1), ["model"]);
  assert.equal(env.windows.get("model")!.kind, "graph");
  assert.equal(env.windows.get("model")!.graph, wire);
  const next = { ...wire, name: "N" };
  applyOp(env, { op: "graph", env: "e", win: "model", graph: next } as unknown as Op, 2);
  assert.equal(env.windows.get("model")!.graph, next);
  assert.equal(windowFrom("e", { win: "model", kind: "graph", graph: wire } as unknown as WireWindow).graph, wire);
});

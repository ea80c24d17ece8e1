import assert from "node:assert/strict";
import { test } from "node:test";
import * as cmap from "../src/colormap";
import { groups } from "../src/picker";
import { align, csv, extent, smooth, sortByX, withGaps } from "../src/series";

test("smoothing is a debiased EMA: a constant stays constant, weight 0 is the identity", () => {
  const y = new Float64Array([5, 5, 5, 5]);
  for (const v of smooth(y, 0.9)) assert.ok(Math.abs(v - 5) < 1e-12);
  assert.deepEqual([...smooth(new Float64Array([1, 2, 3]), 0)], [1, 2, 3]);
  const s = smooth(new Float64Array([0, 10]), 0.5);
  assert.equal(s[0], 0);
  // (0.5*0 + 0.5*10... ) = last=5 after 2 points with bias 1-0.25=0.75 -> 6.666..
  assert.ok(Math.abs(s[1] - 5 / 0.75) < 1e-12);
  const g = smooth(new Float64Array([1, NaN, 1]), 0.5);
  assert.ok(Number.isNaN(g[1]));
  assert.equal(g[2], 1);
});

test("non-finite values become gaps; log axes drop non-positive values", () => {
  const clean = new Float64Array([1, 2]);
  assert.equal(withGaps(clean), clean);
  assert.deepEqual(withGaps(new Float64Array([1, NaN, Infinity])), [1, null, null]);
  assert.deepEqual(withGaps(new Float64Array([1, 0, -1]), true), [1, null, null]);
});

test("align shares identical x and merges different x with undefined holes", () => {
  const x = new Float64Array([0, 1, 2]);
  const same = align([{ x, y: new Float64Array([1, 2, 3]) }, { x: new Float64Array([0, 1, 2]), y: new Float64Array([4, 5, 6]) }]);
  assert.equal(same.x, x);
  const m = align([{ x: new Float64Array([0, 2, 4]), y: new Float64Array([1, 2, 3]) }, { x: new Float64Array([1, 2]), y: new Float64Array([9, NaN]) }]);
  assert.deepEqual([...m.x], [0, 1, 2, 4]);
  assert.deepEqual(m.ys[0], [1, undefined, 2, 3]);
  assert.deepEqual(m.ys[1], [undefined, 9, null, undefined]);
});

test("scatter points are sorted by x", () => {
  const [x, y] = sortByX(new Float64Array([3, 1, 2]), new Float64Array([30, 10, 20]));
  assert.deepEqual([...x], [1, 2, 3]);
  assert.deepEqual([...y], [10, 20, 30]);
});

test("extent, csv quoting (and no formula injection)", () => {
  assert.deepEqual(extent([3, NaN, -1, 7]), [-1, 7]);
  assert.equal(csv(["a", "b"], [["x,y", 1], ["=cmd()", 2]]), 'a,b\n"x,y",1\n"=cmd()",2\n');
});

test("colormaps: 256 entries, known ends, unknown names fall back to viridis", () => {
  const t = cmap.table("viridis");
  assert.equal(t.length, 768);
  assert.deepEqual([...t.slice(0, 3)], [0x44, 0x01, 0x54]);
  assert.deepEqual([...t.slice(765)], [0xfd, 0xe7, 0x25]);
  assert.equal(cmap.table("nope"), t);
  assert.equal(cmap.index(5, 0, 10), 128);
  assert.equal(cmap.index(NaN, 0, 10), -1);
  assert.equal(cmap.index(20, 0, 10), 255);
});

test("the env picker groups by the prefix before / and filters by words", () => {
  const envs = ["mnist/sgd", "mnist/adam", "main", "cifar/resnet/lr0.1"].map((name) => ({ name, seq: 0, windows: 0 }));
  const g = groups(envs, "");
  assert.deepEqual([...g.keys()].sort(), ["", "cifar", "mnist"]);
  assert.deepEqual(g.get("mnist")!.map((e) => e.name), ["mnist/adam", "mnist/sgd"]);
  assert.deepEqual(g.get("")!.map((e) => e.name), ["main"]);
  assert.deepEqual(g.get("cifar")!.map((e) => e.name), ["cifar/resnet/lr0.1"]);
  const f = groups(envs, "MNIST ad");
  assert.deepEqual([...f.values()].flat().map((e) => e.name), ["mnist/adam"]);
});

test("tick labels carry the decimals their spacing needs", async () => {
  const { tickLabels, decimalsOf } = await import("../src/views/common");
  assert.equal(decimalsOf(0.25), 2);
  assert.equal(decimalsOf(0.0005), 4);
  assert.equal(decimalsOf(2.5e-4), 5);
  assert.equal(decimalsOf(5), 0);
  assert.equal(decimalsOf(250), 0);
  assert.deepEqual(tickLabels(null, [0.001, 0.0015, 0.002], 1, 0, 0.0005), ["0.0010", "0.0015", "0.0020"]);
  assert.deepEqual(tickLabels(null, [0, 0.25, 0.5], 1, 0, 0.25), ["0.00", "0.25", "0.50"]);
});

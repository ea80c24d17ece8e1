import assert from "node:assert/strict";
import { test } from "node:test";
import {
  brushFromSpan,
  brushSpan,
  catScale,
  fmt,
  inBrush,
  logTicks,
  makeScale,
  niceTicks,
  passingIndices,
  profile,
  sameSet,
  scaleChoices,
} from "../src/runs/scales";

test("a learning rate spanning 3 decades gets a log axis; fewer decades, or a value <= 0, a linear one", () => {
  assert.equal(makeScale([1e-4, 3e-3, 1e-1]).kind, "log");
  assert.equal(makeScale([1e-3, 1e-1]).kind, "linear");
  assert.equal(makeScale([0, 1e-4, 1e-1]).kind, "linear");
  assert.equal(makeScale([-1, 1e-4, 10]).kind, "linear");
  // asking for log where it cannot place every value falls back to linear
  assert.equal(makeScale([0, 1], "log").kind, "linear");
  assert.equal(makeScale([0.01, 0.02], "log").kind, "log");
  assert.equal(makeScale([1e-4, 1e-1], "linear").kind, "linear");
});

test("log ticks are the powers of ten inside the range; positions are even in decades", () => {
  assert.deepEqual(logTicks(1e-4, 1e-1), [1e-4, 1e-3, 1e-2, 1e-1]);
  assert.deepEqual(logTicks(3e-4, 0.5), [1e-3, 1e-2, 1e-1]);
  assert.deepEqual(logTicks(0.02, 0.09), [0.02, 0.05]);
  assert.ok(logTicks(1e-20, 1e20).length <= 9);
  const s = makeScale([1e-4, 1e-1]);
  assert.equal(s.kind, "log");
  assert.ok(Math.abs(s.pos(1e-3) - 1 / 3) < 1e-12);
  assert.ok(Math.abs(s.invert(2 / 3) - 1e-2) < 1e-15);
  assert.deepEqual(s.ticks().map((t) => t.label), ["1e-4", "0.001", "0.01", "0.1"]);
  assert.ok(Number.isNaN(s.pos(0)));
  assert.ok(Number.isNaN(s.pos(null)));
});

test("linear ticks are round numbers inside the range", () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.13, 0.87, 5), [0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(niceTicks(-3, 7, 5), [-2, 0, 2, 4, 6]);
  const s = makeScale([0.13, 0.87]);
  assert.deepEqual(s.ticks().map((t) => t.label), ["0.2", "0.4", "0.6", "0.8"]);
  // one value: in the middle, one tick
  const flat = makeScale([3, 3, null]);
  assert.equal(flat.pos(3), 0.5);
  assert.deepEqual(flat.ticks(), [{ pos: 0.5, label: "3" }]);
  assert.equal(fmt(123456), "1.23e5");
  assert.equal(fmt(0.1 + 0.2), "0.3");
  assert.equal(fmt(0.00012), "1.2e-4");
});

test("strings and bools give a categorical axis, categories sorted and evenly spaced", () => {
  const s = makeScale(["sgd", "adam", null, "adamw", "adam", "lion"]);
  assert.equal(s.kind, "cat");
  assert.deepEqual(s.categories, ["adam", "adamw", "lion", "sgd"]);
  assert.deepEqual(s.ticks().map((t) => t.pos), [0.125, 0.375, 0.625, 0.875]);
  assert.equal(s.pos("lion"), 0.625);
  assert.ok(Number.isNaN(s.pos(null)));
  assert.ok(Number.isNaN(s.pos("rmsprop")));
  // natural order: lr2 before lr10; false before true
  assert.deepEqual(makeScale(["lr10", "lr2", "lr1"]).categories, ["lr1", "lr2", "lr10"]);
  assert.deepEqual(makeScale([true, false, true]).categories, ["false", "true"]);
  // a column mixing numbers and strings is categorical; asking for linear does not change that
  const mixed = makeScale([0.1, "auto", 0.01], "linear");
  assert.equal(mixed.kind, "cat");
  assert.deepEqual(mixed.categories, ["0.01", "0.1", "auto"]);
  // numbers can be shown as categories when asked
  assert.deepEqual(makeScale([3, 1, 2], "cat").categories, ["1", "2", "3"]);
});

test("missing values: null, NaN and Infinity are placed nowhere and counted out", () => {
  const p = profile([1, null, NaN, Infinity, undefined, 5]);
  assert.equal(p.present, 2);
  assert.equal(p.min, 1);
  assert.equal(p.max, 5);
  assert.equal(p.numeric, true);
  const s = makeScale([1, null, NaN, 5]);
  assert.ok(Number.isNaN(s.pos(NaN)));
  assert.ok(Number.isNaN(s.pos(undefined)));
  assert.equal(s.pos(5), 1);
  assert.equal(profile([null, null]).numeric, false);
  assert.equal(makeScale([null]).categories.length, 0);
  // a missing value is never inside a brush
  assert.equal(inBrush({ lo: -Infinity, hi: Infinity }, null), false);
  assert.equal(inBrush({ cats: ["null"] }, null), false);
});

test("a drag on an axis becomes a value range (numeric) or the categories it covers", () => {
  const lin = makeScale([0, 10]);
  assert.deepEqual(brushFromSpan(lin, 0.8, 0.2), { lo: 2, hi: 8 });
  const log = makeScale([1e-4, 1e-1]);
  const b = brushFromSpan(log, 0, 1 / 3);
  assert.ok("lo" in b && Math.abs(b.lo - 1e-4) < 1e-18 && Math.abs(b.hi - 1e-3) < 1e-15);
  const cat = catScale(["adam", "adamw", "lion", "sgd"]);
  assert.deepEqual(brushFromSpan(cat, 0.3, 0.7), { cats: ["adamw", "lion"] });
  assert.deepEqual(brushFromSpan(cat, 0.3, 0.33), { cats: [] });
  // drawn span of a category brush: inside the cells, so moving it keeps the same categories
  const span = brushSpan(cat, { cats: ["adamw", "lion"] })!;
  assert.deepEqual(brushFromSpan(cat, span[0], span[1]), { cats: ["adamw", "lion"] });
  const shifted = brushFromSpan(cat, span[0] + 0.25, span[1] + 0.25);
  assert.deepEqual(shifted, { cats: ["lion", "sgd"] });
  // a range brush does not fit a categorical axis and the other way round
  assert.equal(brushSpan(cat, { lo: 0, hi: 1 }), null);
  assert.equal(brushSpan(lin, { cats: ["a"] }), null);
  assert.deepEqual(brushSpan(lin, { lo: 2, hi: 8 }), [0.2, 0.8]);
  // a range reaching past the data is clipped to the axis
  assert.deepEqual(brushSpan(lin, { lo: -5, hi: 20 }), [0, 1]);
});

test("passing runs: inside every brush (AND), null without brushes", () => {
  const lr = [1e-4, 1e-3, 1e-2, 1e-1, null];
  const opt = ["adam", "sgd", "adam", "sgd", "adam"];
  const loss = [0.5, 0.2, 0.3, 0.9, 0.1];
  assert.equal(passingIndices(5, []), null);
  assert.deepEqual([...passingIndices(5, [{ values: lr, brush: { lo: 1e-4, hi: 1e-2 } }])!], [0, 1, 2]);
  assert.deepEqual([...passingIndices(5, [{ values: opt, brush: { cats: ["adam"] } }])!], [0, 2, 4]);
  assert.deepEqual(
    [...passingIndices(5, [
      { values: lr, brush: { lo: 1e-4, hi: 1e-2 } },
      { values: opt, brush: { cats: ["adam"] } },
    ])!],
    [0, 2],
  );
  assert.deepEqual(
    [...passingIndices(5, [
      { values: opt, brush: { cats: ["adam"] } },
      { values: loss, brush: { lo: 0.25, hi: 1 } },
    ])!],
    [0, 2],
  );
  // an empty brush passes nothing (not everything)
  assert.equal(passingIndices(5, [{ values: opt, brush: { cats: [] } }])!.size, 0);
  // edges are inside, reversed ranges too
  assert.deepEqual([...passingIndices(5, [{ values: loss, brush: { lo: 0.3, hi: 0.2 } }])!], [1, 2]);
  assert.ok(sameSet(new Set([1, 2]), new Set([2, 1])));
  assert.ok(!sameSet(new Set([1]), null));
  assert.ok(sameSet(null, null));
});

test("whole-number columns (a seed) get whole-number ticks", () => {
  assert.deepEqual(makeScale([0, 1, 2]).ticks().map((t) => t.label), ["0", "1", "2"]);
  assert.deepEqual(makeScale([0, 0.5, 2]).ticks().map((t) => t.label), ["0", "0.5", "1", "1.5", "2"]);
});

test("scale choices: the default first, log only where every value > 0", () => {
  assert.deepEqual(scaleChoices(profile([1e-4, 1e-1])), ["log", "linear", "cat"]);
  assert.deepEqual(scaleChoices(profile([0.1, 0.2])), ["linear", "log", "cat"]);
  assert.deepEqual(scaleChoices(profile([0, 0.2])), ["linear", "cat"]);
  assert.deepEqual(scaleChoices(profile(["a", 1])), ["cat"]);
});

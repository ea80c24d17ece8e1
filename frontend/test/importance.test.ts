import assert from "node:assert/strict";
import { test } from "node:test";
import { epsilonSquared, importances, keyImportance, MIN_RUNS, ranks, spearman } from "../src/runs/importance";
import type { RunRow } from "../src/wire";

function run(i: number, config: RunRow["config"], acc: number | undefined): RunRow {
  return { env: `r${i}`, config, summary: acc === undefined ? {} : { acc }, color: null, metrics: {}, status: "finished", alerts: 0, steps: 1, created: 1, updated: 1 };
}
const acc = (r: RunRow) => r.summary.acc;

test("ranks give ties their mean rank; Spearman is 1 for any increasing relation, -1 for decreasing", () => {
  assert.deepEqual(ranks([10, 20, 20, 5]), [2, 3.5, 3.5, 1]);
  assert.equal(spearman([1, 2, 3, 4], [1, 8, 27, 64]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2.5, 0]), -1);
  assert.equal(spearman([1, 1, 1], [1, 2, 3]), null);
});

test("eps² is 1 when the groups explain everything, about 0 when they explain nothing", () => {
  assert.equal(epsilonSquared(["a", "a", "b", "b"], [1, 1, 5, 5]), 1);
  // group means equal: nothing explained
  assert.equal(epsilonSquared(["a", "a", "b", "b"], [1, 5, 5, 1]), 0);
  // known value: SS_total 20, SS_between 16, SS_within 4, k 2, n 4: (16 - 1 * 4 / 2) / 20 = 0.7
  assert.ok(Math.abs(epsilonSquared(["a", "a", "b", "b"], [1, 3, 5, 7])! - 0.7) < 1e-12);
});

test("the key that decides the metric is the important one; a seed is not", () => {
  const rows: RunRow[] = [];
  let i = 0;
  for (const opt of ["adam", "sgd", "rmsprop"])
    for (const seed of [1, 2, 3, 4]) rows.push(run(i++, { opt, seed, lr: 0.01 }, { adam: 0.9, sgd: 0.7, rmsprop: 0.8 }[opt]! + seed * 0.001));
  const out = importances(rows, acc);
  assert.deepEqual(out.map((k) => k.key), ["opt", "seed", "lr"]);
  assert.ok(out[0].importance! > 0.99, String(out[0].importance));
  assert.equal(out[0].rho, null); // a categorical key has no rank correlation
  assert.ok(out[1].importance! < 0.05, String(out[1].importance));
  assert.ok(out[1].rho! > 0);
  assert.equal(out[2].importance, null);
  assert.equal(out[2].why, "one value in every run");
});

test("a numeric key: sign of the correlation, and a best value in the middle is still important", () => {
  const lrs = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1, 3, 10, 30];
  const down = lrs.map((lr, i) => run(i, { lr }, 1 - i / 20));
  const k = keyImportance(down, "lr", acc);
  assert.equal(k.rho, -1);
  assert.ok(k.importance! > 0.9);
  assert.equal(k.groups, 4); // 12 runs: 4 bins of 3
  const peak = lrs.map((lr, i) => run(i, { lr }, -((i - 5.5) ** 2)));
  const p = keyImportance(peak, "lr", acc);
  assert.ok(Math.abs(p.rho!) < 0.1, String(p.rho));
  assert.ok(p.importance! > 0.5, String(p.importance));
});

test("too few runs, a missing metric, a constant metric, a value per run: n/a with the reason", () => {
  const few = Array.from({ length: MIN_RUNS - 1 }, (_, i) => run(i, { lr: i }, i));
  assert.match(keyImportance(few, "lr", acc).why, /4 runs with this key and the metric; 5 needed/);
  const some = [...few, run(9, { lr: 9 }, undefined)];
  assert.equal(keyImportance(some, "lr", acc).n, 4);
  const flat = Array.from({ length: 6 }, (_, i) => run(i, { lr: i }, 0.5));
  assert.equal(keyImportance(flat, "lr", acc).why, "the metric is the same in every run");
  const names = Array.from({ length: 6 }, (_, i) => run(i, { name: `n${i}` }, i));
  const k = keyImportance(names, "name", acc);
  assert.equal(k.importance, null);
  assert.equal(k.why, "a different value in every run");
});
